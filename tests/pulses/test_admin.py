"""The admin domain: validation, live schedule changes, versioned questions, priorities, audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pulses import audit, overview, priorities, questions, schedule
from pulses import settings as group_settings
from pulses.audit import InvalidChange
from pulses.dispatch import claim_run_now
from pulses.groups import active_priorities, create_group, ensure_workspace
from pulses.priorities import NewPriority, PriorityEdits, PriorityRow
from pulses.questions import QuestionEdits
from pulses.schedule import CadenceChange
from pulses.settings import GroupSettings
from storage.db import session_scope
from storage.models import (
    ConfigChange,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
)

BERLIN = "Europe/Berlin"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# Wednesday 2 December 2026, 10:00 in Berlin.
WEDNESDAY = datetime(2026, 12, 2, 10, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


def _workspace(session: Session) -> int:
    workspace = ensure_workspace(session=session, team_id="T0TEST")
    assert workspace.id is not None
    return workspace.id


def _group(session: Session, **settings: object) -> LeadershipGroup:
    settings.setdefault("timezone", BERLIN)
    settings.setdefault("created_at", LONG_AGO)
    return create_group(
        session=session,
        workspace_id=_workspace(session),
        channel_id="C0EXEC",
        channel_name="exec-team",
        **settings,
    )


def _audit(session: Session) -> list[ConfigChange]:
    return list(session.exec(select(ConfigChange).order_by(col(ConfigChange.id))).all())


# --- who is an admin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workspace_admin", "owner", "listed", "expected"),
    [
        (True, False, False, True),
        (False, True, False, True),
        (False, False, True, True),
        (False, False, False, False),
    ],
)
def test_admins_are_workspace_admins_owners_and_listed_members(
    workspace_admin: bool, owner: bool, listed: bool, expected: bool
) -> None:
    ids = ["U0ALICE"] if listed else ["U0OTHER"]
    assert (
        audit.is_admin(
            user_id="U0ALICE", workspace_admin=workspace_admin, workspace_owner=owner, admin_ids=ids
        )
        is expected
    )


# --- settings -------------------------------------------------------------------------------


def test_the_default_settings_are_valid() -> None:
    group_settings.validate_settings(group_settings.default_settings(timezone=BERLIN))
    assert group_settings.default_settings(timezone="Not/AZone").timezone == "UTC"


@pytest.mark.parametrize(
    ("change", "field_name", "words"),
    [
        ({"anonymity_threshold": 2}, group_settings.THRESHOLD, "can't be below 3"),
        ({"timezone": "Mars/Olympus"}, group_settings.TIMEZONE, "not a known time zone"),
        ({"weekdays": ()}, group_settings.WEEKDAYS, "at least one day"),
        ({"frequency": "monthly", "weekdays": (0, 3)}, group_settings.WEEKDAYS, "one day"),
        ({"weekdays": (0, 1)}, group_settings.ANSWER_WINDOW, "longer than the 1 day"),
        ({"answer_window": timedelta(days=15)}, group_settings.ANSWER_WINDOW, "maximum of 14 days"),
        (
            {"reminder_after": timedelta(hours=48)},
            group_settings.REMINDER,
            "before the pulse closes",
        ),
        ({"layer": "x" * 65}, group_settings.LAYER, "under 65"),
        ({"delivery_mode": "pigeon"}, group_settings.DELIVERY_MODE, "channel"),
    ],
)
def test_invalid_settings_name_the_field_and_the_problem(
    change: dict[str, object], field_name: str, words: str
) -> None:
    settings = replace(GroupSettings(timezone=BERLIN), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidChange) as raised:
        group_settings.validate_settings(settings)
    assert words in raised.value.problems[field_name]


def test_setup_creates_the_group_once_and_then_edits_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        created = group_settings.apply_setup(
            session=session,
            workspace_id=workspace_id,
            channel_id="C0EXEC",
            channel_name="exec-team",
            settings=GroupSettings(timezone=BERLIN),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        same = group_settings.apply_setup(
            session=session,
            workspace_id=workspace_id,
            channel_id="C0EXEC",
            channel_name="exec-team",
            settings=GroupSettings(timezone=BERLIN),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        edited = group_settings.apply_setup(
            session=session,
            workspace_id=workspace_id,
            channel_id="C0EXEC",
            channel_name="exec-team",
            settings=GroupSettings(timezone=BERLIN, delivery_mode="dm", layer="Executive"),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        groups = session.exec(select(LeadershipGroup)).all()
        audit = _audit(session)
    assert created.group_id == same.group_id == edited.group_id
    assert len(groups) == 1
    assert not same.changed
    assert edited.lines == ("#exec-team: layer none → Executive", "delivery channel → dm")
    assert [c.summary for c in audit] == [
        "made #exec-team a leadership group: weekly on Mon at 09:00 (Europe/Berlin)",
        "#exec-team: layer none → Executive; delivery channel → dm",
    ]


# --- the schedule, live ---------------------------------------------------------------------


def test_a_cadence_change_applies_from_now_and_reports_the_next_send(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        change = schedule.change_cadence(
            session=session,
            group=group,
            change=CadenceChange("weekly", (3,), time(9, 30), None, False, None),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        upcoming = schedule.next_send(session=session, group=group, now=WEDNESDAY)
        [audit] = _audit(session)
    assert change.changed
    # The scheduler back-fills from when the schedule started: no making up past days.
    assert group.schedule_starts_at == WEDNESDAY
    assert upcoming == datetime(2026, 12, 3, 9, 30, tzinfo=ZoneInfo(BERLIN))
    assert (audit.user_id, audit.created_at) == ("U0ADMIN", WEDNESDAY)


def test_a_biweekly_cadence_starts_with_the_next_chosen_day(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        schedule.change_cadence(
            session=session,
            group=group,
            change=CadenceChange("biweekly", (3,), time(9, 0), None, False, None),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        first = schedule.next_send(session=session, group=group, now=WEDNESDAY)
        assert first is not None
        second = schedule.next_send(session=session, group=group, now=first)
    assert first.date() == date(2026, 12, 3)
    assert second is not None
    assert second.date() == date(2026, 12, 17)


def test_a_biweekly_group_keeps_its_weeks_when_its_time_changes(engine: Engine) -> None:
    a_week_later = WEDNESDAY + timedelta(days=7)
    with session_scope(engine) as session:
        group = _group(session)
        for now, at in ((WEDNESDAY, time(9, 0)), (a_week_later, time(10, 0))):
            schedule.change_cadence(
                session=session,
                group=group,
                change=CadenceChange("biweekly", (3,), at, None, False, None),
                user_id="U0ADMIN",
                now=now,
            )
        upcoming = schedule.next_send(session=session, group=group, now=a_week_later)
    # On weeks stay 3 Dec, 17 Dec, …: not shifted to 10 Dec by a change of hour.
    assert upcoming == datetime(2026, 12, 17, 10, tzinfo=ZoneInfo(BERLIN))


def test_a_cadence_that_leaves_no_room_for_the_window_is_refused_and_nothing_changes(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        with pytest.raises(InvalidChange) as raised:
            schedule.change_cadence(
                session=session,
                group=group,
                change=CadenceChange("weekly", tuple(range(7)), time(9), None, False, None),
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
        assert "answer window" in raised.value.message
        assert group.weekdays == "0"
        assert _audit(session) == []


def test_the_next_send_passes_over_a_day_already_pulsed_by_hand(engine: Engine) -> None:
    monday_early = datetime(2026, 12, 7, 7, tzinfo=ZoneInfo(BERLIN))
    with session_scope(engine) as session:
        group_id = _group(session).id
    assert group_id is not None
    assert claim_run_now(engine=engine, group_id=group_id, now=monday_early)
    with session_scope(engine) as session:
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        upcoming = schedule.next_send(session=session, group=group, now=monday_early)
    assert upcoming == datetime(2026, 12, 14, 9, tzinfo=ZoneInfo(BERLIN))


def test_pause_and_resume_are_idempotent_and_audited_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        first = schedule.pause(session=session, group=group, user_id="U0ADMIN", now=WEDNESDAY)
        again = schedule.pause(session=session, group=group, user_id="U0ADMIN", now=WEDNESDAY)
        assert schedule.next_send(session=session, group=group, now=WEDNESDAY) is None
        schedule.resume(session=session, group=group, user_id="U0ADMIN", now=WEDNESDAY)
        audit = _audit(session)
    assert (first.changed, again.changed) == (True, False)
    assert [c.summary for c in audit] == ["paused #exec-team", "resumed #exec-team"]


# --- questions ------------------------------------------------------------------------------


def test_a_wording_edit_adds_a_version_and_never_rewrites_one(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        before = {q.id: q.text for q in session.exec(select(Question)).all()}
        change = questions.apply_questions(
            session=session,
            workspace_id=workspace_id,
            edits=QuestionEdits(texts={"signal": "  Leaders did   what the strategy says. "}),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        after = {q.id: q.text for q in session.exec(select(Question)).all()}
        signal = session.exec(
            select(Question).where(Question.key == "signal").order_by(col(Question.version))
        ).all()
    assert {qid: after[qid] for qid in before} == before
    assert [(q.version, q.text) for q in signal][-1] == (2, "Leaders did what the strategy says.")
    assert change.lines == (
        "new wording for 'signal' (version 2): \"Leaders did what the strategy says.\"",
    )


def test_unchanged_wording_is_not_a_new_version(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        texts = {q.key: q.text for q in session.exec(select(Question)).all() if q.key != "friction"}
        change = questions.apply_questions(
            session=session,
            workspace_id=workspace_id,
            edits=QuestionEdits(texts=texts),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        assert not change.changed
        assert _audit(session) == []


@pytest.mark.parametrize(
    ("edits", "field_name", "words"),
    [
        (QuestionEdits(texts={"signal": "   "}), questions.question_field("signal"), "wording"),
        (QuestionEdits(new_key="focus", new_text="x"), questions.QUESTION_NEW_KEY, "exists"),
        (QuestionEdits(new_key="signal", new_text="x"), questions.QUESTION_NEW_KEY, "exists"),
        (QuestionEdits(new_key="Bad key", new_text="x"), questions.QUESTION_NEW_KEY, "lowercase"),
        (QuestionEdits(new_key="customer_focus"), questions.QUESTION_NEW_TEXT, "Write"),
        (QuestionEdits(new_text="A statement"), questions.QUESTION_NEW_KEY, "dimension"),
    ],
)
def test_invalid_question_edits_are_refused(
    engine: Engine, edits: QuestionEdits, field_name: str, words: str
) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        with pytest.raises(InvalidChange) as raised:
            questions.apply_questions(
                session=session,
                workspace_id=workspace_id,
                edits=edits,
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
    assert words in raised.value.problems[field_name]


def test_a_pulse_holds_at_most_ten_statements(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        for n in range(5):
            questions.apply_questions(
                session=session,
                workspace_id=workspace_id,
                edits=QuestionEdits(new_key=f"extra_{n}", new_text=f"Statement {n}."),
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
        with pytest.raises(InvalidChange) as raised:
            questions.apply_questions(
                session=session,
                workspace_id=workspace_id,
                edits=QuestionEdits(new_key="one_more", new_text="Too many."),
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
    assert "at most 10" in raised.value.problems[questions.QUESTION_NEW_KEY]


# --- priorities -----------------------------------------------------------------------------


def _priorities(session: Session, workspace_id: int, *names: str) -> list[Priority]:
    rows = [Priority(workspace_id=workspace_id, name=n, position=i) for i, n in enumerate(names)]
    session.add_all(rows)
    session.flush()
    return rows


def _row(priority: Priority, **change: object) -> PriorityRow:
    assert priority.id is not None
    values: dict[str, object] = {
        "priority_id": priority.id,
        "name": priority.name,
        "weight": priority.weight,
        "order": float(priority.position + 1),
    }
    return PriorityRow(**(values | change))  # type: ignore[arg-type]


def test_a_retired_priority_leaves_new_pulses_but_keeps_its_row(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        hiring, pricing = _priorities(session, group.workspace_id, "Hiring", "Pricing")
        priorities.apply_priorities(
            session=session,
            workspace_id=group.workspace_id,
            group=group,
            edits=PriorityEdits(rows=(_row(hiring, retire=True), _row(pricing))),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
        offered = [p.name for p in active_priorities(session=session, group=group)]
        kept = session.get(Priority, hiring.id)
    assert offered == ["Pricing"]
    assert kept is not None
    assert (kept.active, kept.retired_at) == (False, WEDNESDAY)


@pytest.mark.parametrize(
    ("edit", "field_name", "words"),
    [
        ({"name": "Pricing"}, "name", "Another priority"),
        ({"name": " "}, "name", "Give the priority a name"),
        ({"weight": -1.0}, "weight", "from 0"),
        ({"weight": float("nan")}, "weight", "from 0"),
    ],
)
def test_invalid_priority_edits_are_refused_and_nothing_changes(
    engine: Engine, edit: dict[str, object], field_name: str, words: str
) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        hiring, pricing = _priorities(session, group.workspace_id, "Hiring", "Pricing")
        assert hiring.id is not None
        with pytest.raises(InvalidChange) as raised:
            priorities.apply_priorities(
                session=session,
                workspace_id=group.workspace_id,
                group=group,
                edits=PriorityEdits(rows=(_row(pricing), _row(hiring, **edit))),
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
        assert words in raised.value.problems[f"priority_{field_name}_{hiring.id}"]
        assert hiring.name == "Hiring"


def test_a_group_only_priority_needs_a_group(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        with pytest.raises(InvalidChange) as raised:
            priorities.apply_priorities(
                session=session,
                workspace_id=workspace_id,
                group=None,
                edits=PriorityEdits(new=NewPriority("Pricing", group_only=True)),
                user_id="U0ADMIN",
                now=WEDNESDAY,
            )
    assert priorities.PRIORITY_NEW_SCOPE in raised.value.problems


def test_a_stale_row_for_a_retired_priority_does_not_revive_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        [hiring] = _priorities(session, group.workspace_id, "Hiring")
        hiring.active = False
        change = priorities.apply_priorities(
            session=session,
            workspace_id=group.workspace_id,
            group=group,
            edits=PriorityEdits(rows=(_row(hiring, name="Hiring again"),)),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
    assert not change.changed
    assert (hiring.active, hiring.name) == (False, "Hiring")


# --- audit and what members see -------------------------------------------------------------


def test_the_audit_keeps_long_summaries_within_the_column(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace_id = _workspace(session)
        audit.record_change(
            session=session,
            workspace_id=workspace_id,
            group_id=None,
            user_id="U0ADMIN",
            summary="x" * 5000,
            now=WEDNESDAY,
        )
        [row] = audit.recent_changes(session=session, workspace_id=workspace_id)
    assert len(row.summary) == 1000
    assert row.summary.endswith("x…")


def test_open_pulses_are_delivered_unanswered_and_still_open(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = _group(session)
        assert group.id is not None
        runs = []
        for day, status in ((1, "open"), (2, "open"), (3, "closed")):
            run = PulseRun(
                group_id=group.id,
                occurrence_day=date(2026, 11, day),
                scheduled_at=WEDNESDAY,
                status=status,
                closes_at=WEDNESDAY + timedelta(hours=day),
            )
            session.add(run)
            session.flush()
            assert run.id is not None
            runs.append(run.id)
            session.add(
                Invitation(
                    run_id=run.id,
                    user_id="U0ALICE",
                    send_at=WEDNESDAY,
                    status="sent",
                    answered=day == 2,
                )
            )
        session.add(Invitation(run_id=runs[0], user_id="U0BEN", send_at=WEDNESDAY, status="failed"))
        session.flush()
        alice = overview.open_pulses_for(session=session, user_id="U0ALICE", now=WEDNESDAY)
        ben = overview.open_pulses_for(session=session, user_id="U0BEN", now=WEDNESDAY)
        later = overview.open_pulses_for(
            session=session, user_id="U0ALICE", now=WEDNESDAY + timedelta(hours=1)
        )
    assert [p.run_id for p in alice] == [runs[0]]
    assert alice[0].closes_at == WEDNESDAY + timedelta(hours=1)
    assert ben == []
    assert later == []


def test_two_admins_saving_the_same_question_at_once_get_a_clear_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.models import Question

    with session_scope(engine) as session:
        workspace_id = _workspace(session)
    # The other admin's version 2 is committed between this admin's read and write
    # (possible on PostgreSQL; SQLite's write lock serialises the two).
    with session_scope(engine) as session:
        session.add(
            Question(workspace_id=workspace_id, key="signal", kind="likert", text="B", version=2)
        )
    monkeypatch.setattr(questions, "_latest_version", lambda *_args: 1)
    with pytest.raises(InvalidChange) as raised, session_scope(engine) as session:
        questions.apply_questions(
            session=session,
            workspace_id=workspace_id,
            edits=QuestionEdits(texts={"signal": "A new wording"}),
            user_id="U0ADMIN",
            now=WEDNESDAY,
        )
    assert (
        "Someone else changed the questions"
        in raised.value.problems[questions.question_field("signal")]
    )
    with session_scope(engine) as session:
        texts = session.exec(
            select(Question.text).where(Question.key == "signal").order_by(col(Question.version))
        ).all()
    assert texts[-1] == "B"  # the other admin's change stands; nothing half-written
