"""Acting on results: what a team commits to after a digest, and following it up.

A commitment is recorded under the run whose digest prompted it, with a short text and an
owner (a Slack user). The next digest lists the commitments of the runs before it that are
still open, and those of the run just before it even if done, asking whether each was done;
the trend chart marks the runs with commitments; admins see every open one on the App Home.
Team-level only: a commitment names a run, never an answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from storage.models import Commitment, LeadershipGroup, PulseRun

MAX_TEXT: Final = 300
MIN_TEXT: Final = 3
# Slack user ids: U… in a workspace, W… on Enterprise Grid.
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
# The App Home and a digest show at most this many; the rest is counted.
MAX_LISTED: Final = 50


@dataclass(frozen=True)
class CommitmentView:
    """A commitment as shown: what, whose, recorded under which run's digest, and if done."""

    commitment_id: int
    group_id: int
    group_name: str
    run_id: int
    run_day: date
    text: str
    owner_id: str
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True)
class FollowUp:
    """What a digest says about commitments: those to ask about, and the runs that had any."""

    to_review: tuple[CommitmentView, ...] = ()
    committed_runs: frozenset[int] = frozenset()


class InvalidCommitment(Exception):
    """The modal's input cannot be recorded; ``problems`` maps a field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


class CommitmentNotFound(Exception):
    """No such run or commitment in the caller's workspace."""


def _view(commitment: Commitment, group: LeadershipGroup, run: PulseRun) -> CommitmentView:
    assert commitment.id is not None
    return CommitmentView(
        commitment_id=commitment.id,
        group_id=commitment.group_id,
        group_name=group.channel_name or group.channel_id,
        run_id=commitment.run_id,
        run_day=run.occurrence_day,
        text=commitment.text,
        owner_id=commitment.owner_id,
        done_at=commitment.done_at,
        done_by=commitment.done_by,
    )


def _run_in(session: Session, run_id: int, workspace_id: int) -> PulseRun:
    run = session.get(PulseRun, run_id)
    group = session.get(LeadershipGroup, run.group_id) if run is not None else None
    if run is None or group is None or group.workspace_id != workspace_id:
        raise CommitmentNotFound(f"run {run_id}")
    return run


@dataclass(frozen=True)
class GroupOfCommitment:
    """The group a run or commitment belongs to: whose channel's members may act on it."""

    name: str
    channel_id: str


def group_of(
    *,
    session: Session,
    workspace_id: int,
    run_id: int | None = None,
    commitment_id: int | None = None,
) -> GroupOfCommitment:
    """The group of the run (or commitment) in the caller's workspace; `CommitmentNotFound`."""
    if commitment_id is not None:
        commitment = session.get(Commitment, commitment_id)
        if commitment is None or commitment.workspace_id != workspace_id:
            raise CommitmentNotFound(f"commitment {commitment_id}")
        run_id = commitment.run_id
    assert run_id is not None, "a run or a commitment names the group"
    run = _run_in(session, run_id, workspace_id)
    group = session.get(LeadershipGroup, run.group_id)
    assert group is not None
    return GroupOfCommitment(group.channel_name or group.channel_id, group.channel_id)


def record_commitment(
    *,
    session: Session,
    workspace_id: int,
    run_id: int,
    text: str | None,
    owner_id: str | None,
    user_id: str,
    now: datetime,
) -> CommitmentView:
    """Record what the team will do after the run's digest; `InvalidCommitment` says why not."""
    run = _run_in(session, run_id, workspace_id)
    words = " ".join((text or "").split())
    problems: dict[str, str] = {}
    if len(words) < MIN_TEXT:
        problems["text"] = "Say in a few words what the team will do."
    elif len(words) > MAX_TEXT:
        problems["text"] = f"Keep it to {MAX_TEXT} characters (this is {len(words)})."
    if not owner_id or not _USER_ID.match(owner_id):
        problems["owner"] = "Choose who owns it."
    if problems:
        raise InvalidCommitment(problems)
    assert owner_id is not None
    commitment = Commitment(
        workspace_id=workspace_id,
        group_id=run.group_id,
        run_id=run_id,
        text=words,
        owner_id=owner_id,
        created_by=user_id,
        created_at=now,
    )
    session.add(commitment)
    session.flush()
    group = session.get(LeadershipGroup, run.group_id)
    assert group is not None
    return _view(commitment, group, run)


