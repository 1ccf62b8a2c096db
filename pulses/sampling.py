"""Stored runs as the signal engine reads them: a group's closed runs as `RunSample`s.

The same window of runs the reports aggregate (`storage.queries.closed_run_window`), each with
its answers one by one, unlinked and in no meaningful order, and the declared intent recorded
when the run was claimed. A fixed number of queries per window, whatever its length.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlmodel import Session

from pulses.samples import OTHER, LeaderAnswer, RunSample
from storage.queries import AnswerRow, RunTally, closed_run_window


def _attention(tenths: Mapping[int | None, int]) -> dict[str, float]:
    total = sum(tenths.values())
    if total <= 0:
        return {}
    return {
        OTHER if priority_id is None else str(priority_id): share / total
        for priority_id, share in tenths.items()
    }


# Answers that spread their attention alike share one tenths mapping (`AnswerRow`): each is
# turned into shares once, keyed by its identity and kept alive beside its shares.
Attentions = dict[int, tuple[Mapping[int | None, int], dict[str, float]]]


def _leader(row: AnswerRow, attentions: Attentions) -> LeaderAnswer:
    found = attentions.get(id(row.tenths))
    if found is None:
        found = attentions[id(row.tenths)] = (row.tenths, _attention(row.tenths))
    return LeaderAnswer(scores=row.scores, attention=found[1], pressure=row.pressure)


def load_samples(
    *, session: Session, group_id: int, until: date | None = None, count: int
) -> list[RunSample]:
    """The group's last ``count`` closed runs up to ``until`` (None: up to now), most recent
    first, as samples.

    Every closed run is included, whether or not enough people answered to show it: the
    caller decides what may be shown (`pulses.privacy`).
    """
    window = closed_run_window(session=session, group_id=group_id, until=until, count=count)
    return [run_sample(tally) for tally in window.tallies]


def run_sample(tally: RunTally, attentions: Attentions | None = None) -> RunSample:
    """A tallied run and its answers (`RunTally.answers`) as the engine reads it; runs read
    together share ``attentions``."""
    run = tally.run
    assert run.id is not None
    attentions = {} if attentions is None else attentions
    return RunSample(
        run_id=run.id,
        day=run.occurrence_day,
        invited=tally.invited,
        answers=tuple(_leader(row, attentions) for row in tally.answers),
        declared={str(pid): share for pid, share in tally.declared.items()},
        intent_version=tally.intent_version,
    )
