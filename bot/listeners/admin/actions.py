"""`pulse now`, `digest now` and `export`: audited at once, the work done after the ack.

The work runs in Bolt lazy listeners. Bolt starts those alongside the ack function, not after
it, with a copy of the request's context: so whatever the lazy part depends on is decided
before both (in a listener middleware) or decided again by the lazy part itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from sqlmodel import select

from bot.drawer import DRAWER
from bot.i18n import _, speaking, workspace_language
from bot.listeners.admin.access import caller_of, workspace_id_of
from bot.listeners.commands import channel_group_id, group_id_of
from bot.scheduler import run_tick
from bot.services import services_of
from bot.views.heatmap import organisation_heatmap
from pulses.audit import record_change
from pulses.digests import post_digest_now
from pulses.dispatch import claim_run_now
from pulses.export import export_csv
from pulses.organisation import org_digest
from storage.db import session_scope
from storage.models import LeadershipGroup, PulseRun


def _name(group: LeadershipGroup) -> str:
    return f"#{group.channel_name or group.channel_id}"


def claims_todays_run(
    ack: Ack, context: BoltContext, next: Callable[[], None]
) -> BoltResponse | None:
    """Listener middleware for `pulse now`: claim today's run, or say it exists already.

    The claim is made here, before the ack and the lazy send start, so the send runs only
    for a run this request claimed.
    """
    services = services_of(context)
    now = services.clock()
    group_id = group_id_of(context)
    with session_scope(services.engine) as session:
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        name, workspace_id, language = _name(group), group.workspace_id, group.language
    if not claim_run_now(engine=services.engine, group_id=group_id, now=now):
        with speaking(language):
            refusal = _(
                "Today's pulse for {name} exists already (one per day), so none was added. "
                "Its members can answer it until it closes."
            ).format(name=name)
        return ack(text=refusal)
    with session_scope(services.engine) as session:
        record_change(
            session=session,
            workspace_id=workspace_id,
            group_id=group_id,
            user_id=caller_of(context).user_id,
            summary=f"sent a pulse to {name} by hand",
            now=now,
        )
    next()
    return None


def pulse_now(ack: Ack, context: BoltContext) -> None:
    with session_scope(services_of(context).engine) as session:
        group = session.get(LeadershipGroup, group_id_of(context))
        assert group is not None
        name, language = _name(group), group.language
    with speaking(language):
        ack(text=_(":white_check_mark: Sending the pulse to {name} now.").format(name=name))


def send_pulse(context: BoltContext) -> None:
    # The scheduler's own tick, at once: the claimed run goes out as any due run does, and
    # /metrics counts it.
    run_tick(services_of(context))


def digest_now(ack: Ack, context: BoltContext) -> None:
    services = services_of(context)
    group_id = group_id_of(context)
    with session_scope(services.engine) as session:
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        name, channel = _name(group), group.digest_channel_id or group.channel_id
        language = group.language
        closed = session.exec(
            select(PulseRun.id).where(PulseRun.group_id == group_id, PulseRun.status == "closed")
        ).first()
        if closed is not None:
            record_change(
                session=session,
                workspace_id=group.workspace_id,
                group_id=group_id,
                user_id=caller_of(context).user_id,
                summary=f"posted the digest of {name} by hand",
                now=services.clock(),
            )
    with speaking(language):
        if closed is None:
            reply = _("No pulse of {name} has closed yet, so there is no digest to post.")
        else:
            reply = _(":white_check_mark: Posting the digest of {name} in {channel} now.")
        ack(text=reply.format(name=name, channel=f"<#{channel}>"))


def post_digest(context: BoltContext) -> None:
    # Posts nothing when the group has no closed pulse: the case the ack refused.
    services = services_of(context)
    post_digest_now(
        engine=services.engine,
        messenger=services.messenger,
        group_id=group_id_of(context),
        now=services.clock(),
        thresholds=services.settings.flag_thresholds,
    )


def _export_scope(context: BoltContext, command: dict[str, Any]) -> tuple[int | None, str, str]:
    """The channel's group (None: every group), how to name it, and the language to say it
    in (the group's; for every group, the one the workspace's groups share)."""
    with session_scope(services_of(context).engine) as session:
        group_id = channel_group_id(session, command)
        group = session.get(LeadershipGroup, group_id) if group_id is not None else None
        if group is not None:
            return group_id, _name(group), group.language
        language = workspace_language(session, workspace_id_of(context))
    with speaking(language):
        return None, _("every group"), language


def export(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    group_id, scope, language = _export_scope(context, command)
    with session_scope(services.engine) as session:
        record_change(
            session=session,
            workspace_id=workspace_id_of(context),
            group_id=group_id,
            user_id=caller_of(context).user_id,
            summary=f"exported the aggregates of {scope}",
            now=services.clock(),
        )
    with speaking(language):
        reply = (
            _("Exporting the aggregates of {scope}: the CSV arrives in our direct messages.")
            if group_id is not None
            else _(
                "Exporting the aggregates of {scope}: the CSV and the heatmap arrive in our "
                "direct messages."
            )
        )
        ack(text=reply.format(scope=scope))


def upload_export(command: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The CSV in the admin's DM; with an export of every group, the organisation heatmap
    (each group's latest pulse, as the organisation digest shows it) in the same message."""
    services = services_of(context)
    group_id, scope, language = _export_scope(context, command)
    workspace_id = workspace_id_of(context)
    with session_scope(services.engine) as session:
        content = export_csv(session=session, workspace_id=workspace_id, group_id=group_id)
        organisation = (
            org_digest(
                session=session,
                workspace_id=workspace_id,
                thresholds=services.settings.flag_thresholds,
            )
            if group_id is None
            else None
        )
    files: list[dict[str, Any]] = [
        {
            "content": content.encode("utf-8"),
            "filename": f"coherence-export-{services.clock():%Y-%m-%d}.csv",
            "title": "Coherence export",
        }
    ]
    with speaking(language):
        comment = _(
            "Per-run aggregates of {scope}. Runs with fewer answers than the anonymity "
            "threshold have no row; nothing identifies a person."
        ).format(scope=scope)
        # Drawn after the session is closed, by the drawing process: it needs no database.
        png, filename, title = (
            DRAWER.result(DRAWER.submit(organisation_heatmap, organisation))
            if organisation
            else (None, "", "")
        )
        if png is not None:
            files.append({"content": png, "filename": filename, "title": title})
            comment += _(
                " The heatmap shows each group's latest pulse; a hidden group's row is blank "
                "and labelled as such."
            )
    channel = client.conversations_open(users=caller_of(context).user_id)["channel"]["id"]
    client.files_upload_v2(channel=channel, file_uploads=files, initial_comment=comment)
