"""Units of work from many threads, committed together by one writer thread."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from storage.db import WriterBusy, make_engine
from storage.group_commit import GroupCommit


class Refused(Exception):
    pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE written (n INTEGER NOT NULL UNIQUE)"))
    yield engine
    engine.dispose()


@pytest.fixture
def writer(engine: Engine) -> Iterator[GroupCommit]:
    writer = GroupCommit(engine, refusals=(Refused,))
    yield writer
    writer.close()


def commits(engine: Engine) -> list[int]:
    """A list that grows by one at each commit on `engine`."""
    counted: list[int] = []
    event.listen(engine, "commit", lambda _connection: counted.append(1))
    return counted


def written(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return [n for (n,) in connection.execute(text("SELECT n FROM written ORDER BY n"))]


def write(n: int) -> Callable[[Connection], int]:
    def work(connection: Connection) -> int:
        connection.execute(text("INSERT INTO written (n) VALUES (:n)"), {"n": n})
        return n

    return work


def held_open(writer: GroupCommit, release: threading.Event) -> Future[int]:
    """A unit that keeps the writer busy until `release` is set, so that what is sent after
    it queues up for the next batch."""
    started = threading.Event()

    def blocking(connection: Connection) -> int:
        started.set()
        release.wait()
        return write(0)(connection)

    pool = ThreadPoolExecutor(1)
    future = pool.submit(writer.run, blocking, wait_seconds=30)
    pool.shutdown(wait=False)
    started.wait()
    return future


def run_queued(
    writer: GroupCommit, works: list[Callable[[Connection], Any]]
) -> tuple[threading.Event, list[Future[Any]]]:
    """Each of `works` sent from a thread of its own while the writer is held; returned once
    all of them wait in the queue, with the event that lets the writer go."""
    release = threading.Event()
    first = held_open(writer, release)
    pool = ThreadPoolExecutor(len(works))
    futures = [first] + [pool.submit(writer.run, w, wait_seconds=30) for w in works]
    pool.shutdown(wait=False)
    assert writer.wait_until_waiting(len(works), timeout=30)
    return release, futures


def outcome(future: Future[Any]) -> object:
    error = future.exception(timeout=30)
    return type(error) if error is not None else future.result()


def test_what_arrives_together_is_committed_together(writer: GroupCommit, engine: Engine) -> None:
    counted = commits(engine)
    release, futures = run_queued(writer, [write(n) for n in range(1, 21)])
    release.set()
    assert [f.result(timeout=30) for f in futures] == list(range(21))
    assert written(engine) == list(range(21))
    # The held unit's batch, then one batch for the twenty that queued behind it.
    assert len(counted) == 2


def test_a_refused_unit_fails_alone(writer: GroupCommit, engine: Engine) -> None:
    def refuse(_connection: Connection) -> int:
        raise Refused

    release, futures = run_queued(writer, [write(1), refuse, write(2)])
    release.set()
    assert [outcome(f) for f in futures] == [0, 1, Refused, 2]
    assert written(engine) == [0, 1, 2]


def test_a_unit_that_fails_is_taken_out_and_the_others_run_again(
    writer: GroupCommit, engine: Engine
) -> None:
    # The third writes a number the first already wrote: the batch is rolled back, and run
    # again without it.
    release, futures = run_queued(writer, [write(1), write(2), write(1), write(3)])
    release.set()
    assert [outcome(f) for f in futures] == [0, 1, 2, IntegrityError, 3]
    assert written(engine) == [0, 1, 2, 3]


def test_a_unit_not_started_in_time_is_refused_and_never_runs(
    writer: GroupCommit, engine: Engine
) -> None:
    release = threading.Event()
    first = held_open(writer, release)
    with pytest.raises(WriterBusy):
        writer.run(write(7), wait_seconds=0.2)
    release.set()
    assert first.result(timeout=30) == 0
    writer.close()  # whatever was queued has been through the writer
    assert written(engine) == [0]


def test_a_unit_runs_in_its_callers_context(writer: GroupCommit) -> None:
    language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")
    language.set("de")
    assert writer.run(lambda _connection: language.get(), wait_seconds=5) == "de"


def test_close_stores_what_was_queued_first(writer: GroupCommit, engine: Engine) -> None:
    release, futures = run_queued(writer, [write(1), write(2)])
    release.set()
    writer.close()
    assert written(engine) == [0, 1, 2]
    assert [f.result(timeout=30) for f in futures] == [0, 1, 2]
    with pytest.raises(WriterBusy):
        writer.run(write(3), wait_seconds=1)


def test_read_ahead_gets_each_transactions_works_before_they_run(engine: Engine) -> None:
    """Once per transaction, inside it: a batch run again without a failed unit is read
    again, without that unit."""
    seen: list[tuple[list[object], int]] = []

    def read_ahead(connection: Connection, works: list[Callable[[Connection], Any]]) -> None:
        done = connection.execute(text("SELECT count(*) FROM written")).scalar_one()
        seen.append((list(works), done))

    writer = GroupCommit(engine, refusals=(Refused,), read_ahead=read_ahead)
    try:
        works = [write(1), write(2), write(1), write(3)]
        release, futures = run_queued(writer, works)
        release.set()
        assert [outcome(f) for f in futures] == [0, 1, 2, IntegrityError, 3]
    finally:
        writer.close()
    [held, batch, again] = seen
    # The unit that held the writer, alone, before anything was written.
    assert (len(held[0]), held[1]) == (1, 0)
    # Before any of the batch's units wrote: the first written row is the held unit's.
    assert batch == (works, 1)
    assert again == ([works[0], works[1], works[3]], 1)
