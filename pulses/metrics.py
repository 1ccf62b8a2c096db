"""Pure statistics of a pulse run: agreement indices, focus distribution and drift, anonymity.

Everything here works from aggregates (per-item answer histograms, per-priority focus counts)
so that the storage layer can feed it with ``GROUP BY`` results whatever the history length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

LIKERT_OPTIONS = 5
OTHER = "other"
DRIFT_HISTORY_RUNS = 4

ANONYMITY_MINIMUM = 3
DEFAULT_ANONYMITY_THRESHOLD = 5


# --- item statistics -------------------------------------------------------------------------


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


def _sample_variance(moments: _Moments) -> Fraction | None:
    n = moments.n
    if n < 2:
        return None
    return Fraction(n * moments.total_squares - moments.total**2, n * (n - 1))


def _rwg(variance: Fraction, options: int) -> float:
    null = _null_variance_exact(options)
    return float(1 - min(variance, null) / null)


def item_stats(counts: Mapping[int, int], *, options: int = LIKERT_OPTIONS) -> ItemStats:
    """Mean, sample sd (n − 1), rwg and AD_M of one item from its histogram {score: count}.

    rwg = 1 − min(s², σ²_EU) / σ²_EU (James, Demaree & Wolf 1984): the observed variance is
    capped at the uniform-null variance so that rwg stays in 0–1. AD_M is the mean absolute
    deviation around the mean, divided by n (Burke, Finkelstein & Dusig 1999).
    """
    moments = _moments(counts, options)
    n = moments.n
    if n == 0:
        return ItemStats(n=0, mean=None, sd=None, rwg=None, ad_m=None)
    mean = float(Fraction(moments.total, n))
    ad_m = float(Fraction(moments.absolute_deviation, n * n))
    variance = _sample_variance(moments)
    if variance is None:
        return ItemStats(n=n, mean=mean, sd=None, rwg=None, ad_m=ad_m)
    return ItemStats(
        n=n, mean=mean, sd=math.sqrt(float(variance)), rwg=_rwg(variance, options), ad_m=ad_m
    )


def item_stats_from_scores(scores: Iterable[int], *, options: int = LIKERT_OPTIONS) -> ItemStats:
    """`item_stats` of raw answers, for callers that have scores rather than a histogram."""
    return item_stats(Counter(scores), options=options)


def item_variance(counts: Mapping[int, int], *, options: int = LIKERT_OPTIONS) -> float | None:
    """Sample variance (n − 1) of one item from its histogram; None below two answers."""
    variance = _sample_variance(_moments(counts, options))
    return None if variance is None else float(variance)


# --- run-level indices ---------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


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
    ratio = min(_mean(item_variances), null) / null
    if ratio == 0:
        return 1.0
    j = len(item_variances)
    value = j * (1 - ratio) / (j * (1 - ratio) + ratio)
    return min(1.0, max(0.0, value))


def level(item_means: Iterable[float | None], options: int = LIKERT_OPTIONS) -> float | None:
    """(mean of the defined item means − 1) / (A − 1): 0–1, i.e. (m − 1) / 4 on a 1–5 scale."""
    means = [m for m in item_means if m is not None]
    if not means:
        return None
    return (_mean(means) - 1) / (options - 1)


def agreement(item_rwgs: Iterable[float | None]) -> float | None:
    """Mean of the defined item rwg values; None when no item has two answers."""
    values = [r for r in item_rwgs if r is not None]
    if not values:
        return None
    return _mean(values)


def coherence_index(level: float | None, agreement: float | None) -> float | None:
    """100 × level × agreement: high only when leaders rate coherence high *and* agree."""
    if level is None or agreement is None:
        return None
    return 100 * level * agreement


# --- focus distribution, intent gap and drift --------------------------------------------------


def _check_counts(counts: Mapping[str, int]) -> None:
    for key, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count for {key!r} must be a non-negative integer, got {count!r}")


def focus_distribution(counts: Mapping[str, int]) -> dict[str, float]:
    """Share of focus answers naming each priority key (or `OTHER`); {} when nobody answered.

    Keys given with a zero count are kept with share 0.0.
    """
    _check_counts(counts)
    total = sum(counts.values())
    if total == 0:
        return {}
    return {key: count / total for key, count in counts.items()}


def focus_alignment(p: Mapping[str, float]) -> float | None:
    """Share on the most-named priority; None for an empty distribution."""
    if not p:
        return None
    total = math.fsum(p.values())
    if total <= 0:
        return None
    return max(p.values()) / total


def _normalise(p: Mapping[str, float], name: str) -> dict[str, float]:
    for key, value in p.items():
        if not value >= 0 or math.isinf(value):
            raise ValueError(f"{name}[{key!r}] must be a finite non-negative number, got {value!r}")
    total = math.fsum(p.values())
    if total <= 0:
        raise ValueError(f"{name} must have a positive total")
    return {key: value / total for key, value in p.items()}


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen–Shannon divergence in bits (0 = identical, 1 = disjoint) over the union of keys.

    Both inputs are normalised first; a key missing from one side has probability 0 there.
    Computed as ½ KL(P‖M) + ½ KL(Q‖M) with M = (P + Q) / 2, summed per key in sorted order
    with `math.fsum`, so the result is exactly symmetric and independent of key order.
    """
    pn = _normalise(p, "p")
    qn = _normalise(q, "q")
    terms: list[float] = []
    for key in sorted(pn.keys() | qn.keys()):
        pk = pn.get(key, 0.0)
        qk = qn.get(key, 0.0)
        m = (pk + qk) / 2
        left = pk * math.log2(pk / m) if pk > 0 else 0.0
        right = qk * math.log2(qk / m) if qk > 0 else 0.0
        terms.append(left + right)
    return min(1.0, max(0.0, math.fsum(terms) / 2))


