"""Runs' answers as the arrays the tests read: one score or share vector per leader."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from pulses.samples import RunSample
from pulses.signals.stats import Matrix, Vector

# Two declared intents closer than this on every priority count as the same intent.
SAME_INTENT = 0.005


def scores(runs: Sequence[RunSample], key: str) -> Vector:
    """Every answer's score on dimension ``key`` over the runs (unanswered left out)."""
    values = [a.scores[key] for run in runs for a in run.answers if key in a.scores]
    return np.asarray(values, dtype=np.float64)


def score_matrix(run: RunSample, keys: Sequence[str]) -> Matrix:
    """Leaders × dimensions of one run, NaN where a leader left a dimension unanswered."""
    rows = [[float(a.scores.get(key, math.nan)) for key in keys] for a in run.answers]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys))


def attention(runs: Sequence[RunSample], keys: Sequence[str]) -> Matrix:
    """Leaders × priority keys of attention shares over the runs (answers without focus left
    out)."""
    rows = [
        [float(a.attention.get(key, 0.0)) for key in keys]
        for run in runs
        for a in run.answers
        if a.attention
    ]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys))


def pooled_variances(runs: Sequence[RunSample], keys: Sequence[str]) -> tuple[Vector, int]:
    """Each key's share variance within runs, pooled over the runs, and its degrees of freedom.

    Deviations are taken from each run's own mean, so a change between runs does not inflate it.
    """
    squares = np.zeros(len(keys))
    df = 0
    for run in runs:
        shares = attention([run], keys)
        if len(shares) < 2:
            continue
        squares += ((shares - shares.mean(axis=0)) ** 2).sum(axis=0)
        df += len(shares) - 1
    return (squares / df if df else squares), df


def dimension_keys(runs: Sequence[RunSample]) -> list[str]:
    """Dimension keys answered in the runs, in first-seen order."""
    return list(dict.fromkeys(key for run in runs for a in run.answers for key in a.scores))


def attention_keys(runs: Sequence[RunSample]) -> list[str]:
    """Declared and answered priority keys over the runs, sorted."""
    keys = {key for run in runs for key in run.declared}
    keys |= {key for run in runs for a in run.answers for key in a.attention}
    return sorted(keys)


def same_intent(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < SAME_INTENT for k in a.keys() | b.keys())


def has_attention(run: RunSample) -> bool:
    return any(a.attention for a in run.answers)
