"""Item statistics in integer arithmetic give exactly the floats of exact rational arithmetic."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from pulses.agreement import ItemStats, item_stats, item_stats_and_variance, item_variance


def _reference(counts: dict[int, int], options: int = 5) -> tuple[ItemStats, float | None]:
    """Every figure as an exact Fraction rounded once at the end: the definition."""
    n = sum(counts.values())
    if n == 0:
        return ItemStats(n=0, mean=None, sd=None, rwg=None, ad_m=None), None
    mean = Fraction(sum(s * c for s, c in counts.items()), n)
    ad_m = sum(c * abs(s - mean) for s, c in counts.items()) / n
    if n < 2:
        return ItemStats(n=n, mean=float(mean), sd=None, rwg=None, ad_m=float(ad_m)), None
    variance = sum(c * (s - mean) ** 2 for s, c in counts.items()) / (n - 1)
    null = Fraction(options * options - 1, 12)
    stats = ItemStats(
        n=n,
        mean=float(mean),
        sd=math.sqrt(float(variance)),
        rwg=float(1 - min(variance, null) / null),
        ad_m=float(ad_m),
    )
    return stats, float(variance)


def test_every_histogram_of_up_to_six_answers_per_score_matches_exact_arithmetic() -> None:
    checked = 0
    for row in itertools.product(range(7), repeat=5):
        counts = {score: count for score, count in zip(range(1, 6), row, strict=True)}
        expected, variance = _reference(counts)
        # Equality of floats, not approx: the figures must not move by one ulp.
        assert item_stats(counts) == expected, counts
        assert item_variance(counts) == variance, counts
        assert item_stats_and_variance(counts) == (expected, variance), counts
        checked += 1
    assert checked == 7**5


def test_a_wider_scale_matches_exact_arithmetic_too() -> None:
    counts = {1: 3, 4: 2, 7: 5}
    expected, variance = _reference(counts, options=7)
    assert item_stats(counts, options=7) == expected
    assert item_variance(counts, options=7) == variance


def test_a_histogram_seen_before_is_the_same_figures_and_a_bool_score_is_still_refused() -> None:
    first = item_stats_and_variance({1: 2, 3: 4})
    assert item_stats_and_variance({1: 2, 3: 4}) == first
    # True hashes as 1: the figures kept for {1: 2, 3: 4} must not answer for it.
    with pytest.raises(ValueError, match="score must be an integer"):
        item_stats_and_variance({True: 2, 3: 4})
