"""A run's metrics: everything computed for one group's pulse run from its aggregates.

Nothing here is fit to show yet: pass the result through `pulses.privacy.reportable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pulses.agreement import (
    ItemStats,
    agreement,
    coherence_index,
    item_stats_and_variance,
    level,
    rwg_j,
)
from pulses.focus import Drift, focus_alignment, focus_distribution, intent_gap, priority_drift


@dataclass(frozen=True)
class RunInput:
    """The aggregates of one group's pulse run, as the storage layer provides them.

    ``item_counts`` maps each Likert dimension key to its histogram {score: count};
    ``previous_focus_counts`` is most recent first (only four are used).
    """

    n_invited: int
    item_counts: Mapping[str, Mapping[int, int]]
    focus_counts: Mapping[str, float]
    priority_weights: Mapping[str, float | None]
    previous_focus_counts: Sequence[Mapping[str, float]]
    n_responded: int


@dataclass(frozen=True)
class RunMetrics:
    """Agreement, level, the coherence index, focus, intent gap and drift of one group's run.

    Pass it through `pulses.privacy.reportable` before anything is shown.
    """

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
    items: dict[str, ItemStats] = {}
    variances: list[float] = []
    for key, counts in data.item_counts.items():
        items[key], variance = item_stats_and_variance(counts)
        if variance is not None:
            variances.append(variance)
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
