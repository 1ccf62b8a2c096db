"""The scale simulation (`make scale`): many workspaces on one PostgreSQL, replicas sharing the
fan-out, one of them SIGKILLed halfway.

100 workspaces x 5 groups x 10 leaders, every pulse due at one instant. Each workspace is its
own Slack sandbox with Slack's limits (so the limits are per workspace, as Slack's are) and its
own bot token. Replica processes tick as the scheduler does (every SCHEDULER_TICK_SECONDS) with
the real claims; with 3 replicas one is SIGKILLed once a third of the DMs are out. Printed:
lost and doubled DMs, the latest DM after the due time (the bar: 2 minutes), and the time to
deliver everything with 3 replicas against 1. The last line is JSON.

Usage: python -m benchmarks.scale [WORKSPACES GROUPS LEADERS]  (COHERENCE_TEST_POSTGRES_URL
names the server; `make scale` starts a throwaway one), or, for one replica,
python -m benchmarks.scale replica ROUTES_JSON DATABASE_URL DUE_EPOCH_SECONDS
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from benchmarks.harness import DUE, SECRET, fresh_postgres_database
from bot.app import build_client
from bot.messenger import SlackMessenger
from bot.settings import Settings
from pulses.dispatch import tick
from pulses.groups import create_group, ensure_workspace
from pulses.organisation import OrgDigest
from pulses.ports import Member, PulseNotice, RenderedDigest
from pulses.reports import GroupDigest
from pulses.ticks import Worker
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 120.0
TICK_SECONDS = float(Settings.model_fields["scheduler_tick_seconds"].default)
# The production pacing, per workspace (each workspace has its own messenger).
POSTS_PER_MINUTE = 300


def team(w: int) -> str:
    return f"T{w:04d}"


def channel(w: int, g: int) -> str:
    return f"C{w:04d}G{g}"


def leader(w: int, g: int, n: int) -> str:
    return f"U{w:04d}G{g}L{n:02d}"


@dataclass(frozen=True)
class Route:
    """Where one workspace's Slack is and the token it is called with: the one token lookup."""

    team_id: str
    api_url: str
    token: str
    ids: list[str]  # its channels and people, by which each call finds its workspace


class RoutedMessenger:
    """The domain's Messenger over many workspaces: each call goes to the messenger of the
    workspace the channel or person belongs to, with that workspace's token and pacing."""

    def __init__(self, routes: list[Route]) -> None:
        self._by_id: dict[str, SlackMessenger] = {}
        for route in routes:
            settings = Settings(
                _env_file=None, slack_bot_token=SecretStr(route.token), slack_api_url=route.api_url
            )
            messenger = SlackMessenger(build_client(settings), posts_per_minute=POSTS_PER_MINUTE)
            self._by_id.update(dict.fromkeys(route.ids, messenger))
        self._any = next(iter(self._by_id.values()))

    def channel_members(self, channel_id: str) -> list[Member]:
        return self._by_id[channel_id].channel_members(channel_id)

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        return self._by_id[notice.channel_id].post_channel_pulse(notice, marker=marker)

    def update_channel_pulse(self, notice: PulseNotice, *, ts: str) -> None:
        self._by_id[notice.channel_id].update_channel_pulse(notice, ts=ts)

    def send_dm_pulse(self, user_id: str, notice: PulseNotice, *, marker: str) -> tuple[str, str]:
        return self._by_id[user_id].send_dm_pulse(user_id, notice, marker=marker)

    def confirm_answer(self, notice: PulseNotice, *, channel: str, ts: str) -> None:
        self._by_id[notice.channel_id].confirm_answer(notice, channel=channel, ts=ts)

    def remind(self, user_id: str, notice: PulseNotice, *, in_channel: bool) -> None:
        self._by_id[user_id].remind(user_id, notice, in_channel=in_channel)

    def render_digest(self, digest: GroupDigest | OrgDigest) -> RenderedDigest:
        return self._any.render_digest(digest)

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        return self._by_id[channel].post_digest(digest, channel=channel, marker=marker)

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        return self._by_id[destination].find_delivered(destination, marker=marker)


