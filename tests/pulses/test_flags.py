"""The digest's plain-language findings, from seeded pulse histories."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

from pulses.flags import Flag, FlagThresholds, compute_flags, layer_flags
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics

NAMES = {"A": "Enterprise expansion", "B": "Billing revamp", "C": "Hiring"}
WEIGHTS: dict[str, float | None] = {"A": 0.5, "B": 0.3, "C": 0.2}
STABLE_FOCUS = {"A": 5, "B": 3, "C": 2}
# mean 4.2, s² = (6 × 0.04 + 3 × 0.64 + 1.44) / 9 = 0.4, rwg = 0.8
STEADY = {4: 6, 5: 3, 3: 1}
STABLE_ITEMS = {
    "reinforcement": STEADY,
    "translation": STEADY,
    "stability": STEADY,
    "signal": STEADY,
    "decision_flow": STEADY,
}

Histograms = Mapping[str, Mapping[int, int]]


def week(
    focus: Mapping[str, int],
    previous_focus: Sequence[Mapping[str, int]],
    items: Histograms = STABLE_ITEMS,
    *,
    n_invited: int = 10,
    n_responded: int = 10,
) -> RunMetrics:
    return compute_run_metrics(
        RunInput(
            n_invited=n_invited,
            item_counts=items,
            focus_counts=focus,
            priority_weights=WEIGHTS,
            previous_focus_counts=previous_focus,
            n_responded=n_responded,
        )
    )


def history(weeks: Sequence[tuple[Mapping[str, int], Histograms]]) -> list[RunMetrics]:
    """Metrics of consecutive weeks (oldest first in, most recent first out)."""
    runs: list[RunMetrics] = []
    for index, (focus, items) in enumerate(weeks):
        earlier = [f for f, _ in reversed(weeks[:index])]
        runs.append(week(focus, earlier, items))
    return list(reversed(runs))


def seeded_answers(seed: int, shares: Mapping[str, int]) -> dict[str, int]:
    """Ten leaders' focus answers in a seeded random order, with exactly the given counts."""
    answers = [key for key, count in shares.items() for _ in range(count)]
    random.Random(seed).shuffle(answers)
    return dict(Counter(answers))


def kinds(flags: list[Flag]) -> list[str]:
    return [flag.kind for flag in flags]


def test_focus_shift_from_one_priority_to_another_is_flagged_with_both_shares() -> None:
    # previous four weeks pool A 28, B 5, C 7 of 40 → 70%, 12.5%, 17.5%
    # this week A 2, B 7, C 1 of 10 → 20%, 70%, 10%
    before = [{"A": 7, "B": 1, "C": 2}, {"A": 6, "B": 2, "C": 2}, {"A": 8, "B": 1, "C": 1}]
    before.append({"A": 7, "B": 1, "C": 2})
    weeks = [(seeded_answers(seed, f), STABLE_ITEMS) for seed, f in enumerate(before)]
    weeks.append((seeded_answers(99, {"A": 2, "B": 7, "C": 1}), STABLE_ITEMS))
    current, *previous = history(weeks)

    flags = compute_flags(current, previous, priority_names=NAMES)

    drift = [f for f in flags if f.kind in ("drift_gain", "drift_loss")]
    assert [(f.kind, f.subject) for f in drift] == [("drift_gain", "B"), ("drift_loss", "A")]
    gain, loss = drift
    assert gain.message == (
        "Attention moved to *Billing revamp*: 13% → 70% of leaders (+57 pts) "
        "compared with the previous 4 pulses."
    )
    assert loss.message == (
        "Attention moved away from *Enterprise expansion*: 70% → 20% of leaders (-50 pts) "
        "compared with the previous 4 pulses."
    )
    assert gain.numbers["before"] == 0.125
    assert gain.numbers["after"] == 0.7
    assert loss.numbers["change"] == pytest.approx(-0.5)
    assert gain.numbers["divergence"] >= 0.10
    assert gain.severity == "high"
    # C moved 7.5 points only: below the 15-point mover threshold
    assert all(f.subject != "C" for f in flags)


def test_a_stable_team_gets_no_flags() -> None:
    runs = history([(STABLE_FOCUS, STABLE_ITEMS)] * 6)
    assert runs[0].priority_drift is not None
    assert runs[0].priority_drift.divergence == 0.0
    for index in range(len(runs)):
        assert compute_flags(runs[index], runs[index + 1 :], priority_names=NAMES) == []


def test_a_falling_dimension_is_flagged() -> None:
    # translation 4.2 for four weeks, now 3.2 (6 × 3, 3 × 4, 1 × 2): level 0.8 → 0.55, −0.25
    falling = {**STABLE_ITEMS, "translation": {3: 6, 4: 3, 2: 1}}
    current, *previous = history([(STABLE_FOCUS, STABLE_ITEMS)] * 4 + [(STABLE_FOCUS, falling)])

    flags = compute_flags(current, previous)

    assert kinds(flags) == ["level_drop"]
    (flag,) = flags
    assert flag.subject == "translation"
    assert flag.message == (
        "*Translation* fell: leaders rate it 3.2 / 5, down from 4.2 over the previous 4 pulses."
    )
    assert flag.numbers["drop"] == pytest.approx(0.25)
    assert flag.severity == "high"


