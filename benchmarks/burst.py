"""Everyone answers at once: `members` answer submissions to one channel pulse, sent together,
with Slack's limits on (`chat.update` is Tier 3, about 50 a minute).

Baseline: the same signed submissions to a bare Bolt app that only acknowledges, on the same
waitress server, in the same run, at its best: on Coherence's thread count and on
`BARE_THREADS`, each round's faster of the two. Each app serves from a process of its own, as
Slack meets it (`benchmarks.served`): the burst's client threads do not share its interpreter
lock. A few answers to another pulse warm each app up first, unmeasured. Measured per round:
the p99 acknowledgement, how many acks took longer than Slack's 3 seconds, how many answers were
stored, and whether the channel message ends showing every answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass

from sqlmodel import col, func, select

from benchmarks.harness import (
    CHANNEL,
    DUE,
    Bot,
    ServedApp,
    add_group,
    limits_off,
    member_id,
    ms,
    percentile,
    serve_apart,
    start_bot,
)
from bot.server import THREADS
from bot.views.pulse import ANSWER_ACTION
from pulses.dispatch import tick
from pulses.ticks import Worker
from sandbox import SlackSandbox, View
from sandbox.users import ACK_TIMEOUT
from storage.db import session_scope
from storage.models import Answer, PulseRun

_FORM = "application/x-www-form-urlencoded"
WARM_CHANNEL = "C0WARM"
WARM_UP_MEMBERS = 10
# How long the channel message may take to show the last answer once the burst is over.
PROGRESS_WAIT_SECONDS = 120.0
# The bare app is also served on the thread count Coherence had before its answers waited on
# a batched commit: an app that waits on nothing is fastest on fewer threads (more only take
# turns on the interpreter lock), and the baseline is the bare app at its best.
BARE_THREADS = 8


@dataclass(frozen=True)
class Burst:
    acks: list[float]
    failed: int
    cpu: float  # the server process's CPU seconds over the burst

    @property
    def p99(self) -> float:
        return percentile(self.acks, 0.99)

    @property
    def late(self) -> int:
        return sum(1 for ack in self.acks if ack > ACK_TIMEOUT)


@dataclass(frozen=True)
class Round:
    baselines: dict[int, Burst]  # the bare app's burst on each thread count
    now: Burst
    stored: int
    progress_shown: int | None
    progress_seconds: float

    @property
    def baseline(self) -> Burst:
        return min(self.baselines.values(), key=lambda burst: burst.p99)


def _open_modals(
    slack: SlackSandbox, members: int, channel: str = CHANNEL
) -> list[tuple[str, View]]:
    [message] = slack.messages(channel)
    modals = []
    for n in range(members):
        user = member_id(n)
        before = set(slack.views)
        slack.user(user).click(message, ANSWER_ACTION)
        slack.wait_for(lambda s, b=before: len(s.views) > len(b))  # type: ignore[misc]
        [view_id] = [v for v in slack.views if v not in before]
        modals.append((user, slack.views[view_id]))
    return modals


def _submission_bodies(slack: SlackSandbox, modals: list[tuple[str, View]]) -> list[bytes]:
    bodies = []
    for n, (user, modal) in enumerate(modals):
        values: dict[str, object] = {
            b["block_id"]: str(1 + n % 5) for b in modal.view["blocks"] if b["block_id"].isdigit()
        }
        values |= {"share_other": "100", "focus_other": "hiring"}
        bodies.append(slack.user(user).submission_body(modal.id, values))
    return bodies


def _fire(slack: SlackSandbox, app: ServedApp, bodies: list[bytes]) -> Burst:
    """Send every body at once, each from its own thread, as a crowd clicking Submit would."""
    slack.bot_url = app.events_url
    cpu_before = app.cpu_seconds()
    users = [slack.user(member_id(n)) for n in range(len(bodies))]
    acks: list[float] = [0.0] * len(bodies)
    failed = [0]
    start = threading.Barrier(len(bodies))

    def send(n: int) -> None:
        start.wait()
        began = time.monotonic()
        try:
            response = users[n].send_raw(bodies[n], _FORM)
        except OSError:  # refused, reset or timed out: Slack shows the member an error
            acks[n] = time.monotonic() - began
            failed[0] += 1
            return
        acks[n] = response.elapsed
        if response.status != 200 or response.json is not None:
            failed[0] += 1

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Burst(acks, failed[0], app.cpu_seconds() - cpu_before)


def _stored(bot: Bot, group_id: int) -> int:
    """The answers stored to the measured pulse (not the warm-up's)."""
    with session_scope(bot.engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Answer)
            .join(PulseRun, col(PulseRun.id) == Answer.run_id)
            .where(col(PulseRun.group_id) == group_id)
        ).one()


