"""Answers that arrive together are planned one by one and written in one go."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from pulses.answers import OTHER, AnswerInput, NotInvited, pulse_form
from pulses.recording import (
    REFUSALS,
    AnswerUnit,
    PlannedAnswer,
    Submission,
    plan_answer,
    read_ahead,
    store_answers,
)
from storage.db import session_scope
from storage.models import Answer, AnswerFocus, AnswerScore, Invitation, PulseRun
from tests.pulses.test_reports import counting_queries
from tests.pulses.test_unlinkable import KEY, MEMBERS, MONDAY, _open_dm_run, database

__all__ = ["database"]  # the fixture, SQLite and PostgreSQL

NOW = MONDAY + timedelta(minutes=5)


def _submitted(engine: Engine, run_id: int, score: int, expansion: int) -> AnswerInput:
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        assert run is not None
        form = pulse_form(session=session, run=run)
        scores: dict[int, int | None] = {q.id: score for q in form.rated if q.id}
        shares: dict[str, int | None] = {
            str(form.priorities[0].id): expansion,
            OTHER: 100 - expansion,
        }
    return AnswerInput(scores, None, "hiring", None, shares)


def _batch(
    engine: Engine, run_id: int, answers: list[tuple[str, AnswerInput]]
) -> list[PlannedAnswer]:
    """Plan each answer, then store them all, in one transaction as the writer does."""
    with engine.begin() as connection:
        plans = [
            plan_answer(connection=connection, submission=Submission(run_id, user, s, NOW, KEY))
            for user, s in answers
        ]
        store_answers(connection, plans)
    return plans


def _stored(engine: Engine, run_id: int) -> tuple[int, dict[int, list[int]], int, int]:
    """(answers, each answer's scores, rows of shares, invitations marked answered)."""
    with session_scope(engine) as session:
        answers = session.exec(select(func.count()).where(col(Answer.run_id) == run_id)).one()
        scores: dict[int, list[int]] = {}
        for answer_id, score in session.exec(
            select(AnswerScore.answer_id, AnswerScore.score).where(AnswerScore.run_id == run_id)
        ):
            scores.setdefault(answer_id, []).append(score)
        shares = session.exec(select(func.count()).where(col(AnswerFocus.run_id) == run_id)).one()
        answered = session.exec(
            select(func.count()).where(
                col(Invitation.run_id) == run_id, col(Invitation.answered).is_(True)
            )
        ).one()
    return answers, scores, shares, answered


def test_a_batch_of_new_answers_is_stored_whole(database: Engine) -> None:
    _, run_id = _open_dm_run(database)
    submitted = [
        (user, _submitted(database, run_id, 1 + n % 5, 70)) for n, user in enumerate(MEMBERS[:5])
    ]
    with counting_queries(database) as statements:
        plans = _batch(database, run_id, submitted)
    if database.dialect.name == "postgresql":
        # Two writes, two round trips: the answers' upsert, then the invitations marked and
        # the scores and shares inserted together. Rows the upsert inserted hold no scores or
        # shares to clear first (SQLite clears them in-process).
        writes = [
            s for s in statements if s.lstrip().startswith(("INSERT", "UPDATE", "DELETE", "WITH"))
        ]
        assert len(writes) == 2
    answers, scores, shares, answered = _stored(database, run_id)
    assert answers == 5
    assert answered == 5
    # Each plan knows the row it was stored as, with its own scores and two shares.
    assert sorted(p.answer_id or 0 for p in plans) == sorted(scores)
    assert {p.answer_id: {1 + n % 5} for n, p in enumerate(plans)} == {
        a: set(s) for a, s in scores.items()
    }
    assert shares == 10


def test_the_same_members_two_copies_in_one_batch_make_one_answer_the_later_one(
    database: Engine,
) -> None:
    _, run_id = _open_dm_run(database)
    first, second = _submitted(database, run_id, 2, 70), _submitted(database, run_id, 5, 100)
    plans = _batch(
        database, run_id, [(MEMBERS[0], first), (MEMBERS[1], first), (MEMBERS[0], second)]
    )
    answers, scores, shares, answered = _stored(database, run_id)
    assert answers == 2
    assert answered == 2
    assert plans[0].answer_id == plans[2].answer_id != plans[1].answer_id
    assert plans[0].answer_id is not None
    assert plans[1].answer_id is not None
    assert set(scores[plans[0].answer_id]) == {5}
    assert set(scores[plans[1].answer_id]) == {2}
    assert shares == 1 + 2  # the later copy puts everything on one priority


def test_a_copy_another_replica_stored_meanwhile_is_replaced_whole(database: Engine) -> None:
    # Both copies of the member's answer are checked before either is stored, as on two
    # replicas at once: each is planned as a new answer.
    _, run_id = _open_dm_run(database)
    first, second = _submitted(database, run_id, 2, 70), _submitted(database, run_id, 5, 100)
    plans = []
    for submitted in (first, second):
        with database.begin() as connection:
            submission = Submission(run_id, MEMBERS[0], submitted, NOW, KEY)
            plans.append(plan_answer(connection=connection, submission=submission))
    assert [plan.answer_id for plan in plans] == [None, None]
    for plan in plans:
        with database.begin() as connection:
            store_answers(connection, [plan])
    answers, scores, shares, answered = _stored(database, run_id)
    assert (answers, answered) == (1, 1)
    # The first copy's scores and its two shares are gone, not mixed with the second's.
    assert list(scores.values()) == [[5] * len(next(iter(scores.values())))]
    assert shares == 1


def test_a_resubmission_in_a_batch_replaces_the_answer_in_place(database: Engine) -> None:
    _, run_id = _open_dm_run(database)
    [earlier] = _batch(database, run_id, [(MEMBERS[0], _submitted(database, run_id, 1, 70))])
    plans = _batch(
        database,
        run_id,
        [
            (MEMBERS[1], _submitted(database, run_id, 3, 70)),
            (MEMBERS[0], _submitted(database, run_id, 4, 70)),
        ],
    )
    answers, scores, _, answered = _stored(database, run_id)
    assert answers == 2
    assert answered == 2
    assert plans[1].answer_id == earlier.answer_id
    assert earlier.answer_id is not None
    assert set(scores[earlier.answer_id]) == {4}


def test_a_batch_of_resubmissions_alone_marks_no_invitation_and_replaces_the_rows(
    database: Engine,
) -> None:
    # No new answer: the batch's write has no invitation to mark (an empty array on
    # PostgreSQL) and only rows the upsert found.
    _, run_id = _open_dm_run(database)
    _batch(database, run_id, [(MEMBERS[0], _submitted(database, run_id, 1, 70))])
    plans = _batch(database, run_id, [(MEMBERS[0], _submitted(database, run_id, 4, 100))])
    answers, scores, shares, answered = _stored(database, run_id)
    assert (answers, answered, shares) == (1, 1, 1)
    assert plans[0].answer_id is not None
    assert set(scores[plans[0].answer_id]) == {4}


def test_an_answer_refused_while_planned_writes_nothing(database: Engine) -> None:
    _, run_id = _open_dm_run(database)
    submitted = _submitted(database, run_id, 3, 70)
    with database.begin() as connection, pytest.raises(NotInvited):
        plan_answer(
            connection=connection,
            submission=Submission(run_id, "U0STRANGER", submitted, NOW, KEY),
        )
    assert _stored(database, run_id) == (0, {}, 0, 0)


def test_a_batch_read_ahead_checks_each_answer_as_it_is_checked_alone(database: Engine) -> None:
    _, run_id = _open_dm_run(database)
    submitted = _submitted(database, run_id, 3, 70)
    _batch(database, run_id, [(MEMBERS[2], submitted)])  # answered: the next is a resubmission
    late = NOW + timedelta(days=30)
    submissions = [
        Submission(run_id, MEMBERS[0], submitted, NOW, KEY),
        Submission(run_id, "U0STRANGER", submitted, NOW, KEY),
        Submission(run_id, MEMBERS[2], submitted, NOW, KEY),
        Submission(run_id, MEMBERS[3], submitted, late, KEY),
        Submission(run_id + 99, MEMBERS[1], submitted, NOW, KEY),
        Submission(run_id, MEMBERS[1], submitted, NOW, KEY),
    ]

    def outcomes(ahead: bool) -> list[tuple[object, ...]]:
        units = [AnswerUnit(submission) for submission in submissions]
        found: list[tuple[object, ...]] = []
        with database.connect() as connection, connection.begin():
            if ahead:
                read_ahead(connection, units)
            for unit in units:
                try:
                    plan = unit(connection)
                except REFUSALS as refusal:
                    found.append((type(refusal).__name__,))
                else:
                    found.append((plan.invitation_id, plan.answer_id, plan.tag, plan.scores))
        return found

    alone = outcomes(ahead=False)
    with counting_queries(database) as statements:
        together = outcomes(ahead=True)
    assert together == alone
    assert [len(found) for found in together] == [4, 1, 4, 1, 1, 4]
    assert [found[0] for found in together if len(found) == 1] == [
        "NotInvited",
        "PulseClosed",
        "NotInvited",
    ]
    assert together[2][1] is not None  # the resubmission found its answer
    # One read checks all six (the form and the resubmission's row are read as alone).
    checks = [s for s in statements if "FROM pulse_runs JOIN leadership_groups" in s]
    assert len(checks) == 1


def test_resubmissions_read_ahead_are_found_in_one_read_and_replaced_in_the_batchs_write(
    database: Engine,
) -> None:
    _, run_id = _open_dm_run(database)
    _batch(database, run_id, [(user, _submitted(database, run_id, 1, 70)) for user in MEMBERS[:3]])
    first, second = _submitted(database, run_id, 4, 70), _submitted(database, run_id, 5, 100)
    second = replace(second, friction="second thoughts")
    submissions = [
        Submission(run_id, MEMBERS[0], first, NOW, KEY),
        Submission(run_id, MEMBERS[1], first, NOW, KEY),
        Submission(run_id, MEMBERS[0], second, NOW, KEY),  # the same member again: this wins
        Submission(run_id, MEMBERS[2], first, NOW, b"another key"),  # its answer is beyond reach
        Submission(run_id, MEMBERS[3], first, NOW, KEY),  # a first answer
    ]
    units = [AnswerUnit(submission) for submission in submissions]
    outcomes: list[object] = []
    plans: list[PlannedAnswer] = []
    with (
        counting_queries(database) as statements,
        database.connect() as connection,
        connection.begin(),
    ):
        read_ahead(connection, units)
        for unit in units:
            try:
                plans.append(unit(connection))
            except REFUSALS as refusal:
                outcomes.append(type(refusal).__name__)
            else:
                outcomes.append(plans[-1].answer_id is not None)
        store_answers(connection, plans)
    # The three resubmissions knew their rows before anything was written; the new one did
    # not; the one under another key was refused alone.
    assert outcomes == [True, True, True, "AnswerLocked", False]
    assert plans[0].answer_id == plans[2].answer_id != plans[1].answer_id
    lookups = [s for s in statements if "answers.pseudonym IN" in s]
    assert len(lookups) == 1
    assert not [s for s in statements if s.startswith("UPDATE answers")]
    answers, scores, _, answered = _stored(database, run_id)
    assert (answers, answered) == (4, 4)
    assert plans[2].answer_id is not None
    assert plans[1].answer_id is not None
    assert set(scores[plans[2].answer_id]) == {5}
    assert set(scores[plans[1].answer_id]) == {4}
    with session_scope(database) as session:
        friction = session.exec(
            select(Answer.friction).where(Answer.id == plans[2].answer_id)
        ).one()
    assert friction == second.friction
