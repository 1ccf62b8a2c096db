"""`/coherence` and `/coherence trend [N]`: a leadership group's numbers, shown ephemerally."""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlmodel import Session, select

from bot.listeners.commands import CommandRouter
from bot.services import Services, services_of
from bot.views.digest import blocks_as_dicts, digest_blocks, status_blocks, trend_blocks
from pulses.commands import Report, Status, Trend
from pulses.groups import group_for_channel
from pulses.reports import GroupDigest, group_history, group_info, group_status
from storage.db import session_scope
from storage.models import LeadershipGroup, Workspace

NOT_A_GROUP = (
    "*Coherence* measures, week by week, whether a leadership team is pulling in one "
    "direction: it asks leaders a few short questions and shows response rate, coherence and "
    "where priorities drift — only as team-level figures.\n"
    "This channel is not a leadership group yet. A workspace admin can make it one by "
    "running `/coherence setup` here; then `/coherence` in this channel shows its status."
)


def _group(session: Session, command: dict[str, Any]) -> LeadershipGroup | None:
    workspace = session.exec(
        select(Workspace).where(Workspace.team_id == command.get("team_id", ""))
    ).first()
    if workspace is None or workspace.id is None:
        return None
    return group_for_channel(
        session=session, workspace_id=workspace.id, channel_id=command.get("channel_id", "")
    )


def _answer_for_group(
    ack: Ack,
    command: dict[str, Any],
    context: BoltContext,
    build: Callable[[Session, LeadershipGroup, Services], tuple[str, list[Block]] | str],
) -> None:
    """Ack with what `build` makes of the channel's group, or explain the command elsewhere."""
    services = services_of(context)
    with session_scope(services.engine) as session:
        group = _group(session, command)
        if group is None or group.id is None:
            ack(text=NOT_A_GROUP)
            return
        reply = build(session, group, services)
    if isinstance(reply, str):
        ack(text=reply)
    else:
        text, blocks = reply
        ack(text=text, blocks=blocks_as_dicts(blocks))


def handle_status(
    ack: Ack,
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    logger: Logger,
    parsed: Status,
) -> None:
    """The group's status in its channel; elsewhere, what the command does and how to set up."""

    def build(
        session: Session, group: LeadershipGroup, services: Services
    ) -> tuple[str, list[Block]]:
        assert group.id is not None
        return status_blocks(
            group_status(
                session=session,
                group_id=group.id,
                now=services.clock(),
                thresholds=services.settings.flag_thresholds,
            )
        )

    _answer_for_group(ack, command, context, build)


def handle_trend(
    ack: Ack,
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    logger: Logger,
    parsed: Trend,
) -> None:
    """The last ``parsed.n`` closed runs of the channel's group."""

    def build(
        session: Session, group: LeadershipGroup, services: Services
    ) -> tuple[str, list[Block]]:
        assert group.id is not None
        history = group_history(
            session=session,
            group_id=group.id,
            limit=parsed.n,
            thresholds=services.settings.flag_thresholds,
        )
        return trend_blocks(history, parsed.n)

    _answer_for_group(ack, command, context, build)


def handle_report(
    ack: Ack,
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    logger: Logger,
    parsed: Report,
) -> None:
    """The full report of the latest closed run, or of the run on a date, as the digest shows it."""
    until = None if parsed.run == "latest" else parsed.run

    def build(
        session: Session, group: LeadershipGroup, services: Services
    ) -> tuple[str, list[Block]] | str:
        assert group.id is not None
        history = group_history(
            session=session,
            group_id=group.id,
            until=until,
            thresholds=services.settings.flag_thresholds,
        )
        info = group_info(group)
        if until is not None and (not history or history[-1].occurrence_day != until):
            return f"#{info.name} has no closed pulse on {until:%a %-d %b %Y}."
        digest = GroupDigest(group=info, generated_at=services.clock(), history=tuple(history))
        return digest_blocks(digest)

    _answer_for_group(ack, command, context, build)


def register(router: CommandRouter) -> None:
    router.route(Status, handle_status)
    router.route(Trend, handle_trend)
    router.route(Report, handle_report)
