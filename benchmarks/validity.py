"""`make validity`: the signal engine's false-alarm and detection rates, by simulation.

The model (issue 8), for a team of n invited leaders and 26 weekly runs:

- each leader answers a run with probability 0.85;
- five dimensions; each has a group mean drawn uniformly from 3.2–4.0 per replication; a
  leader's score = round(clip(group mean + leader effect + weekly noise, 1, 5)), the leader
  effect N(0, 0.5) fixed for the replication, the weekly noise N(0, 0.6) fresh each run;
- three declared priorities with group attention 50/30/20, equal to the declared weights; each
  leader's attention in each run ~ Dirichlet(20 × group attention), drawn afresh each run,
  rounded to tenths summing to 1 (largest remainder), as the focus question asks it.

Parameters this benchmark adds: the changes start at run 13 (0-based 12), so that the baseline
is full; "within 3 runs" means a flag in run 13, 14 or 15; the 20-point shift moves attention
from the first priority to the third (50/30/20 → 30/30/40); the level fall and the agreement
collapse hit the first dimension (its mean − 0.75; its leader effects redrawn with sd 1.4);
the stable figures count runs 5 to 26 (each has at least four earlier runs); the two layers
are two independent teams of n drawn with the same group means and attention; the engine is
run on every run, whatever the anonymity threshold would hide.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from benchmarks.pressure_validity import add_pressure
from pulses.dimensions import DIMENSIONS
from pulses.flags import DEFAULT_THRESHOLDS, Flag
from pulses.samples import LeaderAnswer, RunSample
from pulses.signals.engine import compare_layers, evaluate

SEED: Final = 8
REPLICATIONS: Final = 200
SIZES: Final = (5, 8, 12, 20)
RUNS: Final = 26
CHANGE_AT: Final = 12
FIRST_COUNTED: Final = 4
RESPONSE: Final = 0.85
LEADER_SD: Final = 0.5
NOISE_SD: Final = 0.6
COLLAPSE_SD: Final = 1.4
LEVEL_FALL: Final = 0.75
CONCENTRATION: Final = 20.0
ATTENTION: Final = (0.5, 0.3, 0.2)
SHIFTED: Final = (0.3, 0.3, 0.4)
PRIORITIES: Final = ("1", "2", "3")
KEYS: Final = tuple(d.key for d in DIMENSIONS)
HISTORY: Final = (
    max(DEFAULT_THRESHOLDS.history_runs, DEFAULT_THRESHOLDS.rating_history_runs)
    + DEFAULT_THRESHOLDS.window_runs
)
SINGLE: Final = ("drift", "intent", "level", "fragmented", "layer")
KIND_OF: Final = {
    "drift_gain": "drift",
    "drift_loss": "drift",
    "intent_gap": "intent",
    "level_drop": "level",
    "fragmented": "fragmented",
    "layer_divergence": "layer",
}
TARGETS: Final = (
    ("false_alarm_any", "stable team: runs with any flag", "<= 5%"),
    ("false_alarm_max_single", "stable team: each single flag type (max)", "<= 1%"),
    ("drift_detect_3", "20-pt attention shift: drift within 3 runs", ">= 80%"),
    ("declared_as_adoption", "declared shift: adoption, not drift", ">= 95%"),
    ("level_detect_3", "0.75-pt fall: flagged within 3 runs", ">= 80%"),
    ("collapse_detect_3", "agreement collapse: flagged within 3 runs", ">= 70%"),
    ("layer_false_alarm", "two identical layers: layer flag", "<= 1%"),
    ("trend_arrow_false", "trend arrow on a stable team", "<= 5%"),
)

Floats = npt.NDArray[np.float64]


@dataclass
class Team:
    """One simulated team's fixed parts."""

    n: int
    means: Floats  # per dimension
    effects: Floats  # leaders × dimensions


