"""Claims: how every send (a pulse, a reminder, a digest) is taken by one process only.

A send is claimed in the database before anything reaches Slack: by a conditional UPDATE or a
unique INSERT that only one caller can win. On PostgreSQL the UPDATE skips a row another
replica is claiming this instant (`FOR UPDATE SKIP LOCKED`) instead of queueing behind it;
SQLite has one writer, so its conditional UPDATE never waits on another claim anyway.

A pulse's claim is a lease: it names its owner, is stamped with the wall clock, and is renewed
every `HEARTBEAT` while its owner lives (`keep_leases`). So is a run's start (its members looked
up, its invitations written: `claim_run_start`), so that one replica makes a run's look-ups and
the others move on to sending instead of spending the workspace's Slack quota a second time.
A send claimed by an owner that died, or whose lease went `LEASE` without renewal, is taken
over once Slack has been asked (by the marker the message carries in its metadata) whether the
send got there after all: a send late by a tick is better than one sent twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from storage.db import session_scope
from storage.models import Invitation, PulseRun

logger = logging.getLogger(__name__)

# How far back a tick looks for sends it has not claimed yet (a bot down for a week).
LOOKBACK = timedelta(days=8)
# A claim that is never renewed (a digest's) and is older than this is taken over. It must
# outlast one send, 429 waits included (the client retries Retry-After up to 10 times).
STALE_CLAIM = timedelta(minutes=20)
# A pulse's claim not renewed for this long is taken over: its owner is gone or cut off. The
# owner renews every HEARTBEAT from a thread of its own, so a send stuck in 429 waits keeps
# its claim; three missed beats are needed before anyone else looks. With the scheduler
# ticking every 30 s, a dead replica's claim is taken over within a minute.
LEASE = timedelta(seconds=30)
HEARTBEAT = LEASE / 3


def wall_clock() -> datetime:
    return datetime.now(UTC)


def marker(kind: Literal["invitation", "run", "digest"], row_id: int | None) -> str:
    """What a message carries in its metadata so that the row that claimed it finds it again."""
    return f"{kind}:{row_id}"


def aware(moment: datetime) -> datetime:
    """`moment` in UTC if the database handed it back without its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_stale(claimed_at: datetime, wall: datetime) -> bool:
    """Whether a claim stamped at `claimed_at` has outlived any send its owner could still be in."""
    return wall - aware(claimed_at) >= STALE_CLAIM


def is_abandoned(claimed_by: str | None, claimed_at: datetime | None, wall: datetime) -> bool:
    """A leased claim whose owner is known dead (a process of this host that is gone), or
    whose lease was not renewed for `LEASE`."""
    if claimed_by is None or claimed_at is None or owner_is_gone(claimed_by):
        return True
    return wall - aware(claimed_at) >= LEASE


def owner_is_gone(claimed_by: str) -> bool:
    """Whether the claim's owner is a process of this host that no longer runs."""
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    return host == socket.gethostname() and pid_text.isdigit() and not _process_alive(int(pid_text))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claimant(Protocol):
    """Who takes a claim: its owner id, and the wall clock its claims are stamped with."""

    @property
    def id(self) -> str: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True)
class ClaimColumns:
    """Where one kind of send keeps its claim: the `state` column goes from "pending" to
    `taken`, `owner` names the claimant and `stamp` (None: never taken over) says when."""

    state: str
    taken: str
    owner: str
    stamp: str | None

    @property
    def released(self) -> dict[str, object]:
        """The values that hand a taken claim back, "pending" and owned by no one."""
        values: dict[str, object] = {self.state: "pending", self.owner: None}
        if self.stamp is not None:
            values[self.stamp] = None
        return values


CHANNEL_POST: Final = ClaimColumns(
    "channel_post_state", "posting", "channel_post_claimed_by", "channel_post_claimed_at"
)
DM_SEND: Final = ClaimColumns("status", "sending", "claimed_by", "claimed_at")
# A run's start is claimed on its channel message's columns: that message can only be claimed
# once the run is open, so while the run is pending they are free. Opening the run hands them
# back ("pending", no owner) for the channel message.
RUN_START: Final = ClaimColumns(
    "channel_post_state", "starting", "channel_post_claimed_by", "channel_post_claimed_at"
)
# A reminder's claim carries no stamp: it is never taken over, since a missing nudge is
# better than a second one.
REMINDER: Final = ClaimColumns("reminder_state", "sending", "claimed_by", None)


