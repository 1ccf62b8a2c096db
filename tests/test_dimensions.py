"""Adding a dimension is one registry entry: new workspaces ask it and the digest shows it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from bot.views.digest import blocks_as_dicts, digest_blocks
from pulses import dimensions
from pulses.dimensions import Dimension, dimension_keys
from pulses.reports import group_digest
from storage.db import session_scope
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run

SIXTH = Dimension(
    "customer_focus",
    "Customer focus",
    "This week, customer outcomes decided what my team worked on first.",
)


def test_a_sixth_dimension_is_asked_and_reported_from_one_registry_entry(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dimensions, "DIMENSIONS", (*dimensions.DIMENSIONS, SIXTH))
    assert dimension_keys()[-1] == "customer_focus"
    with session_scope(engine) as session:
        org = seed_org(session)
        # The new workspace is asked the sixth statement, after the five and before focus.
        assert org.questions["customer_focus"].text == SIXTH.statement
        assert org.questions["customer_focus"].kind == "likert"
        group = seed_group(session, org)
        # Five leaders rate it 2 (everything else 4): the digest names it and shows its mean.
        scores = {key: (2 if key == "customer_focus" else 4) for key in dimension_keys()}
        seed_run(
            session, org, group, date(2026, 3, 2), [Seeded(scores, "Hiring") for _ in range(5)]
        )
        group_id = group.id
    assert group_id is not None
    with session_scope(engine) as session:
        digest = group_digest(
            session=session, group_id=group_id, now=datetime(2026, 3, 10, tzinfo=UTC)
        )
    assert digest.latest is not None
    shown = digest.latest.shown
    assert shown is not None
    assert set(shown.items) == set(dimension_keys())
    assert shown.items["customer_focus"].mean == 2.0
    _, blocks = digest_blocks(digest)
    rendered = json.dumps(blocks_as_dicts(blocks))
    assert "*Customer focus*" in rendered
    assert "2.0" in rendered


def test_an_unknown_key_reads_as_words() -> None:
    assert dimensions.dimension_name("decision_flow") == "Decision flow"
    assert dimensions.dimension_name("customer_trust") == "Customer trust"
