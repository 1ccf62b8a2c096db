"""Admin commands and modals: setup, priorities, questions, cadence, pause, pulse now, export.

Every entry point first asks Slack whether the caller is an admin (`users.info`), modal
submissions included: a modal opened by an admin may be submitted after they lost the role.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from logging import Logger
from typing import Any, Protocol

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import Session, select

from bot.digest_poster import SlackDigestPoster
from bot.listeners.commands import CommandHandler, CommandRouter
from bot.services import Services, services_of
from bot.views.admin import (
    ADMIN_CHECK_FAILED,
    ADMINS_ONLY,
    NOT_A_GROUP,
    NOT_IN_A_CHANNEL,
    PRIORITIES_CALLBACK,
    QUESTIONS_CALLBACK,
    SETUP_CALLBACK,
    change_text,
    metadata_of,
    next_send_text,
    notice_view,
    parse_priorities,
    parse_questions,
    parse_setup,
    priorities_modal,
    problems_text,
    questions_modal,
    setup_modal,
)
from pulses import admin
from pulses.admin import Change, InvalidChange
from pulses.commands import (
    USAGE,
    CadenceChange,
    DigestNow,
    Export,
    Pause,
    Priorities,
    PulseNow,
    Questions,
    Resume,
    Setup,
    Skip,
)
from pulses.digests import post_digest_now
from pulses.dispatch import claim_run_now, tick
from pulses.export import export_csv
from pulses.groups import ensure_workspace, group_for_channel
from pulses.questions import current_questions
from storage.db import session_scope
from storage.models import LeadershipGroup, PulseRun, Workspace


@dataclass(frozen=True)
class Caller:
    """Who ran an admin action, as Slack knows them right now."""

    user_id: str
    is_admin: bool
    timezone: str


def prompt_client(client: WebClient, *, timeout: int = 2) -> WebClient:
    """A client for calls made before an acknowledgement: it fails fast instead of waiting.

    The app's client waits out 429s, which could outlast the 3 seconds Slack gives an ack.
    """
    return WebClient(
        token=client.token, base_url=client.base_url, timeout=timeout, retry_handlers=[]
    )


def look_up_caller(client: WebClient, user_id: str, admin_ids: list[str]) -> Caller | None:
    """The caller's admin rights and zone from `users.info`; None if Slack could not say."""
    try:
        user = prompt_client(client).users_info(user=user_id)["user"]
    except (SlackApiError, SlackClientError, OSError, KeyError, TypeError):
        return None
    return Caller(
        user_id=user_id,
        is_admin=admin.is_admin(
            user_id=user_id,
            workspace_admin=bool(user.get("is_admin")),
            workspace_owner=bool(user.get("is_owner")),
            admin_ids=admin_ids,
        ),
        timezone=str(user.get("tz") or "UTC"),
    )


class AdminHandler(Protocol):
    def __call__(
        self,
        *,
        ack: Ack,
        parsed: Any,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        logger: Logger,
        caller: Caller,
    ) -> None: ...


def for_admins(handler: AdminHandler) -> CommandHandler:
    """The handler, run only for admins; anyone else is told so and nothing changes."""

    def handle(
        *,
        ack: Ack,
        parsed: Any,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        logger: Logger,
    ) -> None:
        services = services_of(context)
        caller = look_up_caller(
            client, str(command.get("user_id", "")), services.settings.coherence_admin_ids
        )
        if caller is None:
            ack(text=ADMIN_CHECK_FAILED)
            return
        if not caller.is_admin:
            ack(text=ADMINS_ONLY)
            return
        handler(
            ack=ack,
            parsed=parsed,
            command=command,
            client=client,
            context=context,
            logger=logger,
            caller=caller,
        )

    return handle


def _existing_workspace_id(session: Session, team_id: str) -> int | None:
    workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
    return workspace.id if workspace is not None else None


def _workspace_id(session: Session, team_id: str) -> int:
    workspace = ensure_workspace(session=session, team_id=team_id)
    assert workspace.id is not None
    return workspace.id


def _group(session: Session, command: dict[str, Any]) -> LeadershipGroup | None:
    workspace_id = _existing_workspace_id(session, str(command.get("team_id", "")))
    if workspace_id is None:
        return None
    return group_for_channel(
        session=session, workspace_id=workspace_id, channel_id=str(command.get("channel_id", ""))
    )


