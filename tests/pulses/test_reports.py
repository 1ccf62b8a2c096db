"""Run reports from the database: the numbers, anonymity, flags and a flat query count."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.views.digest import blocks_as_dicts, digest_blocks, org_digest_blocks, status_blocks
from pulses.flags import FlagThresholds
from pulses.focus import OTHER
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics
from pulses.organisation import org_digest
from pulses.privacy import Suppressed, reportable
from pulses.report_json import report_json
from pulses.reports import group_digest, group_history, group_status, run_report
from storage.db import session_scope
from storage.models import Question, RunFigures
from tests.pulses.seed import DIMENSIONS, Org, Seeded, seed_group, seed_org, seed_run, uniform
from tests.pulses.seed import weekly as weeks

START = date(2026, 1, 5)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
PRIORITIES = ("Enterprise expansion", "Billing revamp", "Hiring")
STAT_KEYS = (
    "n_invited",
    "n_responded",
    "response_rate",
    "items",
    "rwg_j",
    "level",
    "agreement",
    "coherence_index",
    "focus_distribution",
    "focus_alignment",
    "intent_gap",
    "priority_drift",
)


def random_answers(rng: random.Random, n: int, focus: Sequence[str] = PRIORITIES) -> list[Seeded]:
    return [
        Seeded(
            scores={key: rng.randint(1, 5) for key in DIMENSIONS},
            focus=rng.choice([*focus, OTHER]),
            friction=rng.choice([None, f"friction {rng.randint(1, 999)}"]),
        )
        for _ in range(n)
    ]


def raw_input(org: Org, answers: Sequence[Seeded], invited: int, previous: Any) -> RunInput:
    """The aggregates of one run, computed in the test from the raw answers."""
    focus = Counter(org.priority_key(a.focus) for a in answers if a.focus is not None)
    declared = {str(p.id): p.weight for p in org.priorities.values()}
    return RunInput(
        n_invited=invited,
        item_counts={key: Counter(a.scores[key] for a in answers) for key in DIMENSIONS},
        focus_counts={key: 0 for key in declared} | dict(focus),
        priority_weights=declared,
        previous_focus_counts=previous,
        n_responded=len(answers),
    )


def test_report_json_equals_metrics_computed_from_the_raw_scores(engine: Engine) -> None:
    rng = random.Random(7)
    seeded: list[tuple[list[Seeded], int]] = []
    with session_scope(engine) as session:
        org = seed_org(session, priorities=PRIORITIES, weights=(0.5, 0.3, 0.2))
        group = seed_group(session, org)
        for day in weeks(START, 6):
            answers = random_answers(rng, rng.randint(5, 9))
            invited = len(answers) + rng.randint(0, 3)
            seed_run(session, org, group, day, answers, invited=invited)
            seeded.append((answers, invited))
        group_id = group.id
    assert group_id is not None

    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id, run="latest")
    assert report is not None
    got = json.loads(json.dumps(report_json(report)))

    focus_history = [
        {org.priority_key(k): v for k, v in Counter(a.focus for a in answers if a.focus).items()}
        for answers, _ in seeded
    ]
    declared = {str(p.id): 0 for p in org.priorities.values()}
    previous = [declared | counts for counts in reversed(focus_history[:-1])]
    answers, invited = seeded[-1]
    expected = reportable(compute_run_metrics(raw_input(org, answers, invited, previous)), 5)
    want = json.loads(json.dumps(expected.to_dict()))  # type: ignore[union-attr]
    for key in STAT_KEYS:
        assert got[key] == want[key], key
    assert got["run_date"] == weeks(START, 6)[-1].isoformat()
    assert got["suppressed"] is False
    assert isinstance(got["flags"], list)

    # And by hand for one item: mean, sample sd, rwg = 1 − s²/2 and AD_M.
    scores = [a.scores["stability"] for a in answers]
    mean = statistics.fmean(scores)
    variance = statistics.variance(scores)
    item = got["items"]["stability"]
    assert item["n"] == len(scores)
    assert item["mean"] == pytest.approx(mean)
    assert item["sd"] == pytest.approx(variance**0.5)
    assert item["rwg"] == pytest.approx(1 - min(variance, 2) / 2)
    assert item["ad_m"] == pytest.approx(statistics.fmean(abs(s - mean) for s in scores))
    assert got["response_rate"] == pytest.approx(len(answers) / invited)
    # Friction comments come without names or user ids.
    assert all("U0" not in comment for comment in got["friction_comments"])


def test_report_of_a_date_and_of_a_missing_date(engine: Engine) -> None:
    rng = random.Random(3)
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        for day in weeks(START, 3):
            seed_run(session, org, group, day, random_answers(rng, 6))
        group_id = group.id
    assert group_id is not None
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id, run=weeks(START, 3)[1])
        missing = run_report(session=session, group_id=group_id, run=date(2020, 1, 1))
    assert report is not None
    assert report.occurrence_day == weeks(START, 3)[1]
    assert missing is None


def _seed_single_run(engine: Engine, respondents: int) -> tuple[int, int]:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, layer="Executive")
        other = seed_group(session, org, channel_id="C0DIRS", name="directors", layer="Directors")
        # Scores chosen so that the statistics print as recognisable numbers.
        answers = [
            Seeded(
                scores=uniform(4 if i % 2 else 2),
                focus="Billing revamp",
                friction="the tracker is slow",
            )
            for i in range(respondents)
        ]
        seed_run(session, org, group, START, answers, invited=8)
        seed_run(session, org, other, START, [Seeded(uniform(3), "Hiring")] * 7, invited=7)
        assert group.id is not None
        return group.id, org.workspace_id


def _all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


@pytest.mark.parametrize("respondents", [4, 5])
def test_a_run_below_the_threshold_shows_no_statistic_anywhere(
    engine: Engine, respondents: int
) -> None:
    group_id, workspace_id = _seed_single_run(engine, respondents)
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id)
        digest = group_digest(session=session, group_id=group_id, now=NOW)
        status = group_status(session=session, group_id=group_id, now=NOW)
        org = org_digest(session=session, workspace_id=workspace_id)
    assert report is not None
    data = report_json(report)
    digest_text = _all_text(blocks_as_dicts(digest_blocks(digest)[1]))
    status_text = _all_text(blocks_as_dicts(status_blocks(status)[1]))
    exec_line = next(c for c in org.groups if c.group.group_id == group_id)
    org_text = _all_text(blocks_as_dicts(org_digest_blocks(org)[1]))
    exec_row = next(line for line in org_text.split("\\n") if "exec-team" in line)

    if respondents == 4:
        assert data == {
            "run_id": report.run_id,
            "run_date": START.isoformat(),
            "wording_changed": [],
            "suppressed": True,
            "threshold": 5,
            "message": report.metrics.message,  # type: ignore[union-attr]
        }
        for text in (digest_text, status_text, exec_row):
            assert "Fewer than 5 leaders answered" in text
            for leak in ("index", "agreement", "level", "of leaders", "tracker", "/ 5", "%"):
                assert leak not in text.replace("Coherence index and", ""), (leak, text)
        assert exec_line.latest is not None
        assert exec_line.latest.shown is None
        # The org total of a layer with one hidden group would expose it: the layer is hidden.
        exec_layer = next(layer for layer in org.layers if layer.name == "Executive")
        assert not hasattr(exec_layer.metrics, "items")
    else:
        # Five answers, mean (3 × 2 + 2 × 4) / 5 = 2.8 on every item.
        assert data["suppressed"] is False
        assert data["items"]["signal"]["mean"] == pytest.approx(2.8)
        assert "2.8 / 5" in digest_text
        assert "tracker is slow" in digest_text
        assert "Coherence index" in status_text
        assert "index" in exec_row


def test_a_layer_pools_only_the_groups_shown_on_their_own(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        sizes = {"C1": 4, "C2": 6, "C3": 9, "C4": 12}
        for channel, size in sizes.items():
            group = seed_group(
                session, org, channel_id=channel, name=f"team-{channel}", layer="Directors"
            )
            seed_run(session, org, group, START, [Seeded(uniform(4), "Hiring")] * size)
        workspace_id = org.workspace_id
    with session_scope(engine) as session:
        digest = org_digest(session=session, workspace_id=workspace_id)
    shown = {c.group.channel_id: c.latest.shown is not None for c in digest.groups if c.latest}
    # Only C1 is below 5; C2 is shown in its own digest anyway, so hiding it here protects nothing.
    assert shown == {"C1": False, "C2": True, "C3": True, "C4": True}
    (layer,) = digest.layers
    assert (layer.groups, layer.included, layer.hidden) == (4, 3, 1)
    assert isinstance(layer.metrics, RunMetrics)
    assert layer.metrics.n_responded == 6 + 9 + 12
    text = _all_text(blocks_as_dicts(org_digest_blocks(digest)[1]))
    assert "(3 of 4 groups; 1 hidden: too few answers)" in text


def _hidden_beside_shown(engine: Engine) -> tuple[int, int]:
    """Layer Directors: a-team, 2 leaders (hidden), all on Hiring, scoring 1 and 2; b-team, 10
    leaders (shown), all on Billing revamp, scoring 4. Returns b-team's and the workspace's id."""
    with session_scope(engine) as session:
        org = seed_org(session)
        a = seed_group(session, org, channel_id="CA", name="a-team", layer="Directors")
        b = seed_group(session, org, channel_id="CB", name="b-team", layer="Directors")
        hidden = [Seeded(uniform(1), "Hiring"), Seeded(uniform(2), "Hiring")]
        seed_run(session, org, a, START, hidden)
        seed_run(session, org, b, START, [Seeded(uniform(4), "Billing revamp")] * 10)
        assert b.id is not None
        return b.id, org.workspace_id


def test_a_hidden_group_cannot_be_subtracted_out_of_its_layer(engine: Engine) -> None:
    b_id, workspace_id = _hidden_beside_shown(engine)
    with session_scope(engine) as session:
        org = org_digest(session=session, workspace_id=workspace_id)
        b_digest = group_digest(session=session, group_id=b_id, now=NOW)
    b = b_digest.latest.shown if b_digest.latest else None
    assert b is not None  # b-team's figures are public in its own digest
    (layer,) = org.layers
    assert isinstance(layer.metrics, RunMetrics)
    # Layer minus b-team must leave nothing: every pooled figure is b-team's own.
    assert layer.metrics.n_responded == b.n_responded == 10
    assert layer.metrics.n_invited == b.n_invited
    assert layer.metrics.level == pytest.approx(b.level)
    for key, stats in layer.metrics.items.items():
        assert (stats.n, stats.mean, stats.sd) == (
            b.items[key].n,
            b.items[key].mean,
            b.items[key].sd,
        )
    # Focus shares and alignment say nothing of a-team's two leaders on Hiring.
    assert layer.metrics.focus_distribution == b.focus_distribution
    assert layer.metrics.focus_alignment == b.focus_alignment == 1.0
    # b-team is not hidden in the org digest either, since it is public elsewhere.
    assert [c.latest.shown is not None for c in org.groups if c.latest] == [False, True]
    text = _all_text(blocks_as_dicts(org_digest_blocks(org)[1]))
    assert "(1 of 2 groups; 1 hidden: too few answers)" in text


def test_a_layer_of_hidden_groups_shows_no_figures(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        for channel in ("CA", "CB"):
            group = seed_group(session, org, channel_id=channel, name=channel, layer="Execs")
            seed_run(session, org, group, START, [Seeded(uniform(4), "Hiring")] * 3)
        workspace_id = org.workspace_id
    with session_scope(engine) as session:
        digest = org_digest(session=session, workspace_id=workspace_id)
    (layer,) = digest.layers
    # Six answers together would pass the threshold of 5, but each group alone does not.
    assert layer.metrics == Suppressed(threshold=5)
    assert (layer.groups, layer.included) == (2, 0)
    row = next(
        line
        for line in _all_text(blocks_as_dicts(org_digest_blocks(digest)[1])).split("\\n")
        if line.startswith("*Execs*")
    )
    assert "0 of 2 groups; 2 hidden: too few answers" in row
    for leak in ("index", "level", "agreement", "%"):
        assert leak not in row, row


def test_a_layer_drops_an_item_its_groups_own_report_drops(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        a = seed_group(session, org, channel_id="CA", name="a-team", layer="Directors")
        b = seed_group(session, org, channel_id="CB", name="b-team", layer="Directors")
        # Only 3 of a-team's 10 leaders answered "stability" (below 5): a-team's report drops it.
        no_stability = {key: 3 for key in DIMENSIONS if key != "stability"}
        answers = [Seeded(uniform(1), "Hiring")] * 3 + [Seeded(no_stability, "Hiring")] * 7
        seed_run(session, org, a, START, answers)
        seed_run(session, org, b, START, [Seeded(uniform(4), "Hiring")] * 10)
        assert a.id is not None
        a_id, workspace_id = a.id, org.workspace_id
    with session_scope(engine) as session:
        a_report = run_report(session=session, group_id=a_id)
        digest = org_digest(session=session, workspace_id=workspace_id)
    assert a_report is not None
    assert a_report.shown is not None
    assert "stability" not in a_report.shown.items
    (layer,) = digest.layers
    assert isinstance(layer.metrics, RunMetrics)
    # Pooled, the item has b-team's ten answers only: a-team's three cannot be subtracted out.
    assert layer.metrics.items["stability"].n == 10
    assert layer.metrics.items["stability"].mean == pytest.approx(4.0)


def test_the_org_digest_uses_the_threshold_the_run_was_collected_under(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, channel_id="CA", name="a-team", layer="Execs", threshold=7)
        answers = [Seeded(uniform(2), "Hiring")] * 5 + [Seeded(uniform(5), "Hiring")]
        seed_run(session, org, group, START, answers)
        group.anonymity_threshold = 5  # lowered after the run: six answers stay hidden
        session.add(group)
        assert group.id is not None
        group_id, workspace_id = group.id, org.workspace_id
    with session_scope(engine) as session:
        own = run_report(session=session, group_id=group_id)
        digest = org_digest(session=session, workspace_id=workspace_id)
    assert own is not None
    assert own.shown is None
    (column,) = digest.groups
    assert column.latest is not None
    assert column.latest.shown is None
    assert column.latest.threshold == 7
    (layer,) = digest.layers
    assert layer.metrics == Suppressed(threshold=7)
    text = _all_text(blocks_as_dicts(org_digest_blocks(digest)[1]))
    assert "Fewer than 7 leaders answered" in text
    for leak in ("index", "level", "agreement", "focus alignment"):
        assert leak not in text, leak


def test_a_layer_is_held_to_the_strictest_threshold_its_groups_were_collected_under(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        a = seed_group(session, org, channel_id="CA", name="a-team", layer="Execs", threshold=7)
        b = seed_group(session, org, channel_id="CB", name="b-team", layer="Execs")
        # a-team: 8 leaders, 6 of them answered "signal": shown under 7, but without "signal".
        no_signal = {key: 4 for key in DIMENSIONS if key != "signal"}
        seed_run(
            session,
            org,
            a,
            START,
            [Seeded(uniform(1), "Hiring")] * 6 + [Seeded(no_signal, "Hiring")] * 2,
        )
        seed_run(session, org, b, START, [Seeded(uniform(4), "Hiring")] * 5)
        for group in (a, b):
            group.anonymity_threshold = 5
            session.add(group)
        workspace_id = org.workspace_id
    with session_scope(engine) as session:
        digest = org_digest(session=session, workspace_id=workspace_id)
    (layer,) = digest.layers
    assert isinstance(layer.metrics, RunMetrics)
    # a-team's six "signal" answers stay out, and b-team's five alone are fewer than 7.
    assert "signal" not in layer.metrics.items
    assert layer.metrics.n_responded == 13
    assert layer.included == 2


def _history(
    engine: Engine, weeks_of_answers: Sequence[Sequence[Seeded]]
) -> tuple[int, dict[str, str]]:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        for day, answers in zip(weeks(START, len(weeks_of_answers)), weeks_of_answers, strict=True):
            seed_run(session, org, group, day, answers)
        assert group.id is not None
        return group.id, {name: str(p.id) for name, p in org.priorities.items()}


def _steady(focus: Sequence[str]) -> list[Seeded]:
    # Ten leaders: scores 4,4,4,4,4,4,5,5,5,3 on every item (mean 4.2, rwg 0.8).
    scores = [4, 4, 4, 4, 4, 4, 5, 5, 5, 3]
    return [Seeded(uniform(s), f) for s, f in zip(scores, focus, strict=True)]


STABLE_FOCUS = ["Enterprise expansion"] * 5 + ["Billing revamp"] * 3 + ["Hiring"] * 2
SHIFTED_FOCUS = ["Billing revamp"] * 9 + ["Hiring"]


def test_a_focus_shift_is_flagged_naming_both_priorities_with_their_shares(
    engine: Engine,
) -> None:
    # Single choices carry little evidence: eight steady weeks (80 answers) are the baseline.
    group_id, _ = _history(engine, [_steady(STABLE_FOCUS)] * 8 + [_steady(SHIFTED_FOCUS)])
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id)
    assert report is not None
    drift = {flag.kind: flag for flag in report.flags if flag.kind.startswith("drift")}
    # Enterprise expansion 40 of 80 → 0 of 10 (Fisher's exact p = .0019), Billing revamp
    # 24 of 80 → 9 of 10 (p < .001); Bonferroni over 3 priorities asks p < .008 / 3.
    assert "Billing revamp" in drift["drift_gain"].message
    assert "30% → 90%" in drift["drift_gain"].message
    assert "Enterprise expansion" in drift["drift_loss"].message
    assert "50% → 0%" in drift["drift_loss"].message
    assert drift["drift_loss"].numbers["before"] == pytest.approx(0.5)
    assert drift["drift_loss"].evidence.startswith("p < .01, 10 answers against 80")
    assert "Hiring" not in " ".join(flag.message for flag in report.flags)


def test_a_falling_dimension_is_flagged_and_marked(engine: Engine) -> None:
    falling = [
        Seeded({**uniform(s), "stability": 2 if i < 8 else 3}, f)
        for i, (s, f) in enumerate(zip([4, 4, 4, 4, 4, 4, 5, 5, 5, 3], STABLE_FOCUS, strict=True))
    ]
    group_id, _ = _history(engine, [_steady(STABLE_FOCUS)] * 4 + [falling])
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id)
        digest = group_digest(session=session, group_id=group_id, now=NOW)
    assert report is not None
    kinds = {(flag.kind, flag.subject) for flag in report.flags}
    assert ("level_drop", "stability") in kinds
    assert report.falling == {"stability"}
    assert "falling" in _all_text(blocks_as_dicts(digest_blocks(digest)[1]))


def test_a_stable_team_gets_no_flags(engine: Engine) -> None:
    group_id, _ = _history(engine, [_steady(STABLE_FOCUS)] * 6)
    with session_scope(engine) as session:
        history = group_history(session=session, group_id=group_id)
    # Declared weights are equal and the focus is 50/30/20, an intent gap well under 0.25.
    assert [report.flags for report in history] == [()] * 6


def test_flag_thresholds_are_a_parameter(engine: Engine) -> None:
    group_id, _ = _history(engine, [_steady(STABLE_FOCUS)] * 2)
    strict = FlagThresholds(low_response_rate=1.01)
    with session_scope(engine) as session:
        report = run_report(session=session, group_id=group_id, thresholds=strict)
    assert report is not None
    assert [flag.kind for flag in report.flags] == ["low_response"]


def test_a_changed_wording_is_marked_on_the_run_that_changed(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        seed_run(session, org, group, START, _steady(STABLE_FOCUS))
        old = org.questions["stability"]
        new = Question(
            workspace_id=org.workspace_id,
            key="stability",
            kind="likert",
            text="Our priorities held steady.",
            version=2,
            position=old.position,
        )
        session.add(new)
        session.flush()
        asked = {**org.questions, "stability": new}
        seed_run(session, org, group, weeks(START, 2)[1], _steady(STABLE_FOCUS), questions=asked)
        group_id = group.id
    assert group_id is not None
    with session_scope(engine) as session:
        history = group_history(session=session, group_id=group_id)
    assert [r.wording_changed for r in history] == [(), ("stability",)]
    assert report_json(history[1])["wording_changed"] == ["stability"]


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _bulk_history(session: Session, org: Org, channel: str, runs: int) -> int:
    group = seed_group(session, org, channel_id=channel, name=channel.lower())
    rng = random.Random(runs)
    for day in weeks(date(2000, 1, 3), runs):
        seed_run(session, org, group, day, random_answers(rng, 5))
    assert group.id is not None
    return group.id


def test_the_digest_costs_the_same_queries_with_1000_runs_as_with_10(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        short = _bulk_history(session, org, "C0SHORT", 10)
        long = _bulk_history(session, org, "C0LONG", 1000)
    counts = {}
    for name, group_id in (("short", short), ("long", long)):
        with session_scope(engine) as session, counting_queries(engine) as statements:
            digest = group_digest(session=session, group_id=group_id, now=NOW)
        assert len(digest.history) == (10 if name == "short" else 12)
        counts[name] = len(statements)
    assert counts["short"] == counts["long"]
    # BEGIN, then group, runs, the runs' packed figures (their histograms, focus and answers
    # one by one, read once for the metrics and the engine), questions, invited, priorities
    # and friction comments, the declared changes of intent, the team's commitments and how
    # many were away in each run.
    assert counts["long"] == 11
    # Runs closed before figures were packed are tallied from their answers: one query more.
    with session_scope(engine) as session:
        session.execute(delete(RunFigures))
    with session_scope(engine) as session, counting_queries(engine) as statements:
        group_digest(session=session, group_id=long, now=NOW)
    assert len(statements) == 12