def tenths(shares: Floats) -> Floats:
    """Each row rounded to tenths summing to 1 by largest remainder."""
    scaled = shares * 10
    whole = np.floor(scaled)
    missing = (10 - whole.sum(axis=1)).astype(int)
    order = np.argsort(-(scaled - whole), axis=1, kind="stable")
    rows = np.arange(len(shares))[:, None]
    bonus = (np.arange(shares.shape[1])[None, :] < missing[:, None]).astype(float)
    whole[rows, order] += bonus
    result: Floats = whole / 10
    return result


def run_sample(
    rng: np.random.Generator,
    team: Team,
    index: int,
    attention: Sequence[float],
    declared: Sequence[float],
    version: int,
) -> RunSample:
    answered = rng.random(team.n) < RESPONSE
    noise = rng.normal(0, NOISE_SD, (team.n, len(KEYS)))
    scores = np.rint(np.clip(team.means + team.effects + noise, 1, 5)).astype(int)
    shares = tenths(rng.dirichlet(CONCENTRATION * np.asarray(attention), team.n))
    answers = tuple(
        LeaderAnswer(
            scores=dict(zip(KEYS, (int(s) for s in scores[i]), strict=True)),
            attention={k: float(v) for k, v in zip(PRIORITIES, shares[i], strict=True) if v > 0},
        )
        for i in range(team.n)
        if answered[i]
    )
    return RunSample(
        run_id=index,
        day=date(2024, 1, 1) + timedelta(weeks=index),
        invited=team.n,
        answers=answers,
        declared=dict(zip(PRIORITIES, declared, strict=True)),
        intent_version=version,
    )


def new_team(rng: np.random.Generator, n: int, means: Floats | None = None) -> Team:
    group_means = rng.uniform(3.2, 4.0, len(KEYS)) if means is None else means
    return Team(n=n, means=group_means, effects=rng.normal(0, LEADER_SD, (n, len(KEYS))))


def kinds_of(flags: Sequence[Flag]) -> set[str]:
    return {KIND_OF[f.kind] for f in flags if f.kind in KIND_OF}


def history_of(runs: Sequence[RunSample], index: int) -> list[RunSample]:
    return list(reversed(runs[max(0, index - HISTORY) : index]))


def replicate(n: int, rep: int) -> dict[str, float]:
    """One replication of every scenario for a team of n; the counts behind each figure."""
    rng = np.random.default_rng([SEED, n, rep])
    out: dict[str, float] = {key: 0.0 for key in ("any", "arrow", *SINGLE)}
    # Stable team and an identical second layer.
    team = new_team(rng, n)
    twin = new_team(rng, n, team.means)
    runs = [run_sample(rng, team, i, ATTENTION, ATTENTION, 1) for i in range(RUNS)]
    twins = [run_sample(rng, twin, i, ATTENTION, ATTENTION, 1) for i in range(RUNS)]
    for i in range(FIRST_COUNTED, RUNS):
        signals = evaluate(runs[i], history_of(runs, i))
        found = kinds_of(signals.flags)
        if compare_layers("A", [runs[i]], "B", [twins[i]]):
            found.add("layer")
        for kind in found:
            out[kind] += 1
        out["any"] += bool(found)
        out["arrow"] += bool(signals.trend and signals.trend.arrow)
    # Changes from run CHANGE_AT on.
    out["drift_detect"] = float(_detects(rng, n, "drift"))
    out["adoption_runs"] = float(_adoption_runs(rng, n))
    out["level_detect"] = float(_detects(rng, n, "level"))
    out["collapse_detect"] = float(_detects(rng, n, "fragmented"))
    return out


