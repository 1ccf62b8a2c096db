"""Named reads shared by the domain: aggregates computed in the database, rows in a set order."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, CompoundSelect, bindparam, func, union_all
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Connection, Row
from sqlmodel import Session, and_, col, or_, select

from storage.figures import Figures, Scores, Tenths, run_figures
from storage.models import (
    Answer,
    IntentShare,
    IntentVersion,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
)


def run_progress(*, session: Session, run_id: int) -> tuple[int, int]:
    """(answered, invited) for a run; members whose delivery failed are not counted invited."""
    invited = session.exec(
        select(func.count())
        .select_from(Invitation)
        .where(Invitation.run_id == run_id, col(Invitation.status) != "failed")
    ).one()
    answered = session.exec(
        select(func.count()).select_from(Answer).where(Answer.run_id == run_id)
    ).one()
    return int(answered), int(invited)


def claimed_occurrences(*, session: Session, since: date) -> set[tuple[int, date]]:
    """(group id, occurrence day) of every run from ``since`` on, whatever its state."""
    rows = session.exec(
        select(col(PulseRun.group_id), col(PulseRun.occurrence_day)).where(
            col(PulseRun.occurrence_day) >= since
        )
    )
    return {(group_id, day) for group_id, day in rows}


def stored_ids(text: str) -> list[int]:
    """The ids in a comma-separated column such as `PulseRun.question_ids`, in stored order."""
    return [int(part) for part in text.split(",") if part.strip()]


# The pressure item's question kind: its scores are context, kept apart from the dimensions'.
PRESSURE_KIND = "pressure"


@dataclass(frozen=True, slots=True)
class WindowRun:
    """What a report reads of a closed run, as plain values: a window holds hundreds of runs
    per batch of digests, and ORM objects cost more to load than their figures to compute."""

    id: int
    group_id: int
    occurrence_day: date
    question_ids: str
    priority_ids: str
    intent_version_id: int | None
    anonymity_threshold: int


_WINDOW_RUN_COLUMNS = (
    col(PulseRun.id),
    col(PulseRun.group_id),
    col(PulseRun.occurrence_day),
    col(PulseRun.question_ids),
    col(PulseRun.priority_ids),
    col(PulseRun.intent_version_id),
    col(PulseRun.anonymity_threshold),
)


@dataclass(frozen=True)
class RunTally:
    """One closed run's answers counted in the database, with the versions it asked.

    ``focus`` maps a priority id (None: something else) to the sum of the answers' shares of
    attention on it, in the order the database returned them: divided by the number of focus
    answers it is the mean share. A single-choice answer is a share of 1 on its choice, so for
    runs asked the old way the sums are counts. Answers without a focus add nothing.
    ``declared`` is the intent in force when the run was claimed (priority id → share, summing
    to 1; {} when nothing was declared or no version was recorded), ``intent_version`` its id.
    ``histograms`` hold the dimensions only; the pressure item's answers are ``pressure``
    (score → count), never part of them.
    """

    run: WindowRun
    asked: list[Question]  # the question versions the run asked that still exist
    histograms: dict[str, dict[int, int]]  # dimension key → score → count
    focus: dict[int | None, float]
    invited: int  # members whose delivery did not fail
    responded: int
    declared: dict[int, float] = field(default_factory=dict)
    intent_version: int | None = None
    pressure: dict[int, int] = field(default_factory=dict)
    # The answers one by one, for the signal engine, in the stored order: random after the
    # close (see `pulses.pseudonyms.unlink_answers`), so no meaning may be read into it.
    answers: tuple[AnswerRow, ...] = ()


@dataclass(frozen=True)
class RunWindow:
    """A window of a group's closed runs, most recent first, and every priority they mention."""

    tallies: list[RunTally]
    priorities: dict[int, Priority]


def closed_run_window(
    *, session: Session, group_id: int, until: date | None, count: int
) -> RunWindow:
    """The last ``count`` closed runs up to ``until``, tallied in a fixed number of queries."""
    return closed_run_windows(session=session, group_ids=[group_id], until=until, count=count)[
        group_id
    ]


# Groups whose windows one query reads: SQLite allows 500 terms in a compound select.
WINDOW_GROUPS_PER_QUERY = 100


