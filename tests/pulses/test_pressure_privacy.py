"""Below the privacy threshold nothing about pressure is shown: not in the digest, `/coherence`,
the trend, the report JSON, the organisation digest or the export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from bot.views.digest import (
    blocks_as_dicts,
    digest_blocks,
    org_digest_blocks,
    status_blocks,
    trend_blocks,
)
from pulses.export import export_csv
from pulses.organisation import org_digest
from pulses.report_json import report_json
from pulses.reports import group_digest, group_history, group_status
from pulses.under_pressure import under_pressure
from storage.db import session_scope
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform
from tests.pulses.seed import weekly as weeks

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _seed(engine: Engine, respondents: int) -> tuple[int, int]:
    """Ten weekly pulses in which every leader rates pressure 1 in odd weeks, 5 in even ones."""
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, layer="Executive", threshold=5)
        for week, day in enumerate(weeks(date(2026, 3, 2), 10)):
            pressure = 5 if week % 2 else 1
            answers = [
                Seeded({**uniform(4), "pressure": pressure}, focus="Hiring")
                for _ in range(respondents)
            ]
            seed_run(session, org, group, day, answers)
        assert group.id is not None
        return group.id, org.workspace_id


def _outputs(engine: Engine, group_id: int, workspace_id: int) -> dict[str, object]:
    with session_scope(engine) as session:
        digest = group_digest(session=session, group_id=group_id, now=NOW)
        status = group_status(session=session, group_id=group_id, now=NOW)
        history = group_history(session=session, group_id=group_id)
        org = org_digest(session=session, workspace_id=workspace_id)
        export = export_csv(session=session, workspace_id=workspace_id)
    assert digest.latest is not None
    slack = [
        digest_blocks(digest)[1],
        status_blocks(status)[1],
        trend_blocks(history, 8)[1],
        org_digest_blocks(org)[1],
    ]
    return {
        "slack": "\n".join(json.dumps(blocks_as_dicts(b), ensure_ascii=False) for b in slack),
        "report": report_json(digest.latest),
        "gap": under_pressure(history).to_dict(),
        "export": list(csv.DictReader(io.StringIO(export))),
    }


@pytest.mark.parametrize("respondents", [4, 5])
def test_pressure_appears_only_for_runs_at_or_above_the_threshold(
    engine: Engine, respondents: int
) -> None:
    group_id, workspace_id = _seed(engine, respondents)
    shown = _outputs(engine, group_id, workspace_id)
    slack, report, gap, export = shown["slack"], shown["report"], shown["gap"], shown["export"]
    assert isinstance(slack, str)
    assert isinstance(report, dict)
    assert isinstance(gap, dict)
    assert isinstance(export, list)
    if respondents == 4:
        for leak in ("Pressure this pulse", "· pressure", "pressured", "coherence gap"):
            assert leak not in slack, leak
        assert "pressure" not in report
        assert (gap["runs"], gap["coherence_gap"]) == (0, None)  # no hidden run counts
        assert export == []  # no row for a hidden run
    else:
        # Every leader agrees on 5 in the latest (even) week: level 5.0, agreement 1.00.
        assert "Pressure this pulse: *5.0* of 5" in slack
        assert "· pressure 1.0" in slack
        assert report["pressure"]["level"] == 5.0
        assert gap["runs"] == 10
        assert {float(row["pressure_level"]) for row in export} == {1.0, 5.0}