def _progress(slack: SlackSandbox) -> int | None:
    [message] = slack.messages(CHANNEL)
    found = re.search(r"(\d+) of \d+ answered", json.dumps(message.blocks))
    return int(found.group(1)) if found else None


def measure(slack: SlackSandbox, url: str, members: int, rounds: int) -> list[Round]:
    """`rounds` bursts of `members` submissions to one pulse (later rounds change answers),
    each next to a burst of the same submissions to the bare Bolt app."""
    bot = start_bot(slack, url)  # sends the pulse and opens the modals
    bares = {threads: serve_apart("bare", slack, threads=threads) for threads in _bare_threads()}
    served = serve_apart("coherence", slack, url)
    try:
        group_id = add_group(bot.engine, delivery_mode="channel")
        # A few answers to another pulse first, to each app, unmeasured: a server that has
        # been up a while has its statements compiled and its modules loaded.
        warm = min(WARM_UP_MEMBERS, members)
        slack.workspace.add_channel(WARM_CHANNEL, "warm-up", [member_id(n) for n in range(warm)])
        add_group(bot.engine, delivery_mode="channel", channel=WARM_CHANNEL)
        with limits_off(slack):
            tick(
                engine=bot.engine,
                messenger=bot.services.messenger,
                now=DUE,
                worker=Worker("bench:0:0"),
            )
            bot.services.clock = lambda: DUE
            bodies = _submission_bodies(slack, _open_modals(slack, members))
            warm_bodies = _submission_bodies(slack, _open_modals(slack, warm, WARM_CHANNEL))
            for target in (*bares.values(), served):
                _fire(slack, target, warm_bodies)
        results = []
        for _ in range(rounds):
            baselines = {threads: _fire(slack, bare, bodies) for threads, bare in bares.items()}
            now = _fire(slack, served, bodies)
            started = time.monotonic()
            with contextlib.suppress(TimeoutError):
                slack.wait_for(lambda s: _progress(s) == members, timeout=PROGRESS_WAIT_SECONDS)
            waited = time.monotonic() - started
            results.append(Round(baselines, now, _stored(bot, group_id), _progress(slack), waited))
        return results
    finally:
        for bare in bares.values():
            bare.close()
        served.close()
        bot.close()


def _bare_threads() -> list[int]:
    return sorted({THREADS, BARE_THREADS})


def _bare(r: Round) -> str:
    """The round's baseline, and the bare app's p99 on each thread count."""
    each = ", ".join(f"{threads} threads {ms(b.p99)}" for threads, b in sorted(r.baselines.items()))
    return f"{ms(r.baseline.p99)} ({each})"


def report(label: str, members: int, rounds: list[Round]) -> dict[str, object]:
    """Print one line per round and the ratio line; the figures for the JSON line."""
    for n, r in enumerate(rounds, 1):
        print(
            f"  {label} round {n}: p99 ack bare Bolt {_bare(r)}, Coherence "
            f"{ms(r.now.p99)}; over 3 s: {r.now.late} of {members}; refused/failed: "
            f"{r.now.failed}; answers stored {r.stored} of {members}; channel message shows "
            f"{r.progress_shown} of {members} ({r.progress_seconds:.1f} s after the burst); "
            f"server CPU per answer: bare Bolt {r.baseline.cpu / members * 1000:.1f} ms, "
            f"Coherence {r.now.cpu / members * 1000:.1f} ms"
        )
    baseline = max(r.baseline.p99 for r in rounds)
    now = max(r.now.p99 for r in rounds)
    ratio = now / baseline
    slowest = max(max(r.now.acks) for r in rounds)
    stored = min(r.stored for r in rounds)
    shown = min((r.progress_shown or 0) for r in rounds)
    print(
        f"p99 ack of {members} concurrent answers, {label}: {ratio:.2f}x the bare Bolt app "
        f"({ms(now)} vs {ms(baseline)}, worst round each; slowest ack {ms(slowest)}; "
        f"stored {stored} of {members}, progress ends at {shown} of {members})"
    )
    return {
        "p99_ack_s": round(now, 4),
        "baseline_p99_ack_s": round(baseline, 4),
        "ratio": round(ratio, 3),
        "slowest_ack_s": round(slowest, 4),
        "acks_over_3s": max(r.now.late for r in rounds),
        "stored_min": stored,
        "progress_min": shown,
        "members": members,
    }