def _in_background(logger: Logger, what: str, work: Callable[[], object]) -> None:
    """Run after the acknowledgement, so Slack's three seconds never wait on a fan-out."""

    def run() -> None:
        try:
            work()
        except Exception:
            logger.exception("Failed to %s", what)

    threading.Thread(target=run, name=f"coherence-{what}", daemon=True).start()


def _next_send_line(services: Services, group_id: int, caller: Caller) -> str:
    with session_scope(services.engine) as session:
        group = session.get(LeadershipGroup, group_id)
        if group is None:
            return ""
        upcoming = admin.next_send(session=session, group=group, now=services.clock())
        return next_send_text(
            upcoming,
            timezone=caller.timezone,
            paused=group.paused,
            per_member=group.per_member_time,
        )


# --- modals ---------------------------------------------------------------------------------


def open_setup(
    *,
    ack: Ack,
    parsed: Setup,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    channel_id = str(command.get("channel_id", ""))
    if not channel_id.startswith(("C", "G")):
        ack(text=NOT_IN_A_CHANNEL)
        return
    # The trigger_id expires three seconds after the command: acknowledge, then open at once.
    ack()
    services = services_of(context)
    with session_scope(services.engine) as session:
        group = _group(session, command)
        settings = (
            admin.settings_of(group)
            if group is not None
            else admin.default_settings(timezone=caller.timezone)
        )
        name = group.channel_name if group is not None else ""
    channel_name = name or str(command.get("channel_name", ""))
    if channel_name in ("privategroup", "directmessage"):
        channel_name = ""
    view = setup_modal(
        settings, channel_id=channel_id, channel_name=channel_name, existing=group is not None
    )
    client.views_open(trigger_id=command["trigger_id"], view=view)


def _refuse_submission(ack: Ack, caller: Caller | None) -> bool:
    if caller is None:
        ack(response_action="update", view=notice_view("Not saved", ADMIN_CHECK_FAILED))
        return True
    if not caller.is_admin:
        ack(response_action="update", view=notice_view("Admins only", ADMINS_ONLY))
        return True
    return False


def _submission_caller(
    body: dict[str, Any], client: WebClient, services: Services
) -> Caller | None:
    return look_up_caller(
        client, str(body.get("user", {}).get("id", "")), services.settings.coherence_admin_ids
    )


def _team_id(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id", ""))


def submit_setup(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    services = services_of(context)
    caller = _submission_caller(body, client, services)
    if _refuse_submission(ack, caller):
        return
    assert caller is not None
    metadata = metadata_of(view)
    channel_id = str(metadata.get("channel_id", ""))
    now = services.clock()
    try:
        settings = parse_setup(view["state"]["values"])
        with session_scope(services.engine) as session:
            change = admin.apply_setup(
                session=session,
                workspace_id=_workspace_id(session, _team_id(body)),
                channel_id=channel_id,
                channel_name=str(metadata.get("channel_name", "")),
                settings=settings,
                user_id=caller.user_id,
                now=now,
            )
    except InvalidChange as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    assert change.group_id is not None
    text = change_text(change, extra=_next_send_line(services, change.group_id, caller))
    if not _bot_is_in_channel(client, channel_id):
        text += (
            f"\n:warning: Coherence is not in <#{channel_id}> yet: invite it there "
            "(`/invite @Coherence`), or its pulses cannot be delivered."
        )
    ack(response_action="update", view=notice_view("Saved", text))


def _bot_is_in_channel(client: WebClient, channel_id: str) -> bool:
    """Whether the bot can post in the channel; True when Slack cannot tell us right now."""
    try:
        # One second at most: with the admin check before it, the ack stays inside 3 seconds.
        channel = prompt_client(client, timeout=1).conversations_info(channel=channel_id)["channel"]
    except SlackApiError as error:
        return bool(error.response.get("error") != "channel_not_found")
    except (SlackClientError, OSError):
        return True
    return bool(channel.get("is_member", True))


def open_priorities(
    *,
    ack: Ack,
    parsed: Priorities,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    ack()
    services = services_of(context)
    with session_scope(services.engine) as session:
        workspace_id = _existing_workspace_id(session, str(command.get("team_id", "")))
        group = _group(session, command)
        priorities = (
            admin.editable_priorities(session=session, workspace_id=workspace_id, group=group)
            if workspace_id is not None
            else []
        )
    view = priorities_modal(priorities, group=group, channel_id=str(command.get("channel_id", "")))
    client.views_open(trigger_id=command["trigger_id"], view=view)


def submit_priorities(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    services = services_of(context)
    caller = _submission_caller(body, client, services)
    if _refuse_submission(ack, caller):
        return
    assert caller is not None
    channel_id = str(metadata_of(view).get("channel_id", ""))
    try:
        with session_scope(services.engine) as session:
            workspace_id = _workspace_id(session, _team_id(body))
            group = group_for_channel(
                session=session, workspace_id=workspace_id, channel_id=channel_id
            )
            ids = [
                p.id
                for p in admin.editable_priorities(
                    session=session, workspace_id=workspace_id, group=group
                )
                if p.id is not None
            ]
            change = admin.apply_priorities(
                session=session,
                workspace_id=workspace_id,
                group=group,
                edits=parse_priorities(view["state"]["values"], ids),
                user_id=caller.user_id,
                now=services.clock(),
            )
    except InvalidChange as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    ack(response_action="update", view=notice_view("Priorities", change_text(change)))


def open_questions(
    *,
    ack: Ack,
    parsed: Questions,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    ack()
    services = services_of(context)
    with session_scope(services.engine) as session:
        workspace_id = _workspace_id(session, str(command.get("team_id", "")))
        questions = current_questions(session=session, workspace_id=workspace_id)
        versions = {
            key: len(rows)
            for key, rows in admin.question_versions(
                session=session, workspace_id=workspace_id
            ).items()
        }
    client.views_open(trigger_id=command["trigger_id"], view=questions_modal(questions, versions))


def submit_questions(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    services = services_of(context)
    caller = _submission_caller(body, client, services)
    if _refuse_submission(ack, caller):
        return
    assert caller is not None
    try:
        with session_scope(services.engine) as session:
            change = admin.apply_questions(
                session=session,
                workspace_id=_workspace_id(session, _team_id(body)),
                edits=parse_questions(view["state"]["values"]),
                user_id=caller.user_id,
                now=services.clock(),
            )
    except InvalidChange as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    extra = (
        "Pulses from now on ask the new wording; digests and trends mark the run where it changed."
        if change.changed
        else None
    )
    ack(response_action="update", view=notice_view("Questions", change_text(change, extra=extra)))


# --- text forms -----------------------------------------------------------------------------


# What a text form does to the channel's group, given the parsed command and the caller.
GroupChange = Callable[[Session, LeadershipGroup, datetime, Any, Caller], Change]


def group_change(apply: GroupChange, usage: str) -> AdminHandler:
    """A handler that applies one change to the channel's group and answers with what
    changed and the next send (or the problem and the usage, changing nothing)."""

    def handle(
        *,
        ack: Ack,
        parsed: Any,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        logger: Logger,
        caller: Caller,
    ) -> None:
        services = services_of(context)
        try:
            with session_scope(services.engine) as session:
                group = _group(session, command)
                if group is None or group.id is None:
                    ack(text=NOT_A_GROUP)
                    return
                change = apply(session, group, services.clock(), parsed, caller)
                group_id = group.id
        except InvalidChange as invalid:
            ack(text=problems_text(invalid, usage))
            return
        ack(text=change_text(change, extra=_next_send_line(services, group_id, caller)))

    return handle


change_cadence = group_change(
    lambda session, group, now, parsed, caller: admin.change_cadence(
        session=session, group=group, change=parsed, user_id=caller.user_id, now=now
    ),
    USAGE["cadence"] + " (the answer window and reminder are in `/coherence setup`)",
)
pause = group_change(
    lambda session, group, now, parsed, caller: admin.pause(
        session=session, group=group, user_id=caller.user_id, now=now
    ),
    USAGE["pause"],
)
resume = group_change(
    lambda session, group, now, parsed, caller: admin.resume(
        session=session, group=group, user_id=caller.user_id, now=now
    ),
    USAGE["resume"],
)
skip = group_change(
    lambda session, group, now, parsed, caller: admin.skip(
        session=session, group=group, day=parsed.day, user_id=caller.user_id, now=now
    ),
    USAGE["skip"],
)


def pulse_now(
    *,
    ack: Ack,
    parsed: PulseNow,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    services = services_of(context)
    now = services.clock()
    with session_scope(services.engine) as session:
        group = _group(session, command)
        if group is None or group.id is None:
            ack(text=NOT_A_GROUP)
            return
        group_id, name = group.id, f"#{group.channel_name or group.channel_id}"
    if not claim_run_now(engine=services.engine, group_id=group_id, now=now):
        ack(
            text=f"Today's pulse for {name} exists already (one per day), so none was added. "
            "Its members can answer it until it closes."
        )
        return
    with session_scope(services.engine) as session:
        admin.record_change(
            session=session,
            workspace_id=group.workspace_id,
            group_id=group_id,
            user_id=caller.user_id,
            summary=f"sent a pulse to {name} by hand",
            now=now,
        )
    ack(text=f":white_check_mark: Sending the pulse to {name} now.")
    _in_background(
        logger,
        "send the pulse",
        lambda: tick(
            engine=services.engine,
            messenger=services.messenger,
            now=services.clock(),
            worker=services.worker,
        ),
    )


def digest_now(
    *,
    ack: Ack,
    parsed: DigestNow,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    services = services_of(context)
    now = services.clock()
    with session_scope(services.engine) as session:
        group = _group(session, command)
        if group is None or group.id is None:
            ack(text=NOT_A_GROUP)
            return
        group_id = group.id
        closed = session.exec(
            select(PulseRun.id).where(PulseRun.group_id == group_id, PulseRun.status == "closed")
        ).first()
        name = f"#{group.channel_name or group.channel_id}"
        channel = group.digest_channel_id or group.channel_id
        if closed is None:
            ack(text=f"No pulse of {name} has closed yet, so there is no digest to post.")
            return
        admin.record_change(
            session=session,
            workspace_id=group.workspace_id,
            group_id=group_id,
            user_id=caller.user_id,
            summary=f"posted the digest of {name} by hand",
            now=now,
        )
    ack(text=f":white_check_mark: Posting the digest of {name} in <#{channel}> now.")

    def post() -> None:
        post_digest_now(
            engine=services.engine,
            poster=SlackDigestPoster(client),
            group_id=group_id,
            now=now,
            thresholds=services.settings.flag_thresholds,
        )

    _in_background(logger, "post the digest", post)


def export(
    *,
    ack: Ack,
    parsed: Export,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    caller: Caller,
) -> None:
    services = services_of(context)
    now = services.clock()
    with session_scope(services.engine) as session:
        workspace_id = _workspace_id(session, str(command.get("team_id", "")))
        group = _group(session, command)
        scope = f"#{group.channel_name or group.channel_id}" if group else "every group"
        group_id = group.id if group is not None else None
        admin.record_change(
            session=session,
            workspace_id=workspace_id,
            group_id=group_id,
            user_id=caller.user_id,
            summary=f"exported the aggregates of {scope}",
            now=now,
        )
    ack(text=f"Exporting the aggregates of {scope}: the CSV arrives in our direct messages.")

    def upload() -> None:
        with session_scope(services.engine) as session:
            content = export_csv(session=session, workspace_id=workspace_id, group_id=group_id)
        channel = client.conversations_open(users=caller.user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=channel,
            content=content.encode("utf-8"),
            filename=f"coherence-export-{now:%Y-%m-%d}.csv",
            title="Coherence export",
            initial_comment=(
                f"Per-run aggregates of {scope}. Runs with fewer answers than the anonymity "
                "threshold have no row; nothing identifies a person."
            ),
        )

    _in_background(logger, "upload the export", upload)


def register(app: App, router: CommandRouter) -> None:
    router.route(Setup, for_admins(open_setup))
    router.route(Priorities, for_admins(open_priorities))
    router.route(Questions, for_admins(open_questions))
    router.route(CadenceChange, for_admins(change_cadence))
    router.route(Pause, for_admins(pause))
    router.route(Resume, for_admins(resume))
    router.route(Skip, for_admins(skip))
    router.route(PulseNow, for_admins(pulse_now))
    router.route(DigestNow, for_admins(digest_now))
    router.route(Export, for_admins(export))
    app.view(SETUP_CALLBACK)(submit_setup)
    app.view(PRIORITIES_CALLBACK)(submit_priorities)
    app.view(QUESTIONS_CALLBACK)(submit_questions)
