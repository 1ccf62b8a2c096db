"""The scale simulation (`make scale`): many workspaces on one PostgreSQL, replicas sharing the
fan-out, one of them SIGKILLed halfway.

100 workspaces x 5 groups x 10 leaders, every pulse due at one instant. Each workspace has
Slack's limits of its own and its own bot token; the workspaces are served by several sandbox
processes (SCALE_SLACK_PROCESSES, 4 by default), since one Python process serving them all was
the bottleneck. Replica processes tick as the scheduler does (every SCHEDULER_TICK_SECONDS,
the first tick at the due time) with the real claims, sending through bot.workspaces with each
workspace's token from the installation store (SCALE_MESSENGER=routed: a table of tokens
instead); with 3 replicas one is SIGKILLed once a third of the DMs are out. SCALE_PROFILE=DIR
writes each replica's profile there. Printed: the posting floor (every DM sent straight to
Slack at the production pacing, no database, in the same sandboxes: the best any number of
replicas can do on this machine), lost and doubled DMs, the latest DM after the due time (the bar: 2
minutes), the time to deliver everything with 3 replicas against 1, and where the CPU went
(sandbox, replicas, PostgreSQL, everything else on the machine). The last line is JSON.

Usage: python -m benchmarks.scale [WORKSPACES GROUPS LEADERS]  (COHERENCE_TEST_POSTGRES_URL
names the server; `make scale` starts a throwaway one), or, for one replica,
python -m benchmarks.scale replica ROUTES_JSON DATABASE_URL DUE_EPOCH_SECONDS
"""

from __future__ import annotations

import cProfile
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy.engine import Engine

from benchmarks.harness import DUE, fresh_postgres_database
from benchmarks.scale_slack import (
    SCOPES,
    Route,
    Shape,
    SlackProcesses,
    channel,
    load_average,
    machine_busy_seconds,
    own_cpu_seconds,
    postgres_cpu_seconds,
    postmaster_of,
    process_state,
    slack_processes,
    team,
)
from bot.app import build_client
from bot.messenger import SlackMessenger
from bot.oauth import Installations
from bot.settings import Settings
from bot.workspaces import WorkspaceMessenger, Workspaces
from pulses.digest_batches import DigestBatch
from pulses.dispatch import tick
from pulses.groups import create_group, ensure_workspace
from pulses.organisation import OrgDigest
from pulses.ports import Member, Messenger, PulseNotice, RenderedDigest
from pulses.reports import GroupDigest
from pulses.ticks import Worker
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 120.0
TICK_SECONDS = float(Settings.model_fields["scheduler_tick_seconds"].default)
# The production pacing, per workspace (each workspace has its own messenger).
POSTS_PER_MINUTE = int(Settings.model_fields["slack_posts_per_minute"].default)
# "installed": the replicas send through bot.workspaces with tokens from the installation
# store, as in production; "routed": a route table of tokens (RoutedMessenger), no store.
MESSENGER = os.environ.get("SCALE_MESSENGER", "installed")
CLIENT_ID, CLIENT_SECRET = "1000.2000", "scale-secret"
SLACK_PROCESSES = int(os.environ.get("SCALE_SLACK_PROCESSES", "4"))
# Replicas (and the floor's senders) are started this long before the due time, so that their
# imports are not counted as delivery time: production replicas are up before a pulse is due.
LEAD_SECONDS = 8.0


def messenger_of(route: Route) -> SlackMessenger:
    settings = Settings(
        _env_file=None, slack_bot_token=SecretStr(route.token), slack_api_url=route.api_url
    )
    return SlackMessenger(build_client(settings), posts_per_minute=POSTS_PER_MINUTE)


class RoutedMessenger:
    """The domain's Messenger over many workspaces: each call goes to the messenger of the
    workspace the channel or person belongs to, with that workspace's token and pacing."""

    def __init__(self, routes: list[Route]) -> None:
        self._by_id: dict[str, SlackMessenger] = {}
        for route in routes:
            self._by_id.update(dict.fromkeys(route.ids, messenger_of(route)))
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

    def render_digests(
        self, batch: DigestBatch
    ) -> Iterator[tuple[int, RenderedDigest | Exception]]:
        return self._any.render_digests(batch)

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        return self._by_id[channel].post_digest(digest, channel=channel, marker=marker)

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        return self._by_id[destination].find_delivered(destination, marker=marker)