def replica(routes_json: str, database_url: str, due_epoch: str) -> None:
    """One replica: the scheduler's tick every TICK_SECONDS, the simulated clock starting at DUE
    when the wall clock reads `due_epoch`, until SIGTERM."""
    routes = [Route(**route) for route in json.loads(Path(routes_json).read_text())]
    messenger = RoutedMessenger(routes)
    engine = make_engine(database_url)
    worker = Worker.for_this_process()
    signal.signal(signal.SIGTERM, lambda *_: worker.stop_requested.set())
    started = float(due_epoch)
    while not worker.stop_requested.is_set():
        began = time.time()
        now = DUE + timedelta(seconds=began - started)
        tick(engine=engine, messenger=messenger, now=now, worker=worker)
        # The scheduler's interval, woken early by SIGTERM.
        worker.stop_requested.wait(max(0.0, TICK_SECONDS - (time.time() - began)))


@dataclass(frozen=True)
class Shape:
    workspaces: int = 100
    groups: int = 5
    leaders: int = 10

    @property
    def pulses(self) -> int:
        return self.workspaces * self.groups * self.leaders


@contextmanager
def slack_per_workspace(shape: Shape) -> Iterator[list[SlackSandbox]]:
    """A started sandbox per workspace, Slack's limits on in each."""
    sandboxes = []
    try:
        for w in range(shape.workspaces):
            workspace = Workspace(team_id=team(w))
            for g in range(shape.groups):
                ids = [
                    workspace.add_user(leader(w, g, n), f"l{n}", f"L{n}", "UTC").id
                    for n in range(shape.leaders)
                ]
                workspace.add_channel(channel(w, g), f"leaders-{g}", ids)
            slack = SlackSandbox(
                workspace,
                bot_token=f"xoxb-{team(w)}",
                signing_secret=SECRET,
                rate_limits=RateLimits(),
            )
            slack.start()
            sandboxes.append(slack)
        yield sandboxes
    finally:
        for slack in sandboxes:
            slack.stop()


def seed(url: str, shape: Shape) -> None:
    """Every group's first pulse due at DUE, in DM mode."""
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for w in range(shape.workspaces):
            workspace = ensure_workspace(session=session, team_id=team(w))
            assert workspace.id is not None
            for g in range(shape.groups):
                create_group(
                    session=session,
                    workspace_id=workspace.id,
                    channel_id=channel(w, g),
                    delivery_mode="dm",
                    timezone="UTC",
                    local_time="08:00",
                    created_at=DUE - timedelta(days=1),
                )
    engine.dispose()


@dataclass(frozen=True)
class Outcome:
    replicas: int
    killed: bool
    pulses: int
    lost: int
    twice: int
    last_dm_s: float
    p50_dm_s: float
    # Slack calls made to learn who is in each run (one users.info per member: each run's
    # start is claimed by one replica) and the calls any workspace answered with a 429.
    lookups: int
    rate_limited: int


def delivered(sandboxes: list[SlackSandbox], shape: Shape) -> Callable[[], int]:
    """How many leaders have their DM, read with one look at each workspace's messages: asking
    per leader took each sandbox's lock 5,000 times a poll, slowing the Slack it measures."""
    dms = [
        (
            slack,
            {
                slack.dm_channel(leader(w, g, n))
                for g in range(shape.groups)
                for n in range(shape.leaders)
            },
        )
        for w, slack in enumerate(sandboxes)
    ]
    return lambda: sum(len(wanted & {m.channel for m in slack.messages()}) for slack, wanted in dms)


