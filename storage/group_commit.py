"""Many threads' short writes, run on one thread and committed together.

When a pulse lands, its leaders answer within seconds of each other, and each answer is one
short write transaction. Run from each request's own thread, the transactions queue for the
database's writer lock (SQLite has one writer at a time) and hand it on one by one, and every
one pays for its own BEGIN, COMMIT and connection. Here the request threads hand their unit of
work to one writer thread, which runs whatever has queued up meanwhile in one transaction:
the lock changes hands once per batch, not once per answer.

A unit that raises one of the `refusals` (a refusal decided before it writes anything, e.g.
an invalid answer) fails alone; the batch goes on. Any other error of a unit rolls the batch
back: that unit gets the error and the others are run again without it. An error that is no
unit's (the lock not free in time, a failed COMMIT) reaches every unit of the batch. Either
way a unit is stored whole, with its batch, or not at all.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

from storage.db import WriterBusy, write_scope

T = TypeVar("T")

# What one transaction takes at most: a burst's answers are committed in a few batches, and a
# batch is over in tens of milliseconds.
MAX_BATCH = 64
# The shortest wait a batch gives the writer lock, even when a unit's deadline is closer.
MIN_LOCK_WAIT_SECONDS = 0.05


@dataclass
class _Unit:
    work: Callable[[Connection], Any]
    deadline: float
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    future: Future[Any] = field(default_factory=Future)


class GroupCommit:
    """Units of work on `engine`, each run inside the caller's context (its language, its log
    lines' request) on one writer thread, started with the first unit.

    `read_ahead`, if given, is called once per batch, in its transaction and before its units,
    with the units' works: what each would read alone can be read for all of them in one
    statement (a round trip per unit is most of a batch's time on a database server).
    `flush`, if given, is called once per batch, after its units and before the commit, with
    the results of those that were not refused: units can plan their writes, and `flush` make
    them for the whole batch in a few statements. The error of either is every unit's.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        refusals: tuple[type[Exception], ...],
        flush: Callable[[Connection, list[Any]], None] | None = None,
        read_ahead: Callable[[Connection, list[Callable[[Connection], Any]]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._refusals = refusals
        self._flush = flush
        self._read_ahead = read_ahead
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._arrivals = threading.Condition()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def run(self, work: Callable[[Connection], T], *, wait_seconds: float) -> T:
        """`work(connection)`'s result once its transaction has committed, or its error.

        Raises WriterBusy when the unit has not started within `wait_seconds` (nothing is
        written), or when it started and its batch took as long again (it may yet commit).
        """
        unit = _Unit(work, time.monotonic() + wait_seconds)
        self._start()
        self._queue.put(unit)
        with self._arrivals:
            self._arrivals.notify_all()
        try:
            started: T = unit.future.result(timeout=wait_seconds)
            return started
        except FutureTimeout:
            if unit.future.cancel():
                raise WriterBusy(f"no turn to write within {wait_seconds:g} s") from None
        try:
            late: T = unit.future.result(timeout=wait_seconds)
            return late
        except FutureTimeout:
            raise WriterBusy(f"a batch of writes took over {wait_seconds:g} s") from None

    def wait_until_waiting(self, count: int, timeout: float) -> bool:
        """Whether `count` units came to wait in the queue, not yet in a batch, within
        `timeout` seconds (for tests that hold the writer and line units up behind it)."""
        with self._arrivals:
            return self._arrivals.wait_for(lambda: self._queue.qsize() >= count, timeout)

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise WriterBusy("the writer has stopped")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write, name="group-commit", daemon=True
                )
                self._thread.start()

    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    self._queue.put(None)  # stop once this batch is done
                    break
                batch.append(unit)
            self._commit([u for u in batch if u.future.set_running_or_notify_cancel()])

    def _commit(self, batch: list[_Unit]) -> None:
        """Run `batch` in one transaction. A unit that fails for any other reason than a
        refusal is told its error, and the others are run again without it in a new
        transaction; an error that is no unit's (BEGIN, COMMIT) is told to them all."""
        while batch:
            # The lock is waited for no longer than the most pressed unit can afford.
            wait = max(MIN_LOCK_WAIT_SECONDS, min(u.deadline for u in batch) - time.monotonic())
            outcomes: list[tuple[_Unit, Any, BaseException | None]] = []
            failed: _Unit | None = None
            try:
                with write_scope(self._engine, wait_seconds=wait) as connection:
                    if self._read_ahead is not None:
                        self._read_ahead(connection, [unit.work for unit in batch])
                    for unit in batch:
                        try:
                            result = unit.context.run(unit.work, connection)
                        except self._refusals as refusal:
                            outcomes.append((unit, None, refusal))
                        except Exception:
                            failed = unit
                            raise
                        else:
                            outcomes.append((unit, result, None))
                    if self._flush is not None:
                        self._flush(connection, [r for _, r, refused in outcomes if not refused])
            except Exception as error:
                if failed is None:
                    for unit in batch:
                        unit.future.set_exception(error)
                    return
                failed.future.set_exception(error)
                batch = [unit for unit in batch if unit is not failed]
                continue
            for unit, result, refused in outcomes:
                if refused is None:
                    unit.future.set_result(result)
                else:
                    unit.future.set_exception(refused)
            return
