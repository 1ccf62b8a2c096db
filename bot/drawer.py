"""Digests computed, laid out and charted in a process of their own.

A batch of digests is computed (`bot.digest_batch`: the process opens the same database),
laid out (slack_sdk's block models) and charted (matplotlib, encoded as PNG) in a child
process, on the other core, while the serving process claims and posts the batch before: the
serving process's interpreter lock is left to the posts, the pulses and the answers' acks, and
matplotlib, most of a process's memory, is never loaded by `coherence serve` itself. The child
starts with the first batch of a wave (about two seconds, on the other core) and leaves once
nothing was asked of it for `IDLE_SECONDS`, so the memory is only held while digests are
being drawn.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_SECONDS = 120.0
# A batch takes well under a second to compute and draw; one still not drawn after this is given
# up, and left for the next tick like any digest that failed to draw.
DRAWING_TIMEOUT_SECONDS = 60.0


def _load() -> None:
    """What computing and drawing a batch needs, loaded as the child starts, then kept out of
    the collector's reach as `coherence serve` keeps its own: the compute builds as many
    short-lived objects here as it did there."""
    import bot.digest_batch
    import bot.views.chart  # noqa: F401
    import pulses.signals.engine  # noqa: F401
    from bot.collector import exempt_start_up_objects

    exempt_start_up_objects()


class Drawer:
    """One child process drawing digests, started on demand, stopped when idle.

    ``submit`` returns at once; the caller takes the drawing from the future when it posts. A
    child that dies fails the drawings it held, and the next one starts a new child. Safe to
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
                # The child died (killed, out of memory) and failed what it held; this one
                # goes to a new child.
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = pool = _child()
                future = pool.submit(function, *arguments)
            self._pending += 1
            self._stopped.clear()
        future.add_done_callback(lambda _: self._done(pool))
        return future

    def result(self, future: Future[T], timeout: float = DRAWING_TIMEOUT_SECONDS) -> T:
        """The drawing, once done. A child that has not finished it within ``timeout`` is
        taken for stuck and stopped, failing what else it held, so that the next drawing gets
        a new child rather than queueing behind it for ever."""
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            logger.error("A drawing took over %.0f s: the drawing process is restarted", timeout)
            with self._lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                _stop_now(pool)
            raise

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
        logger.info("Nothing to draw for %.0f s: the drawing process stops", self._idle_seconds)
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


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's child even in the middle of a drawing (shutdown alone waits for it)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the executor's processes are only reachable through its own attribute.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _child() -> ProcessPoolExecutor:
    # spawn, not fork: the serving process has threads (waitress, the scheduler, the writer)
    # whose locks a forked child would inherit held.
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_load
    )


# One per process: every workspace's messenger draws through it.
DRAWER = Drawer()
