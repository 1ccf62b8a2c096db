"""The same schema, claims and reports on PostgreSQL, for operators who outgrow SQLite."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from pulses import pseudonyms
from pulses.digests import due_digests
from pulses.report_json import report_json
from pulses.reports import group_digests, group_history
from sandbox import SlackSandbox
from storage import db, queries
from storage.db import make_engine, session_scope
from storage.migrate import downgrade, upgrade
from tests.bot.pulse_helpers import dm_count, invitations, make_group, runs
from tests.bot.test_exactly_once import NINE, big_sandbox, start_worker
from tests.pulses.seed import DIMENSIONS, Seeded, seed_group, seed_org, seed_run

# The six weekly runs from 5 January 2026 closed; their digests are due.
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)

__all__ = ["big_sandbox"]  # the fixture, shared with the SQLite exactly-once tests


def test_migrations_go_up_and_down_on_postgres(postgres_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    downgrade(postgres_url)
    assert set(inspect(make_engine(postgres_url)).get_table_names()) == {"alembic_version"}
    upgrade(postgres_url)
    assert "pulse_runs" in inspect(make_engine(postgres_url)).get_table_names()


def test_two_bot_processes_on_one_postgres_database_send_each_pulse_once(
    big_sandbox: SlackSandbox, postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    make_group(
        engine,
        channel="C0BIG",
        delivery_mode="dm",
        timezone="Europe/Berlin",
        created_at=NINE - timedelta(days=1),
    )
    workers = [start_worker(postgres_url, big_sandbox, ticks=3) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
    assert [dm_count(big_sandbox, f"U{n:05d}") for n in range(40)] == [1] * 40
    assert len(runs(engine)) == 1
    assert {i.status for i in invitations(engine)} == {"sent"}


def _seed_history(url: str, channel: str = "C0EXEC") -> int:
    rng = random.Random(5)
    with session_scope(make_engine(url)) as session:
        org = seed_org(session)
        group = seed_group(session, org, channel_id=channel, name=channel.lower())
        for week in range(6):
            answers = [
                Seeded(
                    {k: rng.randint(1, 5) for k in DIMENSIONS},
                    rng.choice(["Hiring", "Billing revamp", "other"]),
                    other="a side project",
                )
                for _ in range(rng.randint(4, 8))
            ]
            seed_run(session, org, group, date(2026, 1, 5) + timedelta(weeks=week), answers)
        assert group.id is not None
        return group.id


def test_reports_on_postgres_equal_reports_on_sqlite(
    postgres_url: str, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for url in (postgres_url, migrated_url):
        # The close's shuffle, seeded alike for both: the index's bootstrap interval resamples
        # the answers in their stored order.
        monkeypatch.setattr(pseudonyms, "_SHUFFLE", random.Random(3))
        group_id = _seed_history(url)
        with session_scope(make_engine(url)) as session:
            results.append(
                [report_json(r) for r in group_history(session=session, group_id=group_id)]
            )
    on_postgres, on_sqlite = results
    assert len(on_sqlite) == 6
    assert on_postgres == on_sqlite


def test_a_batch_of_digests_on_postgres_equals_it_on_sqlite(
    postgres_url: str, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many groups' windows in one query (a union of each group's latest runs) on both."""
    monkeypatch.setattr(queries, "WINDOW_GROUPS_PER_QUERY", 2)
    results = []
    for url in (postgres_url, migrated_url):
        monkeypatch.setattr(pseudonyms, "_SHUFFLE", random.Random(3))
        ids = [_seed_history(url, f"C0TEAM{n}") for n in range(3)]
        engine = make_engine(url)
        # Each group's latest closed run, found for all groups in one correlated query (its
        # digest fell due weeks ago: looked back far enough, it is still due).
        found = due_digests(engine=engine, now=NOW, lookback=timedelta(weeks=8))
        due = [(d.group_id, d.run_id) for d in found]
        with session_scope(engine) as session:
            digests = group_digests(session=session, group_ids=ids, now=NOW)
        latest = [(d.group.group_id, d.history[-1].run_id) for d in digests]
        assert due == latest, url
        results.append([[report_json(r) for r in d.history] for d in digests])
    on_postgres, on_sqlite = results
    assert [len(history) for history in on_sqlite] == [6, 6, 6]
    assert on_postgres == on_sqlite


def _backend_of(connection: Connection) -> int:
    pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _terminate(url: str, pid: int) -> None:
    """End server process `pid` from a connection of another engine."""
    other = make_engine(url)
    with other.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_back_in_the_pool_moments_ago_is_not_pinged_again(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url)
    pings = _counting_pings(engine, monkeypatch)
    for _ in range(5):  # as a burst's batches take it, one after another
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    assert pings == []
    engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced_before_it_fails_a_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        dropped = _backend_of(connection)
    _terminate(postgres_url, dropped)  # the server restarted, or a firewall forgot the connection
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle long enough
    pings = _counting_pings(engine, monkeypatch)
    with engine.connect() as connection:
        assert _backend_of(connection) != dropped
    assert pings
    engine.dispose()