@functools.cache
def _latest_runs(groups: int, bounded: bool) -> CompoundSelect[Any]:
    """The union of ``groups`` groups' latest closed runs, parameters ``group_0`` …,
    ``count`` and (``bounded``) ``until``: built once per shape, as a batch of digests asks
    the same shape again and again (building it costs more than running it)."""
    closed = [col(PulseRun.status) == "closed"]
    if bounded:
        closed.append(col(PulseRun.occurrence_day) <= bindparam("until"))
    latest = [
        select_columns(*_WINDOW_RUN_COLUMNS)
        .where(col(PulseRun.group_id) == bindparam(f"group_{n}"), *closed)
        .order_by(col(PulseRun.occurrence_day).desc())
        .limit(bindparam("count"))
        .subquery()
        for n in range(groups)
    ]
    return union_all(*(select_columns(*part.c) for part in latest))


def _window_runs(
    session: Session, group_ids: Sequence[int], until: date | None, count: int
) -> list[WindowRun]:
    """Each group's last ``count`` closed runs up to ``until``, by group, most recent first.

    Each group's runs come from the (group, day) index, newest first, ``count`` of them: the
    cost is the window's, however long the history (ranking every run of the groups, as a
    window function would, grows with it). One query per `WINDOW_GROUPS_PER_QUERY` groups.
    """
    rows: list[Row[Any]] = []
    for first in range(0, len(group_ids), WINDOW_GROUPS_PER_QUERY):
        chunk = group_ids[first : first + WINDOW_GROUPS_PER_QUERY]
        values: dict[str, object] = {f"group_{n}": group_id for n, group_id in enumerate(chunk)}
        values["count"] = count
        if until is not None:
            values["until"] = until
        query = _latest_runs(len(chunk), until is not None)
        rows += _connection(session).execute(query, values).all()
    # A union keeps no order: by group, most recent first.
    rows.sort(key=lambda row: (row.group_id, -row.occurrence_day.toordinal()))
    runs = []
    for row in rows:
        assert row.id is not None  # a stored row always has its key
        runs.append(
            WindowRun(
                row.id,
                row.group_id,
                row.occurrence_day,
                row.question_ids,
                row.priority_ids,
                row.intent_version_id,
                row.anonymity_threshold,
            )
        )
    return runs


def _connection(session: Session) -> Connection:
    """The session's connection, for reads of plain rows: a window's aggregates are tens of
    thousands of rows, and the ORM's processing of each costs more than the figures computed
    from them. Pending changes are flushed first, as an ORM query would."""
    if session.autoflush:
        session.flush()
    return session.connection()