def declared_distribution(weights: Mapping[str, float | None]) -> dict[str, float]:
    """The declared priorities' weights as a distribution; {} when nothing is declared.

    Equal weights when no weight is set (all None). When only some are set, an unset weight
    takes the mean of the set ones, so a half-configured list never silently drops a priority.
    When every weight is 0 the priorities count as equal. `OTHER` is never a declared
    priority: its declared weight is 0 whatever the mapping says.
    """
    declared = {key: w for key, w in weights.items() if key != OTHER}
    if not declared:
        return {}
    set_weights = [w for w in declared.values() if w is not None]
    for w in set_weights:
        if not w >= 0 or math.isinf(w):
            raise ValueError(f"priority weights must be finite and non-negative, got {w!r}")
    fill = _mean(set_weights) if set_weights else 1.0
    filled = {key: (fill if w is None else w) for key, w in declared.items()}
    total = math.fsum(filled.values())
    if total == 0:
        return {key: 1 / len(filled) for key in filled}
    return {key: w / total for key, w in filled.items()}


def intent_gap(p: Mapping[str, float], weights: Mapping[str, float | None]) -> float | None:
    """JSD between the focus distribution and the declared priorities' weights (0–1).

    None when nobody named a focus or no priority is declared.
    """
    if not p or math.fsum(p.values()) <= 0:
        return None
    declared = declared_distribution(weights)
    if not declared:
        return None
    return js_divergence(p, declared)


@dataclass(frozen=True)
class Mover:
    """A priority whose share of attention changed: shares in 0–1, change = after − before."""

    key: str
    before: float
    after: float
    change: float

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "before": self.before, "after": self.after, "change": self.change}


@dataclass(frozen=True)
class Drift:
    """JSD between this run's focus and the pooled previous runs, with the biggest movers."""

    divergence: float
    movers: tuple[Mover, ...]

    def to_dict(self) -> dict[str, object]:
        return {"divergence": self.divergence, "movers": [m.to_dict() for m in self.movers]}


