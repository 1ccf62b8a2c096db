"""Storing answers: each one checked and planned on its own, those that arrive together
written together.

An answer is found again by its keyed pseudonym (`pulses.pseudonyms`), never stored with the
user ID, and the member's invitation is marked answered in the same transaction. This is the
ack path of a burst of answers, so it runs Core statements and no ORM flush. `plan_answer`
checks an answer against its run, workspace and invitation (read in one statement: by
`read_ahead` for a whole batch, or alone), takes the form from memory and refuses what
cannot be stored before it writes anything; `store_answers` then writes a batch of plans in
a few statements, whatever their number: the answers' upsert, the old scores and shares of
the rows it found cleared, then the invitations marked and the new scores and shares
inserted (on PostgreSQL in one statement: every statement is a round trip to the server
while the batch's members wait for their ack). `storage.group_commit` runs `read_ahead` and
`store_answers` once per batch and an `AnswerUnit` per answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, delete, insert, literal, literal_column, text, update
from sqlalchemy import select as sql_select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement, Executable
from sqlmodel import Session, col

from pulses.answers import (
    AnswerInput,
    AnswerLocked,
    InvalidAnswer,
    NotInvited,
    PulseClosed,
    PulseForm,
    focus_tenths,
    pulse_form,
    validate,
)
from pulses.pseudonyms import pseudonym
from storage.db import dialect_insert
from storage.models import (
    Answer,
    AnswerFocus,
    AnswerScore,
    Invitation,
    LeadershipGroup,
    PulseRun,
    Workspace,
)

# What plan_answer refuses before it writes anything: an answer refused in a batch of
# answers committed together fails alone.
REFUSALS: tuple[type[Exception], ...] = (InvalidAnswer, PulseClosed, NotInvited, AnswerLocked)


@dataclass
class PlannedAnswer:
    """An answer checked and ready to write; `answer_id` is known once it is written (at
    once for a replaced answer, which keeps its row)."""

    run_id: int
    tag: str
    invitation_id: int
    values: dict[str, str | None]  # the answer row's own columns: focus_other, friction
    scores: dict[int, int]  # question id → score
    tenths: dict[int | None, int]  # priority id (None: something else) → tenths
    delivery_mode: str
    answer_id: int | None = None

    def score_rows(self, answer_id: int) -> list[dict[str, Any]]:
        """The answer's `AnswerScore` rows, stored as `answer_id`."""
        ids = {"answer_id": answer_id, "run_id": self.run_id}
        return [{**ids, "question_id": q, "score": score} for q, score in self.scores.items()]

    def share_rows(self, answer_id: int) -> list[dict[str, Any]]:
        """The answer's `AnswerFocus` rows (its shares of attention), stored as `answer_id`."""
        ids = {"answer_id": answer_id, "run_id": self.run_id}
        return [{**ids, "priority_id": p, "tenths": share} for p, share in self.tenths.items()]


@dataclass(frozen=True)
class Submission:
    """A member's answer to a run, as submitted at `now`; `key` makes its pseudonym."""

    run_id: int
    user_id: str
    answer: AnswerInput
    now: datetime
    key: bytes


def record_answer(*, session: Session | Connection, submission: Submission) -> PlannedAnswer:
    """Store or replace the member's answer set for the run, alone: `plan_answer` then
    `store_answers`. `session` is a session or, lighter still, a connection in a
    transaction."""
    connection = session.connection() if isinstance(session, Session) else session
    plan = plan_answer(connection=connection, submission=submission)
    store_answers(connection, [plan])
    return plan


class RunAndInvitation(NamedTuple):
    """What an answer is checked against: its run, the run's group and workspace, and the
    member's invitation to it (its three fields None when the member was not invited)."""

    status: str
    delivery_mode: str
    closes_at: datetime
    question_ids: str
    priority_ids: str
    timezone: str
    team_id: str
    invitation_id: int | None
    answered: bool | None
    member_timezone: str | None


@dataclass
class AnswerUnit:
    """One submission as the writer's unit of work (`storage.group_commit`): `plan_answer`,
    checked against what `read_ahead` read for its whole batch, or read on its own when
    nothing was read ahead."""

    submission: Submission
    checked: RunAndInvitation | None = None
    earlier: int | None = None  # a resubmission's answer row, as read ahead
    read: bool = False

    def __call__(self, connection: Connection) -> PlannedAnswer:
        if not self.read:
            return plan_answer(connection=connection, submission=self.submission)
        return _plan(connection, self.submission, self.checked, lambda _tag: self.earlier)


