"""The signal engine: a group's run and its history in, every flag, arrow and interval out.

Pure: no database, no Slack. `evaluate` takes the run's `RunSample` and the group's earlier
shown runs (most recent first) and applies every rule (`pulses.signals.attention`,
`pulses.signals.ratings`); `compare_layers` does the same for two layers of the organisation.
Each flag type fires on a stable team in at most `FlagThresholds.false_alarm` of runs and the
trend arrow in at most `trend_false_alarm`; `make validity` measures both and the power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pulses.dimensions import dimension_name
from pulses.flags import (
    DEFAULT_THRESHOLDS,
    Flag,
    FlagThresholds,
    by_severity,
    p_text,
    percent,
    priority_name,
    response_flag,
    severity_of,
)
from pulses.i18n import _, number
from pulses.samples import RunSample
from pulses.signals import arrays
from pulses.signals.attention import drift, intent
from pulses.signals.ratings import ratings
from pulses.signals.stats import (
    index_spread,
    mean_margin,
    means_differ,
    normal_two_sided,
    share_moved,
)

# (p, the first group's figure, the second's) of one comparison between two layers.
Compared = tuple[float, float, float]


@dataclass(frozen=True)
class Interval:
    """A figure with its 95% interval."""

    estimate: float
    low: float
    high: float

    @property
    def margin(self) -> float:
        """Half the interval's width, for "± margin"."""
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Trend:
    """The index's change since the previous shown run, and whether it is beyond the noise."""

    change: float
    p: float
    arrow: bool

    @property
    def evidence(self) -> str:
        return p_text(self.p)

    def to_dict(self) -> dict[str, object]:
        return {"change": self.change, "p": self.p, "arrow": self.arrow}


@dataclass(frozen=True)
class Signals:
    """Everything the engine says about one run.

    ``undecided`` names, in plain words, the rules that had too few answers to tell.
    """

    flags: tuple[Flag, ...] = ()
    index: Interval | None = None
    index_se: float | None = None
    dimensions: Mapping[str, Interval] = field(default_factory=dict)
    trend: Trend | None = None
    undecided: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "index_interval": None if self.index is None else self.index.to_dict(),
            "dimension_intervals": {k: v.to_dict() for k, v in self.dimensions.items()},
            "trend": None if self.trend is None else self.trend.to_dict(),
            "too_few_to_tell": list(self.undecided),
        }


def _index_interval(run: RunSample) -> tuple[Interval | None, float | None]:
    keys = arrays.dimension_keys([run])
    if not keys:
        return None, None
    matrix = arrays.score_matrix(run, keys)
    spread = index_spread(matrix)
    if spread is None:
        return None, None
    se, low, high = spread
    if not np.isnan(matrix).any():
        # Every leader answered every dimension (three leaders or more, or there would be no
        # spread): each dimension's variance from one row of the transposed matrix, which
        # numpy reduces as it does the column alone, to the same floats.
        means = matrix.mean(axis=0)
        variances = np.var(np.ascontiguousarray(matrix.T), axis=1, ddof=1).tolist()
    else:
        with np.errstate(invalid="ignore"):
            means = np.nanmean(matrix, axis=0)
        variances = [
            float(np.var(column[~np.isnan(column)], ddof=1))
            for column in matrix.T
            if np.count_nonzero(~np.isnan(column)) >= 2
        ]
    if not variances:
        return None, None
    agreement = float(np.mean([1 - min(v, 2.0) / 2.0 for v in variances]))
    estimate = 100 * (float(np.nanmean(means)) - 1) / 4 * agreement
    return Interval(estimate, min(low, estimate), max(high, estimate)), se


def _dimension_intervals(run: RunSample) -> dict[str, Interval]:
    found = {}
    for key in arrays.dimension_keys([run]):
        values = arrays.scores([run], key)
        margin = mean_margin(values)
        if margin is not None:
            mean = float(values.mean())
            found[key] = Interval(mean, mean - margin, mean + margin)
    return found


def _trend(
    index: Interval | None, se: float | None, previous: RunSample | None, alpha: float
) -> Trend | None:
    if index is None or se is None or previous is None:
        return None
    before, se_before = _index_interval(previous)
    if before is None or se_before is None:
        return None
    change = index.estimate - before.estimate
    scale = math.hypot(se, se_before)
    p = 1.0 if scale == 0 and change == 0 else normal_two_sided(change / scale if scale else 1e9)
    return Trend(change=change, p=p, arrow=p < alpha)


