"""Anonymity: the one place that decides which figures may be shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pulses.agreement import agreement, coherence_index, level, rwg_j
from pulses.metrics import RunMetrics
from pulses.samples import RunSample

ANONYMITY_MINIMUM = 3
DEFAULT_ANONYMITY_THRESHOLD = 5


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


def shown_sample(sample: RunSample, metrics: RunMetrics) -> RunSample:
    """The sample without the dimensions its report drops (answered by too few leaders)."""
    kept = set(metrics.items)
    if all(key in kept for answer in sample.answers for key in answer.scores):
        return sample
    answers = tuple(
        replace(answer, scores={k: v for k, v in answer.scores.items() if k in kept})
        for answer in sample.answers
    )
    return replace(sample, answers=answers)


def complementary_suppression(
    respondents: Mapping[str, int], threshold: int, *, total_shown: bool = True
) -> set[str]:
    """The groups to hide when groups are shown side by side, optionally with their total.

    Every group below the (effective) threshold is hidden. When a total is shown, visible
    groups are then hidden one at a time, smallest first (ties by key), for as long as:

    - exactly one group is hidden (even an empty one): otherwise it could be subtracted out of
      the total, so the next-smallest group is hidden too;
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
