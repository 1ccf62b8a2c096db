"""Rules on the Likert dimensions: a level that fell, an agreement that broke down.

Both compare this pulse's answers with those of the `history_runs` pulses before it, and the
answers of the last `window_runs` pulses (this one included) with those of the pulses before
them (a fall spread over three pulses is seen with three times the answers), one dimension at a
time, and divide the false-alarm budget over the dimensions and comparisons (Bonferroni):

- **level drop**: the window's mean is below the baseline's (one-sided pooled Student t);
- **fragmented**: the window's answers are more spread than the baseline's, so agreement
  (rwg = 1 − s²/σ²_EU) fell (one-sided variance-ratio F test).

Answers of one leader in different pulses are treated as independent (they cannot be linked):
the true noise of a difference is smaller, so the rules err on the side of silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulses.dimensions import dimension_name
from pulses.flags import Flag, FlagThresholds, p_text, severity_of, window_phrase
from pulses.samples import RunSample
from pulses.signals import arrays
from pulses.signals.attention import Verdict
from pulses.signals.stats import NULL_VARIANCE, Vector, mean_fell, variance_rose


def _splits(
    current: RunSample, history: Sequence[RunSample], thresholds: FlagThresholds
) -> list[tuple[list[RunSample], list[RunSample]]]:
    """The (window, baseline) pairs compared: this run against the runs before it, and the
    last `window_runs` runs against the runs before them when history leaves a baseline."""
    pairs = [([current], list(history[: thresholds.history_runs]))]
    wide = thresholds.window_runs - 1
    if wide > 0 and len(history) >= wide + thresholds.min_baseline_runs:
        pairs.append(
            ([current, *history[:wide]], list(history[wide : wide + thresholds.history_runs]))
        )
    return pairs


def _phrases(window: int, baseline: int, n_now: int, n_then: int) -> str:
    before = "the pulse before" if baseline == 1 else f"the {baseline} pulses before"
    return f"{n_now} answers over {window_phrase(window)} against {n_then} over {before}"


@dataclass(frozen=True)
class _Test:
    p: float
    window: int
    baseline: int
    now: Vector
    then: Vector


def _enough(pair: tuple[Vector, Vector], thresholds: FlagThresholds) -> bool:
    then, now = pair
    return len(then) >= 2 * thresholds.min_answers and len(now) >= thresholds.min_answers


def ratings(
    current: RunSample, history: Sequence[RunSample], thresholds: FlagThresholds
) -> tuple[Verdict, Verdict]:
    """(level drops, fragmentation) of this run's dimensions."""
    splits = [
        (window, baseline)
        for window, baseline in _splits(current, history, thresholds)
        if len(baseline) >= thresholds.min_baseline_runs
    ]
    keys = arrays.dimension_keys([current])
    tests: dict[str, list[tuple[list[RunSample], list[RunSample], Vector, Vector]]] = {}
    for key in keys:
        for window, baseline in splits:
            then, now = arrays.scores(baseline, key), arrays.scores(window, key)
            if _enough((then, now), thresholds):
                tests.setdefault(key, []).append((window, baseline, now, then))
    if not tests:
        why = "too few earlier pulses to tell" if history else "no earlier pulse to compare"
        return Verdict(undecided=f"level: {why}"), Verdict(undecided=f"agreement: {why}")
    count = sum(len(found) for found in tests.values())
    alpha = thresholds.false_alarm / count
    corrected = f", corrected for {len(tests)} dimensions and {len(splits)} comparisons"
    levels: list[Flag] = []
    spreads: list[Flag] = []
    for key, found in tests.items():
        falls = [_Test(mean_fell(t, n), len(w), len(b), n, t) for w, b, n, t in found]
        rises = [_Test(variance_rose(t, n), len(w), len(b), n, t) for w, b, n, t in found]
        fall = min(falls, key=lambda test: test.p)
        if fall.p < alpha:
            levels.append(_level_flag(key, fall, alpha, corrected))
        rise = min(rises, key=lambda test: test.p)
        if rise.p < alpha:
            spreads.append(_spread_flag(key, rise, alpha, corrected))
    return Verdict(flags=tuple(levels)), Verdict(flags=tuple(spreads))


def _level_flag(key: str, test: _Test, alpha: float, corrected: str) -> Flag:
    mean_now, mean_then = float(test.now.mean()), float(test.then.mean())
    evidence = _phrases(test.window, test.baseline, len(test.now), len(test.then))
    return Flag(
        kind="level_drop",
        severity=severity_of(test.p, alpha),
        subject=key,
        message=(
            f"*{dimension_name(key)}* fell: leaders rate it {mean_now:.1f} / 5 over "
            f"{window_phrase(test.window)}, down from {mean_then:.1f}."
        ),
        numbers={
            "mean": mean_now,
            "previous_mean": mean_then,
            "drop": mean_then - mean_now,
            "p": test.p,
        },
        evidence=f"{p_text(test.p)}, {evidence}{corrected}",
    )


def _rwg(values: Vector) -> float:
    return 1 - min(float(values.var(ddof=1)), NULL_VARIANCE) / NULL_VARIANCE


def _spread_flag(key: str, test: _Test, alpha: float, corrected: str) -> Flag:
    evidence = _phrases(test.window, test.baseline, len(test.now), len(test.then))
    return Flag(
        kind="fragmented",
        severity=severity_of(test.p, alpha),
        subject=key,
        message=(
            f"Leaders no longer see *{dimension_name(key)}* the same way: agreement (rwg) "
            f"{_rwg(test.now):.2f} over {window_phrase(test.window)}, down from "
            f"{_rwg(test.then):.2f}."
        ),
        numbers={
            "rwg": _rwg(test.now),
            "previous_rwg": _rwg(test.then),
            "sd": float(test.now.std(ddof=1)),
            "previous_sd": float(test.then.std(ddof=1)),
            "p": test.p,
        },
        evidence=f"{p_text(test.p)}, {evidence}{corrected}",
    )
