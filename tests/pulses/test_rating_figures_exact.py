"""The rating rules' figures and tests computed for many runs or pairs at once are each one's
own, bit for bit."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np
import pytest

from pulses.samples import LeaderAnswer, RunSample
from pulses.signals.arrays import score_matrix
from pulses.signals.ratings import _RunFigures, _Scores
from pulses.signals.stats import Vector, run_means_fell

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
    gathered = together.gather(runs)
    for key in KEYS:
        expected = [together.of(r).mean[key] for r in runs if together.of(r).answers[key] >= 2]
        assert gathered.figures["mean"][key].tolist() == expected
        assert gathered.answers[key] == sum(together.of(r).answers[key] for r in runs)


def _fell_one_pair_at_a_time(pairs: list[tuple[Vector, Vector]]) -> list[float]:
    """`run_means_fell` with numpy's reductions on each vector alone."""
    from scipy import special

    squares, df = 0.0, 0
    for before, after in pairs:
        if len(before) and len(after):
            squares += float(np.sum((before - before.mean()) ** 2))
            squares += float(np.sum((after - after.mean()) ** 2))
            df += len(before) + len(after) - 2
    found = []
    for before, after in pairs:
        if not len(before) or not len(after) or df < 1:
            found.append(1.0)
            continue
        difference = float(after.mean() - before.mean())
        scale = math.sqrt(squares / df * (1 / len(before) + 1 / len(after)))
        if scale == 0:
            found.append(1.0 if difference >= 0 else 0.0)
            continue
        found.append(float(special.stdtr(df, difference / scale)))
    return found


@pytest.mark.parametrize("seed", range(10))
def test_run_means_fell_stacks_pairs_to_the_same_p_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(100):
        pairs = [
            (
                rng.random(int(rng.choice([0, 1, 2, 5, 12]))) * 3,
                rng.random(int(rng.choice([0, 1, 3]))) * 3,
            )
            for _ in range(int(rng.integers(0, 11)))
        ]
        if pairs and rng.random() < 0.2:
            pairs[0] = (np.full(4, 2.0), np.full(2, 2.0))  # no spread at all
        assert run_means_fell(pairs) == _fell_one_pair_at_a_time(pairs)