def installed_messenger(routes: list[Route], engine: Engine) -> tuple[Messenger, Workspaces]:
    """The production path for installed workspaces: each workspace's token from the
    installation store (bot.oauth.Installations), a messenger per workspace (bot.workspaces).
    The one difference: the workspaces are served by several sandbox processes, so each
    workspace's client is pointed at its own process's URL (found by its token)."""
    settings_at = {
        route.api_url: Settings(
            _env_file=None,
            slack_client_id=CLIENT_ID,
            slack_client_secret=SecretStr(CLIENT_SECRET),
            slack_api_url=route.api_url,
        )
        for route in routes
    }
    url_of = {route.token: route.api_url for route in routes}
    settings = settings_at[routes[0].api_url]
    workspaces = Workspaces(
        Installations.for_settings(settings, engine, build_client(settings)),
        make_client=lambda token: build_client(settings_at[url_of[token]], token),
        posts_per_minute=POSTS_PER_MINUTE,
    )
    return WorkspaceMessenger(engine, workspaces), workspaces


def read_routes(path: str) -> list[Route]:
    return [Route(**route) for route in json.loads(Path(path).read_text())]


def replica(routes_json: str, database_url: str, due_epoch: str) -> None:
    """One replica: the scheduler's tick every TICK_SECONDS from the due time (the wall clock
    reading `due_epoch`, the simulated clock DUE), until SIGTERM."""
    routes = read_routes(routes_json)
    engine = make_engine(database_url)
    messenger: Messenger
    if MESSENGER == "installed":
        messenger, workspaces = installed_messenger(routes, engine)
        # As the scheduler does before each tick (Services.begin_tick): tokens read afresh.
        fresh_tokens: Callable[[], None] = workspaces.installations.forget
    else:
        messenger, fresh_tokens = RoutedMessenger(routes), lambda: None
    worker = Worker.for_this_process()
    signal.signal(signal.SIGTERM, lambda *_: worker.stop_requested.set())
    started = float(due_epoch)
    profile = os.environ.get("SCALE_PROFILE")
    with cProfile.Profile() if profile else nullcontext() as profiler:
        ticking(engine, messenger, worker, started, fresh_tokens)
    if profiler is not None:
        # Where a replica's CPU goes: SCALE_PROFILE names a folder for each one's profile.
        profiler.dump_stats(Path(profile or ".") / f"replica-{os.getpid()}.prof")


def ticking(
    engine: Engine,
    messenger: Messenger,
    worker: Worker,
    started: float,
    before_each: Callable[[], None],
) -> None:
    # The scheduler's first tick is at the due time: what is waited for is an instant.
    worker.stop_requested.wait(max(0.0, started - time.time()))
    while not worker.stop_requested.is_set():
        began = time.time()
        now = DUE + timedelta(seconds=began - started)
        before_each()
        tick(engine=engine, messenger=messenger, now=now, worker=worker)
        # The scheduler's interval, woken early by SIGTERM.
        worker.stop_requested.wait(max(0.0, TICK_SECONDS - (time.time() - began)))


def floor(routes_json: str, start_epoch: str) -> None:
    """The posting floor's sender: from `start_epoch`, every leader of its workspaces gets a
    pulse DM through the production messenger (its pacing, its 429 handling), a thread per
    workspace, no database: what the sandboxes and this machine allow at best."""
    routes = read_routes(routes_json)
    notice = PulseNotice(
        run_id=1,
        group_name="Leaders",
        channel_id="C0",
        closes_at=DUE + timedelta(days=1),
        timezone="UTC",
        answered=0,
        invited=10,
    )

    def send_all(route: Route) -> None:
        messenger = messenger_of(route)
        for user in (i for i in route.ids if i.startswith("U")):
            messenger.send_dm_pulse(user, notice, marker=f"floor:{user}")

    senders = [threading.Thread(target=send_all, args=(route,)) for route in routes]
    threading.Event().wait(max(0.0, float(start_epoch) - time.time()))
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()


