"""Claims: how every send (a pulse, a reminder, a digest) is taken by one process only.

A send is claimed in the database before anything reaches Slack: by a conditional UPDATE or a
unique INSERT that only one caller can win. The claim names its owner and is stamped with the
wall clock. A claim whose owner died, or that outlived `STALE_CLAIM`, is taken over, once Slack
has been asked (by the marker the message carries in its metadata) whether the send got there
after all: a send late by a tick is better than one sent twice.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from sqlalchemy import update
from sqlmodel import Session, col

from storage.models import Invitation, PulseRun

# How far back a tick looks for sends it has not claimed yet (a bot down for a week).
LOOKBACK = timedelta(days=8)
# A claim older than this whose owner cannot be shown to be dead is taken over. It must
# outlast one send, 429 waits included (the client retries Retry-After up to 10 times).
STALE_CLAIM = timedelta(minutes=20)


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
    """A claim whose owner is known dead (a process of this host that is gone), or stale."""
    if claimed_by is None or claimed_at is None:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit() and not _process_alive(int(pid_text)):
        return True
    return is_stale(claimed_at, wall)


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
    result = session.execute(
        update(table)
        .where(col(table.id) == row_id, col(getattr(table, columns.state)) == "pending")
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