def evaluate(
    current: RunSample,
    history: Sequence[RunSample],
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    *,
    priority_names: Mapping[str, str] | None = None,
) -> Signals:
    """Every flag, the trend arrow and the intervals of ``current``.

    ``history`` is the group's earlier runs that may be shown, most recent first; runs whose
    answers were hidden must not be passed (they would leak through a baseline).
    """
    names = priority_names or {}
    verdicts = [
        drift(current, history, thresholds, names),
        intent(current, history, thresholds, names),
        *ratings(current, history, thresholds),
    ]
    flags = [flag for verdict in verdicts for flag in verdict.flags]
    flags += response_flag(current.invited, current.responded, thresholds)
    index, se = _index_interval(current)
    return Signals(
        flags=tuple(by_severity(flags)),
        index=index,
        index_se=se,
        dimensions=_dimension_intervals(current),
        trend=_trend(index, se, history[0] if history else None, thresholds.trend_false_alarm),
        undecided=tuple(v.undecided for v in verdicts if v.undecided),
    )


def compare_layers(
    a_name: str,
    a: Sequence[RunSample],
    b_name: str,
    b: Sequence[RunSample],
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    *,
    priority_names: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Whether two layers (their groups' latest runs pooled) rate or attend differently.

    Each dimension's mean (two-sided Student t) and each priority's mean share (Fisher's exact
    test or Student t) is compared, Bonferroni over all of them; at most one flag for ratings
    and one for attention, naming the clearest difference.
    """
    names = priority_names or {}
    keys = [k for k in arrays.dimension_keys([*a]) if k in arrays.dimension_keys([*b])]
    ratings_p: dict[str, Compared] = {}
    for key in keys:
        x, y = arrays.scores(a, key), arrays.scores(b, key)
        if len(x) >= thresholds.min_answers and len(y) >= thresholds.min_answers:
            ratings_p[key] = (means_differ(x, y), float(x.mean()), float(y.mean()))
    focus_keys = arrays.attention_keys([*a, *b])
    x_att, y_att = arrays.attention(a, focus_keys), arrays.attention(b, focus_keys)
    focus_p: dict[str, Compared] = {}
    if len(x_att) >= thresholds.min_answers and len(y_att) >= thresholds.min_answers:
        for i, key in enumerate(focus_keys):
            x_col, y_col = x_att[:, i], y_att[:, i]
            if x_col.any() or y_col.any():
                focus_p[key] = (share_moved(x_col, y_col), float(x_col.mean()), float(y_col.mean()))
    tests = len(ratings_p) + len(focus_p)
    if not tests:
        return []
    alpha = thresholds.false_alarm / tests
    subject = f"{a_name} vs {b_name}"
    tail = _(", corrected for {n} comparisons").format(n=tests)

    def flag(p: float, message: str, difference: float) -> Flag:
        return Flag(
            kind="layer_divergence",
            severity=severity_of(p, alpha),
            subject=subject,
            message=message,
            numbers={"difference": difference, "p": p},
            evidence=f"{p_text(p)}{tail}",
        )

    def strongest(found: dict[str, Compared]) -> tuple[str, float, float, float] | None:
        """The comparison with the smallest p, when it is beyond the corrected threshold."""
        if not found:
            return None
        key = min(found, key=lambda k: (found[k][0], k))
        p, value_a, value_b = found[key]
        return (key, p, value_a, value_b) if p < alpha else None

    def about_layers(template: str, **values: str | int) -> str:
        return template.format(a=a_name, b=b_name, **values)

    flags: list[Flag] = []
    if (rated := strongest(ratings_p)) is not None:
        key, p, mean_a, mean_b = rated
        message = about_layers(
            _(
                "*{a}* and *{b}* rate coherence differently, most on *{name}* ({mean_a} vs "
                "{mean_b} on a 1–5 scale)."
            ),
            name=_(dimension_name(key)),
            mean_a=number(mean_a, 1),
            mean_b=number(mean_b, 1),
        )
        flags.append(flag(p, message, abs(mean_a - mean_b)))
    if (attended := strongest(focus_p)) is not None:
        key, p, share_a, share_b = attended
        message = about_layers(
            _(
                "*{a}* and *{b}* put their attention in different places: *{name}* gets "
                "{share_a}% of {a}'s and {share_b}% of {b}'s."
            ),
            name=priority_name(key, names),
            share_a=percent(share_a),
            share_b=percent(share_b),
        )
        flags.append(flag(p, message, abs(share_a - share_b)))
    return by_severity(flags)