def seed(url: str, shape: Shape, routes: list[Route]) -> None:
    """Every group's first pulse due at DUE, in DM mode, and every workspace installed."""
    upgrade(url)
    engine = make_engine(url)
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine)
    for route in routes:
        store.save(
            Installation(
                app_id="A0SCALE",
                team_id=route.team_id,
                user_id="U0INSTALLER",
                bot_token=route.token,
                bot_id=f"B{route.team_id}",
                bot_user_id="U0BOT",
                bot_scopes=SCOPES,
                is_enterprise_install=False,
            )
        )
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
class CpuUse:
    """CPU seconds each part used during a run, and the machine's 1-minute load at its end."""

    wall_s: float
    sandbox_s: float
    replicas_s: float
    postgres_s: float
    # Everything busy on the machine, this one included: cores x wall is the most there is.
    machine_s: float
    load: float

    @property
    def others_s(self) -> float:
        """What the rest of the machine (other programs) used meanwhile."""
        return max(0.0, self.machine_s - self.sandbox_s - self.replicas_s - self.postgres_s)

    def line(self) -> str:
        cores = os.cpu_count() or 1
        return (
            f"CPU over {self.wall_s:.0f} s on {cores} cores ({self.wall_s * cores:.0f} core-s): "
            f"sandbox {self.sandbox_s:.0f} s, replicas {self.replicas_s:.0f} s, PostgreSQL "
            f"{self.postgres_s:.0f} s, the rest of the machine {self.others_s:.0f} s; "
            f"load {self.load:.1f}"
        )


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
    cpu: CpuUse


class Meter:
    """The CPU the sandbox, the replicas and PostgreSQL use from its start to `stop`."""

    def __init__(self, postmaster: int | None) -> None:
        self._postmaster = postmaster
        self._wall = time.monotonic()
        self._machine = machine_busy_seconds()
        self._postgres = postgres_cpu_seconds(postmaster) if postmaster else 0.0

    def stop(self, sandbox_s: float, replicas_s: float) -> CpuUse:
        postgres = postgres_cpu_seconds(self._postmaster) if self._postmaster else 0.0
        return CpuUse(
            wall_s=time.monotonic() - self._wall,
            sandbox_s=sandbox_s,
            replicas_s=replicas_s,
            postgres_s=postgres - self._postgres,
            machine_s=machine_busy_seconds() - self._machine,
            load=load_average(),
        )


