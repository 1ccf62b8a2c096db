"""Digest charts drawn in a process of their own.

matplotlib's drawing and the PNG's encoding hold the interpreter lock for the ~10 ms a chart
takes, so drawn by the scheduler's thread they came on top of the digests' compute and posts.
Drawn in a child process, the charts of a batch are drawn on the other core while the batch's
digests are laid out and posted; and matplotlib, most of a process's memory, is never loaded
by `coherence serve` itself. The child starts with the first chart of a wave of digests (about
a second, on the other core) and leaves once no chart was asked for `IDLE_SECONDS`, so the
memory is only held while digests are being drawn.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Set
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pulses.organisation import OrgDigest
    from pulses.reports import RunReport

logger = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_SECONDS = 120.0
# A chart takes ~10 ms; one still not drawn after this is given up, and its digest is left
# for the next tick like any digest that failed to draw.
CHART_TIMEOUT_SECONDS = 60.0


def trend_chart(history: list[RunReport], committed: Set[int], language: str | None) -> bytes:
    """The group digest's trend chart, drawn in the child (imported there, not here)."""
    from bot.views.chart import trend_chart_png

    return trend_chart_png(history, committed, language)


def heatmap(digest: OrgDigest) -> tuple[bytes | None, str, str]:
    """The organisation digest's heatmap, drawn in the child."""
    from bot.views.heatmap import organisation_heatmap

    return organisation_heatmap(digest)


def _load_matplotlib() -> None:
    # Loaded as the child starts, while the parent is still computing the batch.
    import bot.views.chart  # noqa: F401


class Drawer:
    """One child process drawing charts, started on demand, stopped when idle.

    ``submit`` returns at once; the caller takes the PNG from the future when it posts. A
    child that dies fails the charts it held, and the next chart starts a new one. Safe to
    use from several threads.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pending = 0
        self._idle_timer: threading.Timer | None = None
        self._stopped = threading.Event()

    def submit(self, function: Callable[..., T], *arguments: object) -> Future[T]:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._pool is None:
                self._pool = _child()
            pool = self._pool
            try:
                future = pool.submit(function, *arguments)
            except BrokenProcessPool:
                # The child died (killed, out of memory) and failed what it held; this chart
                # goes to a new one.
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = pool = _child()
                future = pool.submit(function, *arguments)
            self._pending += 1
            self._stopped.clear()
        future.add_done_callback(lambda _: self._done(pool))
        return future

    def started(self) -> bool:
        with self._lock:
            return self._pool is not None

    def wait_stopped(self, timeout: float) -> bool:
        """Whether the child left (idle, or closed) within ``timeout`` seconds."""
        return self._stopped.wait(timeout)

    def _done(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending or self._pool is not pool:
                return
            self._idle_timer = threading.Timer(self._idle_seconds, self._stop_if_idle, (pool,))
            self._idle_timer.daemon = True
            self._idle_timer.start()

    def _stop_if_idle(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pending or self._pool is not pool:
                return
            self._pool = None
            self._idle_timer = None
        logger.info("No chart to draw for %.0f s: the drawing process stops", self._idle_seconds)
        pool.shutdown(wait=True)
        self._stopped.set()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._stopped.set()


def _child() -> ProcessPoolExecutor:
    # spawn, not fork: the serving process has threads (waitress, the scheduler, the writer)
    # whose locks a forked child would inherit held.
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_load_matplotlib
    )


# One per process: every workspace's messenger draws through it.
DRAWER = Drawer()
