"""Retention: old friction comments go with the figures kept; a workspace can be purged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bot.scheduler import run_retention, run_tick
from pulses.retention import FRICTION_RETENTION_WEEKS, forget_old_friction, purge_workspace
from storage.db import session_scope
from storage.models import Answer, AnswerScore, ConfigChange, Workspace
from storage.queries import closed_run_window
from tests.conftest import RunningBot
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_friction_older_than_the_retention_period_is_deleted_and_the_figures_stay(
    engine: Engine,
) -> None:
    old_day = (NOW - timedelta(weeks=FRICTION_RETENTION_WEEKS, days=3)).date()
    recent_day = (NOW - timedelta(weeks=FRICTION_RETENTION_WEEKS - 1)).date()
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        assert group.id is not None
        answers = [Seeded(uniform(4), focus="Hiring", friction="too many meetings")] * 3
        old = seed_run(session, org, group, old_day, answers)
        recent = seed_run(session, org, group, recent_day, answers)
        group_id = group.id
    with session_scope(engine) as session:
        before = closed_run_window(session=session, group_id=group_id, until=None, count=5)
        assert forget_old_friction(session=session, now=NOW) == 3
    with session_scope(engine) as session:
        friction = _frictions(session)
        after = closed_run_window(session=session, group_id=group_id, until=None, count=5)
    assert friction == {old.id: [None] * 3, recent.id: ["too many meetings"] * 3}
    assert [(t.histograms, t.focus, t.responded) for t in after.tallies] == [
        (t.histograms, t.focus, t.responded) for t in before.tallies
    ]


def _frictions(session: Session) -> dict[int, list[str | None]]:
    found: dict[int, list[str | None]] = {}
    for run_id, text in session.execute(select(Answer.run_id, Answer.friction)):
        found.setdefault(run_id, []).append(text)
    return found


def test_the_retention_period_is_configurable(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        answers = [Seeded(uniform(3), friction="slow approvals")]
        seed_run(session, org, group, date(2026, 11, 2), answers)
    with session_scope(engine) as session:
        assert forget_old_friction(session=session, now=NOW, weeks=8) == 0
        assert forget_old_friction(session=session, now=NOW, weeks=4) == 1


def test_purging_a_workspace_deletes_all_of_its_rows_and_none_of_anothers(
    engine: Engine,
) -> None:
    counts: dict[str, dict[str, int]] = {}
    with session_scope(engine) as session:
        for team in ("T0GONE", "T0KEPT"):
            org = seed_org(session, team_id=team)
            group = seed_group(session, org)
            assert group.id is not None
            seed_run(session, org, group, date(2026, 11, 30), [Seeded(uniform(2))] * 3, invited=5)
            seed_run(session, org, group, date(2026, 12, 7), [], status="open", invited=5)
            session.add(
                ConfigChange(
                    workspace_id=org.workspace_id, group_id=group.id, user_id="U0A", summary="x"
                )
            )
    with session_scope(engine) as session:
        counts["before"] = _row_counts(session)
        purged = purge_workspace(session=session, team_id="T0GONE")
        assert purge_workspace(session=session, team_id="T0NOBODY") is None
    assert purged is not None
    assert (purged.groups, purged.runs) == (1, 2)
    with session_scope(engine) as session:
        counts["after"] = _row_counts(session)
        teams = list(session.execute(select(Workspace.team_id)).scalars())
        scores = session.execute(select(func.count()).select_from(AnswerScore)).scalar_one()
    assert teams == ["T0KEPT"]
    # Every table that held a row of either workspace now holds exactly half.
    assert {table: count * 2 for table, count in counts["after"].items() if count} == {
        table: count for table, count in counts["before"].items() if count
    }
    assert scores == counts["after"]["answer_scores"] > 0


def _row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }


def test_the_scheduler_tick_forgets_old_friction_at_the_configured_age(bot: RunningBot) -> None:
    bot.services.settings = bot.services.settings.model_copy(
        update={"coherence_friction_retention_weeks": 4}
    )
    bot.clock.now = NOW
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        answers = [Seeded(uniform(4), focus="Hiring", friction="too many meetings")] * 3
        old = seed_run(session, org, group, (NOW - timedelta(weeks=5)).date(), answers)
        recent = seed_run(session, org, group, (NOW - timedelta(weeks=3)).date(), answers)
    run_tick(bot.services)
    with session_scope(bot.engine) as session:
        assert _frictions(session) == {old.id: [None] * 3, recent.id: ["too many meetings"] * 3}


def test_the_scheduler_ticks_leave_forgetting_to_the_hourly_retention_job(
    bot: RunningBot,
) -> None:
    bot.clock.now = NOW
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        answers = [Seeded(uniform(4), focus="Hiring", friction="too many meetings")] * 2
        day = (NOW - timedelta(weeks=FRICTION_RETENTION_WEEKS + 1)).date()
        old = seed_run(session, org, group, day, answers)
    run_tick(bot.services, digests=False, retention=False)
    with session_scope(bot.engine) as session:
        assert _frictions(session) == {old.id: ["too many meetings"] * 2}
    run_retention(bot.services)
    with session_scope(bot.engine) as session:
        assert _frictions(session) == {old.id: [None] * 2}
