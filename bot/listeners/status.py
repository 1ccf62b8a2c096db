"""`/coherence`, `trend [N]` and `report`: a leadership group's numbers, shown ephemerally."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import Block
from sqlmodel import Session

from bot.listeners import away
from bot.listeners.admin.access import prompt_client
from bot.listeners.commands import (
    COMMAND,
    Middleware,
    command_is,
    group_id_of,
    in_a_group,
    parsed_as,
)
from bot.messenger import MEMBER_CACHE_SECONDS
from bot.services import Services, services_of
from bot.views.digest import blocks_as_dicts, digest_blocks, status_blocks, trend_blocks
from pulses.cadence import is_known_timezone
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
READER_ZONE_KEY = "reader_zone"


class ReaderZones:
    """Each reader's time zone as Slack's `users.info` says, kept as long as the messenger
    keeps a member's: a leader asking for the status again costs no call to Slack."""

    def __init__(self, seconds: float = MEMBER_CACHE_SECONDS) -> None:
        self._seconds = seconds
        self._zones: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def zone_of(self, client: WebClient, team_id: str, user_id: str) -> str | None:
        """The member's zone, or None when Slack could not say (or names no known zone)."""
        key = (team_id, user_id)
        with self._lock:
            cached = self._zones.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._seconds:
            return cached[0]
        try:
            user = prompt_client(client).users_info(user=user_id)["user"]
        except (SlackApiError, SlackClientError, OSError, KeyError, TypeError):
            return None
        zone = str(user.get("tz") or "")
        if not is_known_timezone(zone):
            return None
        with self._lock:
            self._zones[key] = (zone, time.monotonic())
        return zone


def with_reader_zone(zones: ReaderZones) -> Middleware:
    """A listener middleware: the caller's zone goes in the context, looked up before the
    listener reads the database."""

    def look_up_zone(client: WebClient, context: BoltContext, next: Callable[[], None]) -> None:
        team_id, user_id = context.team_id or "", context.user_id or ""
        context[READER_ZONE_KEY] = zones.zone_of(client, team_id, user_id)
        next()

    return look_up_zone


def _status(
    session: Session, group: LeadershipGroup, services: Services, context: BoltContext
) -> Reply:
    assert group.id is not None
    thresholds = services.settings.flag_thresholds
    now = services.clock()
    status = group_status(session=session, group_id=group.id, now=now, thresholds=thresholds)
    # One leader reads this: its times are in their zone (the group's when Slack can't say).
    zone = context.get(READER_ZONE_KEY) or group.timezone
    return status_blocks(replace(status, group=replace(status.group, timezone=zone)))


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
    reader_zone = with_reader_zone(ReaderZones())
    routes: list[tuple[type[Command], Build, list[Middleware]]] = [
        (Status, _status, [reader_zone]),
        (Trend, _trend, []),
        (Report, _report, []),
    ]
    for kind, build, more in routes:
        app.command(
            COMMAND, matchers=[command_is(kind)], middleware=[in_a_group(NOT_A_GROUP), *more]
        )(_answer_with(build))
    # The member commands about oneself (away, back) and closing a pulse early: registered
    # with the status listeners, before the catch-all that answers whatever text is left.
    away.register(app)
