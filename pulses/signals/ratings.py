"""Rules on the Likert dimensions: a level that fell, an agreement that broke down.

The same leaders answer nearly every pulse, so what sets them apart (one rates everything a
point higher) is in every pulse alike and cancels between pulses: a pulse's mean moves far less
from one pulse to the next than the spread between leaders suggests. So both rules work on one
figure per pulse and dimension, and measure its noise by how much that figure moved over the
earlier pulses:

- **level drop**: the pulse's mean score;
- **fragmented**: the pulse's spread of answers, its variance s² to the power 1/3 (the power
  that makes the noise of a variance nearly normal; agreement, rwg = 1 − s²/σ²_EU, falls as
  s² grows).

Each rule compares this pulse's figure, and the mean figure of the last `window_runs` pulses
(this one included), with the mean figure of the up to `rating_history_runs` pulses before
them (one-sided Student t, the pulse-to-pulse variance pooled over the dimensions), and divides
its false-alarm budget (`rating_false_alarm`) over the dimensions and the two comparisons
(weighted Bonferroni: the window, where a fall spread over three pulses shows, gets
`window_share` of it). While history is short the window shrinks so that at least
`min_baseline_runs` pulses stay before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pulses.dimensions import dimension_name
from pulses.flags import Flag, FlagKind, FlagThresholds, p_text, severity_of, window_phrase
from pulses.i18n import _, ngettext, number
from pulses.samples import RunSample
from pulses.signals import arrays
from pulses.signals.attention import Verdict
from pulses.signals.stats import NULL_VARIANCE, Vector, run_means_fell


@dataclass(frozen=True)
class _Split:
    """The runs a comparison reads: the recent ones and the ones before them."""

    window: list[RunSample]
    baseline: list[RunSample]
    alpha: float


def _splits(
    current: RunSample, history: Sequence[RunSample], thresholds: FlagThresholds, dims: int
) -> list[_Split]:
    """This run against the runs before it and, when history allows, the last `window_runs`
    runs against the runs before them, each with its share of the false-alarm budget."""
    wide = min(thresholds.window_runs, len(history) + 1 - thresholds.min_baseline_runs)
    if wide < 1:
        return []
    single = [current], list(history[: thresholds.rating_history_runs])
    if wide == 1:
        return [_Split(*single, alpha=thresholds.rating_false_alarm / dims)]
    window = [current, *history[: wide - 1]]
    baseline = list(history[wide - 1 : wide - 1 + thresholds.rating_history_runs])
    share = thresholds.window_share
    return [
        _Split(*single, alpha=thresholds.rating_false_alarm * (1 - share) / dims),
        _Split(window, baseline, alpha=thresholds.rating_false_alarm * share / dims),
    ]


# The figures a rule reads per run and dimension (see the module's docstring).
Figure = Literal["mean", "spread"]


@dataclass(frozen=True)
class _RunFigures:
    """One run's answers per dimension, and both figures of each dimension with two or more."""

    answers: dict[str, int]
    mean: dict[str, float]
    spread: dict[str, float]