def test_a_drop_of_exactly_the_threshold_is_flagged_and_a_smaller_one_is_not() -> None:
    # mean 4.0 → 3.6: level 0.75 → 0.65, a drop of exactly 0.10
    steady = {"signal": {4: 10}}
    exact = history([(STABLE_FOCUS, steady)] * 2 + [(STABLE_FOCUS, {"signal": {4: 6, 3: 4}})])
    assert kinds(compute_flags(exact[0], exact[1:])) == ["level_drop"]
    # mean 4.0 → 3.7: a drop of 0.075
    small = history([(STABLE_FOCUS, steady)] * 2 + [(STABLE_FOCUS, {"signal": {4: 7, 3: 3}})])
    assert compute_flags(small[0], small[1:]) == []


def test_dropping_into_fragmented_agreement_is_flagged() -> None:
    # stability keeps its mean 4.2 but splits: 2 × 2, 1 × 3, 7 × 5
    # s² = (2 × 4.84 + 1.44 + 7 × 0.64) / 9 = 15.6 / 9 ≈ 1.733 → rwg ≈ 0.133 (< 0.50; was 0.80)
    split = {**STABLE_ITEMS, "stability": {2: 2, 3: 1, 5: 7}}
    current, *previous = history([(STABLE_FOCUS, STABLE_ITEMS)] * 4 + [(STABLE_FOCUS, split)])

    flags = compute_flags(current, previous)

    assert kinds(flags) == ["fragmented"]
    (flag,) = flags
    assert flag.subject == "stability"
    assert flag.numbers["rwg"] == pytest.approx(1 - (15.6 / 9) / 2)
    assert flag.numbers["previous_rwg"] == pytest.approx(0.8)
    assert flag.message == (
        "Leaders no longer see *Stability* the same way: agreement (rwg) 0.13, below 0.50, "
        "down from 0.80 over the previous 4 pulses."
    )


def test_fragmented_is_flagged_when_it_happens_not_every_week_after() -> None:
    split = {**STABLE_ITEMS, "stability": {2: 2, 3: 1, 5: 7}}
    runs = history([(STABLE_FOCUS, split)] * 3)
    first_week = compute_flags(runs[-1], [])
    assert kinds(first_week) == ["fragmented"]
    assert "very differently" in first_week[0].message
    assert compute_flags(runs[0], runs[1:]) == []


def test_low_response_is_flagged() -> None:
    current = week(STABLE_FOCUS, [STABLE_FOCUS], n_invited=20, n_responded=10)
    flags = compute_flags(current, [])
    assert kinds(flags) == ["low_response"]
    assert flags[0].message == (
        "Only 10 of 20 leaders answered (50%), so this week's picture is partial."
    )
    assert flags[0].numbers["response_rate"] == 0.5


def test_intent_gap_is_flagged_when_attention_ignores_declared_priorities() -> None:
    # everyone on "other": declared weights have no mass there → JSD 1
    current = week({"other": 10}, [{"other": 10}])
    flags = compute_flags(current, [], priority_names=NAMES)
    assert kinds(flags) == ["intent_gap"]
    assert flags[0].numbers["intent_gap"] == 1.0
    assert "*something else* (100% of leaders)" in flags[0].message


def test_flags_are_ordered_by_severity() -> None:
    # attention all on B: intent gap ≈ 0.49 (medium, below 0.50); translation falls by 0.25 (high);
    # 10 of 20 answered (low)
    falling = {**STABLE_ITEMS, "translation": {3: 6, 4: 3, 2: 1}}
    runs = history([({"B": 10}, STABLE_ITEMS)] * 4 + [({"B": 10}, falling)])
    current = week({"B": 10}, [{"B": 10}] * 4, falling, n_invited=20, n_responded=10)

    flags = compute_flags(current, runs[1:], priority_names=NAMES)

    assert [(f.kind, f.severity) for f in flags] == [
        ("level_drop", "high"),
        ("intent_gap", "medium"),
        ("low_response", "low"),
    ]


def test_thresholds_are_configurable() -> None:
    current = week(STABLE_FOCUS, [], n_invited=20, n_responded=10)
    assert compute_flags(current, [], FlagThresholds(low_response_rate=0.5)) == []


def test_clearly_different_layers_are_flagged() -> None:
    executives = week({"A": 6}, [], {"signal": {5: 5, 4: 1}, "translation": {5: 6}})
    directors = week({"B": 6, "C": 2}, [], {"signal": {3: 6, 2: 2}, "translation": {3: 8}})

    flags = layer_flags("Executive team", executives, "Directors", directors, priority_names=NAMES)

    assert kinds(flags) == ["layer_divergence", "layer_divergence"]
    focus, items = sorted(flags, key=lambda f: "focus_jsd" not in f.numbers)
    assert focus.numbers["focus_jsd"] == 1.0
    assert focus.message == (
        "*Executive team* and *Directors* put their attention in different places "
        "(divergence 1.00): Executive team most on *Enterprise expansion* (100%), "
        "Directors on *Billing revamp* (75%)."
    )
    # signal 4.83 vs 2.75 → 2.08; translation 5 vs 3 → 2; mean ≈ 2.04
    assert items.numbers["item_mean_distance"] == pytest.approx((29 / 6 - 2.75 + 2) / 2)
    assert "most on *Signal* (4.8 vs 2.8)" in items.message
    assert {f.subject for f in flags} == {"Executive team vs Directors"}


def test_similar_layers_are_not_flagged() -> None:
    executives = week({"A": 5, "B": 3, "C": 2}, [], STABLE_ITEMS)
    directors = week({"A": 6, "B": 3, "C": 2}, [], {**STABLE_ITEMS, "signal": {4: 7, 5: 2, 3: 1}})
    assert layer_flags("Executive team", executives, "Directors", directors) == []
