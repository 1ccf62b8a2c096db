"""Groups compared and pooled: cross-group divergence and a layer's groups as one profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean

from pulses.focus import DRIFT_HISTORY_RUNS, js_divergence, pool_counts
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics


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
    distance = fmean(list(per_item.values())) if per_item else None
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
