"""Editing the declared weights today never rewrites what a past run was compared with."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from pulses.priorities import PriorityEdits, PriorityRow, apply_priorities
from pulses.reports import group_digest
from storage.db import session_scope
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

NOW = datetime(2026, 3, 20, tzinfo=UTC)


def test_a_past_run_keeps_the_intent_in_force_when_it_ran(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = seed_org(session, priorities=("Expansion", "Cost"), weights=(3.0, 1.0))
        group = seed_group(session, org)
        answers = [Seeded(uniform(4), focus="Expansion")] * 5
        seed_run(session, org, group, date(2026, 3, 2), answers)
        group_id = group.id
        expansion, cost = org.priorities["Expansion"], org.priorities["Cost"]
        assert expansion.id is not None
        assert cost.id is not None
        assert group_id is not None
        ids = {"Expansion": str(expansion.id), "Cost": str(cost.id)}
        # Today the admin turns the weights round: cost first.
        apply_priorities(
            session=session,
            workspace_id=org.workspace_id,
            group=group,
            edits=PriorityEdits(
                rows=(
                    PriorityRow(expansion.id, "Expansion", 1.0, 1.0),
                    PriorityRow(cost.id, "Cost", 3.0, 2.0),
                )
            ),
            user_id="U0ADMIN",
            now=NOW,
        )
    with session_scope(engine) as session:
        digest = group_digest(session=session, group_id=group_id, now=NOW)
    assert digest.latest is not None
    declared = digest.latest.declared
    assert declared[ids["Expansion"]] == pytest.approx(0.75)
    assert declared[ids["Cost"]] == pytest.approx(0.25)