def read_ahead(connection: Connection, works: Sequence[object]) -> None:
    """What each answer of a batch is checked against, read for them all in one statement
    (and its runs share-locked, as each answer's own read would), and the rows of those that
    replace an earlier answer in one more."""
    units = [work for work in works if isinstance(work, AnswerUnit)]
    if not units:
        return
    rows = connection.execute(
        _RUNS_AND_INVITATIONS,
        {
            "run_ids": sorted({unit.submission.run_id for unit in units}),
            "user_ids": sorted({unit.submission.user_id for unit in units}),
        },
    ).all()
    runs: dict[int, RunAndInvitation] = {}
    invited: dict[tuple[int, str], RunAndInvitation] = {}
    for *fields, run_id, user_id in rows:
        found = RunAndInvitation(*fields)
        # The run alone, for a member of the batch it did not invite.
        runs.setdefault(
            run_id, found._replace(invitation_id=None, answered=None, member_timezone=None)
        )
        if user_id is not None:
            invited[(run_id, user_id)] = found
    replacing: dict[tuple[int, str], list[AnswerUnit]] = {}
    for unit in units:
        run_id, user_id = unit.submission.run_id, unit.submission.user_id
        unit.checked = invited.get((run_id, user_id), runs.get(run_id))
        unit.read = True
        if unit.checked is not None and unit.checked.answered:
            replacing.setdefault((run_id, _tag(unit.submission, unit.checked)), []).append(unit)
    if replacing:
        for run_id, tag, answer_id in connection.execute(
            _EARLIER_ANSWERS,
            {
                "run_ids": sorted({run_id for run_id, _ in replacing}),
                "tags": sorted({tag for _, tag in replacing}),
            },
        ):
            for replaced in replacing.get((run_id, tag or ""), []):
                replaced.earlier = answer_id


def _tag(submission: Submission, row: RunAndInvitation) -> str:
    return pseudonym(
        submission.key, team_id=row.team_id, run_id=submission.run_id, user_id=submission.user_id
    )


def plan_answer(*, connection: Connection, submission: Submission) -> PlannedAnswer:
    """The answer checked against the run and its form; one of REFUSALS when it cannot be
    stored. A resubmission's row is found here (or AnswerLocked raised when it cannot be
    found: a second row would count the member twice); nothing is written."""
    row = connection.execute(
        _RUN_AND_INVITATION, {"run_id": submission.run_id, "user_id": submission.user_id}
    ).first()

    def earlier(tag: str) -> int | None:
        return connection.execute(
            _EARLIER_ANSWER, {"run_id": submission.run_id, "tag": tag}
        ).scalar()

    return _plan(connection, submission, None if row is None else RunAndInvitation(*row), earlier)


def _plan(
    connection: Connection,
    submission: Submission,
    row: RunAndInvitation | None,
    earlier: Callable[[str], int | None],
) -> PlannedAnswer:
    """``earlier``: the row of the member's answer this one replaces, by its pseudonym."""
    run_id, submitted = submission.run_id, submission.answer
    if row is None:
        raise NotInvited
    if row.status not in ("open", "pending") or submission.now >= row.closes_at:
        # The announced close time, not when a tick happened to process it.
        raise PulseClosed(row.closes_at, row.member_timezone or row.timezone)
    if row.invitation_id is None:
        raise NotInvited
    form = _form(connection, run_id, row.question_ids, row.priority_ids)
    validate(form, submitted)
    tenths = focus_tenths(form, submitted)
    plan = PlannedAnswer(
        run_id=run_id,
        tag=_tag(submission, row),
        invitation_id=row.invitation_id,
        values={
            "focus_other": (submitted.focus_other or "").strip() or None
            if None in tenths
            else None,
            "friction": (submitted.friction or "").strip() or None,
        },
        scores=_scores(form, submitted),
        tenths=tenths,
        delivery_mode=row.delivery_mode,
    )
    if row.answered:
        # Replaced in place (by `store_answers`); when no answer carries this pseudonym the
        # earlier one is beyond reach.
        plan.answer_id = earlier(plan.tag)
        if plan.answer_id is None:
            raise AnswerLocked
    return plan


