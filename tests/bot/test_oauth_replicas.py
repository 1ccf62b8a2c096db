"""Two replicas on one database: an uninstall reaches one of them over HTTP, and the other
sends nothing more for that workspace from its next tick, while the other workspace goes on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.app import build_services
from bot.oauth import WorkspaceNotInstalled
from bot.services import Services
from pulses.dispatch import tick
from pulses.ticks import TickReport, Worker
from tests.bot.test_oauth import (
    MONDAY,
    A,
    B,
    Installed,
    add_group,
    leaders,
    multi_slack,
    start,
)


@pytest.fixture
def installed(migrated_url: str, engine: Engine) -> Iterator[Installed]:
    yield from start(multi_slack(rotation=False), migrated_url, engine)


def scheduler_tick(services: Services, now: datetime, worker: str) -> TickReport:
    """A replica's scheduler tick: tokens read afresh, then everything due."""
    services.begin_tick()
    return tick(
        engine=services.engine, messenger=services.messenger, now=now, worker=Worker(worker)
    )


def test_an_uninstall_on_one_replica_stops_the_others_sends_from_its_next_tick(
    installed: Installed,
) -> None:
    # Replica one serves Slack's requests; replica two, on the same database, only ticks.
    one = installed.services
    two = build_services(one.settings, engine=one.engine)
    installed.install(A, "UAADMIN")
    installed.install(B, "UBADMIN")
    add_group(one.engine, A, "A")
    add_group(one.engine, B, "B")
    token_a = installed.slack.current_tokens[A]

    assert scheduler_tick(two, MONDAY, "replica-two:1:1").sent == 10
    assert installed.tokens_used(A) == {token_a}

    assert installed.slack.uninstall(A).status == 200  # reaches replica one only
    # Replica two still holds A's token, read well within its 10 s cache...
    assert two.client_for(A).token == token_a
    calls_to_a = len(installed.slack.workspace(A).calls)

    next_week = MONDAY + timedelta(days=7)
    report = scheduler_tick(two, next_week, "replica-two:1:1")

    # ...and its next tick sent nothing for A, not even a call with the dead token, while B
    # got its second pulse.
    assert len(installed.slack.workspace(A).calls) == calls_to_a
    # A call with the dead token would be refused at the front (invalid_auth): it answered
    # only the two installs' code exchanges.
    assert [c.method for c in installed.slack.calls] == ["oauth.v2.access"] * 2
    assert len(installed.posts(A)) == 5
    assert len(installed.posts(B)) == 10
    assert report.sent == 5
    assert set(leaders("B")) <= {
        installed.slack.workspace(B).dm_user(m) for m in installed.posts(B)
    }


def test_a_revocation_seen_by_another_replica_empties_this_ones_cache_at_its_tick(
    installed: Installed,
) -> None:
    one = installed.services
    two = build_services(one.settings, engine=one.engine)
    installed.install(A, "UAADMIN")
    assert two.client_for(A).token == installed.slack.current_tokens[A]

    installed.slack.revoke_tokens(A)
    two.begin_tick()

    with pytest.raises(WorkspaceNotInstalled):
        two.client_for(A)