def closed_run_windows(
    *, session: Session, group_ids: Sequence[int], until: date | None, count: int
) -> dict[int, RunWindow]:
    """`closed_run_window` of each group, all tallied together in the same fixed number of
    queries (up to `WINDOW_GROUPS_PER_QUERY` groups), so drawing many groups' digests costs a
    few queries, not a few per group."""
    windows = {group_id: RunWindow(tallies=[], priorities={}) for group_id in group_ids}
    runs = _window_runs(session, group_ids, until, count) if group_ids else []
    run_ids = [run.id for run in runs if run.id is not None]
    if not run_ids:
        return windows

    # Runs store the same few id lists over and over: each text is parsed once.
    parsed: dict[str, list[int]] = {}

    def ids_in(text: str) -> list[int]:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = stored_ids(text)
        return found

    # A closed run's answers are read as the figures packed at its close: one row per run.
    figures = run_figures(_connection(session), run_ids)
    # The questions asked and answered: the answers' keys, and which of them is the pressure
    # item.
    question_ids = {qid for run in runs for qid in ids_in(run.question_ids)}
    question_ids |= {qid for found in figures.values() for qid in found.histograms}
    questions = {
        q.id: q
        for q in session.exec(select(Question).where(col(Question.id).in_(question_ids)))
        if q.id is not None
    }
    # Each question's key, None for the pressure item: read once, not once per answer.
    keys = {qid: None if q.kind == PRESSURE_KIND else q.key for qid, q in questions.items()}
    rows = _AnswerRows(keys)
    invited = dict(
        _connection(session)
        .execute(
            select(Invitation.run_id, func.count())
            .where(col(Invitation.run_id).in_(run_ids), col(Invitation.status) != "failed")
            .group_by(col(Invitation.run_id))
        )
        .all()
    )
    focus = {
        run_id: {pid: tenths / 10 for pid, tenths in found.focus.items()}
        for run_id, found in figures.items()
    }
    priority_ids = {pid for run in runs for pid in ids_in(run.priority_ids)}
    priority_ids |= {pid for counts in focus.values() for pid in counts if pid is not None}
    # The priorities, and the declared shares of the runs' intent versions, in one query.
    intent_ids = {run.intent_version_id for run in runs if run.intent_version_id is not None}
    priorities: dict[int, Priority] = {}
    declared: dict[int, dict[int, float]] = {}
    for priority, intent_id, share in session.exec(
        select(Priority, IntentShare.intent_id, IntentShare.share)
        .outerjoin(
            IntentShare,
            and_(
                col(IntentShare.priority_id) == Priority.id,
                col(IntentShare.intent_id).in_(intent_ids),
            ),
        )
        .where(or_(col(Priority.id).in_(priority_ids), col(IntentShare.id).is_not(None)))
        .order_by(col(Priority.id))
    ):
        assert priority.id is not None
        priorities[priority.id] = priority
        if intent_id is not None and share is not None:
            declared.setdefault(intent_id, {})[priority.id] = share
    # Runs that asked the same questions share one list (`pulses.windows` relies on it).
    asked: dict[str, list[Question]] = {}
    for run in runs:
        shares = declared.get(run.intent_version_id or 0, {})
        if run.question_ids not in asked:
            asked[run.question_ids] = [
                questions[q] for q in ids_in(run.question_ids) if q in questions
            ]
        window = windows[run.group_id]
        histograms, pressure = _split(figures[run.id], keys)
        window.tallies.append(
            RunTally(
                run=run,
                asked=asked[run.question_ids],
                histograms=histograms,
                focus=focus[run.id],
                invited=int(invited.get(run.id, 0)),
                responded=figures[run.id].responded,
                declared=dict(shares) if run.intent_version_id is not None else {},
                intent_version=run.intent_version_id,
                pressure=pressure,
                answers=tuple(
                    rows.of(scores, tenths) for scores, tenths in figures[run.id].answers
                ),
            )
        )
        # Each window names only the priorities its own runs mention.
        mentioned = [*ids_in(run.priority_ids), *shares, *focus.get(run.id, {})]
        window.priorities.update((pid, priorities[pid]) for pid in mentioned if pid in priorities)
    for window in windows.values():
        ordered = sorted(window.priorities.items())
        window.priorities.clear()
        window.priorities.update(ordered)
    return windows


class AnswerRow(NamedTuple):
    """One answer of a closed run, unlinked: its scores by dimension key, its shares of
    attention by priority id (None: something else), in tenths, and its pressure item score
    (None: not asked or not answered), which is never one of the scores. Equal answer sets
    share their mappings (never changed). A tuple: a digest reads tens of thousands, and a
    frozen dataclass takes twice as long to make."""

    scores: Mapping[str, int]
    tenths: Mapping[int | None, int]
    pressure: int | None = None


def _split(
    figures: Figures, keys: Mapping[int, str | None]
) -> tuple[dict[str, dict[int, int]], dict[int, int]]:
    """The run's histograms by dimension key, and the pressure item's apart (``keys``: the
    question ids' dimension keys, None for the pressure item)."""
    histograms: dict[str, dict[int, int]] = {}
    pressure: dict[int, int] = {}
    for question_id, by_score in figures.histograms.items():
        key = keys[question_id]
        into = pressure if key is None else histograms.setdefault(key, {})
        for score, count in by_score.items():
            into[score] = into.get(score, 0) + count
    return histograms, pressure


