"""`/coherence` and `/coherence trend N` through signed slash commands from the sandbox."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.app import build_app, build_services
from bot.server import start_in_background
from bot.views.digest import index_text, number, percent
from pulses.report_json import report_json
from pulses.reports import run_report
from sandbox import SlackSandbox
from storage.db import session_scope
from tests.conftest import Clock, sandbox_settings
from tests.pulses.seed import DIMENSIONS, Seeded, seed_group, seed_org, seed_run, uniform

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
ALICE = "U0ALICE"


@pytest.fixture
def status_bot(
    sandbox: SlackSandbox, migrated_url: str, engine: Engine, clock: Clock
) -> Iterator[App]:
    """The real bot app, its clock at NOW."""
    clock.now = NOW
    services = build_services(sandbox_settings(sandbox, migrated_url), engine=engine, clock=clock)
    app = build_app(services)
    server = start_in_background(app)
    sandbox.bot_url = server.events_url
    yield app
    server.close()


def _seed(engine: Engine, latest_respondents: int = 7) -> int:
    rng = random.Random(11)
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        for week in range(4):
            size = latest_respondents if week == 3 else 7
            answers = [
                Seeded({k: rng.randint(2, 5) for k in DIMENSIONS}, "Hiring", friction="slow")
                for _ in range(size)
            ]
            seed_run(session, org, group, date(2026, 2, 16) + timedelta(weeks=week), answers)
        seed_run(
            session,
            org,
            group,
            date(2026, 3, 16) + timedelta(days=3),
            [Seeded(uniform(4), "Hiring")] * 2,
            invited=6,
            status="open",
            closes_at=NOW + timedelta(hours=20),
        )
        assert group.id is not None
        return group.id


def _ephemeral_text(sandbox: SlackSandbox) -> str:
    latest = sandbox.ephemerals[-1]
    assert latest.user == ALICE
    return latest.text + json.dumps(latest.blocks, ensure_ascii=False)


def test_status_shows_the_numbers_the_report_shows_for_the_same_run(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    group_id = _seed(engine)
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id)
    assert report is not None
    data = report_json(report)

    response = sandbox.user(ALICE).run_command("/coherence", "", channel="C0EXEC")
    assert response.status == 200
    assert not response.timed_out
    shown = _ephemeral_text(sandbox)
    assert f"Coherence index: {index_text(data['coherence_index'])}*" in shown
    assert f"Level {number(data['level'])} × agreement {number(data['agreement'])}" in shown
    assert f"({percent(data['response_rate'])})" in shown
    assert "2 of 6 answered so far" in shown
    assert "U0" not in shown.replace(ALICE, "")  # no user ids in what is shown


def test_status_of_a_suppressed_run_shows_no_statistic(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    _seed(engine, latest_respondents=4)
    sandbox.user(ALICE).run_command("/coherence", "", channel="C0EXEC")
    shown = _ephemeral_text(sandbox)
    assert "Fewer than 5 leaders answered" in shown
    for leak in ("Coherence index", "agreement", "Level", "/ 5", "slow"):
        assert leak not in shown


def test_trend_lists_the_last_n_runs(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    _seed(engine)
    sandbox.user(ALICE).run_command("/coherence", "trend 3", channel="C0EXEC")
    shown = _ephemeral_text(sandbox)
    assert "last 3 pulses" in shown
    assert "2026-02-23" in shown
    assert "2026-03-09" in shown
    assert "2026-02-16" not in shown


def test_outside_a_leadership_channel_it_explains_itself_and_the_setup(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    _seed(engine)
    sandbox.user(ALICE).run_command("/coherence", "", channel="C0DIRS")
    shown = _ephemeral_text(sandbox)
    assert "not a leadership group" in shown
    assert "/coherence setup" in shown


def test_report_shows_the_latest_closed_run_with_the_reports_numbers(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    group_id = _seed(engine)
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id)
    assert report is not None
    data = report_json(report)
    sandbox.user(ALICE).run_command("/coherence", "report", channel="C0EXEC")
    shown = _ephemeral_text(sandbox)
    assert "Coherence digest · #" in shown
    assert "Mon 9 Mar" in shown or "2026-03-09" in shown
    assert index_text(data["coherence_index"]) in shown


def test_report_of_a_date_without_a_closed_run_says_so(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    _seed(engine)
    sandbox.user(ALICE).run_command("/coherence", "report 2026-03-10", channel="C0EXEC")
    assert "has no closed pulse on Tue 10 Mar 2026" in _ephemeral_text(sandbox)


def test_report_of_an_earlier_date_shows_that_run(
    status_bot: App, sandbox: SlackSandbox, engine: Engine
) -> None:
    group_id = _seed(engine)
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id, run=date(2026, 2, 23))
    assert report is not None
    sandbox.user(ALICE).run_command("/coherence", "report 2026-02-23", channel="C0EXEC")
    shown = _ephemeral_text(sandbox)
    assert index_text(report_json(report)["coherence_index"]) in shown
