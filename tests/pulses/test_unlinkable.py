"""Answers unlinkable at rest: after a run closes, nothing in the database ties an answer to a
person or to the order people answered in; before, a resubmission still replaces."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from pulses.answers import AnswerInput, AnswerLocked, pulse_form
from pulses.dispatch import tick
from pulses.focus import OTHER
from pulses.ports import Member
from pulses.pseudonyms import pseudonym
from pulses.recording import Submission, record_answer
from storage.db import make_engine, session_scope
from storage.migrate import downgrade, upgrade
from storage.models import Answer, Priority, PulseRun, Workspace
from storage.queries import run_progress
from tests.pulses.test_dispatch import FakeMessenger, make_group, runs

KEY = b"test-pseudonym-key"
MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
MEMBERS = [f"U0LEADER{i:02d}" for i in range(12)]
# The order people answer in; the last two never do.
ANSWER_ORDER = [MEMBERS[i] for i in (7, 2, 9, 0, 4, 11, 1, 8, 5, 3)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database: SQLite always, PostgreSQL when the test server is there."""
    if request.param == "sqlite":
        yield request.getfixturevalue("engine")
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


def _answer(
    engine: Engine, run_id: int, user_id: str, friction: str, now: datetime, expansion: int = 70
) -> int:
    """Answer with ``expansion`` percent of attention on the first priority, the rest on
    something else."""
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        assert run is not None
        form = pulse_form(session=session, run=run)
        assert form.asks_shares
        scores: dict[int, int | None] = {q.id: 1 + len(friction) % 5 for q in form.rated if q.id}
        shares: dict[str, int | None] = {
            str(form.priorities[0].id): expansion,
            OTHER: 100 - expansion,
        }
        answer = AnswerInput(scores, None, "hiring", friction, shares)
        return record_answer(
            session=session, submission=Submission(run_id, user_id, answer, now, KEY)
        ).answer_id