def mark_done(
    *, session: Session, workspace_id: int, commitment_id: int, user_id: str, now: datetime
) -> CommitmentView:
    """Mark a commitment done; marking it again (a double click) keeps the first mark."""
    commitment = session.get(Commitment, commitment_id)
    if commitment is None or commitment.workspace_id != workspace_id:
        raise CommitmentNotFound(f"commitment {commitment_id}")
    if commitment.done_at is None:
        commitment.done_at = now
        commitment.done_by = user_id
        session.add(commitment)
        session.flush()
    group = session.get(LeadershipGroup, commitment.group_id)
    run = session.get(PulseRun, commitment.run_id)
    assert group is not None
    assert run is not None
    return _view(commitment, group, run)


def _rows(session: Session, *conditions: ColumnElement[bool]) -> list[CommitmentView]:
    query = (
        select(Commitment, LeadershipGroup, PulseRun)
        .join(LeadershipGroup, col(LeadershipGroup.id) == Commitment.group_id)
        .join(PulseRun, col(PulseRun.id) == Commitment.run_id)
        .where(*conditions)
        .order_by(col(PulseRun.occurrence_day), col(Commitment.id))
    )
    return [_view(c, g, r) for c, g, r in session.exec(query)]


def follow_up(*, session: Session, group_id: int, history: Sequence[tuple[int, date]]) -> FollowUp:
    """What the digest of a group's ``history`` (its runs' ids and days, oldest first, ending
    with the run reported) asks about, and which of those runs had commitments."""
    return follow_ups(session=session, histories={group_id: history})[group_id]


def follow_ups(
    *, session: Session, histories: Mapping[int, Sequence[tuple[int, date]]]
) -> dict[int, FollowUp]:
    """`follow_up` of each group (group id → its history): one query for them all, so a
    batch of digests costs the same whatever the number of groups or the length of history."""
    found = {group_id: FollowUp() for group_id in histories}
    latest = {group_id: history[-1][1] for group_id, history in histories.items() if history}
    if not latest:
        return found
    recorded: dict[int, list[CommitmentView]] = {group_id: [] for group_id in latest}
    for view in _rows(
        session,
        col(Commitment.group_id).in_(latest),
        col(PulseRun.occurrence_day) <= max(latest.values()),
    ):
        # Each group's up to its own latest run; the order (day, id) is kept.
        if view.run_day <= latest[view.group_id]:
            recorded[view.group_id].append(view)
    for group_id, views in recorded.items():
        found[group_id] = _follow_up(views, histories[group_id])
    return found


def _follow_up(recorded: Sequence[CommitmentView], history: Sequence[tuple[int, date]]) -> FollowUp:
    latest_id = history[-1][0]
    previous = history[-2][0] if len(history) > 1 else None
    # The run before this one had its digest last time: its commitments are asked about done
    # or not (the answer shows); older ones only while they stay open.
    to_review = [
        c for c in recorded if c.run_id != latest_id and (not c.done or c.run_id == previous)
    ]
    shown_runs = {run_id for run_id, _ in history}
    committed = frozenset(c.run_id for c in recorded if c.run_id in shown_runs)
    return FollowUp(to_review=tuple(to_review[-MAX_LISTED:]), committed_runs=committed)


def open_commitments(*, session: Session, workspace_id: int) -> list[CommitmentView]:
    """Every open commitment of the workspace's active groups, oldest first."""
    return _rows(
        session,
        col(Commitment.workspace_id) == workspace_id,
        col(Commitment.done_at).is_(None),
        col(LeadershipGroup.active).is_(True),
    )
