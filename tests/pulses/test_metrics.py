"""Hand-computed examples and properties of the pulse statistics."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulses.agreement import (
    ItemStats,
    agreement,
    coherence_index,
    item_stats,
    level,
    null_variance,
    rwg_j,
)
from pulses.focus import (
    OTHER,
    Drift,
    Mover,
    declared_distribution,
    focus_alignment,
    focus_distribution,
    intent_gap,
    js_divergence,
    priority_drift,
)
from pulses.layers import group_divergence, layer_profile
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics
from pulses.privacy import (
    ANONYMITY_MINIMUM,
    DEFAULT_ANONYMITY_THRESHOLD,
    Suppressed,
    complementary_suppression,
    is_reportable,
    reportable,
)

scores_st = st.lists(st.integers(min_value=1, max_value=5), max_size=40)
histogram_st = st.dictionaries(st.integers(1, 5), st.integers(0, 30))
distribution_st = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", OTHER]),
    st.floats(min_value=0, max_value=100, allow_nan=False),
    min_size=1,
).filter(lambda d: sum(d.values()) > 0)


def run_input(
    items: dict[str, list[int]],
    focus: dict[str, int],
    *,
    n_invited: int = 10,
    weights: dict[str, float | None] | None = None,
    previous: list[dict[str, int]] | None = None,
) -> RunInput:
    return RunInput(
        n_invited=n_invited,
        item_counts={key: dict(Counter(scores)) for key, scores in items.items()},
        focus_counts=focus,
        priority_weights=weights if weights is not None else {"a": None, "b": None},
        previous_focus_counts=previous or [],
        n_responded=max((len(s) for s in items.values()), default=0),
    )


# --- item statistics -------------------------------------------------------------------------


def test_null_variance_is_two_for_five_options() -> None:
    # (A² − 1) / 12 = (25 − 1) / 12 = 2; seven options: 48 / 12 = 4
    assert null_variance() == 2.0
    assert null_variance(7) == 4.0


def test_item_stats_hand_example() -> None:
    # scores 4, 4, 5, 3: mean 16/4 = 4; deviations 0, 0, 1, −1
    # s² = (0 + 0 + 1 + 1) / (4 − 1) = 2/3; sd = √(2/3) ≈ 0.8165
    # rwg = 1 − (2/3) / 2 = 2/3; ad_m = (0 + 0 + 1 + 1) / 4 = 0.5
    stats = item_stats(Counter([4, 4, 5, 3]))
    assert stats.n == 4
    assert stats.mean == 4.0
    assert stats.sd == pytest.approx(math.sqrt(2 / 3))
    assert stats.rwg == pytest.approx(2 / 3)
    assert stats.ad_m == 0.5


def test_item_stats_caps_variance_at_the_null_so_rwg_is_zero() -> None:
    # scores 1 and 5: mean 3, s² = (4 + 4) / 1 = 8 > σ²_EU = 2 → rwg = 1 − 2/2 = 0
    # ad_m = (2 + 2) / 2 = 2; sd = √8
    stats = item_stats({1: 1, 5: 1})
    assert stats == ItemStats(n=2, mean=3.0, sd=math.sqrt(8), rwg=0.0, ad_m=2.0)


def test_item_stats_from_histogram_hand_example() -> None:
    # 3×2, 1×4, 1×5: n 5, mean (6 + 4 + 5) / 5 = 3; deviations −1, −1, −1, 1, 2
    # s² = (1 + 1 + 1 + 1 + 4) / 4 = 2 → rwg = 1 − 2/2 = 0; ad_m = 6 / 5 = 1.2
    stats = item_stats({2: 3, 4: 1, 5: 1, 1: 0})
    assert stats.n == 5
    assert stats.mean == 3.0
    assert stats.sd == pytest.approx(math.sqrt(2))
    assert stats.rwg == 0.0
    assert stats.ad_m == pytest.approx(1.2)


def test_item_stats_undefined_parts_for_zero_and_one_answer() -> None:
    assert item_stats({}) == ItemStats(n=0, mean=None, sd=None, rwg=None, ad_m=None)
    assert item_stats({3: 0}) == ItemStats(n=0, mean=None, sd=None, rwg=None, ad_m=None)
    assert item_stats({4: 1}) == ItemStats(n=1, mean=4.0, sd=None, rwg=None, ad_m=0.0)


@pytest.mark.parametrize("counts", [{0: 1}, {6: 2}, {3: -1}])
def test_item_stats_rejects_scores_off_the_scale_and_negative_counts(
    counts: dict[int, int],
) -> None:
    with pytest.raises(ValueError, match=r"score|count"):
        item_stats(counts)


# --- run-level indices ---------------------------------------------------------------------------


def test_rwg_j_hand_example() -> None:
    # s̄² = (2/3 + 1/2) / 2 = 7/12; s̄²/σ² = 7/24; J(1 − 7/24) = 2 × 17/24 = 34/24
    # rwg_j = (34/24) / (34/24 + 7/24) = 34/41
    assert rwg_j([2 / 3, 1 / 2]) == pytest.approx(34 / 41)


def test_rwg_j_five_items_with_half_the_null_variance() -> None:
    # s̄²/σ² = 1/2: 5 × 0.5 / (5 × 0.5 + 0.5) = 2.5 / 3
    assert rwg_j([1.0, 0.5, 1.5, 1.0, 1.0]) == pytest.approx(2.5 / 3)


def test_rwg_j_edges() -> None:
    assert rwg_j([]) is None
    assert rwg_j([0.0, 0.0]) == 1.0
    # mean variance 3 is capped at σ² = 2: J × 0 / (0 + 1) = 0
    assert rwg_j([4.0, 2.0]) == 0.0


def test_level_agreement_and_coherence_index_by_hand() -> None:
    # level = ((4 + 3) / 2 − 1) / 4 = 0.625; agreement = (0.5 + 1.0) / 2 = 0.75
    # coherence = 100 × 0.625 × 0.75 = 46.875
    assert level([4.0, None, 3.0]) == 0.625
    assert agreement([0.5, None, 1.0]) == 0.75
    assert coherence_index(0.625, 0.75) == 46.875
    assert level([]) is None
    assert agreement([None]) is None
    assert coherence_index(None, 0.5) is None
    assert coherence_index(0.5, None) is None


# --- focus, intent gap, drift ----------------------------------------------------------------


def test_focus_distribution_and_alignment() -> None:
    p = focus_distribution({"a": 3, "b": 1, OTHER: 1, "c": 0})
    assert p == {"a": 0.6, "b": 0.2, OTHER: 0.2, "c": 0.0}
    assert focus_alignment(p) == 0.6
    assert focus_distribution({}) == {}
    assert focus_distribution({"a": 0}) == {}
    assert focus_alignment({}) is None


def test_js_divergence_of_disjoint_distributions_is_one() -> None:
    # M = (½, ½); KL(P‖M) = 1·log2(1/½) = 1, same for Q → ½(1 + 1) = 1
    assert js_divergence({"a": 1}, {"b": 1}) == 1.0


def test_js_divergence_hand_example() -> None:
    # P = (½, ½), Q = (1, 0), M = (¾, ¼)
    # JSD = H(M) − (H(P) + H(Q)) / 2 = H(¾, ¼) − (1 + 0) / 2
    # H(¾, ¼) = −¾·log2(¾) − ¼·log2(¼) = 0.311278 + 0.5 = 0.811278 → JSD ≈ 0.311278
    expected = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)) - 0.5
    assert expected == pytest.approx(0.3112781, abs=1e-7)
    assert js_divergence({"a": 0.5, "b": 0.5}, {"a": 1}) == pytest.approx(expected)
    # inputs are normalised first
    assert js_divergence({"a": 2, "b": 2}, {"a": 7, "b": 0}) == pytest.approx(expected)


def test_js_divergence_rejects_empty_or_negative_inputs() -> None:
    with pytest.raises(ValueError, match="positive total"):
        js_divergence({}, {"a": 1})
    with pytest.raises(ValueError, match="non-negative"):
        js_divergence({"a": -1, "b": 2}, {"a": 1})


def test_intent_gap_with_equal_weights() -> None:
    # no weight set → declared = (½, ½): focus split evenly matches it exactly
    weights: dict[str, float | None] = {"a": None, "b": None}
    assert intent_gap({"a": 0.5, "b": 0.5}, weights) == 0.0
    # everyone on a: P = (1, 0), Q = (½, ½) → the hand example above, ≈ 0.311278
    assert intent_gap({"a": 1.0}, weights) == pytest.approx(0.3112781, abs=1e-7)


def test_intent_gap_with_set_weights() -> None:
    # weights 3 : 1 → declared (¾, ¼); focus (¾, ¼) → 0; focus (½, ½) → ≈ 0.048795
    # JSD = H(⅝, ⅜) − (H(½, ½) + H(¾, ¼)) / 2 = 0.954434 − (1 + 0.811278) / 2 = 0.048795
    weights: dict[str, float | None] = {"a": 3.0, "b": 1.0}
    assert intent_gap({"a": 0.75, "b": 0.25}, weights) == 0.0
    h58 = -(0.625 * math.log2(0.625) + 0.375 * math.log2(0.375))
    h34 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert intent_gap({"a": 0.5, "b": 0.5}, weights) == pytest.approx(h58 - (1 + h34) / 2)


def test_intent_gap_gives_other_no_declared_weight() -> None:
    # declared = (a: 1); focus (a: ½, other: ½) → same as the hand example, ≈ 0.311278
    weights: dict[str, float | None] = {"a": None, OTHER: 5.0}
    assert intent_gap({"a": 0.5, OTHER: 0.5}, weights) == pytest.approx(0.3112781, abs=1e-7)


def test_intent_gap_is_none_without_focus_or_declared_priorities() -> None:
    assert intent_gap({}, {"a": None}) is None
    assert intent_gap({"a": 1.0}, {}) is None
    assert intent_gap({"a": 1.0}, {OTHER: None}) is None


def test_partly_set_weights_fill_unset_ones_with_the_mean_of_set_ones() -> None:
    # b unset → (2 + 4) / 2 = 3 → (2, 3, 4) / 9
    declared = declared_distribution({"a": 2.0, "b": None, "c": 4.0})
    assert declared == pytest.approx({"a": 2 / 9, "b": 3 / 9, "c": 4 / 9})
    assert declared_distribution({"a": 0.0, "b": 0.0}) == {"a": 0.5, "b": 0.5}


PREVIOUS_FOUR = [{"a": 3, "b": 1}, {"a": 4}, {"a": 2, "b": 2}, {"a": 3, "b": 1}]


def test_drift_pools_the_previous_four_runs_and_ignores_a_fifth() -> None:
    # pooled previous: a = 3 + 4 + 2 + 3 = 12, b = 1 + 0 + 2 + 1 = 4 → (¾, ¼)
    # current (¼, ¾); M = (½, ½): JSD = H(M) − H(¾, ¼) = 1 − 0.811278 = 0.188722
    current = {"a": 1, "b": 3}
    drift = priority_drift(current, [*PREVIOUS_FOUR, {"b": 100, "c": 50}])
    assert drift is not None
    assert drift == priority_drift(current, PREVIOUS_FOUR)
    h34 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert drift.divergence == pytest.approx(1 - h34)
    # equal |change| 0.5: ties broken by key
    assert drift.movers == (
        Mover(key="a", before=0.75, after=0.25, change=-0.5),
        Mover(key="b", before=0.25, after=0.75, change=0.5),
    )


def test_drift_pools_counts_not_shares() -> None:
    # run 1 has 9 answers on a, run 2 one on b: pooled (0.9, 0.1), not the mean of shares (½, ½)
    drift = priority_drift({"a": 9, "b": 1}, [{"a": 9}, {"b": 1}])
    assert drift is not None
    assert drift.divergence == 0.0


def test_drift_movers_sorted_by_size_and_cut_to_top() -> None:
    # before: a 0.5, b 0.3, c 0.2; after: a 0.1, b 0.4, c 0.2, d 0.3
    # changes: a −0.4, d +0.3, b +0.1, c 0
    drift = priority_drift({"a": 1, "b": 4, "c": 2, "d": 3}, [{"a": 5, "b": 3, "c": 2}])
    assert drift is not None
    assert [m.key for m in drift.movers] == ["a", "d", "b"]
    assert [m.change for m in drift.movers] == pytest.approx([-0.4, 0.3, 0.1])
    one = priority_drift({"a": 1, "b": 4, "c": 2, "d": 3}, [{"a": 5, "b": 3, "c": 2}], top=1)
    assert one is not None
    assert [m.key for m in one.movers] == ["a"]


def test_drift_is_none_without_previous_data_or_current_answers() -> None:
    assert priority_drift({"a": 2}, []) is None
    assert priority_drift({"a": 2}, [{}, {"a": 0}]) is None
    assert priority_drift({}, PREVIOUS_FOUR) is None


# --- a run's metrics -----------------------------------------------------------------------------


def test_compute_run_metrics_hand_example() -> None:
    # reinforcement [4, 4, 5, 3]: mean 4, s² 2/3, rwg 2/3
    # translation [2, 2, 2, 2]: mean 2, s² 0, rwg 1
    # level = ((4 + 2) / 2 − 1) / 4 = 0.5; agreement = (2/3 + 1) / 2 = 5/6
    # coherence = 100 × 0.5 × 5/6 = 41.67
    # rwg_j: s̄² = (2/3 + 0) / 2 = 1/3, s̄²/σ² = 1/6: 2 × 5/6 / (2 × 5/6 + 1/6) = 10/11
    data = run_input(
        {"reinforcement": [4, 4, 5, 3], "translation": [2, 2, 2, 2]},
        {"a": 3, "b": 1},
        n_invited=5,
        previous=[{"a": 3, "b": 1}],
    )
    metrics = compute_run_metrics(data)
    assert metrics.n_responded == 4
    assert metrics.response_rate == 0.8
    assert metrics.items["translation"] == ItemStats(n=4, mean=2.0, sd=0.0, rwg=1.0, ad_m=0.0)
    assert metrics.level == 0.5
    assert metrics.agreement == pytest.approx(5 / 6)
    assert metrics.coherence_index == pytest.approx(250 / 6)
    assert metrics.rwg_j == pytest.approx(10 / 11)
    assert metrics.focus_distribution == {"a": 0.75, "b": 0.25}
    assert metrics.focus_alignment == 0.75
    # declared (½, ½) vs (¾, ¼): H(⅝, ⅜) − (H(¾, ¼) + 1) / 2 ≈ 0.048795
    assert metrics.intent_gap == pytest.approx(0.048795, abs=1e-6)
    assert metrics.priority_drift == Drift(
        divergence=0.0,
        movers=(
            Mover(key="a", before=0.75, after=0.75, change=0.0),
            Mover(key="b", before=0.25, after=0.25, change=0.0),
        ),
    )


def test_run_metrics_to_dict_is_json_ready() -> None:
    metrics = compute_run_metrics(
        run_input({"signal": [5, 4, 4]}, {"a": 2, OTHER: 1}, previous=[{"b": 3}])
    )
    document = json.loads(json.dumps(metrics.to_dict()))
    assert set(document) == {
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
    }
    assert set(document["items"]["signal"]) == {"mean", "sd", "n", "rwg", "ad_m"}
    assert document["items"]["signal"]["n"] == 3
    assert set(document["priority_drift"]) == {"divergence", "movers"}
    assert set(document["priority_drift"]["movers"][0]) == {"key", "before", "after", "change"}


def test_empty_run_has_no_statistics() -> None:
    metrics = compute_run_metrics(
        RunInput(
            n_invited=0,
            item_counts={"signal": {}},
            focus_counts={},
            priority_weights={},
            previous_focus_counts=[],
            n_responded=0,
        )
    )
    assert metrics.response_rate is None
    assert metrics.items["signal"].mean is None
    assert metrics.level is None
    assert metrics.coherence_index is None
    assert metrics.rwg_j is None
    assert metrics.focus_alignment is None
    assert metrics.priority_drift is None


# --- anonymity -----------------------------------------------------------------------------------


def _metrics_with(n: int) -> RunMetrics:
    return compute_run_metrics(run_input({"signal": [4] * n}, {"a": n}))


@pytest.mark.parametrize("threshold", [DEFAULT_ANONYMITY_THRESHOLD, 3, 4, 8])
def test_threshold_minus_one_is_suppressed_and_threshold_is_reportable(threshold: int) -> None:
    assert reportable(_metrics_with(threshold - 1), threshold) == Suppressed(threshold=threshold)
    shown = _metrics_with(threshold)
    assert reportable(shown, threshold) is shown


def test_threshold_never_below_three() -> None:
    assert ANONYMITY_MINIMUM == 3
    assert not is_reportable(2, 1)
    assert is_reportable(3, 1)
    assert reportable(_metrics_with(2), 0) == Suppressed(threshold=3)


def test_reportable_drops_thinly_answered_items_and_their_share_of_the_indices() -> None:
    # stability answered by 2 of 6 (added mid-run): hidden, and level recomputed without it
    data = run_input({"signal": [4, 4, 4, 4, 4, 4], "stability": [1, 1]}, {"a": 6})
    metrics = compute_run_metrics(data)
    assert metrics.level == pytest.approx(((4 + 1) / 2 - 1) / 4)
    shown = reportable(metrics, 5)
    assert isinstance(shown, RunMetrics)
    assert set(shown.items) == {"signal"}
    assert shown.level == 0.75
    assert shown.agreement == 1.0
    assert shown.rwg_j == 1.0
    assert shown.coherence_index == 75.0


def test_complementary_suppression_hides_the_next_smallest_group() -> None:
    groups = {"exec": 2, "product": 10, "sales": 12, "ops": 7}
    assert complementary_suppression(groups, 5, total_shown=False) == {"exec"}
    assert complementary_suppression(groups, 5) == {"exec", "ops"}


def test_complementary_suppression_hides_nothing_when_all_groups_are_large_enough() -> None:
    assert complementary_suppression({"a": 5, "b": 6, "c": 9}, 5) == set()


def test_complementary_suppression_keeps_hiding_while_the_hidden_ones_pool_too_few() -> None:
    # a and b hidden pool 1 + 1 = 2 < 5 respondents: total − visible would show those 2 people,
    # so d (7) is hidden too; then c would be the only visible group, so it is hidden as well
    assert complementary_suppression({"a": 1, "b": 1, "c": 12, "d": 7}, 5) == {"a", "b", "c", "d"}


def test_complementary_suppression_hides_a_lone_visible_group() -> None:
    assert complementary_suppression({"a": 2, "b": 9}, 5) == {"a", "b"}
    assert complementary_suppression({"a": 2, "b": 9}, 5, total_shown=False) == {"a"}


@given(
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 20), max_size=8),
    st.integers(0, 10),
)
def test_complementary_suppression_never_leaves_one_hidden_group_beside_a_total(
    respondents: dict[str, int], threshold: int
) -> None:
    minimum = max(threshold, ANONYMITY_MINIMUM)
    hidden = complementary_suppression(respondents, threshold)
    visible = set(respondents) - hidden
    assert {g for g, n in respondents.items() if n < minimum} <= hidden
    if len(respondents) > 1:  # a lone group is its own total: `is_reportable` guards that
        assert len(hidden) != 1
    assert all(respondents[g] >= minimum for g in visible)
    if hidden:
        assert len(visible) != 1
        pooled = sum(respondents[g] for g in hidden)
        assert pooled == 0 or pooled >= minimum or not visible


# --- cross-group distortion ------------------------------------------------------------------


def test_group_divergence_by_hand() -> None:
    # item means: signal 4 vs 2 → 2; stability 3 vs 3.5 → 0.5; translation only in a
    # distance = (2 + 0.5) / 2 = 1.25; focus disjoint → 1
    a = compute_run_metrics(
        run_input({"signal": [4, 4], "stability": [3, 3], "translation": [5, 5]}, {"a": 2})
    )
    b = compute_run_metrics(run_input({"signal": [2, 2], "stability": [3, 4]}, {"b": 2}))
    divergence = group_divergence(a, b)
    assert divergence.per_item == {"signal": 2.0, "stability": 0.5}
    assert divergence.item_mean_distance == 1.25
    assert divergence.focus_jsd == 1.0
    assert group_divergence(a, a).focus_jsd == 0.0


def test_layer_profile_pools_histograms_and_focus_counts() -> None:
    first = run_input({"signal": [4, 5], "stability": [2]}, {"a": 2}, previous=[{"a": 1}])
    second = run_input({"signal": [3]}, {"b": 1}, previous=[{"b": 3}, {"a": 9}])
    pooled = layer_profile([first, second])
    expected = compute_run_metrics(
        run_input(
            {"signal": [4, 5, 3], "stability": [2]},
            {"a": 2, "b": 1},
            n_invited=20,
            previous=[{"a": 1, "b": 3}, {"a": 9}],
        )
    )
    assert pooled == expected
    with pytest.raises(ValueError, match="at least one run"):
        layer_profile([])


# --- properties --------------------------------------------------------------------------------


@given(scores_st)
def test_rwg_is_between_zero_and_one(scores: list[int]) -> None:
    stats = item_stats(Counter(scores))
    if len(scores) < 2:
        assert stats.rwg is None
    else:
        assert stats.rwg is not None
        assert 0.0 <= stats.rwg <= 1.0


@given(st.integers(1, 5), st.integers(2, 50))
def test_rwg_is_exactly_one_when_everyone_agrees(score: int, n: int) -> None:
    stats = item_stats(Counter([score] * n))
    assert stats.rwg == 1.0
    assert stats.sd == 0.0
    assert stats.ad_m == 0.0


@given(st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=8))
def test_rwg_j_is_between_zero_and_one(variances: list[float]) -> None:
    value = rwg_j(variances)
    assert value is not None
    assert 0.0 <= value <= 1.0


@given(distribution_st, distribution_st)
def test_js_divergence_is_bounded_and_symmetric(p: dict[str, float], q: dict[str, float]) -> None:
    value = js_divergence(p, q)
    assert 0.0 <= value <= 1.0
    assert value == js_divergence(q, p)


@given(distribution_st)
def test_js_divergence_of_identical_distributions_is_zero(p: dict[str, float]) -> None:
    assert js_divergence(p, dict(p)) == 0.0
    assert js_divergence(p, dict(reversed(list(p.items())))) == 0.0


@given(scores_st, st.randoms(use_true_random=False))
def test_item_stats_do_not_depend_on_answer_order(scores: list[int], rnd: random.Random) -> None:
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    assert item_stats(Counter(scores)) == item_stats(Counter(shuffled))


@given(distribution_st, distribution_st)
def test_js_divergence_does_not_depend_on_key_order(
    p: dict[str, float], q: dict[str, float]
) -> None:
    assert js_divergence(p, q) == js_divergence(dict(reversed(list(p.items()))), q)


@given(histogram_st)
def test_item_stats_from_counts_equal_stats_from_scores(counts: dict[int, int]) -> None:
    scores = [score for score, count in counts.items() for _ in range(count)]
    assert item_stats(counts) == item_stats(Counter(scores))


@given(st.lists(st.integers(1, 5), min_size=2, max_size=40))
def test_item_stats_agree_with_the_statistics_module(scores: list[int]) -> None:
    stats = item_stats(Counter(scores))
    mean = statistics.fmean(scores)
    assert stats.mean == pytest.approx(mean)
    assert stats.sd == pytest.approx(statistics.stdev(scores), abs=1e-12)
    assert stats.ad_m == pytest.approx(sum(abs(s - mean) for s in scores) / len(scores))
    assert stats.rwg == pytest.approx(1 - min(statistics.variance(scores), 2) / 2)


def test_rwg_j_says_it_is_pairwise_and_when_items_had_different_answers() -> None:
    from pulses.agreement import rwg_j_convention

    assert rwg_j_convention([7, 7, 7, 7, 7]) == "pairwise"
    # An item added mid-run: answered by 4 of the 7 leaders; an item with one answer has no
    # variance and takes no part.
    assert rwg_j_convention([7, 7, 4, 7, 1]) == "pairwise: items answered by 4–7 leaders"
