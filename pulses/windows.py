"""Windows of a group's closed runs as the reports read them: metric inputs and samples.

A window is one group's last runs, most recent first, with every run's aggregates
(`storage.queries.closed_run_windows`) and its answers one by one for the engine. Windows of
many groups load together in the same fixed number of queries as one group's, so a scheduler
drawing hundreds of digests pays a few aggregates per batch, not a few per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from pulses.focus import OTHER, declared_distribution
from pulses.metrics import RunInput
from pulses.samples import RunSample
from pulses.sampling import run_sample
from storage.models import PulseRun
from storage.queries import RunTally, RunWindow, answer_rows, closed_run_windows

OTHER_NAME = "Something else"


@dataclass
class Window:
    """A window of closed runs, most recent first, as metric inputs."""

    runs: list[PulseRun]
    inputs: dict[int, RunInput]
    names: dict[str, str]
    declared: dict[int, dict[str, float]]
    likert_ids: dict[int, dict[str, int]]  # run id → dimension key → question id
    samples: dict[int, RunSample]  # run id → the run's answers one by one, for the engine


def _run_input(tally: RunTally) -> tuple[RunInput, dict[str, float], dict[str, int]]:
    """The run's metric input, its declared distribution and its dimensions' question ids."""
    likert = sorted(
        (q for q in tally.asked if q.kind == "likert"), key=lambda q: (q.position, q.key)
    )
    likert_ids = {q.key: q.id for q in likert if q.id is not None}
    # Items in the order they were asked; keys answered but no longer listed come last.
    item_keys = list(dict.fromkeys([q.key for q in likert] + sorted(tally.histograms)))
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
    return data, declared_distribution(weights), likert_ids


def _window(window: RunWindow, samples: dict[int, RunSample]) -> Window:
    names = {str(pid): p.name for pid, p in window.priorities.items()}
    names[OTHER] = OTHER_NAME
    inputs: dict[int, RunInput] = {}
    declared: dict[int, dict[str, float]] = {}
    likert_ids: dict[int, dict[str, int]] = {}
    for tally in window.tallies:
        assert tally.run.id is not None
        run_id = tally.run.id
        inputs[run_id], declared[run_id], likert_ids[run_id] = _run_input(tally)
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
    answers = answer_rows(session=session, run_ids=[t.run.id for t in tallies if t.run.id])
    samples = {t.run.id: run_sample(t, answers.get(t.run.id, [])) for t in tallies if t.run.id}
    return {group_id: _window(window, samples) for group_id, window in windows.items()}
