"""Readiness: whether this process can do its work, for GET /readyz in both modes.

GET /healthz is liveness (the process answers HTTP) and stays 200 while the process runs;
restarting a process because its database is down would not bring the database back. GET
/readyz is 200 only when the database answers a `SELECT 1` within DATABASE_TIMEOUT_SECONDS and
the scheduler completed a tick within TICKS_ALLOWED tick intervals: a load balancer stops
routing to a replica that cannot store an answer, and a rolling deploy stops at a release
whose ticks fail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import text

from bot.metrics import REGISTRY
from storage.db import READ_ONLY, first_line

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

TICKS_ALLOWED = 3
DATABASE_TIMEOUT_SECONDS = 2.0
# run_tick records a tick's duration only when its pass over due work succeeded; a tick that
# failed (the database down, a bug) does not count as ticking.
_COMPLETED_TICKS = "coherence_tick_duration_seconds_count"


def completed_ticks() -> float:
    """Ticks this process completed (the tick-duration histogram's count)."""
    return REGISTRY.get_sample_value(_COMPLETED_TICKS) or 0.0


class Readiness:
    """Answers "ready?" for one process: its database and its scheduler."""

    def __init__(
        self,
        engine: Engine,
        *,
        tick_seconds: float,
        database_timeout: float = DATABASE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # SQLite would take its write lock for a plain transaction; a probe only reads.
        self._engine = engine.execution_options(**{READ_ONLY: True})
        self._allowed = TICKS_ALLOWED * tick_seconds
        self._database_timeout = database_timeout
        self._clock = clock
        # A process that just started gets the same allowance for its first tick.
        self._last_tick = clock()
        self._ticks = completed_ticks()
        self._check: Future[None] | None = None
        self._lock = threading.Lock()
        self._was_ready = True

    def watch(self, scheduler: BaseScheduler) -> None:
        """Note every tick `scheduler` completes from now on (and one completed already)."""
        scheduler.add_listener(self._job_ran, EVENT_JOB_EXECUTED)
        self.note_ticks()

    def _job_ran(self, _event: JobExecutionEvent) -> None:
        self.note_ticks()

    def note_ticks(self) -> None:
        """Take the time of a tick completed since the last note (called after each job ran)."""
        ticks = completed_ticks()
        with self._lock:
            if ticks != self._ticks:
                self._ticks = ticks
                self._last_tick = self._clock()

    def problems(self) -> list[str]:
        """Why this process is not ready, for its response; empty when it is ready.

        The reasons say what, not where: /readyz may be public, and the database's host and
        the driver's message go to the log instead.
        """
        problems = []
        database = self._database_problem()
        if database is not None:
            problems.append("database unreachable")
        with self._lock:
            since = self._clock() - self._last_tick
        scheduler = None
        if since > self._allowed:
            scheduler = f"no scheduler tick for {since:.0f} s (allowed {self._allowed:.0f} s)"
            problems.append(scheduler)
        self._log_change(database, scheduler)
        return problems

    def _database_problem(self) -> str | None:
        # One check in flight at a time, shared by concurrent probes: a database that hangs
        # costs one waiting thread, not one per probe.
        with self._lock:
            if self._check is None or self._check.done():
                self._check = Future()
                threading.Thread(
                    target=self._select_one, args=(self._check,), name="readyz-db", daemon=True
                ).start()
            check = self._check
        try:
            check.result(timeout=self._database_timeout)
        except TimeoutError:
            return f"no answer to SELECT 1 within {self._database_timeout:g} s"
        except Exception as error:
            return first_line(error)
        return None

    def _select_one(self, check: Future[None]) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            check.set_exception(error)
        else:
            check.set_result(None)

    def _log_change(self, database: str | None, scheduler: str | None) -> None:
        ready = database is None and scheduler is None
        with self._lock:
            changed, self._was_ready = ready != self._was_ready, ready
        if changed and ready:
            logger.info("Ready again: the database answers and the scheduler ticks")
        elif changed:
            reasons = [f"database: {database}"] if database else []
            reasons += [f"scheduler: {scheduler}"] if scheduler else []
            logger.warning("Not ready (%s)", "; ".join(reasons))
