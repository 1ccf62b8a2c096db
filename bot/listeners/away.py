"""`/coherence away`, `back` (any member, for themselves) and `close` (admins, confirmed first).

Away and back answer only the member who ran them; nobody else learns who is away.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.i18n import _, channel_language, run_language, speaking
from bot.listeners.admin.access import admins_only, caller_in_workspace, caller_of
from bot.listeners.commands import COMMAND, command_is, group_id_of, in_a_group, parsed_as
from bot.scheduler import run_tick
from bot.services import services_of
from bot.views.admin.replies import ADMINS_ONLY, NOT_A_GROUP, change_text
from bot.views.away import (
    CLOSE_ACTION,
    KEEP_OPEN_ACTION,
    KEPT_OPEN,
    NO_LONGER_EXISTS,
    away_text,
    back_text,
    close_confirmation,
    no_open_pulse,
)
from pulses.away import come_back, set_away
from pulses.commands import Away, Back, Close
from pulses.groups import ensure_workspace
from pulses.runs import close_early
from storage.db import session_scope
from storage.models import LeadershipGroup, PulseRun
from storage.queries import latest_unclosed_run, run_progress


def go_away(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    away = parsed_as(context, Away)
    with session_scope(services.engine) as session:
        workspace = ensure_workspace(session=session, team_id=str(command.get("team_id", "")))
        assert workspace.id is not None
        first, last = set_away(
            session=session,
            workspace_id=workspace.id,
            user_id=str(command.get("user_id", "")),
            first_day=away.first_day,
            last_day=away.last_day,
            today=services.clock().date(),
        )
    # Only the member reads it: in the channel's group's language, English in a DM.
    with speaking(channel_language(services.engine, command)):
        ack(text=away_text(first, last))


def come_back_now(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    with session_scope(services.engine) as session:
        workspace = ensure_workspace(session=session, team_id=str(command.get("team_id", "")))
        assert workspace.id is not None
        ended = come_back(
            session=session,
            workspace_id=workspace.id,
            user_id=str(command.get("user_id", "")),
            today=services.clock().date(),
        )
    with speaking(channel_language(services.engine, command)):
        ack(text=back_text(ended))


def ask_to_close(ack: Ack, context: BoltContext) -> None:
    """The admin is shown what closing would do, with a button to confirm it."""
    services = services_of(context)
    with session_scope(services.engine) as session:
        group = session.get(LeadershipGroup, group_id_of(context))
        assert group is not None
        assert group.id is not None
        name = group.channel_name or group.channel_id
        run = latest_unclosed_run(session=session, group_id=group.id)
        with speaking(group.language):
            if run is None or run.id is None or run.closes_at <= services.clock():
                ack(text=no_open_pulse(name))
                return
            answered, invited = run_progress(session=session, run_id=run.id)
            text, blocks = close_confirmation(
                run.id, name, answered, invited, run.closes_at, caller_of(context).timezone
            )
    ack(text=text, blocks=[block.to_dict() for block in blocks])


def confirm_close(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    """Close the run the admin confirmed (an admin still), then let a tick close it at once."""
    ack()
    services = services_of(context)
    user_id = context.user_id or ""
    caller = caller_in_workspace(context, client, user_id)
    run_id = int(body["actions"][0]["value"])
    language = run_language(services.engine, run_id)
    if caller is None or not caller.is_admin:
        with speaking(language):
            respond(text=_(ADMINS_ONLY), replace_original=False)
        return
    with session_scope(services.engine) as session, speaking(language):
        run = session.get(PulseRun, run_id)
        group = session.get(LeadershipGroup, run.group_id) if run else None
        if group is None:
            respond(text=_(NO_LONGER_EXISTS), replace_original=True)
            return
        change = close_early(
            session=session, group=group, run_id=run_id, user_id=user_id, now=services.clock()
        )
        respond(text=change_text(change), replace_original=True)
    if change.changed:
        run_tick(services)


def keep_open(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    run_id = int(body["actions"][0]["value"])
    with speaking(run_language(services_of(context).engine, run_id)):
        respond(text=_(KEPT_OPEN), replace_original=True)


def register(app: App) -> None:
    app.command(COMMAND, matchers=[command_is(Away)])(go_away)
    app.command(COMMAND, matchers=[command_is(Back)])(come_back_now)
    app.command(
        COMMAND,
        matchers=[command_is(Close)],
        middleware=[admins_only, in_a_group(NOT_A_GROUP)],
    )(ask_to_close)
    app.action(CLOSE_ACTION)(confirm_close)
    app.action(KEEP_OPEN_ACTION)(keep_open)