def simulate(server: str, shape: Shape, replicas: int, kill_one: bool) -> Outcome:
    url = fresh_postgres_database(server)
    seed(url, shape)
    with slack_per_workspace(shape) as sandboxes, tempfile.TemporaryDirectory() as folder:
        routes = Path(folder) / "routes.json"
        routes.write_text(json.dumps([asdict(route) for route in routes_of(sandboxes, shape)]))
        count = delivered(sandboxes, shape)
        started, due = time.monotonic(), time.time()
        processes = [start_replica(routes, url, due) for _ in range(replicas)]
        try:
            if kill_one:
                wait_until(lambda: count() >= shape.pulses // 3, timeout=600)
                processes[0].send_signal(signal.SIGKILL)
            wait_until(lambda: count() >= shape.pulses, timeout=600)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=120)
        times, lost, twice, lookups, limited = [], 0, 0, 0, 0
        for w, slack in enumerate(sandboxes):
            lookups += len(slack.calls_to("users.info"))
            limited += sum(1 for call in slack.calls if call.status == 429)
            for g in range(shape.groups):
                for n in range(shape.leaders):
                    messages = slack.messages(slack.dm_channel(leader(w, g, n)))
                    lost += not messages
                    twice += len(messages) > 1
            times += [c.at - started for c in slack.calls_to("chat.postMessage") if c.status == 200]
    times.sort()
    return Outcome(
        replicas=replicas,
        killed=kill_one,
        pulses=shape.pulses,
        lost=lost,
        twice=twice,
        last_dm_s=round(times[-1], 1) if times else float("inf"),
        p50_dm_s=round(times[len(times) // 2], 1) if times else float("inf"),
        lookups=lookups,
        rate_limited=limited,
    )


def routes_of(sandboxes: list[SlackSandbox], shape: Shape) -> list[Route]:
    return [
        Route(
            team_id=team(w),
            api_url=slack.api_url,
            token=slack.bot_token,
            ids=[channel(w, g) for g in range(shape.groups)]
            + [leader(w, g, n) for g in range(shape.groups) for n in range(shape.leaders)],
        )
        for w, slack in enumerate(sandboxes)
    ]


def start_replica(routes: Path, url: str, due_epoch: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", "replica", str(routes), url, repr(due_epoch)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Checks `condition` twice a second: the replicas are other processes, with nothing to
    signal this one when a DM lands."""
    deadline = time.monotonic() + timeout
    done = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {timeout:.0f} s")
        done.wait(0.5)


def main(arguments: list[str]) -> None:
    if arguments[:1] == ["replica"]:
        replica(*arguments[1:])
        return
    server = os.environ.get("COHERENCE_TEST_POSTGRES_URL")
    if not server:
        sys.exit("The scale simulation needs PostgreSQL: run `make scale`, which starts one.")
    shape = Shape(*(int(a) for a in arguments)) if arguments else Shape()
    many = simulate(server, shape, replicas=3, kill_one=True)
    one = simulate(server, shape, replicas=1, kill_one=False)
    print(
        f"{shape.workspaces} workspaces x {shape.groups} groups x {shape.leaders} leaders "
        f"({shape.pulses} DMs), Slack's limits per workspace, on PostgreSQL:"
    )
    for outcome in (many, one):
        killed = ", one SIGKILLed mid-fan-out" if outcome.killed else ""
        print(
            f"  {outcome.replicas} replica(s){killed}: "
            f"{outcome.lost} lost, {outcome.twice} twice, last DM {outcome.last_dm_s} s after the "
            f"due time (median {outcome.p50_dm_s} s; bar {DEADLINE_SECONDS:.0f} s); "
            f"{outcome.lookups} users.info, {outcome.rate_limited} calls answered 429"
        )
    speedup = one.last_dm_s / many.last_dm_s if many.last_dm_s else float("inf")
    print(
        f"  time to deliver everything: {many.last_dm_s} s with 3 replicas (one killed), "
        f"{one.last_dm_s} s with 1 ({speedup:.2f}x the speed of one)"
    )
    print(json.dumps({"three": asdict(many), "one": asdict(one), "speedup": round(speedup, 2)}))


if __name__ == "__main__":
    main(sys.argv[1:])
