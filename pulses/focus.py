"""Where leaders put their attention: the focus distribution, the intent gap and priority drift.

Works from per-priority sums of attention: each focus answer spreads a share of 1 over the
priority keys (a priority id as text, or `OTHER`), so a key's sum is how many answers' worth
of attention went to it. A single-choice answer puts its whole share on one key, and then the
sums are counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

OTHER = "other"
DRIFT_HISTORY_RUNS = 4


def _check_sums(counts: Mapping[str, float]) -> None:
    for key, count in counts.items():
        if (
            isinstance(count, bool)
            or not isinstance(count, int | float)
            or not math.isfinite(count)
            or count < 0
        ):
            raise ValueError(f"sum for {key!r} must be a finite non-negative number, got {count!r}")


def focus_distribution(counts: Mapping[str, float]) -> dict[str, float]:
    """Each priority key's share of the attention summed over the focus answers (or `OTHER`);
    {} when nobody answered.

    With shares, this is the mean of the leaders' share vectors; with single choices, the
    share of answers naming each key. Keys given with a zero sum are kept with share 0.0.
    """
    _check_sums(counts)
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
        # p / m written as 2p / (p + q): (p + q) / 2 underflows to 0 for a subnormal p.
        left = pk * math.log2(2 * pk / (pk + qk)) if pk > 0 else 0.0
        right = qk * math.log2(2 * qk / (pk + qk)) if qk > 0 else 0.0
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
    fill = fmean(set_weights) if set_weights else 1.0
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


def pool_counts(runs: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Sum focus sums over runs, so each respondent weighs the same whatever their run."""
    pooled: dict[str, float] = {}
    for counts in runs:
        _check_sums(counts)
        for key, count in counts.items():
            pooled[key] = pooled.get(key, 0) + count
    return pooled


def priority_drift(
    current: Mapping[str, float],
    previous: Sequence[Mapping[str, float]],
    *,
    top: int = 3,
) -> Drift | None:
    """How far this run's focus moved from the pooled focus of the previous runs.

    ``previous`` is most recent first; only the first `DRIFT_HISTORY_RUNS` (4) are used, and
    they are pooled by summing before normalising. Movers are every key of either side
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
