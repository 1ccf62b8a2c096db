"""One scheduler pass: who does it (`Worker`), what each step is given (`Tick`), what it did,
and how its sends are shared out between workspaces (`FairShares`)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from pulses.claims import wall_clock
from pulses.ports import Messenger


@dataclass(frozen=True)
class Worker:
    """Who holds a claim: host, process and a per-start nonce (pids are reused).

    Setting `stop_requested` (on SIGTERM) ends a fan-out between two sends, so a platform
    restart leaves no claim in flight for the next process to wait out.
    """

    id: str
    stop_requested: threading.Event = field(
        default_factory=threading.Event, compare=False, repr=False
    )
    # Claims are stamped with real time, not the tick's `now`: whether a claim is stale is a
    # question about a live process, and a slow tick must not make its fresh claims look old.
    clock: Callable[[], datetime] = field(default=wall_clock, compare=False, repr=False)

    @classmethod
    def for_this_process(cls) -> Worker:
        return cls(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")


@dataclass
class TickReport:
    """What one tick did, counted by each of its steps."""

    created: int = 0
    missed: int = 0
    started: int = 0
    sent: int = 0
    failed: int = 0
    reminded: int = 0
    closed: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


# Sends one workspace may claim in a round before every other workspace has had its turn: one,
# so consecutive sends go to different workspaces and none waits on one workspace's pacing.
ROUND_SHARE = 1


@dataclass
class FairShares:
    """Round-robin between workspaces: in each round a workspace claims at most `share`
    sends, and what it has beyond that waits for the next round, so one big workspace's
    fan-out (paced and rate-limited by Slack per workspace) never holds up another's pulses."""

    share: int = ROUND_SHARE
    claimed: dict[int, int] = field(default_factory=dict)
    deferred: int = 0
    # Each send is tried at most once a tick, as before rounds: a send that failed and went
    # back to "pending" waits for the next tick instead of being hammered round after round.
    tried: set[tuple[str, int]] = field(default_factory=set)
    # Which workspace each run belongs to, read once per tick.
    workspaces: dict[int, int] = field(default_factory=dict)

    def new_round(self) -> None:
        self.claimed.clear()
        self.deferred = 0

    def has_turn(self, workspace_id: int, send: tuple[str, int]) -> bool:
        """Whether `send` (a table and row) may be claimed now: not tried yet this tick, and its
        workspace not through its share of this round (then it is deferred to the next)."""
        if send in self.tried:
            return False
        if self.claimed.get(workspace_id, 0) < self.share:
            return True
        self.deferred += 1
        return False

    def took(self, workspace_id: int, send: tuple[str, int]) -> None:
        self.claimed[workspace_id] = self.claimed.get(workspace_id, 0) + 1
        self.tried.add(send)


@dataclass(frozen=True)
class Tick:
    """One pass over everything due at `now`: what each of its steps needs, and where it counts."""

    engine: Engine
    messenger: Messenger
    now: datetime
    worker: Worker
    report: TickReport = field(default_factory=TickReport)
    shares: FairShares = field(default_factory=FairShares)

    @property
    def stopping(self) -> bool:
        """Whether the process was asked to stop: a fan-out ends between two sends."""
        return self.worker.stop_requested.is_set()
