"""The signal engine's rules on small worked examples with hand-computed answers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pytest

from pulses.flags import Flag, FlagThresholds, p_text
from pulses.samples import LeaderAnswer, RunSample
from pulses.signals import stats
from pulses.signals.engine import compare_layers, evaluate

EVEN = {"A": 0.5, "B": 0.5}
TILTED = {"A": 0.2, "B": 0.8}
NAMES = {"A": "Enterprise expansion", "B": "Billing revamp"}


def run(
    index: int,
    attention: Sequence[Mapping[str, float]] = (),
    scores: Sequence[int] = (),
    declared: Mapping[str, float] = EVEN,
    version: int = 1,
) -> RunSample:
    size = max(len(attention), len(scores))
    answers = tuple(
        LeaderAnswer(
            scores={"stability": scores[i]} if i < len(scores) else {},
            attention=attention[i] if i < len(attention) else {},
        )
        for i in range(size)
    )
    return RunSample(
        run_id=index,
        day=date(2026, 1, 5) + timedelta(weeks=index),
        invited=size,
        answers=answers,
        declared=declared,
        intent_version=version,
    )


def kinds(found: Sequence[Flag]) -> list[str]:
    return sorted(flag.kind for flag in found)


def test_run_figures_are_compared_with_their_run_to_run_noise_pooled_over_dimensions() -> None:
    # Dimension 1: earlier runs 4.0, 4.2, 3.8 (squares 0.08), recent 3.0, 3.2, 2.8 (0.08);
    # dimension 2: earlier 4, 4, 4 and recent 4, 4, 4 (0). Pooled variance 0.16 / 8 = 0.02;
    # dimension 1: t = −1 / √(0.02 × (1/3 + 1/3)) = −8.660 on 8 df, one-sided p = 1.2e-5.
    fell = np.array([4.0, 4.2, 3.8]), np.array([3.0, 3.2, 2.8])
    flat = np.array([4.0, 4, 4]), np.array([4.0, 4, 4])
    p_fell, p_flat = stats.run_means_fell([fell, flat])
    assert p_fell == pytest.approx(1.23e-5, rel=0.01)
    assert p_flat == pytest.approx(0.5)


def test_single_choices_against_a_declared_share_use_the_exact_binomial_test() -> None:
    # 2 of 10 on a priority declared at 50%: p = 2 × (1 + 10 + 45) / 1024 = 0.109375
    shares = np.array([1.0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert stats.share_differs_from(shares, 0.5, 0.0, 0) == pytest.approx(0.109375)
    # 10 of 10: p = 2 / 1024
    assert stats.share_differs_from(np.ones(10), 0.5, 0.0, 0) == pytest.approx(2 / 1024)


def test_p_values_are_said_in_words() -> None:
    assert [p_text(p) for p in (0.0004, 0.004, 0.034)] == ["p < .001", "p < .01", "p = .03"]


def test_attention_moving_away_from_the_declared_split_is_drift_with_its_evidence() -> None:
    steady = [run(i, [EVEN] * 6) for i in range(3)]
    current = run(3, [TILTED] * 6)
    # Every leader moved from 50/50 to 20/80: no spread within either side, so p = 0.
    signals = evaluate(current, list(reversed(steady)), priority_names=NAMES)
    drift = {f.kind: f for f in signals.flags if f.kind.startswith("drift")}
    assert "50% → 20% of leaders' attention (-30 pts)" in drift["drift_loss"].message
    assert "Billing revamp" in drift["drift_gain"].message
    assert drift["drift_gain"].evidence == (
        "p < .001, 6 answers against 18 over the previous 3 pulses, corrected for 2 priorities"
    )
    assert not any(f.kind == "adoption" for f in signals.flags)


def test_a_stable_split_raises_nothing() -> None:
    steady = [run(i, [EVEN, {"A": 0.6, "B": 0.4}, {"A": 0.4, "B": 0.6}]) for i in range(4)]
    signals = evaluate(steady[-1], list(reversed(steady[:-1])))
    assert signals.flags == ()


def test_moving_towards_a_newly_declared_intent_is_adoption_not_drift() -> None:
    before = [run(i, [EVEN] * 6) for i in range(3)]
    current = run(3, [TILTED] * 6, declared=TILTED, version=2)
    signals = evaluate(current, list(reversed(before)), priority_names=NAMES)
    assert kinds(signals.flags) == ["adoption"]
    (adoption,) = signals.flags
    # B: 50% → 80%, exactly the declared change, so 100% of the way.
    assert "*Billing revamp* 50% → 80% (now declared 80%), 100% of the way" in adoption.message
    assert adoption.numbers["progress"] == pytest.approx(1.0)


def test_moving_against_a_newly_declared_intent_is_still_drift() -> None:
    before = [run(i, [EVEN] * 6) for i in range(3)]
    current = run(3, [{"A": 0.8, "B": 0.2}] * 6, declared=TILTED, version=2)
    signals = evaluate(current, list(reversed(before)), priority_names=NAMES)
    assert {"adoption", "drift_gain", "drift_loss"} <= set(kinds(signals.flags))
    adoption = next(f for f in signals.flags if f.kind == "adoption")
    assert "0% of the way" in adoption.message


def test_single_choices_far_from_the_declared_split_are_an_intent_gap() -> None:
    all_a = run(0, [{"A": 1.0}] * 10)
    signals = evaluate(all_a, [])
    (gap,) = [f for f in signals.flags if f.kind == "intent_gap"]
    # 10 of 10 on A declared at 50%: exact binomial p = 2 / 1024 < 0.008 / 2.
    assert gap.numbers["p"] == pytest.approx(2 / 1024)
    assert gap.evidence == "p < .01, 10 answers, corrected for 2 declared priorities"
    eight = run(0, [{"A": 1.0}] * 8 + [{"B": 1.0}] * 2)
    # 8 of 10: p = 2 × 56 / 1024 = 0.109, within the noise.
    assert not [f for f in evaluate(eight, []).flags if f.kind == "intent_gap"]


def test_a_falling_dimension_is_flagged_against_the_runs_before() -> None:
    # Most recent first: the last 3 pulses' means 3.0, 3.2, 2.8 against 4.0, 4.2, 3.8 before.
    current = run(5, scores=[3, 3, 3, 3, 3])
    history = [
        run(4, scores=[3, 3, 3, 3, 4]),
        run(3, scores=[3, 3, 3, 3, 2]),
        run(2, scores=[4, 4, 4, 4, 4]),
        run(1, scores=[4, 4, 4, 4, 5]),
        run(0, scores=[4, 4, 4, 4, 3]),
    ]
    # Window: squares 0.08 + 0.08 on 4 df, variance 0.04 (±0.20 from pulse to pulse);
    # t = −1 / √(0.04 × (1/3 + 1/3)) = −6.124 on 4 df, one-sided p = 0.0018, below its share
    # 0.9 × 0.007 = 0.0063. This pulse alone (3.0 against the five before, mean 3.6, squares
    # 1.36 on 4 df) gives t = −0.6 / √(0.34 × 1.2) = −0.94: within the noise.
    signals = evaluate(current, history)
    (fall,) = [f for f in signals.flags if f.kind == "level_drop"]
    assert fall.numbers["p"] == pytest.approx(0.0018, abs=1e-4)
    assert fall.numbers["mean"] == pytest.approx(3.0)
    assert fall.numbers["previous_mean"] == pytest.approx(4.0)
    assert fall.severity == "medium"
    assert fall.evidence == (
        "p < .01, the mean over the last 3 pulses (15 answers) against the 3 pulses before "
        "(15 answers), which moved by ±0.20 from pulse to pulse, corrected for 1 dimensions "
        "and 2 comparisons"
    )
    assert not [f for f in signals.flags if f.kind == "fragmented"]
    # A stricter budget (the window's p must be below 0.9 × 0.0015) keeps it quiet.
    strict = evaluate(current, history, FlagThresholds(rating_false_alarm=0.0015))
    assert not [f for f in strict.flags if f.kind == "level_drop"]


def test_answers_spreading_apart_are_flagged_as_fragmented() -> None:
    # Every pulse's mean is 3. Variances before: 0.5, 0.5, 1.0; the last 3 pulses: 4, 4, 4.
    wide = [1, 1, 3, 5, 5]
    current = run(5, scores=wide)
    history = [
        run(4, scores=wide),
        run(3, scores=wide),
        run(2, scores=[2, 3, 3, 3, 4]),
        run(1, scores=[2, 3, 3, 3, 4]),
        run(0, scores=[2, 2, 3, 4, 4]),
    ]
    # Figures s^(2/3): 0.794, 0.794, 1.0 before (squares 0.0284), 1.587 × 3 now (0) on 4 df;
    # t = (1.587 − 0.862) / √(0.0284 / 4 × 2/3) = 10.5, one-sided p ≈ 2e-4.
    before = np.array([0.5, 0.5, 1.0]) ** (1 / 3)
    t = (4 ** (1 / 3) - before.mean()) / math.sqrt(np.sum((before - before.mean()) ** 2) / 6)
    assert t == pytest.approx(10.54, abs=0.01)
    signals = evaluate(current, history)
    assert not [f for f in signals.flags if f.kind == "level_drop"]
    (spread,) = [f for f in signals.flags if f.kind == "fragmented"]
    # rwg = 1 − min(s², 2) / 2: 0.00 now, 1 − (2/3) / 2 = 0.67 before.
    assert "agreement (rwg) 0.00 over the last 3 pulses, down from 0.67" in spread.message
    assert spread.numbers["previous_rwg"] == pytest.approx(2 / 3)
    assert spread.evidence.startswith("p < .001, the spread of answers over the last 3 pulses")


def test_with_no_earlier_pulse_the_engine_says_it_cannot_tell() -> None:
    signals = evaluate(run(0, [EVEN] * 6, scores=[4] * 6), [])
    assert signals.undecided == (
        "drift: too few earlier pulses to tell",
        "level: no earlier pulse to compare",
        "agreement: no earlier pulse to compare",
    )
    assert signals.trend is None


def test_the_index_interval_and_a_flat_trend() -> None:
    scores = [4, 4, 4, 4, 5, 5, 3, 3]
    first, second = run(0, scores=scores), run(1, scores=scores)
    signals = evaluate(second, [first])
    assert signals.index is not None
    # level (4 − 1) / 4 = 0.75, s² = 4/7, rwg = 1 − 2/7; index = 75 × 5/7 = 53.57
    assert signals.index.estimate == pytest.approx(75 * 5 / 7)
    assert signals.index.low <= signals.index.estimate <= signals.index.high
    assert signals.trend is not None
    assert signals.trend.change == 0
    assert not signals.trend.arrow
    # The mean's 95% interval: 4.0 ± t(.975, 7) × √(4/7) / √8 = 4.0 ± 0.632
    assert signals.dimensions["stability"].margin == pytest.approx(0.632, abs=1e-3)


def test_layers_alike_raise_nothing_and_layers_apart_are_flagged() -> None:
    a = [run(0, [EVEN] * 6, scores=[4, 4, 5, 3, 4, 4])]
    b = [run(0, [EVEN] * 6, scores=[4, 5, 4, 3, 4, 4])]
    assert compare_layers("Executive", a, "Directors", b) == []
    apart = [run(0, [{"A": 1.0}] * 6, scores=[2, 2, 1, 2, 2, 2])]
    found = compare_layers("Executive", a, "Directors", apart, priority_names=NAMES)
    assert [f.kind for f in found] == ["layer_divergence", "layer_divergence"]
    assert any("Enterprise expansion" in f.message for f in found)


def test_a_unanimous_dimension_still_has_an_interval_of_one_answer_a_point_away() -> None:
    import numpy as np

    from pulses.signals.stats import mean_margin

    # Five leaders all answer 4: spread floored at 1/sqrt(5); t(4, .975) = 2.7764 → 2.7764 / 5.
    assert mean_margin(np.array([4.0] * 5)) == pytest.approx(2.7764451 / 5, rel=1e-6)
    # Two 4s and three 5s: the sample sd (0.5477) is above the floor (0.4472) and is used.
    assert mean_margin(np.array([4.0, 4.0, 5.0, 5.0, 5.0])) == pytest.approx(
        2.7764451 * 0.5477226 / math.sqrt(5), rel=1e-6
    )
