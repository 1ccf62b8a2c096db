"""Agreement among leaders on the Likert items: item statistics, rwg, level and the coherence index.

Everything works from per-item answer histograms {score: count}, so the storage layer can feed it
with ``GROUP BY`` results; integer arithmetic keeps results independent of answer order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import fmean

LIKERT_OPTIONS = 5


def _null_variance_exact(options: int) -> Fraction:
    if options < 2:
        raise ValueError(f"a Likert scale needs at least 2 options, got {options}")
    return Fraction(options * options - 1, 12)


def null_variance(options: int = LIKERT_OPTIONS) -> float:
    """Variance of the uniform ("no agreement") null distribution, σ²_EU = (A² − 1) / 12."""
    return float(_null_variance_exact(options))


@dataclass(frozen=True)
class ItemStats:
    """Statistics of one Likert item in one run.

    ``mean`` and ``ad_m`` are None when nobody answered; ``sd`` and ``rwg`` need two answers.
    """

    n: int
    mean: float | None
    sd: float | None
    rwg: float | None
    ad_m: float | None

    def to_dict(self) -> dict[str, object]:
        return {"mean": self.mean, "sd": self.sd, "n": self.n, "rwg": self.rwg, "ad_m": self.ad_m}


@dataclass(frozen=True)
class _Moments:
    """Exact sums of a histogram; integer arithmetic keeps results independent of answer order."""

    n: int
    total: int  # Σ score
    total_squares: int  # Σ score²
    absolute_deviation: int  # Σ |n·score − Σ score|, i.e. n² × AD_M


def _moments(counts: Mapping[int, int], options: int) -> _Moments:
    n = total = total_squares = 0
    for score, count in counts.items():
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= options:
            raise ValueError(f"score must be an integer from 1 to {options}, got {score!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count for score {score} must be a non-negative integer")
        n += count
        total += score * count
        total_squares += score * score * count
    absolute_deviation = sum(count * abs(n * score - total) for score, count in counts.items())
    return _Moments(n, total, total_squares, absolute_deviation)


def _variance_terms(moments: _Moments) -> tuple[int, int] | None:
    """The sample variance (n − 1) as an exact ratio of integers; None below two answers."""
    n = moments.n
    if n < 2:
        return None
    return n * moments.total_squares - moments.total**2, n * (n - 1)


def _rwg(numerator: int, denominator: int, options: int) -> float:
    # 1 − min(s², σ²_EU) / σ²_EU with s² = numerator / denominator and σ²_EU = (A² − 1) / 12,
    # over one common denominator: Python's integer division rounds the exact ratio once, as
    # a Fraction's float would, at a fraction of the cost.
    if options < 2:
        raise ValueError(f"a Likert scale needs at least 2 options, got {options}")
    null = options * options - 1
    scaled = denominator * null
    return max(0, scaled - 12 * numerator) / scaled


def item_stats(counts: Mapping[int, int], *, options: int = LIKERT_OPTIONS) -> ItemStats:
    """Mean, sample sd (n − 1), rwg and AD_M of one item from its histogram {score: count}.

    rwg = 1 − min(s², σ²_EU) / σ²_EU (James, Demaree & Wolf 1984): the observed variance is
    capped at the uniform-null variance so that rwg stays in 0–1. AD_M is the mean absolute
    deviation around the mean, divided by n (Burke, Finkelstein & Dusig 1999).
    """
    return item_stats_and_variance(counts, options=options)[0]


def item_stats_and_variance(
    counts: Mapping[int, int], *, options: int = LIKERT_OPTIONS
) -> tuple[ItemStats, float | None]:
    """`item_stats` and `item_variance` of one histogram, from one pass over it.

    A team's histograms repeat (six leaders spread over five scores make a few hundred), so
    each is computed once and the result, immutable, shared: a digest computes sixty.
    """
    pairs = tuple(counts.items())
    # Only plain ints are looked up: True hashes as 1, and must still be refused.
    if all(type(score) is int and type(count) is int for score, count in pairs):
        return _cached_item_stats(pairs, options)
    return _item_stats_and_variance(counts, options)


@functools.lru_cache(maxsize=4096)
def _cached_item_stats(
    pairs: tuple[tuple[int, int], ...], options: int
) -> tuple[ItemStats, float | None]:
    return _item_stats_and_variance(dict(pairs), options)


def _item_stats_and_variance(
    counts: Mapping[int, int], options: int
) -> tuple[ItemStats, float | None]:
    moments = _moments(counts, options)
    n = moments.n
    if n == 0:
        return ItemStats(n=0, mean=None, sd=None, rwg=None, ad_m=None), None
    # int / int is the exact ratio correctly rounded: the same float as through a Fraction.
    mean = moments.total / n
    ad_m = moments.absolute_deviation / (n * n)
    terms = _variance_terms(moments)
    if terms is None:
        return ItemStats(n=n, mean=mean, sd=None, rwg=None, ad_m=ad_m), None
    numerator, denominator = terms
    variance = numerator / denominator
    stats = ItemStats(
        n=n,
        mean=mean,
        sd=math.sqrt(variance),
        rwg=_rwg(numerator, denominator, options),
        ad_m=ad_m,
    )
    return stats, variance


def item_variance(counts: Mapping[int, int], *, options: int = LIKERT_OPTIONS) -> float | None:
    """Sample variance (n − 1) of one item from its histogram; None below two answers."""
    variance = _variance_terms(_moments(counts, options))
    return None if variance is None else variance[0] / variance[1]


def rwg_j(item_variances: Sequence[float], options: int = LIKERT_OPTIONS) -> float | None:
    """Multi-item agreement over J items (James, Demaree & Wolf 1984).

    rwg_j = J(1 − s̄²/σ²_EU) / (J(1 − s̄²/σ²_EU) + s̄²/σ²_EU), where s̄² is the mean of the
    item variances capped at σ²_EU. None without any item variance; 1.0 when s̄² is 0.
    """
    if not item_variances:
        return None
    if any(v < 0 or math.isnan(v) for v in item_variances):
        raise ValueError("item variances must be non-negative")
    null = null_variance(options)
    ratio = min(fmean(item_variances), null) / null
    if ratio == 0:
        return 1.0
    j = len(item_variances)
    value = j * (1 - ratio) / (j * (1 - ratio) + ratio)
    return min(1.0, max(0.0, value))


def rwg_j_convention(answers_per_item: Iterable[int]) -> str:
    """How `rwg_j` treated the items, in plain words.

    It is pairwise: each item's variance comes from that item's own answers. R's
    ``multilevel::rwg.j`` is listwise (only leaders who answered every item). The two agree
    when every item has the same answers; when items were answered by different numbers of
    leaders (an item added mid-run, one left blank) the text says so.
    """
    counts = sorted({n for n in answers_per_item if n >= 2})
    if len(counts) <= 1:
        return "pairwise"
    return f"pairwise: items answered by {counts[0]}–{counts[-1]} leaders"


def level(item_means: Iterable[float | None], options: int = LIKERT_OPTIONS) -> float | None:
    """(mean of the defined item means − 1) / (A − 1): 0–1, i.e. (m − 1) / 4 on a 1–5 scale."""
    means = [m for m in item_means if m is not None]
    if not means:
        return None
    return (fmean(means) - 1) / (options - 1)


def agreement(item_rwgs: Iterable[float | None]) -> float | None:
    """Mean of the defined item rwg values; None when no item has two answers."""
    values = [r for r in item_rwgs if r is not None]
    if not values:
        return None
    return fmean(values)


def coherence_index(level: float | None, agreement: float | None) -> float | None:
    """100 × level × agreement: high only when leaders rate coherence high *and* agree."""
    if level is None or agreement is None:
        return None
    return 100 * level * agreement
