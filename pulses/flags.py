"""Plain-language findings that the weekly digest leads with, each with the numbers behind it.

Flags are computed from metrics that have already passed `pulses.privacy.reportable`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pulses.dimensions import dimension_name
from pulses.focus import OTHER, Drift
from pulses.layers import group_divergence
from pulses.metrics import RunMetrics

FlagKind = Literal[
    "drift_gain",
    "drift_loss",
    "intent_gap",
    "level_drop",
    "fragmented",
    "layer_divergence",
    "low_response",
]
Severity = Literal["high", "medium", "low"]
SEVERITY_ORDER: dict[Severity, int] = {"high": 0, "medium": 1, "low": 2}


# Threshold comparisons are made with this slack so that a move of exactly 15 points or a drop
# of exactly 0.10 is flagged despite binary floating point (0.75 − 0.65 < 0.10 in floats).
_EPSILON = 1e-9


@dataclass(frozen=True)
class FlagThresholds:
    """When a finding is worth a flag. Shares and levels are on a 0–1 scale.

    drift_divergence: JSD (bits) between this run's focus and the pooled previous runs at or
        above which attention counts as having moved (0.10).
    drift_mover_share: change in one priority's share (0.15 = 15 percentage points) needed for
        that priority to be named as gaining or losing attention; both conditions must hold.
    intent_gap: JSD between focus and the declared priorities' weights at or above which
        leadership attention is flagged as diverging from declared intent (0.25).
    level_drop: fall of a dimension's level, (mean − 1) / 4, below the mean level of the
        previous runs that is flagged (0.10, i.e. 0.4 on the 1–5 scale).
    fragmented_rwg: item rwg below which agreement is weak. rwg < .50 is the conventional
        "lack of agreement / weak agreement" band (LeBreton & Senter 2008), so a dimension is
        flagged when it falls below 0.50 after averaging at or above it (or with no history).
    low_response_rate: response rate below which the run is flagged as thinly answered (0.60).
    layer_focus_divergence: JSD between two layers' focus distributions that is flagged (0.15).
    layer_item_mean_distance: mean absolute difference of two layers' item means, on the 1–5
        scale, that is flagged (0.5).
    history_runs: how many previous runs (most recent first) form the baseline (4).
    """

    drift_divergence: float = 0.10
    drift_mover_share: float = 0.15
    intent_gap: float = 0.25
    level_drop: float = 0.10
    fragmented_rwg: float = 0.50
    low_response_rate: float = 0.60
    layer_focus_divergence: float = 0.15
    layer_item_mean_distance: float = 0.5
    history_runs: int = 4


DEFAULT_THRESHOLDS = FlagThresholds()


@dataclass(frozen=True)
class Flag:
    """One finding: ``subject`` is the priority key, dimension key or layer pair it is about."""

    kind: FlagKind
    severity: Severity
    subject: str
    message: str
    numbers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "numbers": dict(self.numbers),
        }


def _at_least(value: float, threshold: float) -> bool:
    return value >= threshold - _EPSILON


def _below(value: float, threshold: float) -> bool:
    return value < threshold - _EPSILON


def _percent(share: float) -> int:
    # Half-up rounding, so that the printed points always equal the printed shares' difference.
    return math.floor(share * 100 + 0.5)


def _signed(points: int) -> str:
    return f"+{points}" if points >= 0 else f"-{-points}"


def _priority_name(key: str, names: Mapping[str, str]) -> str:
    if key in names:
        return names[key]
    return "something else" if key == OTHER else key


def _history_phrase(runs: int) -> str:
    if runs == 1:
        return "the previous pulse"
    if runs > 1:
        return f"the previous {runs} pulses"
    return "earlier pulses"


def _drift_flags(
    drift: Drift, runs: int, thresholds: FlagThresholds, names: Mapping[str, str]
) -> list[Flag]:
    if not _at_least(drift.divergence, thresholds.drift_divergence):
        return []
    flags = []
    for mover in drift.movers:
        if not _at_least(abs(mover.change), thresholds.drift_mover_share):
            continue
        name = _priority_name(mover.key, names)
        before, after = _percent(mover.before), _percent(mover.after)
        shares = f"{before}% → {after}% of leaders ({_signed(after - before)} pts)"
        since = f"compared with {_history_phrase(runs)}"
        gain = mover.change > 0
        flags.append(
            Flag(
                kind="drift_gain" if gain else "drift_loss",
                severity="high"
                if _at_least(abs(mover.change), 2 * thresholds.drift_mover_share)
                else "medium",
                subject=mover.key,
                message=(
                    f"Attention moved to *{name}*: {shares} {since}."
                    if gain
                    else f"Attention moved away from *{name}*: {shares} {since}."
                ),
                numbers={
                    "before": mover.before,
                    "after": mover.after,
                    "change": mover.change,
                    "divergence": drift.divergence,
                },
            )
        )
    return flags


def _intent_flag(
    current: RunMetrics, thresholds: FlagThresholds, names: Mapping[str, str]
) -> list[Flag]:
    gap = current.intent_gap
    if gap is None or not _at_least(gap, thresholds.intent_gap):
        return []
    top_key = min(current.focus_distribution, key=lambda k: (-current.focus_distribution[k], k))
    top_share = current.focus_distribution[top_key]
    return [
        Flag(
            kind="intent_gap",
            severity="high" if _at_least(gap, 2 * thresholds.intent_gap) else "medium",
            subject="declared_priorities",
            message=(
                f"Leaders' attention is diverging from the declared priorities: intent gap "
                f"{gap:.2f} (0 = matches them, 1 = no overlap). Most named: "
                f"*{_priority_name(top_key, names)}* ({_percent(top_share)}% of leaders)."
            ),
            numbers={"intent_gap": gap, "top_share": top_share},
        )
    ]


def _item_level(mean: float) -> float:
    return (mean - 1) / 4


def _level_flags(
    current: RunMetrics, history: Sequence[RunMetrics], thresholds: FlagThresholds
) -> list[Flag]:
    flags = []
    for key, stats in current.items.items():
        if stats.mean is None:
            continue
        before = [
            m for m in (run.items[key].mean for run in history if key in run.items) if m is not None
        ]
        if not before:
            continue
        previous_mean = math.fsum(before) / len(before)
        drop = _item_level(previous_mean) - _item_level(stats.mean)
        if not _at_least(drop, thresholds.level_drop):
            continue
        flags.append(
            Flag(
                kind="level_drop",
                severity="high" if _at_least(drop, 2 * thresholds.level_drop) else "medium",
                subject=key,
                message=(
                    f"*{dimension_name(key)}* fell: leaders rate it {stats.mean:.1f} / 5, "
                    f"down from {previous_mean:.1f} over {_history_phrase(len(before))}."
                ),
                numbers={
                    "mean": stats.mean,
                    "previous_mean": previous_mean,
                    "level": _item_level(stats.mean),
                    "previous_level": _item_level(previous_mean),
                    "drop": drop,
                },
            )
        )
    return flags


def _fragmented_flags(
    current: RunMetrics, history: Sequence[RunMetrics], thresholds: FlagThresholds
) -> list[Flag]:
    flags = []
    limit = thresholds.fragmented_rwg
    for key, stats in current.items.items():
        if stats.rwg is None or not _below(stats.rwg, limit):
            continue
        before = [
            r for r in (run.items[key].rwg for run in history if key in run.items) if r is not None
        ]
        previous_rwg = math.fsum(before) / len(before) if before else None
        if previous_rwg is not None and _below(previous_rwg, limit):
            continue  # already fragmented: reported when it fell, not every week
        name = dimension_name(key)
        numbers = {"rwg": stats.rwg}
        if previous_rwg is None:
            message = (
                f"Leaders see *{name}* very differently: agreement (rwg) {stats.rwg:.2f}, "
                f"below {limit:.2f}."
            )
        else:
            numbers["previous_rwg"] = previous_rwg
            message = (
                f"Leaders no longer see *{name}* the same way: agreement (rwg) "
                f"{stats.rwg:.2f}, below {limit:.2f}, down from {previous_rwg:.2f} over "
                f"{_history_phrase(len(before))}."
            )
        if stats.sd is not None:
            numbers["sd"] = stats.sd
        flags.append(
            Flag(
                kind="fragmented", severity="medium", subject=key, message=message, numbers=numbers
            )
        )
    return flags


def _response_flag(current: RunMetrics, thresholds: FlagThresholds) -> list[Flag]:
    rate = current.response_rate
    if rate is None or not _below(rate, thresholds.low_response_rate):
        return []
    return [
        Flag(
            kind="low_response",
            severity="medium" if _below(rate, thresholds.low_response_rate / 2) else "low",
            subject="response_rate",
            message=(
                f"Only {current.n_responded} of {current.n_invited} leaders answered "
                f"({_percent(rate)}%), so this week's picture is partial."
            ),
            numbers={
                "response_rate": rate,
                "n_responded": current.n_responded,
                "n_invited": current.n_invited,
            },
        )
    ]


def _by_severity(flags: list[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda flag: SEVERITY_ORDER[flag.severity])


def compute_flags(
    current: RunMetrics,
    previous: Sequence[RunMetrics],
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    *,
    priority_names: Mapping[str, str] | None = None,
) -> list[Flag]:
    """The findings for one group's run, most severe first.

    ``previous`` is the group's earlier reportable runs, most recent first; the first
    ``thresholds.history_runs`` form the baseline. ``priority_names`` maps priority keys to the
    names shown in messages. A run that looks like its history yields no drift, level or
    agreement flags.
    """
    names = priority_names or {}
    history = previous[: thresholds.history_runs]
    flags: list[Flag] = []
    if current.priority_drift is not None:
        flags += _drift_flags(current.priority_drift, len(history), thresholds, names)
    flags += _intent_flag(current, thresholds, names)
    flags += _level_flags(current, history, thresholds)
    flags += _fragmented_flags(current, history, thresholds)
    flags += _response_flag(current, thresholds)
    return _by_severity(flags)


def _top_focus(metrics: RunMetrics, names: Mapping[str, str]) -> str:
    p = metrics.focus_distribution
    key = min(p, key=lambda k: (-p[k], k))
    return f"*{_priority_name(key, names)}* ({_percent(p[key])}%)"


def _layer_flag(
    subject: str, value: float, threshold: float, message: str, numbers: dict[str, float]
) -> Flag:
    severity: Severity = "high" if _at_least(value, 2 * threshold) else "medium"
    return Flag(
        kind="layer_divergence",
        severity=severity,
        subject=subject,
        message=message,
        numbers=numbers,
    )


def layer_flags(
    a_name: str,
    a: RunMetrics,
    b_name: str,
    b: RunMetrics,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    *,
    priority_names: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Cross-layer distortion findings (e.g. executive team vs directors), most severe first."""
    names = priority_names or {}
    divergence = group_divergence(a, b)
    subject = f"{a_name} vs {b_name}"
    flags: list[Flag] = []
    focus = divergence.focus_jsd
    if focus is not None and _at_least(focus, thresholds.layer_focus_divergence):
        flags.append(
            _layer_flag(
                subject,
                focus,
                thresholds.layer_focus_divergence,
                f"*{a_name}* and *{b_name}* put their attention in different places "
                f"(divergence {focus:.2f}): {a_name} most on {_top_focus(a, names)}, "
                f"{b_name} on {_top_focus(b, names)}.",
                {"focus_jsd": focus},
            )
        )
    distance = divergence.item_mean_distance
    if distance is not None and _at_least(distance, thresholds.layer_item_mean_distance):
        widest = min(divergence.per_item, key=lambda k: (-divergence.per_item[k], k))
        a_mean = a.items[widest].mean
        b_mean = b.items[widest].mean
        # per_item only holds items that both layers answered
        assert a_mean is not None
        assert b_mean is not None
        flags.append(
            _layer_flag(
                subject,
                distance,
                thresholds.layer_item_mean_distance,
                f"*{a_name}* and *{b_name}* rate coherence differently: their averages "
                f"differ by {distance:.1f} points on a 1–5 scale, most on "
                f"*{dimension_name(widest)}* ({a_mean:.1f} vs {b_mean:.1f}).",
                {
                    "item_mean_distance": distance,
                    **{f"difference.{key}": value for key, value in divergence.per_item.items()},
                },
            )
        )
    return _by_severity(flags)