class _AnswerRows:
    """Answer sets as `AnswerRow`s. Answers repeat the same few sets of scores and the same
    few shares of attention, so each set is mapped to dimension keys once and shared."""

    def __init__(self, keys: Mapping[int, str | None]) -> None:
        self._keys = keys
        self._scores: dict[Scores, tuple[dict[str, int], int | None]] = {}
        self._tenths: dict[Tenths, dict[int | None, int]] = {}

    def _mapped(self, scores: Scores) -> tuple[dict[str, int], int | None]:
        mapped: dict[str, int] = {}
        pressure: int | None = None
        for question_id, score in zip(scores[::2], scores[1::2], strict=True):
            key = self._keys[question_id]
            if key is None:
                pressure = score
            else:
                mapped[key] = score
        found = self._scores[scores] = (mapped, pressure)
        return found

    def of(self, scores: Scores, tenths: Tenths) -> AnswerRow:
        dimensions, pressure = self._scores.get(scores) or self._mapped(scores)
        shares = self._tenths.get(tenths)
        if shares is None:
            # Every second value is a count of tenths, never None.
            pairs = zip(tenths[::2], cast(tuple[int, ...], tenths[1::2]), strict=True)
            shares = self._tenths[tenths] = dict(pairs)
        return AnswerRow(dimensions, shares, pressure)


def intent_shares(*, session: Session, intent_ids: list[int]) -> dict[int, dict[int, float]]:
    """The declared shares of each intent version: version id → priority id → share."""
    if not intent_ids:
        return {}
    shares: dict[int, dict[int, float]] = {intent_id: {} for intent_id in intent_ids}
    for intent_id, priority_id, share in session.exec(
        select(IntentShare.intent_id, IntentShare.priority_id, IntentShare.share)
        .where(col(IntentShare.intent_id).in_(intent_ids))
        .order_by(col(IntentShare.intent_id), col(IntentShare.priority_id))
    ):
        shares[intent_id][priority_id] = share
    return shares


def latest_intent(
    *, session: Session, group_id: int
) -> tuple[IntentVersion, dict[int, float]] | None:
    """The group's last recorded intent version and its shares; None before the first."""
    version = session.exec(
        select(IntentVersion)
        .where(IntentVersion.group_id == group_id)
        .order_by(col(IntentVersion.id).desc())
        .limit(1)
    ).first()
    if version is None or version.id is None:
        return None
    return version, intent_shares(session=session, intent_ids=[version.id])[version.id]


def friction_texts(*, session: Session, run_ids: list[int]) -> dict[int, list[str]]:
    """Each run's non-blank friction comments, stripped, in no meaningful order."""
    if not run_ids:
        return {}
    found: dict[int, list[str]] = {}
    for run_id, text in session.exec(
        select(Answer.run_id, Answer.friction).where(
            col(Answer.run_id).in_(run_ids), col(Answer.friction).is_not(None)
        )
    ):
        if text and text.strip():
            found.setdefault(run_id, []).append(text.strip())
    return found


def latest_unclosed_run(*, session: Session, group_id: int) -> PulseRun | None:
    """The group's most recent run that is still pending or collecting answers."""
    return session.exec(
        select(PulseRun)
        .where(PulseRun.group_id == group_id, col(PulseRun.status).in_(("open", "pending")))
        .order_by(col(PulseRun.occurrence_day).desc())
        .limit(1)
    ).first()


def active_groups_by_layer(*, session: Session, workspace_id: int) -> list[LeadershipGroup]:
    """The workspace's active groups, by layer then channel name."""
    return list(
        session.exec(
            select(LeadershipGroup)
            .where(
                LeadershipGroup.workspace_id == workspace_id,
                col(LeadershipGroup.active).is_(True),
            )
            .order_by(col(LeadershipGroup.layer), col(LeadershipGroup.channel_name))
        )
    )


def groups_by_name(
    *, session: Session, workspace_id: int, group_id: int | None = None
) -> list[LeadershipGroup]:
    """The workspace's groups (or just ``group_id``), active or not, by channel name then id."""
    query = select(LeadershipGroup).where(LeadershipGroup.workspace_id == workspace_id)
    if group_id is not None:
        query = query.where(LeadershipGroup.id == group_id)
    return list(
        session.exec(query.order_by(col(LeadershipGroup.channel_name), col(LeadershipGroup.id)))
    )


def active_priorities(
    *, session: Session, workspace_id: int, group_id: int | None
) -> list[Priority]:
    """The active declared priorities: workspace-wide ones, and the group's own given a group."""
    scope: ColumnElement[bool] = col(Priority.group_id).is_(None)
    if group_id is not None:
        scope = or_(scope, Priority.group_id == group_id)
    active = (Priority.workspace_id == workspace_id, col(Priority.active).is_(True), scope)
    by_position = (col(Priority.position), col(Priority.id))
    return list(session.exec(select(Priority).where(*active).order_by(*by_position)).all())