def _scores(form: PulseForm, submitted: AnswerInput) -> dict[int, int]:
    """A validated answer's score for each rated question (validate refused a missing one)."""
    found = {}
    for question in form.rated:
        score = submitted.scores.get(question.id) if question.id is not None else None
        if question.id is not None and score is not None:
            found[question.id] = score
    return found


def store_answers(connection: Connection, plans: Sequence[PlannedAnswer]) -> None:
    """Write `plans` (in the order they came; a later copy of the same member's answer wins)
    and set each one's `answer_id`."""
    if not plans:
        return
    new = [p.invitation_id for p in plans if p.answer_id is None]
    latest = {(p.run_id, p.tag): p for p in plans}
    # An upsert, for new and replaced answers alike: a replaced answer keeps its row, and the
    # same submission arriving twice at once (here, or on another replica) finds the other
    # copy's row.
    rows = connection.execute(
        _upsert_answer(connection.dialect.name),
        [{"run_id": p.run_id, "pseudonym": p.tag, **p.values} for p in latest.values()],
    ).all()
    ids = {(row.run_id, row.pseudonym): row.id for row in rows}
    for plan in plans:
        plan.answer_id = ids[(plan.run_id, plan.tag)]
    written = {p.answer_id: p for p in latest.values() if p.answer_id is not None}
    scores = [row for answer_id, p in written.items() for row in p.score_rows(answer_id)]
    shares = [row for answer_id, p in written.items() for row in p.share_rows(answer_id)]
    # Rows the upsert found (a replaced answer, or a copy another replica wrote meanwhile)
    # may hold scores and shares already; rows it inserted hold none.
    found = [row.id for row in rows if not row.inserted]
    if found:
        for clear in _CLEAR.values():
            connection.execute(clear, {"ids": found})
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_MARK_AND_INSERT, _columns(new, scores, shares))
        return
    if new:
        connection.execute(_MARK_ANSWERED, {"ids": new})
    for table, inserted in ((AnswerScore, scores), (AnswerFocus, shares)):
        if inserted:
            connection.execute(insert(table), inserted)


