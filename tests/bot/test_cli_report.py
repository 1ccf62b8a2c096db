"""`coherence report` and `coherence digest --preview` against a seeded database."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.settings import get_settings
from pulses.report_json import report_json
from pulses.reports import run_report
from storage.db import session_scope
from tests.pulses.seed import DIMENSIONS, Seeded, seed_group, seed_org, seed_run

START = date(2026, 2, 2)


@pytest.fixture
def database(migrated_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    rng = random.Random(5)
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, channel_id="C0EXEC", name="exec-team")
        for week in range(3):
            answers = [
                Seeded({k: rng.randint(1, 5) for k in DIMENSIONS}, "Hiring") for _ in range(6)
            ]
            seed_run(session, org, group, START + timedelta(weeks=week), answers)
        assert group.id is not None
        group_id = group.id
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield group_id
    get_settings.cache_clear()


@pytest.mark.parametrize("group", ["C0EXEC", "#exec-team"])
def test_report_prints_the_latest_runs_metrics_as_json(
    database: int, engine: Engine, capsys: pytest.CaptureFixture[str], group: str
) -> None:
    assert main(["report", "--group", group, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # The group's coherence under pressure comes with the run: three pulses are too few.
    under_pressure = printed.pop("coherence_under_pressure")
    assert under_pressure["verdict"] == "too_few"
    assert under_pressure["runs_needed"] == 8
    assert under_pressure["coherence_gap"] is None
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=database)
    assert report is not None
    assert printed == json.loads(json.dumps(report_json(report)))
    assert printed["run_date"] == (START + timedelta(weeks=2)).isoformat()
    assert set(printed["items"]) == set(DIMENSIONS)


def test_report_of_a_date(database: int, capsys: pytest.CaptureFixture[str]) -> None:
    day = START + timedelta(weeks=1)
    assert main(["report", "--group", "C0EXEC", "--run", day.isoformat(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_date"] == day.isoformat()


def test_report_of_an_unknown_group_or_date_fails_clearly(
    database: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--group", "#nope", "--json"]) == 1
    assert "no leadership group" in capsys.readouterr().err
    assert main(["report", "--group", "C0EXEC", "--run", "2020-01-01", "--json"]) == 1
    assert main(["report", "--group", "C0EXEC", "--run", "someday", "--json"]) == 2


def test_digest_preview_prints_the_digest_readably(
    database: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--group", "#exec-team", "--preview"]) == 0
    out = capsys.readouterr().out
    assert "Coherence digest · #exec-team" in out
    assert "Coherence index" in out
    assert '"type"' not in out  # rendered, not raw Block Kit
