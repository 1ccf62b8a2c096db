"""A DM fan-out at Slack's real limits: every member of a group gets the pulse in a DM.

Baseline: the posting floor, the time the production pacing (300 posts a minute) needs for
that many DMs. Measured: the scheduler's tick from the due time to the last DM, with Slack's
limits on (`conversations.members` and `users.info` Tier 4, `users.list` Tier 2, posting
about 600 a minute), how long before the first DM, and how many members got none or two.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from benchmarks.harness import DUE, add_group, start_bot
from pulses.dispatch import tick
from pulses.ticks import Worker
from sandbox import SlackSandbox

POSTS_PER_MINUTE = 300


@dataclass(frozen=True)
class FanOut:
    members: int
    seconds: float
    first_dm_seconds: float
    lost: int
    twice: int

    @property
    def floor(self) -> float:
        return self.members * 60.0 / POSTS_PER_MINUTE


def measure(slack: SlackSandbox, url: str, members: int) -> FanOut:
    bot = start_bot(slack, url)
    try:
        add_group(bot.engine, delivery_mode="dm")
        before = len(slack.calls_to("chat.postMessage"))
        started = time.monotonic()
        tick(engine=bot.engine, messenger=bot.services.messenger, now=DUE, worker=Worker("b:0:0"))
        seconds = time.monotonic() - started
        posts = [c for c in slack.calls_to("chat.postMessage")[before:] if c.response.get("ok")]
        first = posts[0].at - started if posts else seconds
        per_member = Counter(str(c.args.get("channel")) for c in posts)
        return FanOut(
            members=members,
            seconds=seconds,
            first_dm_seconds=first,
            lost=members - len(per_member),
            twice=sum(1 for count in per_member.values() if count > 1),
        )
    finally:
        bot.close()


def report(result: FanOut) -> dict[str, object]:
    ratio = result.seconds / result.floor
    print(
        f"{result.members}-member DM fan-out at Slack's limits: {ratio:.2f}x the posting floor "
        f"({result.seconds:.1f} s vs {result.floor:.1f} s at {POSTS_PER_MINUTE}/min; first DM "
        f"{result.first_dm_seconds:.1f} s after the due time; {result.lost} lost, "
        f"{result.twice} twice)"
    )
    return {
        "members": result.members,
        "seconds": round(result.seconds, 2),
        "floor_s": round(result.floor, 2),
        "ratio": round(ratio, 3),
        "first_dm_s": round(result.first_dm_seconds, 2),
        "lost": result.lost,
        "twice": result.twice,
    }