def _changed_runs(rng: np.random.Generator, n: int, change: str) -> list[RunSample]:
    team = new_team(rng, n)
    runs = []
    for i in range(CHANGE_AT + 3):
        after = i >= CHANGE_AT
        if after and change in ("level", "fragmented") and i == CHANGE_AT:
            if change == "level":
                team.means = team.means.copy()
                team.means[0] -= LEVEL_FALL
            else:
                team.effects = team.effects.copy()
                team.effects[:, 0] = rng.normal(0, COLLAPSE_SD, n)
        moved = after and change in ("drift", "declared")
        attention = SHIFTED if moved else ATTENTION
        declared = SHIFTED if after and change == "declared" else ATTENTION
        version = 2 if after and change == "declared" else 1
        runs.append(run_sample(rng, team, i, attention, declared, version))
    return runs


def _detects(rng: np.random.Generator, n: int, kind: str) -> bool:
    runs = _changed_runs(rng, n, kind)
    for i in range(CHANGE_AT, CHANGE_AT + 3):
        flags = evaluate(runs[i], history_of(runs, i)).flags
        if kind == "drift" and kinds_of(flags) & {"drift"}:
            return True
        if any(f.kind == _FLAG[kind] and f.subject == KEYS[0] for f in flags):
            return True
    return False


_FLAG: Final = {"drift": "drift_gain", "level": "level_drop", "fragmented": "fragmented"}


def _adoption_runs(rng: np.random.Generator, n: int) -> int:
    runs = _changed_runs(rng, n, "declared")
    good = 0
    for i in range(CHANGE_AT, CHANGE_AT + 3):
        flags = evaluate(runs[i], history_of(runs, i)).flags
        kinds = {f.kind for f in flags}
        good += "adoption" in kinds and not kinds & {"drift_gain", "drift_loss"}
    return good


def _chunk(task: tuple[int, int, int]) -> list[dict[str, float]]:
    n, start, stop = task
    return [replicate(n, rep) for rep in range(start, stop)]


def figures(n: int, results: Sequence[dict[str, float]]) -> dict[str, float]:
    counted = len(results) * (RUNS - FIRST_COUNTED)
    reps = len(results)

    def rate(key: str) -> float:
        return sum(r[key] for r in results) / counted

    return {
        "false_alarm_any": rate("any"),
        "false_alarm_max_single": max(rate(kind) for kind in SINGLE),
        "drift_detect_3": sum(r["drift_detect"] for r in results) / reps,
        "declared_as_adoption": sum(r["adoption_runs"] for r in results) / (3 * reps),
        "level_detect_3": sum(r["level_detect"] for r in results) / reps,
        "collapse_detect_3": sum(r["collapse_detect"] for r in results) / reps,
        "layer_false_alarm": rate("layer"),
        "trend_arrow_false": rate("arrow"),
        "replications": reps,
    }


# The most any rule could detect of an agreement collapse, printed beside what the engine does.
#
# An oracle is given what no digest can know: the team's stable answer variance, exactly (from
# 200 simulated stable runs of the same leaders). It flags when the pooled within-run variance of
# the three runs after the collapse, divided by that stable variance, exceeds the critical ratio of
# stable teams at the false-alarm share the engine's three-run comparison has per dimension. Its
# detection bounds every rule on the same answers at that budget (the variance ratio is the most
# powerful statistic for a change of spread), so a target above it cannot be met by better
# statistics, only by more answers per leader or a larger false-alarm budget.
# The model is the one above; the collapsing dimension's leader effects are redrawn with sd
# `COLLAPSE_SD`, its group mean kept.
CEILING_TEAMS: Final = 4000
CEILING_STABLE_RUNS: Final = 200  # runs that give the oracle its team's stable variance
CEILING_NULL_WINDOWS: Final = 5  # stable three-run windows per team, for the critical ratio
CEILING_CHUNK: Final = 500