class _Scores:
    """Each run's figures on every dimension, computed once per evaluation and all dimensions
    at once: the two comparisons and the two rules read the same runs again and again, and
    numpy's cost on a handful of answers is in the calls, not the arithmetic. A list of runs
    is gathered once into every dimension's figures and answer count."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = keys
        self._runs: dict[int, _RunFigures] = {}
        self._gathered: dict[tuple[int, ...], _Gathered] = {}

    def of(self, run: RunSample) -> _RunFigures:
        found = self._runs.get(id(run))
        if found is None:
            self.prepare([run])
            found = self._runs[id(run)]
        return found

    def prepare(self, runs: Sequence[RunSample]) -> None:
        """Compute the figures of every run given, in one pass of numpy over all their
        answers, the same to the last bit as each run's alone."""
        todo = list({id(run): run for run in runs if id(run) not in self._runs}.values())
        keys = self._keys
        for run in todo:
            if not run.answers:
                self._runs[id(run)] = _RunFigures(dict.fromkeys(keys, 0), {}, {})
        todo = [run for run in todo if run.answers]
        if not todo:
            return
        # Runs × leaders × dimensions, each run's answers padded with unanswered rows to the
        # longest: sums over the leaders then add one run's answers in their order and the
        # padding's zeros after them, as numpy adds a run's answers alone.
        width = max(len(run.answers) for run in todo)
        padded = np.full((len(todo), width, len(keys)), np.nan)
        for row, run in enumerate(todo):
            padded[row, : len(run.answers)] = arrays.score_matrix(run, keys)
        answered = ~np.isnan(padded)
        counts = answered.sum(axis=1)
        scores = np.where(answered, padded, 0.0)
        means = scores.sum(axis=1) / np.maximum(counts, 1)
        squares = (np.where(answered, padded - means[:, np.newaxis, :], 0.0) ** 2).sum(axis=1)
        # The answers' variance to the power 1/3, the power that makes its noise nearly
        # normal (Wilson & Hilferty 1931).
        spreads = (squares / np.maximum(counts - 1, 1)) ** (1 / 3)
        two = (counts >= 2).tolist()
        for run, n, m, v, ok in zip(
            todo, counts.tolist(), means.tolist(), spreads.tolist(), two, strict=True
        ):
            self._runs[id(run)] = _RunFigures(
                answers=dict(zip(keys, n, strict=True)),
                mean={k: x for k, x, enough in zip(keys, m, ok, strict=True) if enough},
                spread={k: x for k, x, enough in zip(keys, v, ok, strict=True) if enough},
            )

    def gather(self, runs: Sequence[RunSample]) -> _Gathered:
        """The runs' answers and figures per dimension (computed once per list of runs)."""
        key = tuple(id(run) for run in runs)
        found = self._gathered.get(key)
        if found is None:
            answers = dict.fromkeys(self._keys, 0)
            means: dict[str, list[float]] = {k: [] for k in self._keys}
            spreads: dict[str, list[float]] = {k: [] for k in self._keys}
            for run in runs:
                figures = self.of(run)
                for k, count in figures.answers.items():
                    answers[k] += count
                for k, value in figures.mean.items():
                    means[k].append(value)
                for k, value in figures.spread.items():
                    spreads[k].append(value)
            found = self._gathered[key] = _Gathered(
                answers,
                {
                    "mean": {k: np.asarray(v, dtype=np.float64) for k, v in means.items()},
                    "spread": {k: np.asarray(v, dtype=np.float64) for k, v in spreads.items()},
                },
            )
        return found


@dataclass(frozen=True)
class _Gathered:
    """A list of runs' answers per dimension, and each figure per dimension: one value per
    run with at least two answers on it, in the runs' order."""

    answers: dict[str, int]
    figures: dict[Figure, dict[str, Vector]]


@dataclass(frozen=True)
class _Test:
    key: str
    p: float
    split: _Split
    now: Vector  # the window's figures, one per run
    then: Vector  # the baseline's
    answers: tuple[int, int]  # answers in the window and in the baseline

    @property
    def noise(self) -> float:
        """How much the figure moved from run to run (pooled sd of both sets)."""
        squares = float(np.sum((self.now - self.now.mean()) ** 2))
        squares += float(np.sum((self.then - self.then.mean()) ** 2))
        df = len(self.now) + len(self.then) - 2
        return math.sqrt(squares / df) if df > 0 else 0.0


def _tests(
    splits: Sequence[_Split],
    keys: Sequence[str],
    thresholds: FlagThresholds,
    figure: Figure,
    sign: float,
    scores: _Scores,
) -> list[_Test]:
    """Every comparison's p per dimension; ``sign`` −1 tests a rise instead of a fall."""
    found = []
    for split in splits:
        pairs, used = [], []
        # Each list of runs gathered once, not once per dimension and figure.
        window, baseline = scores.gather(split.window), scores.gather(split.baseline)
        for key in keys:
            then = baseline.figures[figure][key]
            now = window.figures[figure][key]
            answers = (window.answers[key], baseline.answers[key])
            enough = answers[0] >= thresholds.min_answers
            enough &= answers[1] >= 2 * thresholds.min_answers
            if enough and len(then) >= thresholds.min_baseline_runs and len(now):
                pairs.append((sign * then, sign * now))
                used.append((key, now, then, answers))
        for (key, now, then, answers), p in zip(used, run_means_fell(pairs), strict=True):
            found.append(_Test(key, p, split, now, then, answers))
    return found