def simulate(server: str, shape: Shape, replicas: int, kill_one: bool) -> Outcome:
    url = fresh_postgres_database(server)
    postmaster = postmaster_of(url)
    with slack_processes(shape, SLACK_PROCESSES) as slack, tempfile.TemporaryDirectory() as folder:
        seed(url, shape, slack.routes)
        routes = write_routes(Path(folder), slack)
        started = time.monotonic() + LEAD_SECONDS
        due = time.time() + LEAD_SECONDS
        processes = [start("replica", str(routes), url, repr(due)) for _ in range(replicas)]
        replicas_cpu = 0.0
        meter = Meter(postmaster)
        try:
            if kill_one:
                wait_until(lambda: slack.delivered() >= shape.pulses // 3, processes)
                # Not Popen.send_signal, which reaps the process and its CPU figures with it.
                os.kill(processes[0].pid, signal.SIGKILL)
                replicas_cpu += reap(processes[0])
            wait_until(lambda: slack.delivered() >= shape.pulses, processes)
        finally:
            living = [process for process in processes if process.returncode is None]
            for process in living:
                os.kill(process.pid, signal.SIGTERM)
            replicas_cpu += sum(reap(process) for process in living)
        report = slack.report()
        cpu = meter.stop(report.cpu_seconds, replicas_cpu)
    times = sorted(at - started for at in report.posted_at)
    return Outcome(
        replicas=replicas,
        killed=kill_one,
        pulses=shape.pulses,
        lost=report.lost,
        twice=report.twice,
        last_dm_s=round(times[-1], 1) if times else float("inf"),
        p50_dm_s=round(times[len(times) // 2], 1) if times else float("inf"),
        lookups=report.lookups,
        rate_limited=report.rate_limited,
        cpu=cpu,
    )


def posting_floor(shape: Shape, senders: int) -> tuple[float, CpuUse]:
    """Seconds from the start until the last of every leader's DM is posted when `senders`
    processes send them straight to Slack (no database, no claims), and the CPU it took."""
    with slack_processes(shape, SLACK_PROCESSES) as slack, tempfile.TemporaryDirectory() as folder:
        shares = [slack.routes[s::senders] for s in range(senders)]
        started = time.monotonic() + LEAD_SECONDS
        start_epoch = time.time() + LEAD_SECONDS
        processes = []
        for s, share in enumerate(shares):
            path = Path(folder) / f"floor-{s}.json"
            path.write_text(json.dumps([asdict(route) for route in share]))
            processes.append(start("floor", str(path), repr(start_epoch)))
        meter = Meter(None)
        senders_cpu = sum(reap(process) for process in processes)
        report = slack.report()
        cpu = meter.stop(report.cpu_seconds, senders_cpu)
    if report.lost or report.twice:
        raise RuntimeError(f"the floor lost {report.lost} DMs and sent {report.twice} twice")
    return round(max(report.posted_at) - started, 1), cpu


def write_routes(folder: Path, slack: SlackProcesses) -> Path:
    path = folder / "routes.json"
    path.write_text(json.dumps([asdict(route) for route in slack.routes]))
    return path


def start(*arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def reap(process: subprocess.Popen[bytes]) -> float:
    """Wait for `process` to end; the CPU seconds it used (a SIGKILLed one's too)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def wait_until(
    condition: Callable[[], bool], replicas: list[subprocess.Popen[bytes]], timeout: float = 600
) -> None:
    """Checks `condition` twice a second (the replicas are other processes, with nothing to
    signal this one when a DM lands); gives up when no replica is left running."""
    deadline = time.monotonic() + timeout
    done = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {timeout:.0f} s")
        if not any(running(replica) for replica in replicas):
            raise RuntimeError("every replica has exited (their errors are above)")
        done.wait(0.5)


def running(process: subprocess.Popen[bytes]) -> bool:
    """Whether `process` still runs, without reaping it (its CPU figures go with the reaping)."""
    if process.returncode is not None:
        return False
    return process_state(process.pid) not in ("Z", "X")


def main(arguments: list[str]) -> None:
    if arguments[:1] == ["replica"]:
        replica(*arguments[1:])
        return
    if arguments[:1] == ["floor"]:
        floor(*arguments[1:])
        return
    server = os.environ.get("COHERENCE_TEST_POSTGRES_URL")
    if not server:
        sys.exit("The scale simulation needs PostgreSQL: run `make scale`, which starts one.")
    shape = Shape(*(int(a) for a in arguments)) if arguments else Shape()
    floor_s, floor_cpu = posting_floor(shape, senders=3)
    many = simulate(server, shape, replicas=3, kill_one=True)
    one = simulate(server, shape, replicas=1, kill_one=False)
    print(
        f"{shape.workspaces} workspaces x {shape.groups} groups x {shape.leaders} leaders "
        f"({shape.pulses} DMs), Slack's limits per workspace, {SLACK_PROCESSES} sandbox "
        f"processes, on PostgreSQL, {own_cpu_seconds():.0f} s of CPU in this process:"
    )
    print(
        f"  posting floor (every DM straight to Slack at {POSTS_PER_MINUTE}/min per workspace, "
        f"3 sender processes, no database): last DM {floor_s} s; {floor_cpu.line()}"
    )
    for outcome in (many, one):
        killed = ", one SIGKILLed mid-fan-out" if outcome.killed else ""
        print(
            f"  {outcome.replicas} replica(s){killed}: "
            f"{outcome.lost} lost, {outcome.twice} twice, last DM {outcome.last_dm_s} s after the "
            f"due time (median {outcome.p50_dm_s} s; bar {DEADLINE_SECONDS:.0f} s); "
            f"{outcome.lookups} users.info, {outcome.rate_limited} calls answered 429"
        )
        print(f"    {outcome.cpu.line()}")
    speedup = one.last_dm_s / many.last_dm_s if many.last_dm_s else float("inf")
    print(
        f"  time to deliver everything: {many.last_dm_s} s with 3 replicas (one killed), "
        f"{one.last_dm_s} s with 1 ({speedup:.2f}x the speed of one)"
    )
    summary = {
        "floor_s": floor_s,
        "three": asdict(many),
        "one": asdict(one),
        "speedup": round(speedup, 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
