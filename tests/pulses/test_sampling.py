"""Stored runs as RunSamples, and declared intent versions: worked examples by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from pulses.focus import focus_distribution
from pulses.intent import declared_changes
from pulses.priorities import PriorityEdits, PriorityRow, apply_priorities
from pulses.samples import OTHER, LeaderAnswer
from pulses.sampling import load_samples
from storage.db import session_scope
from storage.models import IntentVersion, LeadershipGroup
from storage.queries import closed_run_window
from tests.pulses.seed import Org, Seeded, seed_group, seed_org, seed_run, uniform
from tests.pulses.test_reports import counting_queries

MONDAYS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
# Tuesday 10 November, after the second run and before the third.
CHANGED = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


def _reweight(session: object, org: Org, group: LeadershipGroup, cost: float, reason: str) -> None:
    rows = tuple(
        PriorityRow(
            priority_id=p.id or 0,
            name=p.name,
            weight=cost if p.name == "Cost" else p.weight,
            order=float(p.position + 1),
        )
        for p in org.priorities.values()
    )
    apply_priorities(
        session=session,  # type: ignore[arg-type]
        workspace_id=org.workspace_id,
        group=group,
        edits=PriorityEdits(rows=rows, reason=reason),
        user_id="U0ADMIN",
        now=CHANGED,
    )


def _history(engine: Engine) -> tuple[Org, int]:
    """Three closed runs; the admin gives Cost a weight of 5 instead of 3 before the third."""
    with session_scope(engine) as session:
        org = seed_org(session, priorities=("Expansion", "Cost", "Hiring"), weights=(5, 3, 2))
        group = seed_group(session, org)
        scores = uniform(4) | {"stability": 2}
        seed_run(
            session,
            org,
            group,
            MONDAYS[0],
            [
                Seeded(scores, shares={"Expansion": 0.7, OTHER: 0.3}, other="board prep"),
                Seeded(uniform(5), focus="Cost"),
            ],
            invited=4,
        )
        seed_run(session, org, group, MONDAYS[1], [Seeded(uniform(3), focus="Hiring")])
        _reweight(session, org, group, cost=5, reason="Board asked for 12 months of runway")
        seed_run(
            session,
            org,
            group,
            MONDAYS[2],
            [
                Seeded(uniform(2), shares={"Cost": 0.6, "Expansion": 0.4}),
                Seeded(uniform(3), shares={"Cost": 0.8, "Hiring": 0.2}),
            ],
        )
        assert group.id is not None
        return org, group.id


def test_load_samples_gives_each_answer_its_scores_shares_and_the_intent_of_its_run(
    engine: Engine,
) -> None:
    org, group_id = _history(engine)
    key = org.priority_key
    with session_scope(engine) as session:
        samples = load_samples(session=session, group_id=group_id, count=10)
    # Most recent first, the window the reports use.
    assert [s.day for s in samples] == MONDAYS[::-1]
    third, second, first = samples
    assert (first.invited, first.responded) == (4, 2)
    stability_low = {**uniform(4), "stability": 2}
    assert sorted(first.answers, key=lambda a: sorted(a.scores.items())) == [
        LeaderAnswer(scores=stability_low, attention={key("Expansion"): 0.7, OTHER: 0.3}),
        LeaderAnswer(scores=uniform(5), attention={key("Cost"): 1.0}),
    ]
    assert second.answers == (LeaderAnswer(scores=uniform(3), attention={key("Hiring"): 1.0}),)
    assert sorted((dict(a.attention) for a in third.answers), key=str) == sorted(
        [
            {key("Cost"): 0.6, key("Expansion"): 0.4},
            {key("Cost"): 0.8, key("Hiring"): 0.2},
        ],
        key=str,
    )
    # Weights 5/3/2 before the change, 5/5/2 after: each run keeps the intent it ran under.
    before = {key("Expansion"): 0.5, key("Cost"): 0.3, key("Hiring"): 0.2}
    after = {key("Expansion"): 5 / 12, key("Cost"): 5 / 12, key("Hiring"): 2 / 12}
    assert first.declared == pytest.approx(before)
    assert second.declared == pytest.approx(before)
    assert third.declared == pytest.approx(after)
    assert first.intent_version == second.intent_version != third.intent_version
    assert None not in (first.intent_version, third.intent_version)


def test_tallies_sum_shares_so_the_focus_distribution_is_the_mean_share(engine: Engine) -> None:
    org, group_id = _history(engine)
    with session_scope(engine) as session:
        window = closed_run_window(session=session, group_id=group_id, until=None, count=10)
    third, _, first = window.tallies
    ids = {name: p.id for name, p in org.priorities.items()}
    # First run: 0.7 + 0 on Expansion, 0 + 1 on Cost, 0.3 on something else.
    assert first.focus == {ids["Expansion"]: 0.7, ids["Cost"]: 1.0, None: 0.3}
    # Third run: the mean of (Cost .6, Expansion .4) and (Cost .8, Hiring .2).
    counts = {str(pid): share for pid, share in third.focus.items()}
    assert focus_distribution(counts) == pytest.approx(
        {str(ids["Cost"]): 0.7, str(ids["Expansion"]): 0.2, str(ids["Hiring"]): 0.1}
    )
    assert first.declared == pytest.approx(
        {ids["Expansion"]: 0.5, ids["Cost"]: 0.3, ids["Hiring"]: 0.2}
    )


def test_load_samples_costs_the_same_queries_for_one_run_as_for_three(engine: Engine) -> None:
    _, group_id = _history(engine)
    counts = []
    for count in (1, 3):
        with session_scope(engine) as session, counting_queries(engine) as statements:
            assert len(load_samples(session=session, group_id=group_id, count=count)) == count
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_declared_changes_lists_the_admins_changes_with_day_and_reason(engine: Engine) -> None:
    org, group_id = _history(engine)
    with session_scope(engine) as session:
        changes = declared_changes(session, group_id, MONDAYS[0], MONDAYS[2])
        versions = len(
            session.exec(select(IntentVersion).where(IntentVersion.group_id == group_id)).all()
        )
        empty = declared_changes(session, group_id, MONDAYS[2], MONDAYS[2])
    ids = {name: p.id for name, p in org.priorities.items()}
    [change] = changes
    assert (change.day, change.reason) == (
        date(2026, 11, 10),
        "Board asked for 12 months of runway",
    )
    assert change.shares == pytest.approx(
        {ids["Expansion"]: 5 / 12, ids["Cost"]: 5 / 12, ids["Hiring"]: 2 / 12}
    )
    # The first version, recorded when the first run was claimed, is not a declared change.
    assert versions == 2
    assert empty == []


def test_a_rename_or_reorder_records_no_new_intent_version(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session, priorities=("Expansion", "Cost"), weights=(1, 1))
        group = seed_group(session, org)
        seed_run(session, org, group, MONDAYS[0], [Seeded(uniform(4), focus="Cost")])
        [expansion, cost] = org.priorities.values()
        apply_priorities(
            session=session,
            workspace_id=org.workspace_id,
            group=group,
            edits=PriorityEdits(
                rows=(
                    PriorityRow(expansion.id or 0, "Growth", 1, order=2),
                    PriorityRow(cost.id or 0, "Cost", 1, order=1),
                ),
                reason="Naming only",
            ),
            user_id="U0ADMIN",
            now=CHANGED,
        )
        assert len(session.exec(select(IntentVersion)).all()) == 1