def ratings(
    current: RunSample, history: Sequence[RunSample], thresholds: FlagThresholds
) -> tuple[Verdict, Verdict]:
    """(level drops, fragmentation) of this run's dimensions."""
    keys = arrays.dimension_keys([current])
    splits = _splits(current, history, thresholds, max(1, len(keys)))
    scores = _Scores(keys)
    scores.prepare([run for split in splits for run in (*split.window, *split.baseline)])
    falls = _tests(splits, keys, thresholds, "mean", 1.0, scores)
    rises = _tests(splits, keys, thresholds, "spread", -1.0, scores)
    if not falls and not rises:
        if history:
            level = _("level: too few earlier pulses to tell")
            agreement = _("agreement: too few earlier pulses to tell")
        else:
            level = _("level: no earlier pulse to compare")
            agreement = _("agreement: no earlier pulse to compare")
        return Verdict(undecided=level), Verdict(undecided=agreement)
    corrected = _(", corrected for {n} dimensions and {comparisons} comparisons").format(
        n=len(keys), comparisons=len(splits)
    )
    return (
        Verdict(flags=tuple(_level_flag(t, corrected) for t in _firing(falls))),
        Verdict(flags=tuple(_spread_flag(t, corrected) for t in _firing(rises))),
    )


def _firing(tests: Sequence[_Test]) -> list[_Test]:
    """Per dimension, the comparison with the strongest evidence among those that fired."""
    best: dict[str, _Test] = {}
    for test in tests:
        if test.p < test.split.alpha:
            held = best.get(test.key)
            if held is None or test.p / test.split.alpha < held.p / held.split.alpha:
                best[test.key] = test
    return list(best.values())


def _evidence(test: _Test, what: str, corrected: str) -> str:
    window, baseline = len(test.split.window), len(test.split.baseline)
    before = ngettext("the pulse before", "the {n} pulses before", baseline).format(n=baseline)
    return _(
        "{p}, {what} over {window} ({answers} answers) against {before} ({earlier} answers), "
        "which moved by ±{noise} from pulse to pulse{corrected}"
    ).format(
        p=p_text(test.p),
        what=what,
        window=window_phrase(window),
        answers=test.answers[0],
        before=before,
        earlier=test.answers[1],
        noise=number(test.noise, 2),
        corrected=corrected,
    )


def _flag(
    kind: FlagKind, test: _Test, message: str, numbers: dict[str, float], evidence: str
) -> Flag:
    return Flag(
        kind=kind,
        severity=severity_of(test.p, test.split.alpha),
        subject=test.key,
        message=message,
        numbers={**numbers, "p": test.p},
        evidence=evidence,
    )


def _level_flag(test: _Test, corrected: str) -> Flag:
    mean_now, mean_then = float(test.now.mean()), float(test.then.mean())
    message = _("*{name}* fell: leaders rate it {now} / 5 over {window}, down from {then}.").format(
        name=_(dimension_name(test.key)),
        now=number(mean_now, 1),
        window=window_phrase(len(test.split.window)),
        then=number(mean_then, 1),
    )
    numbers = {"mean": mean_now, "previous_mean": mean_then, "drop": mean_then - mean_now}
    evidence = _evidence(test, _("the mean"), corrected)
    return _flag("level_drop", test, message, numbers, evidence)


def _variance(figures: Vector) -> float:
    """The mean variance of the runs whose spread figures (variance^(1/3)) are given."""
    return float(np.mean(figures**3))


def _rwg(variance: float) -> float:
    return 1 - min(variance, NULL_VARIANCE) / NULL_VARIANCE


def _spread_flag(test: _Test, corrected: str) -> Flag:
    now, then = _variance(test.now), _variance(test.then)
    message = _(
        "Leaders no longer see *{name}* the same way: agreement (rwg) {now} over {window}, "
        "down from {then}."
    ).format(
        name=_(dimension_name(test.key)),
        now=number(_rwg(now), 2),
        window=window_phrase(len(test.split.window)),
        then=number(_rwg(then), 2),
    )
    numbers = {
        "rwg": _rwg(now),
        "previous_rwg": _rwg(then),
        "sd": math.sqrt(now),
        "previous_sd": math.sqrt(then),
    }
    evidence = _evidence(test, _("the spread of answers"), corrected)
    return _flag("fragmented", test, message, numbers, evidence)
