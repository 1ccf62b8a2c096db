"""Windows of a group's closed runs as the reports read them: metric inputs and samples.

A window is one group's last runs, most recent first, with every run's aggregates and its
answers one by one for the engine (`storage.queries.closed_run_windows`, from the figures each
run's close packed). Windows of up to a hundred groups load together in the same fixed number
of queries as one group's, so a scheduler drawing hundreds of digests pays a few queries per
batch, not a few per group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from pulses.away import away_counts
from pulses.flags import FlagThresholds
from pulses.focus import DRIFT_HISTORY_RUNS, OTHER, declared_distribution
from pulses.metrics import RunInput
from pulses.privacy import effective_threshold, is_reportable
from pulses.samples import RunSample
from pulses.sampling import Attentions, run_sample
from storage.models import LeadershipGroup
from storage.queries import (
    RunTally,
    RunWindow,
    WindowRun,
    closed_run_windows,
    friction_texts,
)

OTHER_NAME = "Something else"


@dataclass
class Window:
    """A window of closed runs, most recent first, as metric inputs."""

    runs: list[WindowRun]
    inputs: dict[int, RunInput]
    names: dict[str, str]
    declared: dict[int, dict[str, float]]
    likert_ids: dict[int, dict[str, int]]  # run id → dimension key → question id
    samples: dict[int, RunSample]  # run id → the run's answers one by one, for the engine


# The dimensions a run asked, as (their keys in the order asked, key → question id).
Dimensions = tuple[list[str], dict[str, int]]


def _dimensions(tally: RunTally, known: dict[str, Dimensions]) -> Dimensions:
    """The dimensions of the run's questions; runs that asked the same questions (the same
    stored ids, read in one window) share them, so each list is ordered once (``known``)."""
    found = known.get(tally.run.question_ids)
    if found is None:
        likert = sorted(
            (q for q in tally.asked if q.kind == "likert"), key=lambda q: (q.position, q.key)
        )
        found = known[tally.run.question_ids] = (
            [q.key for q in likert],
            {q.key: q.id for q in likert if q.id is not None},
        )
    return found


def _run_input(
    tally: RunTally, known: dict[str, Dimensions]
) -> tuple[RunInput, dict[str, float], dict[str, int]]:
    """The run's metric input, its declared distribution and its dimensions' question ids."""
    keys, likert_ids = _dimensions(tally, known)
    # Items in the order they were asked; keys answered but no longer listed come last.
    item_keys = list(dict.fromkeys(keys + sorted(tally.histograms)))
    # The intent in force when the run was claimed: editing weights later never rewrites it.
    weights: dict[str, float | None] = {str(pid): share for pid, share in tally.declared.items()}
    named = {OTHER if pid is None else str(pid): n for pid, n in tally.focus.items()}
    # Declared priorities nobody named stay in the distribution with share 0.
    focus_counts = {key: 0 for key in weights} | named
    data = RunInput(
        n_invited=tally.invited,
        item_counts={key: tally.histograms.get(key, {}) for key in item_keys},
        focus_counts=focus_counts if named else {},
        priority_weights=weights,
        previous_focus_counts=(),
        n_responded=tally.responded,
    )
    return data, declared_distribution(weights), dict(likert_ids)


def _window(
    window: RunWindow, samples: dict[int, RunSample], known: dict[str, Dimensions]
) -> Window:
    names = {str(pid): p.name for pid, p in window.priorities.items()}
    names[OTHER] = OTHER_NAME
    inputs: dict[int, RunInput] = {}
    declared: dict[int, dict[str, float]] = {}
    likert_ids: dict[int, dict[str, int]] = {}
    for tally in window.tallies:
        assert tally.run.id is not None
        run_id = tally.run.id
        inputs[run_id], declared[run_id], likert_ids[run_id] = _run_input(tally, known)
    return Window(
        runs=[tally.run for tally in window.tallies],
        inputs=inputs,
        names=names,
        declared=declared,
        likert_ids=likert_ids,
        samples={t.run.id: samples[t.run.id] for t in window.tallies if t.run.id is not None},
    )


def load_windows(
    session: Session, group_ids: Sequence[int], *, until: date | None, count: int
) -> dict[int, Window]:
    """Each group's last ``count`` closed runs up to ``until`` (None: up to now)."""
    windows = closed_run_windows(session=session, group_ids=group_ids, until=until, count=count)
    tallies = [tally for window in windows.values() for tally in window.tallies]
    attentions: Attentions = {}
    samples = {t.run.id: run_sample(t, attentions) for t in tallies if t.run.id}
    known: dict[str, Dimensions] = {}
    return {group_id: _window(window, samples, known) for group_id, window in windows.items()}


def baseline_runs(thresholds: FlagThresholds) -> int:
    # The rules' window and baseline, and as many again for an intent declared within them.
    return 2 * (thresholds.history_runs + thresholds.window_runs)


def window_size(limit: int, detailed: int | None, thresholds: FlagThresholds) -> int:
    """How many runs reports of the latest ``limit`` read: the rules' baseline behind the
    oldest run that carries signals (the ``detailed`` latest; None: all), and drift's behind
    the oldest of the trend's figures. A digest details one run: its window is the baseline
    of that one, not of the trend's oldest."""
    detailed = limit if detailed is None else min(detailed, limit)
    return max(limit + DRIFT_HISTORY_RUNS, detailed + baseline_runs(thresholds))


def run_threshold(group: LeadershipGroup, run: WindowRun) -> int:
    """The threshold a run is shown under: the stricter of the run's and the group's, so
    raising the threshold also hides past runs."""
    return effective_threshold(max(run.anonymity_threshold, group.anonymity_threshold))


def shown_runs(group: LeadershipGroup, window: Window) -> dict[int, bool]:
    """Whether each run of the window may be shown (enough answered under its threshold)."""
    return {
        run.id: is_reportable(window.inputs[run.id].n_responded, run_threshold(group, run))
        for run in window.runs
        if run.id is not None
    }


@dataclass(frozen=True)
class Extras:
    """What reports read beside their window: runs' away counts and shown runs' friction."""

    away: Mapping[int, int]
    friction: Mapping[int, tuple[str, ...]]


def reported_runs(
    group: LeadershipGroup, window: Window, limit: int, detailed: int | None
) -> tuple[list[int], list[int]]:
    """(the window's first ``limit`` runs, those of its first ``detailed`` (None: all) that
    may be shown): the runs a report counts the away of, and those it shows friction of."""
    ids = [run.id for run in window.runs[:limit] if run.id is not None]
    shown = shown_runs(group, window)
    detailed = limit if detailed is None else detailed
    return ids, [run_id for run_id in ids[: max(0, detailed)] if shown[run_id]]


def read_extras(session: Session, reported: Sequence[tuple[list[int], list[int]]]) -> Extras:
    """Away counts and friction of the `reported_runs` of one or many groups: two queries.

    Friction comes in alphabetical order, never in submission order: that order could be
    matched with who answered when.
    """
    away = away_counts(session, [run_id for ids, _ in reported for run_id in ids])
    found = friction_texts(session=session, run_ids=[i for _, shown in reported for i in shown])
    friction = {run_id: tuple(sorted(texts, key=str.casefold)) for run_id, texts in found.items()}
    return Extras(away=away, friction=friction)
