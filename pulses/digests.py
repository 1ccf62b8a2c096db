"""The weekly digest: when it is due, and posting it exactly once per group and run.

A digest is drawn by the messenger, then claimed (`pulses.claims`) by inserting its
`DigestDelivery` row before anything reaches Slack; the row's unique key makes a second tick,
process or thread skip it. A claim whose post failed, or that was left in ``posting`` by a
process that died, is taken over later, once Slack has been asked whether the digest got there
after all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pulses.cadence import local_send_time
from pulses.claims import LOOKBACK, aware, is_stale, marker, rows_changed, wall_clock
from pulses.digest_batches import DigestBatch
from pulses.flags import DEFAULT_THRESHOLDS, FlagThresholds
from pulses.organisation import org_digest
from pulses.ports import Messenger, RenderedDigest
from pulses.reports import group_digest
from storage.db import read_scope, session_scope
from storage.models import DigestDelivery, LeadershipGroup, PulseRun

logger = logging.getLogger(__name__)

# A digest that keeps failing is given up after this many tries.
MAX_ATTEMPTS = 3
# Digests computed together: their runs are read in one set of aggregate queries.
BATCH = 25
# How long one tick keeps starting digests; the rest wait for the next tick (30 s away by
# default), so a tick's pulses and reminders are never late by more than about this much.
TICK_BUDGET = timedelta(seconds=10)


def _retryable(delivery: DigestDelivery, wall: datetime) -> bool:
    """A failed attempt, or a claim left ``posting`` past `STALE_CLAIM`, with attempts left."""
    if delivery.attempts >= MAX_ATTEMPTS:
        return False
    if delivery.status == "failed":
        return True
    return delivery.status == "posting" and is_stale(delivery.claimed_at, wall)


def _digest_time(group: LeadershipGroup) -> time:
    hour, minute = (int(part) for part in group.digest_time.split(":"))
    return time(hour, minute)


def digest_due_at(group: LeadershipGroup, run: PulseRun) -> datetime:
    """When the digest of a closed run is due, in UTC.

    Default (no ``digest_weekday``): the day after the run closed, at ``digest_time`` in the
    group's zone. With a weekday: the first time that weekday's ``digest_time`` comes at or
    after the close.
    """
    closed = aware(run.closed_at or run.closes_at)
    closed_day = closed.astimezone(ZoneInfo(group.timezone)).date()
    at = _digest_time(group)
    if group.digest_weekday is None:
        return local_send_time(closed_day + timedelta(days=1), at, group.timezone)
    day = closed_day + timedelta(days=(group.digest_weekday - closed_day.weekday()) % 7)
    due = local_send_time(day, at, group.timezone)
    return due if due >= closed else local_send_time(day + timedelta(days=7), at, group.timezone)


@dataclass(frozen=True)
class _Due:
    group_id: int
    workspace_id: int
    run_id: int
    channel: str


def due_digests(*, engine: Engine, now: datetime, lookback: timedelta = LOOKBACK) -> list[_Due]:
    """Each active group's latest closed run whose digest is due and not posted yet.

    Two reads however many groups there are: every tick asks, and a query per group made
    that a thousand round trips a minute for 500 groups.
    """
    latest_closed = (
        select(PulseRun.id)
        .where(col(PulseRun.group_id) == LeadershipGroup.id, col(PulseRun.status) == "closed")
        .order_by(col(PulseRun.occurrence_day).desc())
        .limit(1)
        .correlate(LeadershipGroup)
        .scalar_subquery()
    )
    wall = wall_clock()
    with read_scope(engine) as session:
        latest = session.exec(
            select(LeadershipGroup, PulseRun)
            .join(PulseRun, col(PulseRun.id) == latest_closed)
            .where(col(LeadershipGroup.active).is_(True))
            .order_by(col(LeadershipGroup.id))
        ).all()
        candidates = [
            (group, run)
            for group, run in latest
            if now - lookback <= digest_due_at(group, run) <= now
        ]
        run_ids = [run.id for _, run in candidates]
        deliveries = {
            (delivery.group_id, delivery.run_id): delivery
            for delivery in session.exec(
                select(DigestDelivery).where(col(DigestDelivery.run_id).in_(run_ids))
            )
        }
        due: list[_Due] = []
        for group, run in candidates:
            assert group.id is not None
            assert run.id is not None
            delivery = deliveries.get((group.id, run.id))
            if delivery is None or _retryable(delivery, wall):
                due.append(
                    _Due(
                        group_id=group.id,
                        workspace_id=group.workspace_id,
                        run_id=run.id,
                        channel=group.digest_channel_id or group.channel_id,
                    )
                )
    return due


def _key(row: DigestDelivery) -> tuple[Any, ...]:
    if row.group_id is not None:
        return (
            col(DigestDelivery.group_id) == row.group_id,
            col(DigestDelivery.run_id) == row.run_id,
        )
    return (
        col(DigestDelivery.workspace_id) == row.workspace_id,
        col(DigestDelivery.period) == row.period,
    )


def _claim(engine: Engine, messenger: Messenger, row: DigestDelivery, now: datetime) -> int | None:
    """Insert the delivery row, or take over a failed or stale one; the row's id if this
    caller won.

    An earlier attempt may have reached Slack before it failed or its process died, so Slack
    is asked first (by the marker in the message's metadata). Found, the delivery is settled
    as posted; if Slack cannot be asked, the claim is left for a later tick: a digest late by
    a tick is better than one posted twice.
    """
    try:
        with session_scope(engine) as session:
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        pass
    with session_scope(engine) as session:
        existing = session.exec(select(DigestDelivery).where(*_key(row))).first()
        if existing is None or existing.id is None or not _retryable(existing, wall_clock()):
            return None
        delivery_id, status, attempts = existing.id, existing.status, existing.attempts
        posted_to = existing.channel
    try:
        found = messenger.find_delivered(posted_to, marker=marker("digest", delivery_id))
    except Exception:
        logger.exception("Could not ask Slack whether digest %s was posted", delivery_id)
        return None
    unchanged = (
        col(DigestDelivery.id) == delivery_id,
        col(DigestDelivery.status) == status,
        col(DigestDelivery.attempts) == attempts,
    )
    with session_scope(engine) as session:
        if found is not None:
            session.execute(
                update(DigestDelivery)
                .where(*unchanged)
                .values(status="posted", ts=found[1], posted_at=now, failure_reason=None)
            )
            return None
        result = session.execute(
            update(DigestDelivery)
            .where(*unchanged)
            .values(
                status="posting",
                attempts=attempts + 1,
                claimed_at=wall_clock(),
                channel=row.channel,
            )
        )
        return delivery_id if rows_changed(result) == 1 else None


# A delivery's outcome, to be written: its id and the columns to set.
Settlement = tuple[int, dict[str, object]]


def _settle(engine: Engine, settlements: Sequence[Settlement]) -> None:
    """Write the outcomes in one transaction."""
    with session_scope(engine) as session:
        for delivery_id, values in settlements:
            session.execute(
                update(DigestDelivery).where(col(DigestDelivery.id) == delivery_id).values(**values)
            )


def _deliver(
    engine: Engine,
    messenger: Messenger,
    digest: RenderedDigest,
    row: DigestDelivery,
    now: datetime,
    settlements: list[Settlement] | None = None,
) -> bool | None:
    """Claim the delivery `row` and post the drawn digest: True if posted, False if the post
    failed (a later tick retries it), None if the claim went to someone else.

    The outcome is written at once, or added to ``settlements`` for the caller to write with
    others'. Until it is written the claim reads as still posting, and is settled from Slack
    (by its marker) if this process dies first."""
    delivery_id = _claim(engine, messenger, row, now)
    if delivery_id is None:
        return None
    try:
        ts = messenger.post_digest(
            digest, channel=row.channel, marker=marker("digest", delivery_id)
        )
    except Exception as error:
        logger.exception("Failed to post a digest to %s", row.channel)
        posted = False
        values: dict[str, object] = {"status": "failed", "failure_reason": str(error)[:255]}
    else:
        posted = True
        values = {"status": "posted", "ts": ts, "posted_at": now}
    if settlements is None:
        _settle(engine, [(delivery_id, values)])
    else:
        settlements.append((delivery_id, values))
    return posted


def _group_claim(*, workspace_id: int, group_id: int, run_id: int, channel: str) -> DigestDelivery:
    return DigestDelivery(
        workspace_id=workspace_id,
        group_id=group_id,
        run_id=run_id,
        channel=channel,
        claimed_at=wall_clock(),
    )


def post_digest_now(
    *,
    engine: Engine,
    messenger: Messenger,
    group_id: int,
    now: datetime,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> bool:
    """Post the group's digest of its latest closed run at once; False if there is none yet.

    It takes the run's delivery claim when the scheduler has not, so the scheduled digest of
    the same run does not follow. An admin asking again after it went out gets it again.
    """
    with read_scope(engine) as session:
        digest = group_digest(session=session, group_id=group_id, now=now, thresholds=thresholds)
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        channel = group.digest_channel_id or group.channel_id
        workspace_id = group.workspace_id
    latest = digest.latest
    if latest is None:
        return False
    drawn = messenger.render_digest(digest)
    row = _group_claim(
        workspace_id=workspace_id, group_id=group_id, run_id=latest.run_id, channel=channel
    )
    delivered = _deliver(engine, messenger, drawn, row, now)
    if delivered is not None:
        return delivered
    messenger.post_digest(drawn, channel=channel, marker=None)
    return True


def org_period(now: datetime) -> str:
    """The organisation digest's key: one per ISO week (UTC)."""
    year, week, _ = now.astimezone(UTC).isocalendar()
    return f"org:{year}-W{week:02d}"


def _org_digest_due(engine: Engine, workspace_id: int, period: str, *, group_posted: bool) -> bool:
    """Whether to try the workspace's org digest of ``period``: for the first time after one
    of its group digests went out, or again when that try failed or was left stale."""
    with session_scope(engine) as session:
        delivery = session.exec(
            select(DigestDelivery).where(
                DigestDelivery.workspace_id == workspace_id, DigestDelivery.period == period
            )
        ).first()
        if delivery is None:
            return group_posted
        return _retryable(delivery, wall_clock())


def _draw_batch(
    engine: Engine,
    messenger: Messenger,
    batch: Sequence[_Due],
    now: datetime,
    thresholds: FlagThresholds,
) -> Iterator[tuple[_Due, RenderedDigest]]:
    """The batch handed to the messenger to compute and draw, now; each digest comes out of
    the returned iterator once drawn, for posting. A group whose digest could not be computed
    or drawn is left out, logged, and left for the next tick."""
    due = {one.group_id: one for one in batch}
    drawings = messenger.render_digests(DigestBatch(engine, tuple(due), now, thresholds))
    return _drawn(due, drawings)


def _drawn(
    due: Mapping[int, _Due], drawings: Iterator[tuple[int, RenderedDigest | Exception]]
) -> Iterator[tuple[_Due, RenderedDigest]]:
    for group_id, drawn in drawings:
        if isinstance(drawn, Exception):
            logger.error(
                "Failed to compute or draw the digest of group %s", group_id, exc_info=drawn
            )
            continue
        yield due[group_id], drawn


def _post_batch(
    engine: Engine,
    messenger: Messenger,
    drawing: Iterator[tuple[_Due, RenderedDigest]],
    now: datetime,
) -> list[int]:
    """Claim and post each digest of a batch as it is drawn; the workspaces of those posted.
    Their outcomes are written together once the batch is over: one transaction, not one per
    digest."""
    delivered = []
    settlements: list[Settlement] = []
    try:
        # Drawn before the claim, so that a failure there leaves nothing claimed.
        for one, drawn in drawing:
            row = _group_claim(
                workspace_id=one.workspace_id,
                group_id=one.group_id,
                run_id=one.run_id,
                channel=one.channel,
            )
            if _deliver(engine, messenger, drawn, row, now, settlements):
                delivered.append(one.workspace_id)
    finally:
        if settlements:
            _settle(engine, settlements)
    return delivered


def send_due_digests(
    *,
    engine: Engine,
    messenger: Messenger,
    now: datetime,
    org_channels: Mapping[int, str] | None = None,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    budget: timedelta = TICK_BUDGET,
) -> int:
    """Post every group digest now due, each exactly once; returns how many were posted.

    Digests are computed `BATCH` groups at a time and posted as drawn, each batch computed
    and drawn while the one before is being posted; once ``budget`` (of the wall clock) is spent no
    further batch starts (the first always does), and the next tick posts the rest, so
    hundreds of digests due together never hold up its pulses long.
    ``org_channels`` maps a workspace id to its admin channel: after a group digest of that
    workspace goes out, the organisation digest is posted there, at most once per ISO week,
    and a failed or stale one of the current week is retried on every tick.
    Safe to run concurrently: the delivery row is claimed before anything is posted.
    """
    started = monotonic()
    due = due_digests(engine=engine, now=now)
    batches = [due[first : first + BATCH] for first in range(0, len(due), BATCH)]
    delivered: list[int] = []  # the workspace of each digest posted
    drawing = None  # the batch computed and being drawn, not yet posted
    for number, batch in enumerate(batches):
        if number and monotonic() - started >= budget.total_seconds():
            left = sum(len(rest) for rest in batches[number:])
            logger.info("%d digests left for the next tick", left)
            break
        # Handed to the messenger before the batch before it is posted: the messenger computes
        # and draws it meanwhile, in a process of its own.
        upcoming = _draw_batch(engine, messenger, batch, now, thresholds)
        if drawing is not None:
            delivered += _post_batch(engine, messenger, drawing, now)
        drawing = upcoming
    if drawing is not None:
        delivered += _post_batch(engine, messenger, drawing, now)
    posted = len(delivered)
    workspaces = set(delivered)
    period = org_period(now)
    for workspace_id, channel in sorted((org_channels or {}).items()):
        group_posted = workspace_id in workspaces
        if not _org_digest_due(engine, workspace_id, period, group_posted=group_posted):
            continue
        try:
            with session_scope(engine) as session:
                org = org_digest(session=session, workspace_id=workspace_id, thresholds=thresholds)
            drawn = messenger.render_digest(org)
        except Exception:
            logger.exception("Failed to render the organisation digest of %s", workspace_id)
            continue
        row = DigestDelivery(
            workspace_id=workspace_id, period=period, channel=channel, claimed_at=wall_clock()
        )
        if _deliver(engine, messenger, drawn, row, now):
            posted += 1
    return posted
