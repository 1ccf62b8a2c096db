"""Time away: a member who is away when their pulse goes out is neither asked, reminded nor
counted as invited.

Away means days set with `/coherence away` (the member's own local dates), or a Slack status
that says so (Vacationing, Out sick) at the send. A run keeps only how many were away, so the
response rate reads "7 of 8 answered · 1 away" and nobody learns through the bot who it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from pulses.cadence import is_known_timezone
from storage.db import dialect_insert
from storage.models import RunAway, TimeAway

# Slack's away presets (and the emoji people pick for the same): a status that says "not at work".
AWAY_EMOJI: Final = frozenset(
    {":palm_tree:", ":face_with_thermometer:", ":beach_with_umbrella:", ":desert_island:"}
)


def has_away_status(status_emoji: str, status_expiration: int, at: datetime) -> bool:
    """Whether a Slack status (its emoji, and when it expires in Unix seconds, 0 for never)
    says its member is away at ``at``."""
    if status_emoji not in AWAY_EMOJI:
        return False
    return not status_expiration or at.timestamp() < status_expiration


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar date of ``moment`` where the member is (UTC for an unknown zone)."""
    zone = ZoneInfo(timezone if is_known_timezone(timezone) else "UTC")
    return moment.astimezone(zone).date()


@dataclass(frozen=True)
class AwayDays:
    """The stretches of time away of some members, read once for a batch of sends."""

    periods: dict[tuple[int, str], list[tuple[date, date]]]

    def covers(self, workspace_id: int, user_id: str, day: date) -> bool:
        return any(
            first <= day <= last for first, last in self.periods.get((workspace_id, user_id), ())
        )


def away_days(session: Session, members: Iterable[tuple[int, str]], *, since: date) -> AwayDays:
    """The time away, ending on or after ``since``, of these (workspace id, user id) pairs."""
    wanted = set(members)
    periods: dict[tuple[int, str], list[tuple[date, date]]] = {}
    if not wanted:
        return AwayDays(periods)
    rows = session.exec(
        select(TimeAway).where(
            col(TimeAway.user_id).in_({user_id for _, user_id in wanted}),
            col(TimeAway.workspace_id).in_({workspace_id for workspace_id, _ in wanted}),
            col(TimeAway.last_day) >= since,
        )
    )
    for row in rows:
        key = (row.workspace_id, row.user_id)
        if key in wanted:
            periods.setdefault(key, []).append((row.first_day, row.last_day))
    return AwayDays(periods)


def count_away(session: Session, run_id: int, members: int) -> None:
    """Add ``members`` to the run's count of members passed over because they were away."""
    if members <= 0:
        return
    session.execute(
        dialect_insert(session.get_bind().dialect.name, RunAway)
        .values(run_id=run_id, members=0)
        .on_conflict_do_nothing(index_elements=["run_id"])
    )
    session.execute(
        update(RunAway)
        .where(col(RunAway.run_id) == run_id)
        .values(members=col(RunAway.members) + members)
    )


def away_counts(session: Session, run_ids: Iterable[int]) -> dict[int, int]:
    """How many members each run passed over as away (runs without any are left out)."""
    ids = list(run_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(RunAway.run_id, RunAway.members).where(col(RunAway.run_id).in_(ids))
    ).all()
    return {run_id: members for run_id, members in rows if members}


def away_count(session: Session, run_id: int) -> int:
    return away_counts(session, [run_id]).get(run_id, 0)


# --- the member's own commands -----------------------------------------------------------------


def set_away(
    *,
    session: Session,
    workspace_id: int,
    user_id: str,
    first_day: date,
    last_day: date,
    today: date,
) -> tuple[date, date]:
    """Record the member's time away (its dates checked by the command's parser); stretches
    it overlaps or touches become one. Returns the stretch as stored."""
    _forget_ended(session, workspace_id, user_id, today)
    touching = session.exec(
        select(TimeAway).where(
            TimeAway.workspace_id == workspace_id,
            TimeAway.user_id == user_id,
            col(TimeAway.first_day) <= last_day + timedelta(days=1),
            col(TimeAway.last_day) >= first_day - timedelta(days=1),
        )
    ).all()
    first = min([first_day, *(row.first_day for row in touching)])
    last = max([last_day, *(row.last_day for row in touching)])
    for row in touching:
        session.delete(row)
    session.add(
        TimeAway(workspace_id=workspace_id, user_id=user_id, first_day=first, last_day=last)
    )
    return first, last


def come_back(*, session: Session, workspace_id: int, user_id: str, today: date) -> int:
    """End the member's time away from today on (current and planned); how many stretches."""
    _forget_ended(session, workspace_id, user_id, today)
    ongoing = session.exec(
        select(TimeAway).where(
            TimeAway.workspace_id == workspace_id,
            TimeAway.user_id == user_id,
            col(TimeAway.last_day) >= today,
        )
    ).all()
    for row in ongoing:
        if row.first_day < today:
            row.last_day = today - timedelta(days=1)
            session.add(row)
        else:
            session.delete(row)
    return len(ongoing)


def time_away_of(
    *, session: Session, workspace_id: int, user_id: str, today: date
) -> list[tuple[date, date]]:
    """The member's current and planned time away, earliest first."""
    rows = session.exec(
        select(TimeAway)
        .where(
            TimeAway.workspace_id == workspace_id,
            TimeAway.user_id == user_id,
            col(TimeAway.last_day) >= today,
        )
        .order_by(col(TimeAway.first_day))
    ).all()
    return [(row.first_day, row.last_day) for row in rows]


def _forget_ended(session: Session, workspace_id: int, user_id: str, today: date) -> None:
    # A stretch that is over has done its work: keeping who was away when serves no one.
    # Yesterday's is kept: a send in a zone behind the member's may still fall on it.
    session.execute(
        delete(TimeAway).where(
            col(TimeAway.workspace_id) == workspace_id,
            col(TimeAway.user_id) == user_id,
            col(TimeAway.last_day) < today - timedelta(days=1),
        )
    )
