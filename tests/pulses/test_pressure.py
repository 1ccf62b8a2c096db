"""Coherence under pressure: the gap, its interval and verdict, and a run's pressure figures,
pinned by hand-computed examples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import variance

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.pressure_validity import indices
from pulses.metrics import RunInput, compute_run_metrics
from pulses.pressure import run_pressure
from pulses.samples import LeaderAnswer, RunSample
from pulses.signals.pressure import CONFIDENCE, PressurePoint, pressure_gap, split, welch_gap
from pulses.signals.pressure import variance as exact_variance

MONDAY = date(2026, 1, 5)


def _points(pressures: Sequence[float], indices_: Sequence[float]) -> list[PressurePoint]:
    return [
        PressurePoint(day=MONDAY + timedelta(weeks=i), pressure=p, coherence_index=c)
        for i, (p, c) in enumerate(zip(pressures, indices_, strict=True))
    ]


CALM = [2.0, 2.2, 2.4, 2.0]
PRESSURED = [4.0, 4.2, 3.8, 4.0]


def test_the_split_is_where_pressure_parts_most() -> None:
    # Sorted levels 2.0 2.0 2.2 2.4 | 3.8 4.0 4.0 4.2: within-side squares .11 + .08 = .19 at
    # the cut after four runs; any other cut puts 2.4 or 3.8 on the far side (≥ 1.6).
    points = _points(CALM + PRESSURED, [50, 54, 46, 50, 30, 34, 26, 30])
    pressured, calm = split(points)
    assert sorted(p.pressure for p in pressured) == [3.8, 4.0, 4.0, 4.2]
    assert sorted(p.pressure for p in calm) == [2.0, 2.0, 2.2, 2.4]


def test_a_gap_that_breaks_under_pressure() -> None:
    # Calm indices 50 54 46 50: mean 50, variance 32/3; pressured 30 34 26 30: mean 30, 32/3.
    # Gap −20; se = √(8/3 + 8/3) = 2.3094; Welch df = (16/3)² / (2 × (8/3)² / 3) = 6;
    # t(.95, 6) = 1.94318, margin 4.4876: 90% interval −24.488 to −15.512.
    # One-sided p = P(t6 < −8.660) ≈ 6.6e-5 < .008: breaks under pressure.
    gap = pressure_gap(_points(CALM + PRESSURED, [50, 54, 46, 50, 30, 34, 26, 30]))
    assert gap.verdict == "breaks"
    assert gap.index is not None
    assert gap.index.low is not None
    assert gap.index.high is not None
    assert gap.index.estimate == pytest.approx(-20)
    assert gap.index.low == pytest.approx(-24.4876, abs=1e-3)
    assert gap.index.high == pytest.approx(-15.5124, abs=1e-3)
    assert gap.index.p_fall is not None
    assert gap.index.p_fall < 1e-4
    assert (gap.pressured_runs, gap.calm_runs) == (4, 4)
    assert gap.pressured_level == pytest.approx(4.0)
    assert gap.calm_level == pytest.approx(2.15)


def test_a_gap_whose_interval_rules_out_a_meaningful_fall_holds() -> None:
    # Calm 50 54 46 50 (variance 32/3), pressured 52 48 50 50 (variance 8/3): gap 0,
    # se = √(8/3 + 2/3) = 1.8257, df = (10/3)² / ((8/3)²/3 + (2/3)²/3) = 4.4118,
    # t(.95, 4.4118) = 2.0760: interval ±3.790, above −10: holds under pressure.
    gap = pressure_gap(_points(CALM + PRESSURED, [50, 54, 46, 50, 52, 48, 50, 50]))
    assert gap.verdict == "holds"
    assert gap.index is not None
    assert gap.index.low is not None
    assert gap.index.estimate == pytest.approx(0)
    assert gap.index.low == pytest.approx(-3.790, abs=1e-3)


def test_welch_degrees_of_freedom_and_margin_by_hand() -> None:
    gap = welch_gap([30, 34, 26, 30], [50, 54, 46, 50])
    se = math.sqrt(16 / 3)
    assert gap.high is not None
    assert gap.high - gap.estimate == pytest.approx(1.943180 * se, rel=1e-5)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150),
        min_size=2,
        max_size=40,
    )
)
def test_the_gaps_variance_is_the_statistics_modules_to_the_last_bit(values: list[float]) -> None:
    assert exact_variance(values) == variance(values)


def test_the_gaps_variance_of_a_leaders_indices_by_hand() -> None:
    # mean 50.25; squared deviations 0.0625 + 5.0625 + 10.5625 + 1.5625 = 17.25; / 3
    assert exact_variance([50.0, 52.5, 47.0, 51.5]) == 5.75
    assert math.isnan(exact_variance([1.0, math.nan]))
    with pytest.raises(ValueError, match="at least two"):
        exact_variance([1.0])


def test_welch_gap_is_scipys_student_t_distribution_to_the_last_bit() -> None:
    from scipy import stats

    rng = np.random.default_rng(11)
    for _ in range(200):
        high = [float(v) for v in rng.normal(40, rng.uniform(0.5, 15), rng.integers(2, 9))]
        low = [float(v) for v in rng.normal(50, rng.uniform(0.5, 15), rng.integers(2, 9))]
        gap = welch_gap(high, low)
        a, b = variance(high) / len(high), variance(low) / len(low)
        se = math.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (len(high) - 1) + b**2 / (len(low) - 1))
        margin = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * se
        assert (gap.low, gap.high) == (gap.estimate - margin, gap.estimate + margin)
        assert gap.p_fall == float(stats.t.cdf(gap.estimate / se, df))


def test_too_few_runs_say_how_many_are_needed() -> None:
    gap = pressure_gap(_points([2, 4, 2, 4, 3], [50, 30, 50, 30, 40]))
    assert (gap.verdict, gap.runs, gap.needed, gap.shown) == ("too_few", 5, 8, False)
    assert gap.index is None


def test_pressure_that_barely_varies_gives_no_verdict() -> None:
    gap = pressure_gap(_points([3.0, 3.1, 3.0, 3.2, 3.1, 3.0, 3.2, 3.1], [50] * 4 + [30] * 4))
    assert gap.verdict == "flat"


def test_only_the_last_twelve_runs_count() -> None:
    old = _points([2, 4] * 5, [50, 10] * 5)
    recent = [
        PressurePoint(day=MONDAY + timedelta(weeks=10 + i), pressure=p, coherence_index=c)
        for i, (p, c) in enumerate(
            zip(CALM + PRESSURED * 2, [50, 54, 46, 50] + [52, 48, 50, 50] * 2, strict=True)
        )
    ]
    gap = pressure_gap(old + recent)
    assert gap.runs == 12
    assert gap.verdict == "holds"


def _answer(pressure: int | None, score: int, share: float = 1.0) -> LeaderAnswer:
    attention = {"1": share, "other": 1 - share} if share < 1 else {"1": 1.0}
    return LeaderAnswer(scores={"signal": score}, attention=attention, pressure=pressure)


def _sample(answers: list[LeaderAnswer]) -> RunSample:
    return RunSample(run_id=1, day=MONDAY, invited=len(answers), answers=tuple(answers))


def test_a_runs_pressure_level_and_agreement() -> None:
    # Pressure answers 2 3 4 4 5: mean 3.6, sample variance (2.56+.36+.16+.16+1.96)/4 = 1.3,
    # rwg = 1 − 1.3/2 = .35.
    sample = _sample([_answer(p, 4) for p in (2, 3, 4, 4, 5)])
    found = run_pressure(sample, threshold=5)
    assert found is not None
    assert found.n == 5
    assert found.level == pytest.approx(3.6)
    assert found.agreement == pytest.approx(0.35)
    assert found.split is None  # 3 high against 2: both below the threshold of 5


def test_below_the_threshold_nothing_about_pressure() -> None:
    sample = _sample([_answer(p, 4) for p in (2, 3, 4, 5)])
    assert run_pressure(sample, threshold=5) is None
    assert run_pressure(_sample([_answer(None, 4)] * 6), threshold=5) is None


def test_high_pressure_leaders_against_the_rest_when_both_reach_the_threshold() -> None:
    # Three high (4, 5, 5) scoring 2 4 3 with 50% on priority 1: signal variance 1, rwg .5,
    # alignment .5; three others (1, 2, 3) all scoring 4 with all on priority 1: rwg 1, 1.0.
    high = [_answer(4, 2, 0.5), _answer(5, 4, 0.5), _answer(5, 3, 0.5)]
    rest = [_answer(1, 4), _answer(2, 4), _answer(3, 4)]
    found = run_pressure(_sample(high + rest), threshold=3)
    assert found is not None
    assert found.split is not None
    assert (found.split.high.n, found.split.rest.n) == (3, 3)
    assert found.split.high.agreement == pytest.approx(0.5)
    assert found.split.high.focus_alignment == pytest.approx(0.5)
    assert found.split.rest.agreement == pytest.approx(1.0)
    assert found.split.rest.focus_alignment == pytest.approx(1.0)
    assert run_pressure(_sample(high + rest[:2]), threshold=3).split is None  # type: ignore[union-attr]


def test_the_benchmarks_vectorised_index_is_the_products() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(1, 6, (20, 8, 5)).astype(float)
    answered = rng.random((20, 8)) < 0.85
    fast = indices(scores, answered)
    for run in range(20):
        who = np.flatnonzero(answered[run])
        if len(who) < 2:
            assert math.isnan(fast[run])
            continue
        counts = {}
        for j in range(5):
            values, n = np.unique(scores[run, who, j], return_counts=True)
            counts[f"d{j}"] = {int(v): int(c) for v, c in zip(values, n, strict=True)}
        metrics = compute_run_metrics(
            RunInput(
                n_invited=8,
                item_counts=counts,
                focus_counts={},
                priority_weights={},
                previous_focus_counts=(),
                n_responded=len(who),
            )
        )
        assert fast[run] == pytest.approx(metrics.coherence_index)