def _pooled_variance(rng: np.random.Generator, means: Floats, effects: Floats, runs: int) -> Floats:
    """Each team's within-run variance pooled over `runs` runs (one dimension)."""
    teams, n = effects.shape
    noise = rng.normal(0, NOISE_SD, (teams, runs, n))
    scores = np.rint(np.clip(means[:, None, None] + effects[:, None, :] + noise, 1, 5))
    answered = rng.random((teams, runs, n)) < RESPONSE
    counts = answered.sum(axis=2)
    run_means = (scores * answered).sum(axis=2) / np.maximum(counts, 1)
    squares = (((scores - run_means[..., None]) ** 2) * answered).sum(axis=(1, 2))
    df = np.maximum(counts - 1, 0).sum(axis=1)
    result: Floats = squares / np.maximum(df, 1)
    return result


# The engine's per-dimension budget for the three-run comparison, and the most a rule could
# be given: the flag type's whole 1% (the target) spent on this one comparison.
CEILING_BUDGETS: Final = (
    DEFAULT_THRESHOLDS.rating_false_alarm * DEFAULT_THRESHOLDS.window_share / len(KEYS),
    0.01 / len(KEYS),
)


def collapse_ceiling(
    n: int, seed: int = 8, teams: int = CEILING_TEAMS, budgets: Sequence[float] = CEILING_BUDGETS
) -> list[float]:
    """The oracle's detection of a collapse within three runs for teams of `n`, at each
    per-dimension false-alarm budget of `budgets`."""
    rng = np.random.default_rng([seed, n])
    window = DEFAULT_THRESHOLDS.window_runs
    null: list[Floats] = []
    collapsed: list[Floats] = []
    for start in range(0, teams, CEILING_CHUNK):
        size = min(CEILING_CHUNK, teams - start)
        means = rng.uniform(3.2, 4.0, size)
        effects = rng.normal(0, LEADER_SD, (size, n))
        stable = _pooled_variance(rng, means, effects, CEILING_STABLE_RUNS)
        null += [
            _pooled_variance(rng, means, effects, window) / stable
            for _ in range(CEILING_NULL_WINDOWS)
        ]
        redrawn = rng.normal(0, COLLAPSE_SD, (size, n))
        collapsed.append(_pooled_variance(rng, means, redrawn, window) / stable)
    stable_ratios, collapsed_ratios = np.concatenate(null), np.concatenate(collapsed)
    return [
        float(np.mean(collapsed_ratios > np.quantile(stable_ratios, 1 - alpha)))
        for alpha in budgets
    ]


def main(replications: int = REPLICATIONS, workers: int = 2) -> dict[str, dict[str, float]]:
    started = time.monotonic()
    step = 25
    tasks = [
        (n, s, min(s + step, replications)) for n in SIZES for s in range(0, replications, step)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunks = list(pool.map(_chunk, tasks))
    by_size: dict[int, list[dict[str, float]]] = {n: [] for n in SIZES}
    for (n, _, _), chunk in zip(tasks, chunks, strict=True):
        by_size[n] += chunk
    table = {f"n{n}": figures(n, by_size[n]) for n in SIZES}
    print(f"Signal engine validity: {replications} replications per team size, seed {SEED}")
    print(f"{'figure':<46} {'target':>7} " + " ".join(f"{'n=' + str(n):>7}" for n in SIZES))
    for key, label, target in TARGETS:
        cells = " ".join(f"{table[f'n{n}'][key] * 100:6.1f}%" for n in SIZES)
        print(f"{label:<46} {target:>7} {cells}")
    for n in SIZES:
        engine_budget, whole_budget = collapse_ceiling(n)
        table[f"n{n}"]["collapse_ceiling_3"] = engine_budget
        table[f"n{n}"]["collapse_ceiling_3_whole_budget"] = whole_budget
    for key, label in (
        ("collapse_ceiling_3", "  the most any rule could (variance known)"),
        ("collapse_ceiling_3_whole_budget", "  the same, the type's whole 1% on it"),
    ):
        cells = " ".join(f"{table[f'n{n}'][key] * 100:6.1f}%" for n in SIZES)
        print(f"{label:<46} {'':>7} {cells}")
    add_pressure(table)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    print(json.dumps(table, separators=(", ", ": ")))
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPLICATIONS)