def pool_counts(runs: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum focus counts over runs, so each respondent weighs the same whatever their run."""
    pooled: dict[str, int] = {}
    for counts in runs:
        _check_counts(counts)
        for key, count in counts.items():
            pooled[key] = pooled.get(key, 0) + count
    return pooled


def priority_drift(
    current: Mapping[str, int],
    previous: Sequence[Mapping[str, int]],
    *,
    top: int = 3,
) -> Drift | None:
    """How far this run's focus moved from the pooled focus of the previous runs.

    ``previous`` is most recent first; only the first `DRIFT_HISTORY_RUNS` (4) are used, and
    they are pooled by summing counts before normalising. Movers are every key of either side
    sorted by |change| (descending), ties by key, cut to ``top``. None when this run or the
    previous runs have no focus answers.
    """
    if top < 0:
        raise ValueError("top must be non-negative")
    after = focus_distribution(current)
    before = focus_distribution(pool_counts(previous[:DRIFT_HISTORY_RUNS]))
    if not after or not before:
        return None
    movers = []
    for key in after.keys() | before.keys():
        share_before = before.get(key, 0.0)
        share_after = after.get(key, 0.0)
        movers.append(
            Mover(
                key=key, before=share_before, after=share_after, change=share_after - share_before
            )
        )
    movers.sort(key=lambda m: (-abs(m.change), m.key))
    return Drift(divergence=js_divergence(after, before), movers=tuple(movers[:top]))


# --- a run's metrics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInput:
    """The aggregates of one group's pulse run, as the storage layer provides them.

    ``item_counts`` maps each Likert dimension key to its histogram {score: count};
    ``previous_focus_counts`` is most recent first (only four are used).
    """

    n_invited: int
    item_counts: Mapping[str, Mapping[int, int]]
    focus_counts: Mapping[str, int]
    priority_weights: Mapping[str, float | None]
    previous_focus_counts: Sequence[Mapping[str, int]]
    n_responded: int


@dataclass(frozen=True)
class RunMetrics:
    """Everything PRODUCT.md computes for one group's run. Pass it through `reportable`."""

    n_invited: int
    n_responded: int
    response_rate: float | None
    items: dict[str, ItemStats]
    rwg_j: float | None
    level: float | None
    agreement: float | None
    coherence_index: float | None
    focus_distribution: dict[str, float]
    focus_alignment: float | None
    intent_gap: float | None
    priority_drift: Drift | None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy (numbers unrounded; None for undefined values)."""
        return {
            "n_invited": self.n_invited,
            "n_responded": self.n_responded,
            "response_rate": self.response_rate,
            "items": {key: stats.to_dict() for key, stats in self.items.items()},
            "rwg_j": self.rwg_j,
            "level": self.level,
            "agreement": self.agreement,
            "coherence_index": self.coherence_index,
            "focus_distribution": dict(self.focus_distribution),
            "focus_alignment": self.focus_alignment,
            "intent_gap": self.intent_gap,
            "priority_drift": None
            if self.priority_drift is None
            else self.priority_drift.to_dict(),
        }


def _response_rate(n_invited: int, n_responded: int) -> float | None:
    if n_invited < 0 or n_responded < 0:
        raise ValueError("n_invited and n_responded must be non-negative")
    return n_responded / n_invited if n_invited > 0 else None


def compute_run_metrics(data: RunInput) -> RunMetrics:
    """All of a run's statistics from its aggregates (not yet checked for anonymity)."""
    items = {key: item_stats(counts) for key, counts in data.item_counts.items()}
    variances = [
        v for v in (item_variance(counts) for counts in data.item_counts.values()) if v is not None
    ]
    item_level = level(stats.mean for stats in items.values())
    item_agreement = agreement(stats.rwg for stats in items.values())
    p = focus_distribution(data.focus_counts)
    return RunMetrics(
        n_invited=data.n_invited,
        n_responded=data.n_responded,
        response_rate=_response_rate(data.n_invited, data.n_responded),
        items=items,
        rwg_j=rwg_j(variances),
        level=item_level,
        agreement=item_agreement,
        coherence_index=coherence_index(item_level, item_agreement),
        focus_distribution=p,
        focus_alignment=focus_alignment(p),
        intent_gap=intent_gap(p, data.priority_weights),
        priority_drift=priority_drift(data.focus_counts, data.previous_focus_counts),
    )


# --- anonymity: the one place that decides what may be shown -----------------------------------


def effective_threshold(threshold: int) -> int:
    """The configured anonymity threshold, never below `ANONYMITY_MINIMUM`."""
    return max(threshold, ANONYMITY_MINIMUM)


def is_reportable(n_responded: int, threshold: int) -> bool:
    """True when a run has enough respondents for any statistic to be shown."""
    return n_responded >= effective_threshold(threshold)


@dataclass(frozen=True)
class Suppressed:
    """Stands in for a run's metrics when too few leaders answered to show anything.

    Carries only the threshold in force, never the respondent count or any statistic.
    """

    threshold: int

    @property
    def message(self) -> str:
        return f"Not enough answers to show results (needs at least {self.threshold})."


def reportable(metrics: RunMetrics, threshold: int) -> RunMetrics | Suppressed:
    """The metrics if the run may be shown under ``threshold``, else `Suppressed`.

    Every output of the product goes through here. An item answered by fewer leaders than the
    threshold (e.g. a question added mid-run) is dropped, and the run-level indices are
    recomputed without it, since they would otherwise let its mean be subtracted out.
    """
    minimum = effective_threshold(threshold)
    if not is_reportable(metrics.n_responded, threshold):
        return Suppressed(threshold=minimum)
    kept = {key: s for key, s in metrics.items.items() if s.n == 0 or s.n >= minimum}
    if len(kept) == len(metrics.items):
        return metrics
    kept_level = level(s.mean for s in kept.values())
    kept_agreement = agreement(s.rwg for s in kept.values())
    return replace(
        metrics,
        items=kept,
        rwg_j=rwg_j([s.sd**2 for s in kept.values() if s.sd is not None]),
        level=kept_level,
        agreement=kept_agreement,
        coherence_index=coherence_index(kept_level, kept_agreement),
    )


def complementary_suppression(
    respondents: Mapping[str, int], threshold: int, *, total_shown: bool = True
) -> set[str]:
    """The groups to hide when groups are shown side by side, optionally with their total.

    Every group below the (effective) threshold is hidden. When a total is shown, visible
    groups are then hidden one at a time, smallest first (ties by key), for as long as:

    - exactly one group is hidden (even an empty one): otherwise it could be subtracted out of
      the total — PRODUCT.md's "the next-smallest group is hidden too";
    - the hidden groups together have some respondents but fewer than the threshold: their
      pooled statistics would be total minus visible groups, a statistic over too few people
      (this also covers a second hidden group that is itself below the threshold);
    - exactly one group would stay visible next to hidden ones: total minus it gives the
      hidden groups' pooled statistics, so it is hidden as well.

    The total itself is shown only if the caller's `is_reportable` check on it passes.
    """
    for key, count in respondents.items():
        if count < 0:
            raise ValueError(f"respondents for {key!r} must be non-negative")
    minimum = effective_threshold(threshold)
    hidden = {key for key, count in respondents.items() if count < minimum}
    if not total_shown or not hidden:
        return hidden
    while True:
        visible = sorted(
            (key for key in respondents if key not in hidden),
            key=lambda key: (respondents[key], key),
        )
        hidden_total = sum(respondents[key] for key in hidden)
        exposed = len(hidden) == 1 or 0 < hidden_total < minimum or len(visible) == 1
        if not visible or not exposed:
            return hidden
        hidden.add(visible[0])


# --- cross-group distortion ------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDivergence:
    """How differently two groups or layers see things.

    ``focus_jsd`` is the JSD between their focus distributions (None if either is empty);
    ``per_item`` the absolute difference of item means over items both groups answered, and
    ``item_mean_distance`` its mean (None when they share no answered item).
    """

    focus_jsd: float | None
    item_mean_distance: float | None
    per_item: dict[str, float] = field(default_factory=dict)


def group_divergence(a: RunMetrics, b: RunMetrics) -> GroupDivergence:
    """Cross-group distortion between two (reportable) runs or layer profiles."""
    focus = (
        js_divergence(a.focus_distribution, b.focus_distribution)
        if a.focus_distribution and b.focus_distribution
        else None
    )
    per_item: dict[str, float] = {}
    for key, stats in a.items.items():
        other = b.items.get(key)
        if stats.mean is not None and other is not None and other.mean is not None:
            per_item[key] = abs(stats.mean - other.mean)
    distance = _mean(list(per_item.values())) if per_item else None
    return GroupDivergence(focus_jsd=focus, item_mean_distance=distance, per_item=per_item)


def _pool_histograms(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    pooled: dict[int, int] = {}
    for counts in histograms:
        for score, count in counts.items():
            pooled[score] = pooled.get(score, 0) + count
    return pooled


def pool_runs(runs: Sequence[RunInput]) -> RunInput:
    """One `RunInput` for a layer: histograms, focus counts and head counts summed.

    Previous focus counts are pooled position by position (the groups' last runs together,
    and so on); priority weights are taken from the first run that declares each key.
    """
    if not runs:
        raise ValueError("a layer needs at least one run")
    item_keys = list(dict.fromkeys(key for run in runs for key in run.item_counts))
    weights: dict[str, float | None] = {}
    for run in runs:
        for key, weight in run.priority_weights.items():
            weights.setdefault(key, weight)
    depth = min(DRIFT_HISTORY_RUNS, max(len(run.previous_focus_counts) for run in runs))
    return RunInput(
        n_invited=sum(run.n_invited for run in runs),
        item_counts={
            key: _pool_histograms(run.item_counts[key] for run in runs if key in run.item_counts)
            for key in item_keys
        },
        focus_counts=pool_counts(run.focus_counts for run in runs),
        priority_weights=weights,
        previous_focus_counts=[
            pool_counts(
                run.previous_focus_counts[i] for run in runs if i < len(run.previous_focus_counts)
            )
            for i in range(depth)
        ],
        n_responded=sum(run.n_responded for run in runs),
    )


def layer_profile(runs: Sequence[RunInput]) -> RunMetrics:
    """The metrics of a layer (e.g. all director groups) as if it were one group.

    Compare two layers with `group_divergence`; check `reportable` on the result like any run.
    """
    return compute_run_metrics(pool_runs(runs))
