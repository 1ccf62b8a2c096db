"""The coherence-under-pressure figures of `make validity` (issue 9), by simulation.

The model, for a team of 8 invited leaders answering with probability 0.85 each week, builds on
the signal engine's (`benchmarks.validity`: five dimensions, group means uniform 3.2–4.0 per
team, leader effects N(0, 0.5) fixed per team, scores rounded and clipped to 1–5, attention
~ Dirichlet(concentration × 50/30/20) in tenths):

- the group's weekly pressure is a latent series z_t, each week pressured (z = 1) with
  probability 1/2 independently of the others, else calm (z = 0);
- each leader answers the pressure item round(clip(2.3 + 1.6 z_t + N(0, 0.7), 1, 5));
- a "holds" team's weekly noise on every score is N(0, 0.5) and its attention concentration 20,
  whatever the pressure;
- a "breaks" team's weekly noise grows with pressure, sd 0.5 + 0.9 z_t, and its attention
  spreads, concentration 20 / (1 + 3 z_t): agreement (mean rwg) falls from about .7 in calm
  weeks to about .3 in pressured ones.

Figures (`pulses.signals.pressure`, the product's own rule, on the product's own run figures
from `pulses.metrics.compute_run_metrics`):

- ``pressure_holds_false``: a holds team over 24 weeks, the rule applied after each run from the
  12th on (window 12): the share of those runs flagged "breaks under pressure";
- ``pressure_breaks_detect_12``: a breaks team, the rule applied after runs 8 to 12: the share
  of teams flagged at least once;
- ``pressure_gap_coverage_90``: after run 12, of holds and breaks teams alike, the share whose
  90% interval covers the true gap. The true gap of a team is what its interval estimates:
  with the runs split as the product splits them (`pulses.signals.pressure.split`), the mean,
  over its more pressured runs, of the expected index of a run in that run's latent state,
  minus the same over its calmer runs; the expected index of a state is the team's (means,
  leader effects fixed) mean index over `EXPECTED_RUNS` fresh runs in that state.

1,000 replications (a holds and a breaks team each), seed 9, about 20 s on 2 cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from pulses.dimensions import DIMENSIONS
from pulses.focus import focus_distribution
from pulses.metrics import RunInput, compute_run_metrics
from pulses.signals.pressure import WINDOW_RUNS, PressurePoint, pressure_gap, split

SEED: Final = 9
REPLICATIONS: Final = 1000
TEAM: Final = 8
RESPONSE: Final = 0.85
LEADER_SD: Final = 0.5
CALM_NOISE: Final = 0.5
NOISE_GROWTH: Final = 0.9
CONCENTRATION: Final = 20.0
SPREAD_GROWTH: Final = 3.0
ATTENTION: Final = (0.5, 0.3, 0.2)
PRESSURE_CALM: Final = 2.3
PRESSURE_RISE: Final = 1.6
PRESSURE_SD: Final = 0.7
HOLDS_RUNS: Final = 24
FIRST_JUDGED: Final = 12  # runs 12..24 (1-based) for the holds team
DETECT_FROM: Final = 8
DETECT_BY: Final = 12
EXPECTED_RUNS: Final = 400
KEYS: Final = tuple(d.key for d in DIMENSIONS)
ROWS: Final = (
    ("pressure_holds_false", '"holds" team: flagged breaking, per run after 12', "<= 2%"),
    ("pressure_breaks_detect_12", '"breaks" team: flagged within 12 runs', ">= 80%"),
    ("pressure_gap_coverage_90", "coherence gap: 90% interval covers the true gap", "87-93%"),
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass
class Team:
    breaks: bool
    means: Floats  # per dimension
    effects: Floats  # leaders × dimensions

    def noise(self, z: Floats) -> Floats:
        return CALM_NOISE + (NOISE_GROWTH * z if self.breaks else 0 * z)

    def concentration(self, z: float) -> float:
        return CONCENTRATION / (1 + SPREAD_GROWTH * z) if self.breaks else CONCENTRATION


@dataclass(frozen=True)
class Week:
    """One simulated run: who answered, their scores, pressure answers and attention."""

    z: int
    answered: npt.NDArray[np.bool_]
    scores: Ints  # leaders × dimensions
    pressure: Ints  # leaders
    attention: Floats  # leaders × priorities


def new_team(rng: np.random.Generator, breaks: bool) -> Team:
    return Team(
        breaks=breaks,
        means=rng.uniform(3.2, 4.0, len(KEYS)),
        effects=rng.normal(0, LEADER_SD, (TEAM, len(KEYS))),
    )


def week(rng: np.random.Generator, team: Team, z: int) -> Week:
    answered = rng.random(TEAM) < RESPONSE
    noise = rng.normal(0, 1, (TEAM, len(KEYS))) * team.noise(np.array(float(z)))
    scores = np.rint(np.clip(team.means + team.effects + noise, 1, 5)).astype(np.int64)
    level = PRESSURE_CALM + PRESSURE_RISE * z
    pressure = np.rint(np.clip(level + rng.normal(0, PRESSURE_SD, TEAM), 1, 5)).astype(np.int64)
    attention = rng.dirichlet(team.concentration(z) * np.asarray(ATTENTION), TEAM)
    return Week(z=z, answered=answered, scores=scores, pressure=pressure, attention=attention)


def _histogram(scores: Ints) -> dict[int, int]:
    values, counts = np.unique(scores, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def point(index: int, w: Week) -> PressurePoint | None:
    """The run as the reports compute it, or None when fewer than two leaders answered."""
    who = np.flatnonzero(w.answered)
    if len(who) < 2:
        return None
    histograms = {key: _histogram(w.scores[who, j]) for j, key in enumerate(KEYS)}
    focus = {str(k): float(v) for k, v in enumerate(w.attention[who].sum(axis=0))}
    metrics = compute_run_metrics(
        RunInput(
            n_invited=TEAM,
            item_counts=histograms,
            focus_counts=focus,
            priority_weights={},
            previous_focus_counts=(),
            n_responded=len(who),
        )
    )
    assert metrics.coherence_index is not None
    p = focus_distribution(focus)
    return PressurePoint(
        day=date(2025, 1, 6) + timedelta(weeks=index),
        pressure=float(np.mean(w.pressure[who])),
        coherence_index=metrics.coherence_index,
        agreement=metrics.agreement,
        focus_alignment=max(p.values()) if p else None,
    )


def expected_index(rng: np.random.Generator, team: Team, z: int, runs: int) -> float:
    """The team's mean coherence index over ``runs`` fresh runs in latent state ``z``
    (vectorised: the same formula as `compute_run_metrics`, checked in the tests)."""
    answered = rng.random((runs, TEAM)) < RESPONSE
    noise = rng.normal(0, 1, (runs, TEAM, len(KEYS))) * team.noise(np.array(float(z)))
    scores = np.rint(np.clip(team.means + team.effects + noise, 1, 5))
    return float(np.nanmean(indices(scores, answered)))


def indices(scores: Floats, answered: npt.NDArray[np.bool_]) -> Floats:
    """The coherence index of each run (runs × leaders × dimensions); NaN below two answers."""
    mask = answered[:, :, None]
    n = answered.sum(axis=1)[:, None].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(mask, scores, 0).sum(axis=1) / n
        squares = np.where(mask, (scores - means[:, None, :]) ** 2, 0).sum(axis=1)
        variances = squares / (n - 1)
        rwg = 1 - np.minimum(variances, 2.0) / 2.0
        level = (means.mean(axis=1) - 1) / 4
        result: Floats = 100 * level * rwg.mean(axis=1)
    result[n[:, 0] < 2] = np.nan
    return result


@dataclass(frozen=True)
class Replication:
    holds_runs_judged: int
    holds_runs_flagged: int
    breaks_detected: bool
    covered: tuple[bool, ...]  # holds team, breaks team (when the gap is shown)


def _history(
    rng: np.random.Generator, team: Team, runs: int
) -> tuple[list[PressurePoint], list[int]]:
    points: list[PressurePoint] = []
    states: list[int] = []
    for index in range(runs):
        z = int(rng.random() < 0.5)
        found = point(index, week(rng, team, z))
        if found is not None:
            points.append(found)
            states.append(z)
    return points, states


def _covered(
    rng: np.random.Generator, team: Team, points: Sequence[PressurePoint], states: Sequence[int]
) -> bool | None:
    gap = pressure_gap(points)
    if gap.index is None or gap.index.low is None or gap.index.high is None:
        return None
    expected = {z: expected_index(rng, team, z, EXPECTED_RUNS) for z in (0, 1)}
    state_of = dict(zip((p.day for p in points), states, strict=True))
    high, low = split(points[-WINDOW_RUNS:])
    true_gap = float(
        np.mean([expected[state_of[p.day]] for p in high])
        - np.mean([expected[state_of[p.day]] for p in low])
    )
    return gap.index.low <= true_gap <= gap.index.high


def replicate(seed: int) -> Replication:
    rng = np.random.default_rng(seed)
    holds = new_team(rng, breaks=False)
    points, states = _history(rng, holds, HOLDS_RUNS)
    judged = flagged = 0
    for end in range(FIRST_JUDGED, len(points) + 1):
        judged += 1
        flagged += pressure_gap(points[:end]).verdict == "breaks"
    covered = [_covered(rng, holds, points[:FIRST_JUDGED], states[:FIRST_JUDGED])]
    breaks = new_team(rng, breaks=True)
    b_points, b_states = _history(rng, breaks, DETECT_BY)
    detected = any(
        pressure_gap(b_points[:end]).verdict == "breaks"
        for end in range(DETECT_FROM, len(b_points) + 1)
    )
    covered.append(_covered(rng, breaks, b_points, b_states))
    return Replication(
        holds_runs_judged=judged,
        holds_runs_flagged=flagged,
        breaks_detected=detected,
        covered=tuple(c for c in covered if c is not None),
    )


def pressure_figures(
    replications: int = REPLICATIONS, seed: int = SEED
) -> tuple[dict[str, float], int]:
    """The three acceptance figures (fractions 0–1), each over ``replications`` teams, and
    the number of intervals the coverage counts (holds and breaks teams)."""
    seeds = np.random.SeedSequence(seed).generate_state(replications).tolist()
    with ProcessPoolExecutor() as pool:
        results = list(pool.map(replicate, seeds, chunksize=20))
    judged = sum(r.holds_runs_judged for r in results)
    covered = [c for r in results for c in r.covered]
    figures = {
        "pressure_holds_false": sum(r.holds_runs_flagged for r in results) / judged,
        "pressure_breaks_detect_12": sum(r.breaks_detected for r in results) / len(results),
        "pressure_gap_coverage_90": sum(covered) / len(covered),
    }
    return figures, len(covered)


def pressure_rows(figures: dict[str, float]) -> list[str]:
    """The figures as rows of the validity table (team of 8)."""
    return [f"{label:<50} {target:>7} {100 * figures[key]:6.1f}%" for key, label, target in ROWS]


def add_pressure(table: dict[str, dict[str, float]]) -> None:
    """Print the pressure rows and merge the three figures into ``table["n8"]``."""
    figures, intervals = pressure_figures()
    print(
        f"Coherence under pressure: team of 8, {REPLICATIONS} replications per team type, "
        f"seed {SEED}, coverage over {intervals} intervals"
    )
    print(f"{'figure':<50} {'target':>7} {'n=8':>7}")
    print("\n".join(pressure_rows(figures)))
    table.setdefault("n8", {}).update(figures)
