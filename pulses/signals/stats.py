"""The statistical tests and intervals behind every flag and arrow, on leaders' answers.

Each test takes the answers of two sets of leaders (arrays of 1–5 scores or 0–1 attention
shares) and returns a p-value; the rules in `pulses.signals.engine` compare it with their
share of the false-alarm budget. Distributions come from `scipy.special` (Student t, F) and
`scipy.stats` (Fisher's exact and the binomial test for single-choice answers).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

# scipy (about 65 MiB) is imported inside the functions that use it, so a process that has
# not computed a signal yet, such as a bot just started, does not carry it.

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

# The bootstrap behind the index interval: resamples, and a fixed seed so a report never changes.
BOOTSTRAP_RESAMPLES: Final = 400
BOOTSTRAP_SEED: Final = 20240808
NULL_VARIANCE: Final = 2.0  # σ²_EU of a 5-option Likert item


def _binary(*samples: Vector) -> bool:
    return all(bool(np.all((s == 0.0) | (s == 1.0))) for s in samples)


def _pooled_t(a: Vector, b: Vector) -> tuple[float, float] | None:
    """(t, df) of mean(b) − mean(a) with the pooled variance; None below 1 df or 2 answers."""
    n_a, n_b = len(a), len(b)
    df = n_a + n_b - 2
    if n_a < 1 or n_b < 1 or df < 1:
        return None
    squares = float(np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2))
    difference = float(b.mean() - a.mean())
    scale = math.sqrt(squares / df * (1 / n_a + 1 / n_b))
    if scale == 0:
        return (0.0 if difference == 0 else math.copysign(math.inf, difference)), float(df)
    return difference / scale, float(df)


def means_differ(a: Vector, b: Vector) -> float:
    """Two-sided p that two sets of answers have different means (pooled Student t)."""
    from scipy import special

    found = _pooled_t(a, b)
    if found is None:
        return 1.0
    t, df = found
    return float(2 * special.stdtr(df, -abs(t)))


def share_moved(before: Vector, after: Vector) -> float:
    """Two-sided p that the mean share on one priority differs between two sets of leaders.

    Single-choice answers (every share 0 or 1) get Fisher's exact test on the 2×2 counts;
    shares in tenths the pooled Student t.
    """
    from scipy import stats

    if _binary(before, after):
        table = [
            [int(after.sum()), len(after) - int(after.sum())],
            [int(before.sum()), len(before) - int(before.sum())],
        ]
        return float(stats.fisher_exact(table).pvalue)
    return means_differ(before, after)


def share_differs_from(shares: Vector, declared: float, pooled_variance: float, df: int) -> float:
    """Two-sided p that the leaders' mean share differs from the declared share.

    Single-choice answers get the exact binomial test; shares in tenths a one-sample Student t
    whose variance is pooled over the runs given (``pooled_variance`` with ``df`` degrees).
    """
    from scipy import special, stats

    n = len(shares)
    if n == 0:
        return 1.0
    if _binary(shares):
        return float(stats.binomtest(int(shares.sum()), n, declared).pvalue)
    difference = float(shares.mean()) - declared
    if df < 1:
        return 1.0
    scale = math.sqrt(pooled_variance / n)
    if scale == 0:
        return 1.0 if abs(difference) < 1e-12 else 0.0
    return float(2 * special.stdtr(df, -abs(difference) / scale))


def run_means_fell(pairs: Sequence[tuple[Vector, Vector]]) -> list[float]:
    """For each (earlier runs, recent runs) pair of one figure per run, the one-sided p that
    the recent runs' mean is below the earlier runs' mean.

    Student t on the runs' figures (one value per run, each run weighing the same), with the
    run-to-run variance pooled over every pair given (the dimensions of one comparison): the
    noise of a run's figure is measured by how much it moved from run to run, not by the spread
    between leaders, which largely cancels when the same leaders answer every run. A pair with
    no earlier or no recent run gets p = 1.
    """
    from scipy import special

    used = [i for i, (before, after) in enumerate(pairs) if len(before) and len(after)]
    means, deviations = _means_and_squares([v for i in used for v in pairs[i]])
    squares = 0.0
    for deviation in deviations:  # in order, as the runs' figures came (not sum()'s compensation)
        squares += deviation
    df = sum(len(pairs[i][0]) + len(pairs[i][1]) - 2 for i in used)
    found = [1.0] * len(pairs)
    if df < 1:
        return found
    tested: list[int] = []
    ratios: list[float] = []
    for slot, i in enumerate(used):
        before, after = pairs[i]
        difference = float(means[2 * slot + 1] - means[2 * slot])
        scale = math.sqrt(squares / df * (1 / len(before) + 1 / len(after)))
        if scale == 0:
            found[i] = 1.0 if difference >= 0 else 0.0
            continue
        tested.append(i)
        ratios.append(difference / scale)
    if tested:
        for i, p in zip(tested, special.stdtr(df, np.asarray(ratios)).tolist(), strict=True):
            found[i] = float(p)
    return found


def _means_and_squares(vectors: Sequence[Vector]) -> tuple[list[np.float64], list[float]]:
    """Each vector's mean and sum of squared deviations from it.

    Vectors of one length are stacked and reduced row by row, which numpy does as it reduces
    each vector alone (same floats), in one call instead of one per vector.
    """
    means: list[np.float64] = [np.float64(0.0)] * len(vectors)
    squares: list[float] = [0.0] * len(vectors)
    by_length: dict[int, list[int]] = {}
    for index, vector in enumerate(vectors):
        by_length.setdefault(len(vector), []).append(index)
    for indexes in by_length.values():
        stacked = np.stack([vectors[i] for i in indexes])
        row_means = stacked.mean(axis=1)
        row_squares = ((stacked - row_means[:, np.newaxis]) ** 2).sum(axis=1)
        for row, i in enumerate(indexes):
            means[i] = row_means[row]
            squares[i] = float(row_squares[row])
    return means, squares


def mean_margin(scores: Vector, confidence: float = 0.95) -> float | None:
    """Half-width of the Student t interval of a mean; None below two answers.

    Answers on a 1–5 scale that all agree have a sample spread of 0, and a t interval of
    width 0 would claim certainty that a handful of answers cannot give. The spread is
    floored at the smallest one the scale allows, one answer a point away from the rest
    (sample variance 1/n), so a unanimous 4.0 from five leaders reads ± 0.6, not ± 0.0.
    """
    from scipy import special

    n = len(scores)
    if n < 2:
        return None
    quantile = float(special.stdtrit(n - 1, 0.5 + confidence / 2))
    spread = max(float(scores.std(ddof=1)), 1 / math.sqrt(n))
    return quantile * spread / math.sqrt(n)


def _index_of(scores: Matrix, picks: npt.NDArray[np.int64], complete: bool) -> Vector:
    """The coherence index of each resample of a leaders × items matrix (``picks``: each
    resample's rows, resamples × leaders).

    ``complete``: no answer is missing. Then the resamples are laid out leaders first and
    reduced with the plain sums: they add the same numbers in the same order as the NaN-aware
    reductions over the leaders (one leader after another, from the first), so the floats are
    the same, in a third of the time (a digest draws two bootstraps).
    """
    if complete:
        n = scores.shape[0]
        laid_out = scores[picks.T]  # leaders × resamples × items
        means = np.add.reduce(laid_out, axis=0) / n
        deviations = laid_out - means
        deviations *= deviations
        variances = np.add.reduce(deviations, axis=0) / (n - 1)
        rwg = 1 - np.minimum(variances, NULL_VARIANCE) / NULL_VARIANCE
        result: Vector = 100 * ((means.mean(axis=1) - 1) / 4) * rwg.mean(axis=1)
        return result
    resampled = scores[picks]
    with np.errstate(invalid="ignore", divide="ignore"):
        leader_means = np.nanmean(resampled, axis=1)
        leader_variances = np.nanvar(resampled, axis=1, ddof=1)
    agreement = np.nanmean(1 - np.minimum(leader_variances, NULL_VARIANCE) / NULL_VARIANCE, axis=1)
    level = (np.nanmean(leader_means, axis=1) - 1) / 4
    found: Vector = 100 * level * agreement
    return found


@functools.lru_cache(maxsize=64)
def _resamples(n: int) -> npt.NDArray[np.int64]:
    """The bootstrap's resamples of ``n`` leaders (row numbers): the seed is fixed, so they
    depend on ``n`` alone, and are drawn once per size rather than twice per digest."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks: npt.NDArray[np.int64] = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    picks.setflags(write=False)
    return picks


def index_spread(scores: Matrix) -> tuple[float, float, float] | None:
    """(standard error, 2.5th and 97.5th percentile) of the coherence index by resampling leaders.

    ``scores`` is leaders × items with NaN for an unanswered item. None below three leaders.
    """
    n = scores.shape[0]
    if n < 3 or scores.shape[1] == 0:
        return None
    picks = _resamples(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample may miss an item
        values = _index_of(scores, picks, complete=not bool(np.isnan(scores).any()))
    values = values[~np.isnan(values)]
    if len(values) < BOOTSTRAP_RESAMPLES // 2:
        return None
    low, high = _percentiles(values, (2.5, 97.5))
    # The bootstrap's spread of a mean is (n − 1) / n of the true variance; undo that.
    return float(values.std(ddof=1)) * math.sqrt(n / (n - 1)), float(low), float(high)


def _percentiles(values: Vector, percents: Sequence[float]) -> list[float]:
    """``np.percentile(values, percents)`` (its linear method) to the last bit, at a fifth of
    its cost on a bootstrap's values: only the order statistics it reads are partitioned into
    place, and its interpolation is done in the same float operations, in the same order."""
    last = len(values) - 1
    points = []
    for percent in percents:
        virtual = last * (percent / 100)
        below = math.floor(virtual)
        # numpy takes the last value for an index at or past it.
        low, high = (-1, -1) if virtual >= last else (below, below + 1)
        points.append((low, high, virtual - below))
    ordered = np.partition(values, sorted({i for low, high, _ in points for i in (low, high)}))
    found = []
    for low, high, gamma in points:
        a, b = float(ordered[low]), float(ordered[high])
        found.append(b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma)
    return found


def normal_two_sided(z: float) -> float:
    """Two-sided p of a standard normal statistic."""
    from scipy import special

    return float(2 * special.ndtr(-abs(z)))
