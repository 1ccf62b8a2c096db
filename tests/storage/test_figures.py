"""A closed run's figures: packed at its close, read back whole, and the same as a tally of
its answers, so reports of runs closed before figures were packed read the same."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from pulses.focus import OTHER
from pulses.reports import group_digest
from pulses.retention import purge_workspace
from storage.db import session_scope
from storage.figures import figures_of, pack, run_figures, unpack
from storage.models import RunFigures
from tests.pulses.seed import DIMENSIONS, Seeded, seed_group, seed_org, seed_run, weekly

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_figures_count_every_answer_and_pack_back_the_same() -> None:
    figures = figures_of(
        [
            ([(7, 4), (3, 5), (9, 2)], [(12, 5), (None, 2), (4, 3)]),
            ([(3, 1)], []),
            ([], [(4, 10)]),
        ]
    )
    assert figures.histograms == {3: {1: 1, 5: 1}, 7: {4: 1}, 9: {2: 1}}
    assert [list(by) for by in figures.histograms.values()] == [[1, 5], [4], [2]]
    # Tenths of attention summed per priority, "something else" first.
    assert list(figures.focus.items()) == [(None, 2), (4, 13), (12, 5)]
    # Each answer set in the order given, flat, its pairs in a set order.
    assert figures.answers[0] == ((3, 5, 7, 4, 9, 2), (None, 2, 4, 3, 12, 5))
    assert figures.answers[1:] == (((3, 1), ()), ((), (4, 10)))
    assert figures.responded == 3
    assert unpack(pack(figures)) == figures


def test_the_close_packs_what_a_tally_of_the_run_s_answers_gives(engine: Engine) -> None:
    answers = [
        Seeded(scores={"signal": 4, "stability": 2}, shares={"Hiring": 0.7, OTHER: 0.3}),
        Seeded(scores={"signal": 4}, focus="Billing revamp"),
        Seeded(scores={"signal": 1, "stability": 2}),
    ]
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, channel_id="C0FIGURES", name="figures")
        run_id = seed_run(session, org, group, date(2026, 3, 2), answers).id
        assert run_id is not None
        signal, stability = (org.questions[key].id for key in ("signal", "stability"))
        hiring, billing = (org.priorities[name].id for name in ("Hiring", "Billing revamp"))
    with engine.begin() as connection:
        stored = run_figures(connection, [run_id])[run_id]
        # A run closed before figures were packed: tallied from its answer rows instead.
        connection.execute(delete(RunFigures))
        assert run_figures(connection, [run_id]) == {run_id: stored}
    assert stored.histograms == {
        q: h for q, h in sorted({signal: {1: 1, 4: 2}, stability: {2: 2}}.items())
    }
    assert stored.focus == {None: 3, billing: 10, hiring: 7}
    assert stored.responded == 3


def test_a_digest_reads_the_same_from_packed_figures_as_from_the_answers(engine: Engine) -> None:
    rng = random.Random(7)
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, channel_id="C0SAME", name="same")
        for day in weekly(date(2026, 1, 5), 20):
            answers = [
                Seeded(
                    scores={key: rng.randint(1, 5) for key in DIMENSIONS},
                    shares={"Hiring": 0.5, "Billing revamp": 0.3, OTHER: 0.2}
                    if rng.random() < 0.5
                    else None,
                    focus=rng.choice(["Hiring", "Enterprise expansion"]),
                )
                for _ in range(rng.randint(3, 8))
            ]
            seed_run(session, org, group, day, answers, invited=8)
        assert group.id is not None
        group_id = group.id
    with session_scope(engine) as session:
        packed = group_digest(session=session, group_id=group_id, now=NOW)
        session.execute(delete(RunFigures))
    with session_scope(engine) as session:
        tallied = group_digest(session=session, group_id=group_id, now=NOW)
    assert len(packed.history) == 12
    assert packed == tallied


def test_purging_a_workspace_deletes_its_runs_figures(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session, team_id="T0PURGE")
        group = seed_group(session, org, channel_id="C0PURGE", name="purge")
        seed_run(session, org, group, date(2026, 3, 2), [Seeded(scores={"signal": 3})])
        assert session.execute(select(func.count()).select_from(RunFigures)).scalar() == 1
        assert purge_workspace(session=session, team_id="T0PURGE") is not None
        assert session.execute(select(func.count()).select_from(RunFigures)).scalar() == 0
