"""Failures injected on purpose, to prove the bot survives what Slack does on a bad day."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

# "slow" stalls before Slack acts; "slow_response" acts, then stalls the reply (Slack has the
# message, the client does not know yet: the window in which a crashed sender loses track).
# "http_503_after" and "drop_after" act, then answer 503 or close the connection: the sender
# cannot tell whether Slack has the message, and must not post it again blindly.
FaultKind = Literal[
    "http_500",
    "http_503",
    "slow",
    "slow_response",
    "drop",
    "ratelimited",
    "http_503_after",
    "drop_after",
]
# Kinds where Slack carries the call out before the fault shows.
AFTER_ACTING: frozenset[FaultKind] = frozenset({"slow_response", "http_503_after", "drop_after"})


@dataclass
class Fault:
    method: str
    kind: FaultKind
    times: int
    delay: float
    retry_after: int
    probability: float


class Faults:
    """Method names are Web API names, `upload` for the raw file upload, `response_url`
    for response_url posts, or `*` for any of them."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        # Seeded, so a test failing on a probabilistic fault fails the same way again.
        self._random = random.Random(seed)

    def inject(
        self,
        method: str,
        kind: FaultKind,
        *,
        times: int = 1,
        delay: float = 0.0,
        retry_after: int = 1,
        probability: float = 1.0,
    ) -> None:
        """Fail the next `times` matching calls, each with `probability` (the calls it spares
        do not count)."""
        with self._lock:
            self._pending.append(
                Fault(method, kind, times, delay, max(1, retry_after), probability)
            )

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, method: str) -> Fault | None:
        """The next fault for this call, consuming one of its `times`."""
        with self._lock:
            for fault in self._pending:
                if fault.method in (method, "*"):
                    if fault.probability < 1.0 and self._random.random() >= fault.probability:
                        continue
                    fault.times -= 1
                    if fault.times <= 0:
                        self._pending.remove(fault)
                    return fault
        return None
