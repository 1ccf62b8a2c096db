"""`/coherence`, `trend [N]` and `report`: a leadership group's numbers, shown ephemerally."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext
from slack_sdk.models.blocks import Block
from sqlmodel import Session

from bot.listeners import away
from bot.listeners.commands import COMMAND, command_is, group_id_of, in_a_group, parsed_as
from bot.services import Services, services_of
from bot.views.digest import blocks_as_dicts, digest_blocks, status_blocks, trend_blocks
from pulses.commands import Command, Report, Status, Trend
from pulses.reports import GroupDigest, group_history, group_info, group_status
from storage.db import session_scope
from storage.models import LeadershipGroup

NOT_A_GROUP = (
    "*Coherence* measures, week by week, whether a leadership team is pulling in one "
    "direction: it asks leaders a few short questions and shows response rate, coherence and "
    "where priorities drift — only as team-level figures.\n"
    "This channel is not a leadership group yet. A workspace admin can make it one by "
    "running `/coherence setup` here; then `/coherence` in this channel shows its status."
)

# What a member command shows of the channel's group: text and blocks, or just text.
Reply = tuple[str, list[Block]] | str
Build = Callable[[Session, LeadershipGroup, Services, BoltContext], Reply]


def _status(
    session: Session, group: LeadershipGroup, services: Services, context: BoltContext
) -> Reply:
    assert group.id is not None
    thresholds = services.settings.flag_thresholds
    now = services.clock()
    return status_blocks(
        group_status(session=session, group_id=group.id, now=now, thresholds=thresholds)
    )


def _trend(
    session: Session, group: LeadershipGroup, services: Services, context: BoltContext
) -> Reply:
    """The last ``n`` closed runs of the channel's group."""
    assert group.id is not None
    n = parsed_as(context, Trend).n
    thresholds = services.settings.flag_thresholds
    history = group_history(session=session, group_id=group.id, limit=n, thresholds=thresholds)
    return trend_blocks(history, n)


def _report(
    session: Session, group: LeadershipGroup, services: Services, context: BoltContext
) -> Reply:
    """The full report of the latest closed run, or of the run on a date, as the digest shows it."""
    assert group.id is not None
    run = parsed_as(context, Report).run
    until = None if run == "latest" else run
    thresholds = services.settings.flag_thresholds
    history = group_history(session=session, group_id=group.id, until=until, thresholds=thresholds)
    info = group_info(group)
    if until is not None and (not history or history[-1].occurrence_day != until):
        return f"#{info.name} has no closed pulse on {until:%a %-d %b %Y}."
    digest = GroupDigest(group=info, generated_at=services.clock(), history=tuple(history))
    return digest_blocks(digest)


def _answer_with(build: Build) -> Callable[[Ack, BoltContext], None]:
    """A listener that acks with what ``build`` makes of the channel's group."""

    def answer(ack: Ack, context: BoltContext) -> None:
        services = services_of(context)
        with session_scope(services.engine) as session:
            group = session.get(LeadershipGroup, group_id_of(context))
            assert group is not None
            reply = build(session, group, services, context)
        if isinstance(reply, str):
            ack(text=reply)
        else:
            text, blocks = reply
            ack(text=text, blocks=blocks_as_dicts(blocks))

    return answer


def register(app: App) -> None:
    # Outside a leadership channel, each says what Coherence does and how to set it up.
    routes: list[tuple[type[Command], Build]] = [
        (Status, _status),
        (Trend, _trend),
        (Report, _report),
    ]
    for kind, build in routes:
        app.command(COMMAND, matchers=[command_is(kind)], middleware=[in_a_group(NOT_A_GROUP)])(
            _answer_with(build)
        )
    # The member commands about oneself (away, back) and closing a pulse early: registered
    # with the status listeners, before the catch-all that answers whatever text is left.
    away.register(app)
