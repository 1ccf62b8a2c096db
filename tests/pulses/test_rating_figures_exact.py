"""The rating rules' figures of many runs computed together are each run's own, bit for bit."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest

from pulses.samples import LeaderAnswer, RunSample
from pulses.signals.arrays import score_matrix
from pulses.signals.ratings import _RunFigures, _Scores

KEYS = ["clarity", "alignment", "execution", "trust", "focus"]


def _run(rng: random.Random, run_id: int) -> RunSample:
    """A run of 0–30 leaders, each leaving some dimensions unanswered now and then."""
    answers = tuple(
        LeaderAnswer(scores={k: rng.randint(1, 5) for k in KEYS if rng.random() > 0.15})
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, 30]))
    )
    return RunSample(
        run_id=run_id, day=date(2026, 1, 5) + timedelta(weeks=run_id), invited=30, answers=answers
    )


def _alone(run: RunSample) -> _RunFigures:
    """The run's figures from its own answers only, with numpy's reductions over them."""
    matrix = score_matrix(run, KEYS)
    answered = ~np.isnan(matrix)
    counts = answered.sum(axis=0)
    means = np.where(answered, matrix, 0.0).sum(axis=0) / np.maximum(counts, 1)
    squares = (np.where(answered, matrix - means, 0.0) ** 2).sum(axis=0)
    spreads = (squares / np.maximum(counts - 1, 1)) ** (1 / 3)
    two = counts >= 2
    return _RunFigures(
        answers=dict(zip(KEYS, counts.tolist(), strict=True)),
        mean={k: m for k, m, ok in zip(KEYS, means.tolist(), two, strict=True) if ok},
        spread={k: v for k, v, ok in zip(KEYS, spreads.tolist(), two, strict=True) if ok},
    )


@pytest.mark.parametrize("seed", range(20))
def test_figures_of_runs_prepared_together_equal_each_run_alone(seed: int) -> None:
    rng = random.Random(seed)
    runs = [_run(rng, i) for i in range(23)]
    together = _Scores(KEYS)
    together.prepare(runs)
    for run in runs:
        # Dicts of floats compared with ==: equal only if every float is the same.
        assert together.of(run) == _alone(run)
    # The figures of a list of runs, gathered, keep the runs' order and skip the runs with
    # fewer than two answers on the dimension.
    for key in KEYS:
        expected = [together.of(r).mean[key] for r in runs if together.of(r).answers[key] >= 2]
        assert together.figures(runs, key, "mean").tolist() == expected
        assert together.answers(runs, key) == sum(together.of(r).answers[key] for r in runs)