def _dump(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as the database holds it."""
    with engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in SQLModel.metadata.sorted_tables
        }


def _open_dm_run(engine: Engine) -> tuple[FakeMessenger, int]:
    make_group(engine, delivery_mode="dm", created_at=MONDAY - timedelta(days=1))
    with session_scope(engine) as session:
        workspace = session.execute(select(Workspace).where(Workspace.team_id == "T1")).scalar_one()
        session.add(Priority(workspace_id=workspace.id or 0, name="Expansion"))
    messenger = FakeMessenger([Member(user, "UTC") for user in MEMBERS])
    tick(engine=engine, messenger=messenger, now=MONDAY)
    [run] = runs(engine)
    assert run.id is not None
    assert run.status == "open"
    return messenger, run.id


def test_after_the_close_no_answer_can_be_linked_to_a_person_or_an_order(
    database: Engine,
) -> None:
    messenger, run_id = _open_dm_run(database)
    first_ids = {}
    for minute, user in enumerate(ANSWER_ORDER):
        first_ids[user] = _answer(
            database,
            run_id,
            user,
            f"comment {minute}",
            MONDAY + timedelta(minutes=minute),
            expansion=10 * minute,
        )
    # Before the close a resubmission replaces the earlier answer, found by its pseudonym.
    again = _answer(
        database, run_id, ANSWER_ORDER[0], "comment 0", MONDAY + timedelta(hours=2), expansion=0
    )
    assert again == first_ids[ANSWER_ORDER[0]]
    open_dump = _dump(database)
    assert len(open_dump["answers"]) == len(ANSWER_ORDER)
    assert {a["pseudonym"] for a in open_dump["answers"]} == {
        pseudonym(KEY, team_id="T1", run_id=run_id, user_id=user) for user in ANSWER_ORDER
    }
    assert sorted(i["user_id"] for i in open_dump["invitations"] if i["answered"]) == sorted(
        ANSWER_ORDER
    )
    # The reminder, a day later, goes to the two who have not answered only.
    tick(engine=database, messenger=messenger, now=MONDAY + timedelta(days=1))
    reminded = sorted(str(i["user_id"]) for i in _dump(database)["invitations"] if i["reminded_at"])
    assert reminded == sorted(set(MEMBERS) - set(ANSWER_ORDER))

    tick(engine=database, messenger=messenger, now=MONDAY + timedelta(days=2, minutes=1))
    [run] = runs(database)
    assert run.status == "closed"
    dump = _dump(database)
    for table in ("answers", "answer_scores", "answer_focus"):
        for row in dump[table]:
            for value in row.values():
                assert not any(user in str(value) for user in MEMBERS), (table, row)
    assert all(a["pseudonym"] is None for a in dump["answers"])
    assert not any(i["answered"] for i in dump["invitations"])
    # Nothing to sort by but ids, which are new and in random order: the chance that ten
    # answers come back in the order they were given is 1 in 3,628,800.
    columns = inspect(database)
    assert {c["name"] for c in columns.get_columns("answers")} == {
        "id",
        "run_id",
        "pseudonym",
        "focus_other",
        "friction",
    }
    assert {c["name"] for c in columns.get_columns("answer_focus")} == {
        "id",
        "answer_id",
        "run_id",
        "priority_id",
        "tenths",
    }
    assert {c["name"] for c in columns.get_columns("answer_scores")} == {
        "id",
        "answer_id",
        "run_id",
        "question_id",
        "score",
    }
    by_id = sorted(dump["answers"], key=lambda a: int(str(a["id"])))
    assert [a["friction"] for a in by_id] != [f"comment {m}" for m in range(len(ANSWER_ORDER))]
    # The figures are the same: every answer and score survived the re-insertion.
    assert sorted(str(a["friction"]) for a in dump["answers"]) == sorted(
        f"comment {m}" for m in range(len(ANSWER_ORDER))
    )
    assert sorted(s["score"] for s in dump["answer_scores"]) == sorted(
        s["score"] for s in open_dump["answer_scores"]
    )
    answer_ids = {a["id"] for a in dump["answers"]}
    assert {s["answer_id"] for s in dump["answer_scores"]} == answer_ids
    # Shares of attention too: each answer's shares stay together under its new id, and
    # their row ids follow the answers' random order, not the order people answered in.
    assert sorted(f["tenths"] for f in dump["answer_focus"]) == sorted(
        f["tenths"] for f in open_dump["answer_focus"]
    )
    assert {f["answer_id"] for f in dump["answer_focus"]} == answer_ids
    friction_of = {a["id"]: a["friction"] for a in dump["answers"]}
    expansion_of = {
        friction_of[f["answer_id"]]: f["tenths"]
        for f in dump["answer_focus"]
        if f["priority_id"] is not None
    }
    # "comment m" gave 10·m % to the first priority (so "comment 0" none).
    assert expansion_of == {f"comment {m}": m for m in range(1, len(ANSWER_ORDER))}
    with session_scope(database) as session:
        assert run_progress(session=session, run_id=run_id) == (10, 12)


def test_an_answer_whose_pseudonym_cannot_be_found_is_locked_not_counted_twice(
    engine: Engine,
) -> None:
    _, run_id = _open_dm_run(engine)
    _answer(engine, run_id, MEMBERS[0], "first", MONDAY)
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        assert run is not None
        form = pulse_form(session=session, run=run)
        scores: dict[int, int | None] = {q.id: 3 for q in form.rated if q.id}
        answer = AnswerInput(scores, None, "hiring", "second", {OTHER: 100})
        submission = Submission(run_id, MEMBERS[0], answer, MONDAY, b"another key")
        with pytest.raises(AnswerLocked):
            record_answer(session=session, submission=submission)
    with session_scope(engine) as session:
        assert [a.friction for a in session.execute(select(Answer)).scalars()] == ["first"]


def _friction(user_id: str) -> str:
    return f"from leader number {MEMBERS.index(user_id)}"


def _old_answer(connection: object, run_id: int, user_id: str, question_id: int) -> None:
    execute = connection.execute  # type: ignore[attr-defined]
    execute(
        text(
            "INSERT INTO invitations (run_id, user_id, timezone, send_at, status, attempts, "
            "reminder_state) VALUES (:run, :user, 'UTC', :at, 'sent', 1, 'pending')"
        ),
        {"run": run_id, "user": user_id, "at": MONDAY},
    )
    answer_id = execute(
        text(
            "INSERT INTO answers (run_id, user_id, friction, submitted_at, updated_at) "
            "VALUES (:run, :user, :friction, :at, :at) RETURNING id"
        ),
        {"run": run_id, "user": user_id, "friction": _friction(user_id), "at": MONDAY},
    ).scalar_one()
    execute(
        text(
            "INSERT INTO answer_scores (answer_id, run_id, question_id, score) "
            "VALUES (:answer, :run, :question, 4)"
        ),
        {"answer": answer_id, "run": run_id, "question": question_id},
    )


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.mark.parametrize("database_url", ["migrated_url", "postgres_url"], indirect=True)
@pytest.mark.parametrize("with_key", [True, False])
def test_the_migration_unlinks_closed_runs_and_pseudonymises_open_ones(
    database_url: str, with_key: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if with_key:
        monkeypatch.setenv("COHERENCE_PSEUDONYM_KEY", KEY.decode())
    else:
        monkeypatch.delenv("COHERENCE_PSEUDONYM_KEY", raising=False)
    engine = make_engine(database_url)
    try:
        # Made at head (the model has columns added since 0004, e.g. the group's language),
        # then taken back to 0004 with it.
        group_id = make_group(engine)
        with session_scope(engine) as session:
            from pulses.questions import current_questions
            from storage.models import LeadershipGroup

            group = session.get(LeadershipGroup, group_id)
            assert group is not None
            workspace_id = group.workspace_id
        downgrade(database_url, "0004")
        with session_scope(engine) as session:
            [question, *_] = current_questions(session=session, workspace_id=workspace_id)
            assert question.id is not None
            question_id = question.id
        made = {}
        with engine.begin() as connection:
            # The runs as revision 0004 stored them (the model has columns added since).
            for day, status in ((1, "closed"), (8, "open")):
                made[status] = connection.execute(
                    text(
                        "INSERT INTO pulse_runs (group_id, occurrence_day, scheduled_at, status, "
                        "delivery_mode, manual, closes_at, channel_post_state, question_ids, "
                        "priority_ids, anonymity_threshold, created_at) VALUES (:group, :day, "
                        ":at, :status, 'channel', false, :closes, 'pending', :questions, '', 5, "
                        ":at) RETURNING id"
                    ),
                    {
                        "group": group_id,
                        "day": (MONDAY + timedelta(days=day)).date(),
                        "at": MONDAY + timedelta(days=day),
                        "status": status,
                        "closes": MONDAY + timedelta(days=day + 2),
                        "questions": str(question_id),
                    },
                ).scalar_one()
        with engine.begin() as connection:
            for status in ("closed", "open"):
                for user in MEMBERS[:3]:
                    _old_answer(connection, made[status], user, question_id)
        upgrade(database_url)
        dump = _dump(engine)
        assert not any(user in str(dump["answers"]) for user in MEMBERS)
        assert len(dump["answers"]) == len(dump["answer_scores"]) == 6
        closed = [a for a in dump["answers"] if a["run_id"] == made["closed"]]
        assert all(a["pseudonym"] is None for a in closed)
        answered = {(i["run_id"], i["user_id"]) for i in dump["invitations"] if i["answered"]}
        assert answered == {(made["open"], user) for user in MEMBERS[:3]}
        opened = [a for a in dump["answers"] if a["run_id"] == made["open"]]
        expected = {
            pseudonym(KEY, team_id="T1", run_id=made["open"], user_id=user) if with_key else None
            for user in MEMBERS[:3]
        }
        assert {a["pseudonym"] for a in opened} == expected
        with session_scope(engine) as session:
            submitted = AnswerInput({question_id: 2}, None, None, "changed")
            later = MONDAY + timedelta(days=8, hours=1)
            submission = Submission(made["open"], MEMBERS[0], submitted, later, KEY)
            if with_key:
                record_answer(session=session, submission=submission)
            else:
                with pytest.raises(AnswerLocked):
                    record_answer(session=session, submission=submission)
        with session_scope(engine) as session:
            frictions = sorted(
                str(a.friction)
                for a in session.execute(select(Answer).where(Answer.run_id == made["open"]))
                .scalars()
                .all()
            )
        if with_key:
            assert frictions == sorted(["changed", _friction(MEMBERS[1]), _friction(MEMBERS[2])])
        else:
            assert frictions == sorted(_friction(user) for user in MEMBERS[:3])

        # Down again: the open run's members come back with the key, placeholders otherwise.
        downgrade(database_url, "0004")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT run_id, user_id FROM answers")).all()
        for run_id, user_id in rows:
            if with_key and run_id == made["open"]:
                assert user_id in MEMBERS[:3]
            else:
                assert user_id.startswith("unlinked-")
        upgrade(database_url)
    finally:
        engine.dispose()
