"""The CSV export: shown runs only, nothing that identifies a person, safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy.engine import Engine

from pulses.export import RUN_COLUMNS, export_csv
from pulses.focus import OTHER
from storage.db import session_scope
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform


def _rows(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content)))


def test_a_run_below_the_threshold_has_no_row(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        seed_run(session, org, group, date(2026, 11, 2), [Seeded(uniform(4), "Hiring")] * 5)
        seed_run(session, org, group, date(2026, 11, 9), [Seeded(uniform(2), "Hiring")] * 4)
        seed_run(session, org, group, date(2026, 11, 16), [Seeded(uniform(3), "Hiring")] * 6)
        content = export_csv(session=session, workspace_id=org.workspace_id)
    rows = _rows(content)
    assert [row["run_date"] for row in rows] == ["2026-11-02", "2026-11-16"]
    assert [row["n_responded"] for row in rows] == ["5", "6"]
    assert rows[0]["group"] == "exec-team"
    assert rows[0]["top_focus"] == "Hiring"
    assert rows[0]["reinforcement_mean"] == "4.0000"


def test_the_export_holds_no_user_identifiers_nor_free_text(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        answers = [
            Seeded(uniform(4), OTHER, other="a secret side project", friction="Alice blocks me")
        ] * 6
        seed_run(session, org, group, date(2026, 11, 2), answers)
        content = export_csv(session=session, workspace_id=org.workspace_id)
    # seed_run's respondents are U00000 … U00005.
    assert "U0000" not in content
    assert "secret side project" not in content
    assert "Alice" not in content
    header = next(csv.reader(io.StringIO(content)))
    assert not any("user" in column or "friction" in column for column in header)


def test_raising_the_threshold_hides_past_runs_too(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        seed_run(session, org, group, date(2026, 11, 2), [Seeded(uniform(4))] * 5)
        group.anonymity_threshold = 6
        session.add(group)
        session.flush()
        content = export_csv(session=session, workspace_id=org.workspace_id)
    assert content.splitlines() == [",".join(RUN_COLUMNS)]


def test_one_group_or_every_group(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        exec_team = seed_group(session, org)
        directors = seed_group(session, org, channel_id="C0DIRS", name="directors")
        for group in (exec_team, directors):
            seed_run(session, org, group, date(2026, 11, 2), [Seeded(uniform(4))] * 5)
        every = _rows(export_csv(session=session, workspace_id=org.workspace_id))
        one = _rows(
            export_csv(session=session, workspace_id=org.workspace_id, group_id=directors.id)
        )
    assert [row["group"] for row in every] == ["directors", "exec-team"]
    assert [row["group"] for row in one] == ["directors"]


def test_names_that_look_like_formulas_are_defused(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session, priorities=("=HYPERLINK(1)", "Hiring"))
        group = seed_group(session, org, name="@team")
        seed_run(session, org, group, date(2026, 11, 2), [Seeded(uniform(4), "=HYPERLINK(1)")] * 5)
        [row] = _rows(export_csv(session=session, workspace_id=org.workspace_id))
    assert row["group"] == "'@team"
    assert row["top_focus"] == "'=HYPERLINK(1)"


def test_each_row_has_its_margins_and_flags_with_their_evidence(engine: Engine) -> None:
    scores = [4, 4, 4, 4, 4, 4, 5, 5, 5, 3]
    steady = [Seeded(uniform(s), "Hiring") for s in scores]
    falling = [
        Seeded({**uniform(s), "stability": 2 if i < 8 else 3}, "Hiring")
        for i, s in enumerate(scores)
    ]
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        for week in range(4):
            seed_run(session, org, group, date(2026, 11, 2 + 7 * week), steady)
        seed_run(session, org, group, date(2026, 11, 30), falling)
        rows = _rows(export_csv(session=session, workspace_id=org.workspace_id))
    # Mean 4.2, s² = 3.6 / 9 = 0.4: ± t(.975, 9) × √0.4 / √10 = 2.2622 × 0.2 = 0.4524.
    assert rows[0]["reinforcement_mean"] == "4.2000"
    assert rows[0]["reinforcement_mean_pm"] == "0.4524"
    assert rows[0]["coherence_index_pm"] != ""
    assert "level_drop" not in rows[0]["flags"]
    # Four identical pulses before: stability's fall from 4.2 to 2.2 is beyond any noise.
    assert (
        "level_drop stability: Stability fell: leaders rate it 2.2 / 5 over this pulse, down "
        "from 4.2. (p < .001, the mean over this pulse (10 answers) against the 4 pulses before "
        "(40 answers), which moved by ±0.00 from pulse to pulse"
    ) in rows[-1]["flags"]
