"""A closed run's answers packed once, at its close: the one row each report reads of them.

A closed run's answers never change, yet every digest read them back one score at a time
(hundreds of thousands of rows for a batch of digests) to count the same histograms and
rebuild the same answer sets. The close (`pulses.pseudonyms.unlink_answers`) stores them in
one row per run, in the answers' new random order, with nothing the answer tables do not
hold; deleting a run deletes its row. Runs closed before this row existed are tallied from
the answer tables, into the same figures (`run_figures`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped
from sqlmodel import col

from storage.models import Answer, AnswerFocus, AnswerScore, RunFigures

# One answer set, flat as stored: (question id, score, question id, score, …) by question id,
# and (priority id, tenths, …) of its shares of attention, "something else" (None) first and
# then by priority id. Flat tuples hash and compare fast: reports look answer sets up by them.
Scores = tuple[int, ...]
Tenths = tuple[int | None, ...]


@dataclass(frozen=True)
class Figures:
    """What a closed run's answers come to: each question's histogram (the pressure item's
    included), the tenths of attention summed per priority, and the answer sets themselves in
    stored order (random after the close: no meaning may be read into it)."""

    histograms: dict[int, dict[int, int]]  # question id → score → count, both ascending
    focus: dict[int | None, int]  # priority id → tenths summed, in `Tenths` order
    answers: tuple[tuple[Scores, Tenths], ...]

    @property
    def responded(self) -> int:
        return len(self.answers)


def _tenths_order(pair: tuple[int | None, int]) -> tuple[int, int]:
    return (-1 if pair[0] is None else pair[0], pair[1])


def figures_of(
    answers: Iterable[tuple[Iterable[tuple[int, int]], Iterable[tuple[int | None, int]]]],
) -> Figures:
    """The figures of answer sets given as their (question id, score) and (priority id,
    tenths) pairs, in stored order."""
    histograms: dict[int, dict[int, int]] = {}
    focus: dict[int | None, int] = {}
    packed: list[tuple[Scores, Tenths]] = []
    for scores, tenths in answers:
        ordered_scores = sorted(scores)
        ordered_tenths = sorted(tenths, key=_tenths_order)
        for question_id, score in ordered_scores:
            by_score = histograms.setdefault(question_id, {})
            by_score[score] = by_score.get(score, 0) + 1
        for priority_id, share in ordered_tenths:
            focus[priority_id] = focus.get(priority_id, 0) + share
        packed.append(
            (
                tuple(x for pair in ordered_scores for x in pair),
                tuple(x for pair in ordered_tenths for x in pair),
            )
        )
    return Figures(
        histograms={q: dict(sorted(by.items())) for q, by in sorted(histograms.items())},
        focus=dict(sorted(focus.items(), key=_tenths_order)),
        answers=tuple(packed),
    )


def pack(figures: Figures) -> str:
    """The figures as stored: JSON of flat lists, read back by `unpack`."""
    return json.dumps(
        {
            "h": [[q, s, n] for q, by in figures.histograms.items() for s, n in by.items()],
            "f": [[p, t] for p, t in figures.focus.items()],
            "a": figures.answers,
        },
        separators=(",", ":"),
    )


def unpack(text: str) -> Figures:
    found = json.loads(text)
    histograms: dict[int, dict[int, int]] = {}
    for question_id, score, count in found["h"]:
        histograms.setdefault(question_id, {})[score] = count
    return Figures(
        histograms=histograms,
        focus={priority_id: tenths for priority_id, tenths in found["f"]},
        answers=tuple([(tuple(scores), tuple(tenths)) for scores, tenths in found["a"]]),
    )


def store_figures(connection: Connection, run_id: int, figures: Figures) -> None:
    """Keep the closed run's figures (in the close's transaction)."""
    connection.execute(insert(RunFigures).values(run_id=run_id, packed=pack(figures)))


def _folded(key: Mapped[int] | ColumnElement[str], value: Mapped[int]) -> ColumnElement[str]:
    """An answer's rows as one text, key:value pairs separated by commas (group_concat in
    SQLite, string_agg in PostgreSQL): far fewer rows to carry than one per value."""
    return func.aggregate_strings(cast(key, String) + ":" + cast(value, String), ",")


def _unfolded(text: str | None) -> list[tuple[int | None, int]]:
    if not text:
        return []
    pairs = [pair.partition(":") for pair in text.split(",")]
    return [(int(key) if key else None, int(value)) for key, _, value in pairs]


def _tallied(connection: Connection, run_ids: Sequence[int]) -> dict[int, Figures]:
    """Figures of runs stored without them, from their answer rows: one query, each answer
    folded into one row, in answer id order (random after the close)."""
    scores = (
        select(
            col(AnswerScore.answer_id),
            _folded(col(AnswerScore.question_id), col(AnswerScore.score)),
        )
        .where(col(AnswerScore.run_id).in_(run_ids))
        .group_by(col(AnswerScore.answer_id))
        .subquery()
    )
    # Something else (no priority id) is folded as an empty key.
    priority = func.coalesce(cast(AnswerFocus.priority_id, String), "")
    focus = (
        select(col(AnswerFocus.answer_id), _folded(priority, col(AnswerFocus.tenths)))
        .where(col(AnswerFocus.run_id).in_(run_ids))
        .group_by(col(AnswerFocus.answer_id))
        .subquery()
    )
    answers: dict[int, list[tuple[list[tuple[int, int]], list[tuple[int | None, int]]]]] = {}
    for run_id, score_text, focus_text in connection.execute(
        select(col(Answer.run_id), scores.c[1], focus.c[1])
        .outerjoin(scores, scores.c.answer_id == Answer.id)
        .outerjoin(focus, focus.c.answer_id == Answer.id)
        .where(col(Answer.run_id).in_(run_ids))
        .order_by(col(Answer.id))
    ):
        score_pairs = [(int(q or 0), s) for q, s in _unfolded(score_text)]
        answers.setdefault(run_id, []).append((score_pairs, _unfolded(focus_text)))
    return {run_id: figures_of(answers.get(run_id, [])) for run_id in run_ids}


def run_figures(connection: Connection, run_ids: Sequence[int]) -> dict[int, Figures]:
    """Each closed run's figures: the stored row, else tallied from its answers; two queries
    at most, whatever the number of runs."""
    if not run_ids:
        return {}
    found = {
        run_id: unpack(packed)
        for run_id, packed in connection.execute(
            select(col(RunFigures.run_id), col(RunFigures.packed)).where(
                col(RunFigures.run_id).in_(run_ids)
            )
        )
    }
    missing = [run_id for run_id in run_ids if run_id not in found]
    if missing:
        found |= _tallied(connection, missing)
    return found
