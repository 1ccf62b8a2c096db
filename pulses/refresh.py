"""The work that follows an answer, off the request path: the channel message's count and the
member's confirmation, coalesced so a burst of answers makes a handful of updates.

An answer's acknowledgement only stores it and calls `after_answer`. Updates run on the
refresher's own threads; each message has at most one update in flight, and a refresh asked
for while one runs is done once more afterwards, reading the count then, so the latest count
is the one Slack keeps. Waiting out Slack's rate limits happens on those threads, never on a
listener's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

from sqlalchemy.engine import Engine

from pulses.answers import confirm_dm_answer, refresh_channel_progress
from pulses.ports import Messenger

logger = logging.getLogger(__name__)

# Two threads: chat.update is limited per workspace (Tier 3), so more would only wait longer.
WORKERS = 2
# A message is updated at most once a second: Slack allows about 50 updates a minute, and
# during a burst of answers every update done sooner would only take the answers' CPU.
SPACING_SECONDS = 1.0


class Refresher:
    """Runs jobs by key on its own threads: per key one at a time, no sooner than `spacing`
    seconds after the key's previous job started, and only the latest job asked for while
    another waits or runs."""

    def __init__(self, workers: int = WORKERS, spacing: float = SPACING_SECONDS) -> None:
        self._workers = workers
        self._spacing = spacing
        self._last_start: dict[Hashable, float] = {}
        self._latest: dict[Hashable, Callable[[], None]] = {}
        self._queue: deque[Hashable] = deque()
        self._running: set[Hashable] = set()
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        """Run `job` soon; it replaces a job for `key` that has not started yet."""
        with self._changed:
            if self._closed:
                raise RuntimeError("the refresher is closed")
            if key not in self._latest and key not in self._running:
                self._queue.append(key)
            self._latest[key] = job
            self._start_workers()
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is waiting or running (tests and benchmarks)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._latest and not self._running, timeout)

    def close(self) -> None:
        """Stop taking jobs; the workers finish what is queued, then end."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _start_workers(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._work, name=f"coherence-refresh-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _next(self) -> tuple[Hashable, Callable[[], None]] | None:
        with self._changed:
            while True:
                now = time.monotonic()
                # Only keys started within the spacing still matter.
                self._last_start = {
                    key: started
                    for key, started in self._last_start.items()
                    if started + self._spacing > now
                }
                soonest: float | None = None
                for key in self._queue:
                    if key in self._running:
                        continue
                    ready_at = self._last_start.get(key, now - self._spacing) + self._spacing
                    if ready_at <= now:
                        self._queue.remove(key)
                        self._running.add(key)
                        self._last_start[key] = now
                        return key, self._latest.pop(key)
                    soonest = ready_at if soonest is None else min(soonest, ready_at)
                if self._closed and not self._queue:
                    return None
                self._changed.wait(None if soonest is None else soonest - now)

    def _work(self) -> None:
        while (taken := self._next()) is not None:
            key, job = taken
            try:
                job()
            except Exception:
                logger.exception("Could not update a message after an answer")
            finally:
                with self._changed:
                    self._running.discard(key)
                    if key in self._latest:
                        self._queue.append(key)  # asked again while it ran: once more
                    self._changed.notify_all()


def after_answer(
    refresher: Refresher,
    *,
    engine: Engine,
    messenger: Messenger,
    run_id: int,
    user_id: str,
    delivery_mode: str,
) -> None:
    """Once an answer is stored: refresh the channel message's count (channel mode) or
    confirm to the member that their answer is in (DM mode)."""
    if delivery_mode == "channel":
        refresher.submit(
            ("progress", run_id),
            lambda: refresh_channel_progress(engine=engine, messenger=messenger, run_id=run_id),
        )
    elif delivery_mode == "dm":
        refresher.submit(
            ("confirmation", run_id, user_id),
            lambda: confirm_dm_answer(
                engine=engine, messenger=messenger, run_id=run_id, user_id=user_id
            ),
        )
