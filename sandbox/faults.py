"""Failures injected on purpose, to prove the bot survives what Slack does on a bad day."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

# "slow" stalls before Slack acts; "slow_response" acts, then stalls the reply (Slack has the
# message, the client does not know yet: the window in which a crashed sender loses track).
FaultKind = Literal["http_500", "http_503", "slow", "slow_response", "drop", "ratelimited"]


@dataclass
class Fault:
    method: str
    kind: FaultKind
    times: int
    delay: float
    retry_after: int


class Faults:
    """Method names are Web API names, `upload` for the raw file upload, `response_url`
    for response_url posts, or `*` for any of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def inject(
        self,
        method: str,
        kind: FaultKind,
        *,
        times: int = 1,
        delay: float = 0.0,
        retry_after: int = 1,
    ) -> None:
        with self._lock:
            self._pending.append(Fault(method, kind, times, delay, max(1, retry_after)))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, method: str) -> Fault | None:
        """The next fault for this call, consuming one of its `times`."""
        with self._lock:
            for fault in self._pending:
                if fault.method in (method, "*"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._pending.remove(fault)
                    return fault
        return None
