"""Slack's per-method rate limits, enforced per workspace as the real API does."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

# Captured once so freezegun (told to ignore this package) never bends the limiter's clock.
_monotonic = time.monotonic

TIER_1, TIER_2, TIER_3, TIER_4 = 1, 20, 50, 100

# Requests per minute per workspace, from each method's page on docs.slack.dev.
SLACK_TIERS: dict[str, int] = {
    "auth.test": TIER_4,
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "conversations.open": TIER_3,
    "conversations.info": TIER_3,
    "conversations.history": TIER_3,
    "conversations.members": TIER_4,
    "users.info": TIER_4,
    "users.list": TIER_2,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    # chat.postMessage is "special": ~1/s per channel, and several hundred a minute overall.
    "chat.postMessage": 600,
}


@dataclass
class RateLimits:
    """`tiers` overrides SLACK_TIERS per method (requests per minute); others keep Slack's."""

    enabled: bool = True
    tiers: dict[str, int] = field(default_factory=dict)
    post_message_per_channel_per_second: float = 1.0
    # Slack tolerates short bursts above 1/s in one channel before answering 429.
    burst: int = 3

    def __post_init__(self) -> None:
        self.tiers = {**SLACK_TIERS, **self.tiers}

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)


class RateLimiter:
    """Sliding one-minute windows per method, and a token bucket per channel for posts."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._windows: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, method: str, channel: str | None = None) -> int | None:
        """Seconds to wait (Retry-After) when this call is over a limit, else None."""
        if not self.limits.enabled:
            return None
        now = _monotonic()
        if method == "chat.postMessage" and channel:
            wait = self._take_from_bucket(channel, now)
            if wait is not None:
                return wait
        per_minute = self.limits.tiers.get(method)
        if per_minute is None:
            return None
        window = self._windows.setdefault(method, deque())
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(window) >= per_minute:
            return max(1, math.ceil(60.0 - (now - window[0])))
        window.append(now)
        return None

    def _take_from_bucket(self, channel: str, now: float) -> int | None:
        rate = self.limits.post_message_per_channel_per_second
        capacity = float(max(1, self.limits.burst))
        tokens, last = self._buckets.get(channel, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
        self._buckets[channel] = (tokens - 1.0, now)
        return None