def _columns(
    invitation_ids: list[int], scores: list[dict[str, Any]], shares: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """`_PG_MARK_AND_INSERT`'s parameters: one array per column."""
    found: dict[str, list[Any]] = {"invitation_ids": invitation_ids}
    for prefix, rows, columns in (
        ("score", scores, ("answer_id", "run_id", "question_id", "score")),
        ("share", shares, ("answer_id", "run_id", "priority_id", "tenths")),
    ):
        for column in columns:
            found[f"{prefix}_{column}"] = [row[column] for row in rows]
    return found


# Share-locked until commit (PostgreSQL): a close updates the run first, so it waits for the
# answers in flight and erases their pseudonyms too, or an answer waits for the close and
# finds the run closed. A share lock, not an exclusive one, so answers never wait on each
# other. SQLite serialises writers anyway.
def _checked_against(
    invited: ColumnElement[bool], runs: ColumnElement[bool], *also: ColumnElement[Any]
) -> Executable:
    return (
        sql_select(
            col(PulseRun.status),
            col(PulseRun.delivery_mode),
            col(PulseRun.closes_at),
            col(PulseRun.question_ids),
            col(PulseRun.priority_ids),
            col(LeadershipGroup.timezone),
            col(Workspace.team_id),
            col(Invitation.id).label("invitation_id"),
            col(Invitation.answered),
            col(Invitation.timezone).label("member_timezone"),
            *also,
        )
        .join(LeadershipGroup, col(LeadershipGroup.id) == col(PulseRun.group_id))
        .join(Workspace, col(Workspace.id) == col(LeadershipGroup.workspace_id))
        .outerjoin(Invitation, and_(col(Invitation.run_id) == col(PulseRun.id), invited))
        .where(runs)
        .with_for_update(read=True, of=col(PulseRun.id))
    )


_RUN_AND_INVITATION = _checked_against(
    col(Invitation.user_id) == bindparam("user_id"), col(PulseRun.id) == bindparam("run_id")
)
# A batch's: each run with the invitations of the batch's members (`read_ahead`).
_RUNS_AND_INVITATIONS = _checked_against(
    col(Invitation.user_id).in_(bindparam("user_ids", expanding=True)),
    col(PulseRun.id).in_(bindparam("run_ids", expanding=True)),
    col(PulseRun.id).label("run_id"),
    col(Invitation.user_id).label("user_id"),
)
# The answer a resubmission replaces, by its pseudonym: one's, or a batch's.
_EARLIER_ANSWER = sql_select(col(Answer.id)).where(
    col(Answer.run_id) == bindparam("run_id"), col(Answer.pseudonym) == bindparam("tag")
)
_EARLIER_ANSWERS = sql_select(col(Answer.run_id), col(Answer.pseudonym), col(Answer.id)).where(
    col(Answer.run_id).in_(bindparam("run_ids", expanding=True)),
    col(Answer.pseudonym).in_(bindparam("tags", expanding=True)),
)
_MARK_ANSWERED = (
    update(Invitation)
    .where(col(Invitation.id).in_(bindparam("ids", expanding=True)))
    .values(answered=True)
)
# The statements that clear an answer's rows of a table, built once.
_CLEAR = {
    table: delete(table).where(col(table.answer_id).in_(bindparam("ids", expanding=True)))
    for table in (AnswerScore, AnswerFocus)
}
# PostgreSQL: a batch's invitations marked answered and its scores and shares inserted in one
# statement, one round trip to the server instead of three. Columns go as arrays, so the text
# is the same whatever the batch's size and the server plans it once per connection.
_PG_MARK_AND_INSERT = text(
    """
    WITH marked AS (
        UPDATE invitations SET answered = TRUE
        WHERE id = ANY(CAST(:invitation_ids AS INTEGER[]))
    ), scored AS (
        INSERT INTO answer_scores (answer_id, run_id, question_id, score)
        SELECT * FROM unnest(
            CAST(:score_answer_id AS INTEGER[]), CAST(:score_run_id AS INTEGER[]),
            CAST(:score_question_id AS INTEGER[]), CAST(:score_score AS INTEGER[])
        )
    )
    INSERT INTO answer_focus (answer_id, run_id, priority_id, tenths)
    SELECT * FROM unnest(
        CAST(:share_answer_id AS INTEGER[]), CAST(:share_run_id AS INTEGER[]),
        CAST(:share_priority_id AS INTEGER[]), CAST(:share_tenths AS INTEGER[])
    )
    """
)


# Whether the upsert inserted the row rather than updated it. PostgreSQL tells by the row's
# xmax (0 for a row this transaction inserted, its id for one it updated), SQLite cannot: there
# every row counts as found, and clearing it is a statement in the same process, not a round
# trip to a server.
_INSERTED = {
    "postgresql": literal_column("xmax = 0").label("inserted"),
    "sqlite": literal(False).label("inserted"),
}

# Built once per dialect, on first use: only the dialect in use is imported.
_UPSERT_ANSWER: dict[str, Executable] = {}


def _upsert_answer(dialect: str) -> Executable:
    statement = _UPSERT_ANSWER.get(dialect)
    if statement is None:
        upsert = dialect_insert(dialect, Answer)
        statement = upsert.on_conflict_do_update(
            index_elements=[col(Answer.run_id), col(Answer.pseudonym)],
            set_={column: upsert.excluded[column] for column in ("focus_other", "friction")},
        ).returning(col(Answer.id), col(Answer.run_id), col(Answer.pseudonym), _INSERTED[dialect])
        _UPSERT_ANSWER[dialect] = statement
    return statement


# The questions and priorities a run asks are fixed when it is created: read once per run, not
# once per answer. Only those are read from a cached form (its `run` is as first loaded).
FORM_CACHE_SIZE = 64
_FORMS: dict[tuple[int, str, str], PulseForm] = {}
_FORMS_LOCK = threading.Lock()


def _form(connection: Connection, run_id: int, question_ids: str, priority_ids: str) -> PulseForm:
    cache_key = (run_id, question_ids, priority_ids)
    with _FORMS_LOCK:
        form = _FORMS.get(cache_key)
    if form is not None:
        return form
    # A session of its own in the caller's transaction; closing it detaches what it loaded,
    # so nothing a later rollback does can expire the cached rows.
    with Session(bind=connection, expire_on_commit=False) as session:
        run = session.get(PulseRun, run_id)
        assert run is not None  # just read with its invitation
        form = pulse_form(session=session, run=run)
    with _FORMS_LOCK:
        while len(_FORMS) >= FORM_CACHE_SIZE:
            _FORMS.pop(next(iter(_FORMS)))
        _FORMS[cache_key] = form
    return form
