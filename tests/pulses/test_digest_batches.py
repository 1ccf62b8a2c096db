"""Digests computed in batches: the same content as one by one, spread over ticks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from pulses.digests import BATCH, due_digests, send_due_digests
from pulses.reports import group_digest, group_digests, run_report
from storage import queries
from storage.db import read_scope, session_scope
from storage.models import DigestDelivery, LeadershipGroup, PulseRun
from storage.queries import closed_run_window, closed_run_windows
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform, weekly
from tests.pulses.test_digests import RecordingPoster
from tests.pulses.test_reports import counting_queries

START = date(2026, 1, 5)
WEEKS = 8
# The last run (23 February) closed on the 25th; its digest was due on the 26th at 09:00.
NOW = datetime(2026, 2, 26, 10, tzinfo=UTC)


def _answers(group: int, week: int) -> list[Seeded]:
    """Six leaders whose ratings and focus move from week to week, differently per group."""
    answers = []
    for n in range(6):
        score = 1 + (group + week * (n + 1)) % 5
        focus = ("Hiring", "Billing revamp", "Enterprise expansion")[(group + week + n) % 3]
        answers.append(Seeded(uniform(score), focus, friction=f"friction {group}-{week}-{n}"))
    return answers


def _seed(engine: Engine, groups: int, weeks: int = WEEKS) -> list[int]:
    ids = []
    with session_scope(engine) as session:
        org = seed_org(session)
        for g in range(groups):
            group = seed_group(session, org, channel_id=f"C{g:05d}", name=f"leaders-{g}")
            for week, day in enumerate(weekly(START, weeks)):
                seed_run(session, org, group, day, _answers(g, week))
            assert group.id is not None
            ids.append(group.id)
    return ids


def test_a_batch_of_digests_is_each_digest_computed_alone(engine: Engine) -> None:
    ids = _seed(engine, 4)
    with read_scope(engine) as session:
        batch = group_digests(session=session, group_ids=ids, now=NOW)
    for group_id, batched in zip(ids, batch, strict=True):
        with read_scope(engine) as session:
            alone = group_digest(session=session, group_id=group_id, now=NOW)
            full = run_report(session=session, group_id=group_id)
        assert batched == alone
        assert len(batched.history) == WEEKS
        # The latest run is reported in full: signals, flags and friction as on its own.
        assert batched.latest == full
        assert batched.latest is not None
        assert batched.latest.signals is not None
        assert len(batched.latest.friction) == 6
        # The runs before it are the trend's figures only.
        assert all(r.signals is None and not r.friction for r in batched.history[:-1])
        assert all(r.shown is not None and r.pressure is None for r in batched.history)


def test_many_groups_windows_are_each_groups_window(engine: Engine) -> None:
    ids = _seed(engine, 3)
    with read_scope(engine) as session:
        together = closed_run_windows(session=session, group_ids=ids, until=None, count=5)
        for group_id in ids:
            alone = closed_run_window(session=session, group_id=group_id, until=None, count=5)
            assert together[group_id] == alone
            assert [t.run.occurrence_day for t in alone.tallies] == weekly(START, WEEKS)[:2:-1]


def test_windows_of_more_groups_than_one_query_reads_come_whole_and_in_order(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "WINDOW_GROUPS_PER_QUERY", 2)
    ids = _seed(engine, 5)
    # A run still open and one from before ``until`` are left out of every window.
    with session_scope(engine) as session:
        org = seed_org(session)
        group = session.get(LeadershipGroup, ids[0])
        assert group is not None
        seed_run(session, org, group, START + timedelta(weeks=WEEKS), [], status="open")
    until = weekly(START, WEEKS)[-2]
    with read_scope(engine) as session:
        together = closed_run_windows(session=session, group_ids=ids[::-1], until=until, count=4)
    assert list(together) == ids[::-1]
    for group_id in ids:
        days = [t.run.occurrence_day for t in together[group_id].tallies]
        assert days == weekly(START, WEEKS)[-2:-6:-1]
        assert {t.run.group_id for t in together[group_id].tallies} == {group_id}


def test_a_tick_posts_the_batches_its_budget_allows_and_the_next_tick_the_rest(
    engine: Engine,
) -> None:
    _seed(engine, BATCH + 3, weeks=1)
    poster = RecordingPoster()
    now = datetime(2026, 1, 8, 10, tzinfo=UTC)
    # No budget: the first batch still goes out, the rest waits for the next tick.
    assert send_due_digests(engine=engine, messenger=poster, now=now, budget=timedelta(0)) == BATCH
    later = now + timedelta(seconds=30)
    assert send_due_digests(engine=engine, messenger=poster, now=later, budget=timedelta(0)) == 3
    assert send_due_digests(engine=engine, messenger=poster, now=later) == 0
    assert sorted(channel for channel, _ in poster.posts) == [f"C{g:05d}" for g in range(BATCH + 3)]


def test_due_digests_are_found_in_the_same_queries_for_six_groups_as_for_two(
    engine: Engine,
) -> None:
    ids = _seed(engine, 6, weeks=2)
    now = datetime(2026, 1, 15, 10, tzinfo=UTC)  # the second week's digest is due

    def active(group_ids: list[int]) -> None:
        with session_scope(engine) as session:
            for group in session.exec(select(LeadershipGroup)):
                group.active = group.id in group_ids
                session.add(group)

    active(ids[:2])
    with counting_queries(engine) as two:
        due_two = due_digests(engine=engine, now=now)
    active(ids)
    with session_scope(engine) as session:
        org = seed_org(session)
        first = session.get(LeadershipGroup, ids[0])
        assert first is not None
        # A later run still open is not the run the digest is of.
        seed_run(session, org, first, START + timedelta(weeks=2), [], status="open")
    with counting_queries(engine) as six:
        due_six = due_digests(engine=engine, now=now)
    assert len(six) == len(two)
    assert [due.group_id for due in due_two] == ids[:2]
    assert [due.group_id for due in due_six] == ids
    with read_scope(engine) as session:
        latest_closed = {
            run.group_id: run.id
            for run in session.exec(
                select(PulseRun).where(
                    col(PulseRun.status) == "closed",
                    col(PulseRun.occurrence_day) == START + timedelta(weeks=1),
                )
            )
        }
    assert {due.group_id: due.run_id for due in due_six} == latest_closed
    # Posted once, a group's digest is no longer due.
    poster = RecordingPoster()
    send_due_digests(engine=engine, messenger=poster, now=now, org_channels={})
    assert due_digests(engine=engine, now=now) == []


def test_a_batchs_outcomes_are_written_in_one_transaction_failures_included(
    engine: Engine,
) -> None:
    ids = _seed(engine, 5, weeks=1)
    poster = RecordingPoster(failures={"C00002": 1})
    # The statements of each committed transaction, in order.
    transactions: list[list[str]] = [[]]

    def statement(*args: Any) -> None:
        transactions[-1].append(args[2])

    def commit(_connection: object) -> None:
        transactions.append([])

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        now = datetime(2026, 1, 8, 10, tzinfo=UTC)
        assert send_due_digests(engine=engine, messenger=poster, now=now, org_channels={}) == 4
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    outcomes = [
        statements
        for statements in transactions
        if any(s.startswith("UPDATE digest_deliveries") for s in statements)
    ]
    assert len(outcomes) == 1
    assert sum(s.startswith("UPDATE digest_deliveries") for s in outcomes[0]) == 5
    with read_scope(engine) as session:
        rows = [
            (row.group_id, row.status, bool(row.ts), bool(row.failure_reason))
            for row in session.exec(select(DigestDelivery).order_by(col(DigestDelivery.group_id)))
        ]
    posted, failed = (True, False), (False, True)
    assert rows == [
        (group_id, "failed", *failed) if n == 2 else (group_id, "posted", *posted)
        for n, group_id in enumerate(ids)
    ]