def claim_row(
    session: Session,
    table: type[PulseRun] | type[Invitation],
    row_id: int | None,
    columns: ClaimColumns,
    claimant: Claimant,
    **also: object,
) -> bool:
    """Claim a row still "pending" for `claimant` (writing `also` with it) in one conditional
    UPDATE; True only for the one caller that won it."""
    claimed: dict[str, object] = {columns.state: columns.taken, columns.owner: claimant.id}
    if columns.stamp is not None:
        claimed[columns.stamp] = claimant.clock()
    claimable = select(col(table.id)).where(
        col(table.id) == row_id, col(getattr(table, columns.state)) == "pending"
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another replica claiming this row right now will win it: move on, don't queue.
        claimable = claimable.with_for_update(skip_locked=True)
    result = session.execute(
        update(table)
        .where(col(table.id).in_(claimable.scalar_subquery()))
        .values(**claimed, **also)
    )
    return rows_changed(result) == 1


def settle_claim(
    session: Session,
    table: type[PulseRun] | type[Invitation],
    row_id: int | None,
    columns: ClaimColumns,
    owner: str | None,
    **values: object,
) -> bool:
    """Write `values` to a row only while `owner` still holds its claim; True if it did."""
    result = session.execute(
        update(table)
        .where(
            col(table.id) == row_id,
            col(getattr(table, columns.state)) == columns.taken,
            col(getattr(table, columns.owner)) == owner,
        )
        .values(**values)
    )
    return rows_changed(result) == 1


def rows_changed(result: object) -> int:
    """How many rows a conditional UPDATE changed: 1 when this caller won the claim."""
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) else 0


# The claims that are leases, renewed by a living owner: each table with its claim columns.
LEASED: Final = ((Invitation, DM_SEND), (PulseRun, CHANNEL_POST), (PulseRun, RUN_START))


def claim_run_start(engine: Engine, run_id: int, claimant: Claimant) -> bool:
    """Claim the start of pending run `run_id` (its member look-up and invitations) as a lease;
    True only for the one caller that won it.

    A start claimed by an owner that died, or that went a `LEASE` without renewing it, is
    taken over. Nothing needs asking Slack first: a start writes no message, and starting a
    run twice writes the same invitations once, so the claim saves Slack calls, not sends.
    """
    wall = claimant.clock()
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        if run is None or run.status != "pending":
            return False
        state, owner, stamp = (
            run.channel_post_state,
            run.channel_post_claimed_by,
            run.channel_post_claimed_at,
        )
        if state == RUN_START.taken and not is_abandoned(owner, stamp, wall):
            return False
        if state not in ("pending", RUN_START.taken):
            return False
        conditions = [
            col(PulseRun.id) == run_id,
            col(PulseRun.status) == "pending",
            col(PulseRun.channel_post_state) == state,
            col(PulseRun.channel_post_claimed_by).is_(None)
            if owner is None
            else col(PulseRun.channel_post_claimed_by) == owner,
        ]
        if state == RUN_START.taken and owner is not None and not owner_is_gone(owner):
            # Only a lease still unrenewed: the owner may have beaten since it was read.
            conditions.append(col(PulseRun.channel_post_claimed_at) <= wall - LEASE)
        claimable = select(col(PulseRun.id)).where(*conditions)
        if session.get_bind().dialect.name == "postgresql":
            # Another replica taking this start right now will win it: move on to sending.
            claimable = claimable.with_for_update(skip_locked=True)
        result = session.execute(
            update(PulseRun)
            .where(col(PulseRun.id).in_(claimable.scalar_subquery()))
            .values(
                channel_post_state=RUN_START.taken,
                channel_post_claimed_by=claimant.id,
                channel_post_claimed_at=wall,
            )
        )
        return rows_changed(result) == 1


def renew_leases(engine: Engine, claimant: Claimant) -> int:
    """Restamp every leased claim `claimant` still holds; how many it renewed."""
    renewed = 0
    with session_scope(engine) as session:
        for table, columns in LEASED:
            assert columns.stamp is not None
            result = session.execute(
                update(table)
                .where(
                    col(getattr(table, columns.state)) == columns.taken,
                    col(getattr(table, columns.owner)) == claimant.id,
                )
                .values({columns.stamp: claimant.clock()})
            )
            renewed += rows_changed(result)
    return renewed


@contextmanager
def keep_leases(engine: Engine, claimant: Claimant, every: timedelta = HEARTBEAT) -> Iterator[None]:
    """Renew `claimant`'s leases `every` so often from a thread of its own while the block
    runs, so a send that waits out 429s is not mistaken for a dead one."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every.total_seconds()):
            try:
                renew_leases(engine, claimant)
            except Exception:
                # The database may be back by the next beat; three misses end the lease.
                logger.warning("Could not renew this process's claims", exc_info=True)

    heart = threading.Thread(target=beat, name="coherence-lease", daemon=True)
    heart.start()
    try:
        yield
    finally:
        stop.set()
        heart.join()


def release_run_start(engine: Engine, run_id: int, claimant: Claimant) -> None:
    """Hand back a run start `claimant` could not finish (Slack busy, a bad row), so the next
    tick of any replica tries it again instead of waiting out the lease."""
    with session_scope(engine) as session:
        settle_claim(session, PulseRun, run_id, RUN_START, claimant.id, **RUN_START.released)
