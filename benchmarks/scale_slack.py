"""The scale simulation's Slack and its meters: the workspaces split over several sandbox
processes, and where the machine's CPU went while a run was on.

One Python process serving 100 workspaces was the bottleneck it was meant to measure: every
call of every replica queued for one interpreter's lock. Here each process is a `MultiSlack`
serving its share of the workspaces at one URL, each workspace with its own token and Slack's
limits, and the simulation asks the processes (over a pipe) how many DMs have landed.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from sqlalchemy import create_engine, text

from benchmarks.harness import SECRET
from sandbox import RateLimits, SlackSandbox, Workspace
from sandbox.multi import MultiSlack

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SCOPES = "chat:write,users:read"


def team(w: int) -> str:
    return f"T{w:04d}"


def channel(w: int, g: int) -> str:
    return f"C{w:04d}G{g}"


def leader(w: int, g: int, n: int) -> str:
    return f"U{w:04d}G{g}L{n:02d}"


@dataclass(frozen=True)
class Shape:
    workspaces: int = 100
    groups: int = 5
    leaders: int = 10

    @property
    def pulses(self) -> int:
        return self.workspaces * self.groups * self.leaders

    def leaders_of(self, w: int) -> list[str]:
        return [leader(w, g, n) for g in range(self.groups) for n in range(self.leaders)]


@dataclass(frozen=True)
class Route:
    """Where one workspace's Slack is and the token it is called with."""

    team_id: str
    api_url: str
    token: str
    ids: list[str]  # its channels and people, by which each call finds its workspace


@dataclass
class SlackReport:
    """What the workspaces of one or more sandbox processes saw."""

    lost: int = 0
    twice: int = 0
    # When each DM was posted (CLOCK_MONOTONIC, the same clock in every process of the host).
    posted_at: list[float] = field(default_factory=list)
    lookups: int = 0
    rate_limited: int = 0
    cpu_seconds: float = 0.0

    def add(self, other: SlackReport) -> None:
        self.lost += other.lost
        self.twice += other.twice
        self.posted_at += other.posted_at
        self.lookups += other.lookups
        self.rate_limited += other.rate_limited
        self.cpu_seconds += other.cpu_seconds


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workspace(shape: Shape, w: int) -> Workspace:
    workspace = Workspace(team_id=team(w))
    for g in range(shape.groups):
        ids = [
            workspace.add_user(leader(w, g, n), f"l{n}", f"L{n}", "UTC").id
            for n in range(shape.leaders)
        ]
        workspace.add_channel(channel(w, g), f"leaders-{g}", ids)
    return workspace


def _serve(pipe: Connection, shape: Shape, indexes: list[int]) -> None:
    """One sandbox process: its workspaces installed, answering the simulation's questions
    ("count", "report") until told "stop"."""
    slack = MultiSlack(
        [_workspace(shape, w) for w in indexes],
        client_id="scale",
        client_secret="scale",
        signing_secret=SECRET,
        rate_limits=RateLimits(),
    )
    slack.start()
    try:
        routes = [
            Route(
                team_id=team(w),
                api_url=slack.api_url,
                token=slack.install(team(w), scopes=SCOPES),
                ids=[channel(w, g) for g in range(shape.groups)] + shape.leaders_of(w),
            )
            for w in indexes
        ]
        members = [(slack.workspace(team(w)), shape.leaders_of(w)) for w in indexes]
        wanted = [(member, {member.dm_channel(u) for u in users}) for member, users in members]
        idle_cpu = own_cpu_seconds()
        pipe.send(routes)
        while (command := pipe.recv()) != "stop":
            if command == "count":
                # One look at each workspace's messages: asking per leader would take each
                # workspace's lock 50 times a poll, slowing the Slack being measured.
                pipe.send(sum(len(dms & {m.channel for m in ws.messages()}) for ws, dms in wanted))
            elif command == "report":
                pipe.send(_report(members, own_cpu_seconds() - idle_cpu))
    finally:
        slack.stop()


def _report(members: list[tuple[SlackSandbox, list[str]]], cpu: float) -> SlackReport:
    report = SlackReport(cpu_seconds=cpu)
    for member, users in members:
        for user in users:
            messages = member.messages(member.dm_channel(user))
            report.lost += not messages
            report.twice += len(messages) > 1
        report.lookups += len(member.calls_to("users.info"))
        report.rate_limited += sum(1 for call in member.calls if call.status == 429)
        report.posted_at += [
            call.at for call in member.calls_to("chat.postMessage") if call.status == 200
        ]
    return report


class SlackProcesses:
    """The sandbox processes of one run and the routes to their workspaces."""

    def __init__(self, pipes: list[Connection], routes: list[Route]) -> None:
        self._pipes = pipes
        self.routes = routes

    def delivered(self) -> int:
        """How many leaders have their DM."""
        for pipe in self._pipes:
            pipe.send("count")
        return sum(int(pipe.recv()) for pipe in self._pipes)

    def report(self) -> SlackReport:
        for pipe in self._pipes:
            pipe.send("report")
        total = SlackReport()
        for pipe in self._pipes:
            total.add(pipe.recv())
        return total


@contextmanager
def slack_processes(shape: Shape, processes: int) -> Iterator[SlackProcesses]:
    """`processes` sandbox processes sharing the workspaces round-robin, each started with its
    workspaces installed; stopped on leaving."""
    # Spawned, not forked: the parent may hold threads and open database connections.
    context = multiprocessing.get_context("spawn")
    started: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    try:
        for p in range(processes):
            ours, theirs = context.Pipe()
            indexes = list(range(p, shape.workspaces, processes))
            server = context.Process(target=_serve, args=(theirs, shape, indexes), daemon=True)
            server.start()
            started.append((server, ours))
        routes = [route for _, pipe in started for route in pipe.recv()]
        routes.sort(key=lambda route: route.team_id)
        yield SlackProcesses([pipe for _, pipe in started], routes)
    finally:
        for process, pipe in started:
            if process.is_alive():
                pipe.send("stop")
        for process, _ in started:
            process.join(timeout=30)


# -- meters ---------------------------------------------------------------------------------------


def postmaster_of(url: str) -> int:
    """The process id of the PostgreSQL server at `url`: the parent of a backend of ours."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
            # Read while the connection holds its backend: once closed, the backend is gone.
            return int(_stat(backend)[1])
    finally:
        engine.dispose()


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU used so far by one PostgreSQL server: the postmaster and its live children, and its
    exited children (backends of closed connections), which the kernel adds to its own."""
    ticks = sum(int(value) for value in _stat(postmaster)[11:15])
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = _stat(int(entry))
            except OSError:
                continue  # gone between the listing and the read
            if int(fields[1]) == postmaster:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def process_state(pid: int) -> str:
    """R, S, D, Z (ended, not yet reaped)... of a process of this host; "" when it is gone."""
    try:
        return _stat(pid)[0]
    except OSError:
        return ""


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the process name: state, ppid, ... (utime is [11], stime [12],
    cutime [13], cstime [14])."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every user) since boot."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def load_average() -> float:
    return os.getloadavg()[0]
