"""/readyz means the process can work: its database answers and its scheduler ticks.

The acceptance test runs a real `coherence serve` on a PostgreSQL server of its own, stops
that server and starts it again; the others pin the rules with a settable clock.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.health import Readiness, completed_ticks
from bot.metrics import TICK_DURATION
from bot.server import start_in_background
from sandbox import SlackSandbox
from storage.db import make_engine
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
TICK = 1  # SCHEDULER_TICK_SECONDS of the served process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError as error:  # not listening (yet)
        return 0, str(error.reason)


@dataclass
class ManualClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def _tick_completed() -> None:
    # What run_tick's metrics.record_tick does when a tick's pass succeeded.
    TICK_DURATION.observe(0.01)


def test_ready_needs_a_completed_tick_within_three_intervals(engine: Engine) -> None:
    clock = ManualClock()
    readiness = Readiness(engine, tick_seconds=30, clock=clock)
    assert readiness.problems() == []  # a new process gets three intervals for its first tick
    clock.now += 90
    assert readiness.problems() == []
    clock.now += 1
    assert readiness.problems() == ["no scheduler tick for 91 s (allowed 90 s)"]
    readiness.note_ticks()  # a job ran but no tick completed (its pass failed)
    assert readiness.problems() == ["no scheduler tick for 91 s (allowed 90 s)"]
    before = completed_ticks()
    _tick_completed()
    assert completed_ticks() == before + 1
    readiness.note_ticks()
    assert readiness.problems() == []
    clock.now += 90
    assert readiness.problems() == []


def test_a_database_that_refuses_connections_is_not_ready() -> None:
    closed = make_engine(f"postgresql+psycopg://coherence@127.0.0.1:{_free_port()}/coherence")
    readiness = Readiness(closed, tick_seconds=30, clock=ManualClock())
    assert readiness.problems() == ["database unreachable"]


def test_a_database_that_never_answers_is_not_ready_after_the_timeout() -> None:
    # A server that accepts the connection and then says nothing, like a black-holed network.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        hung = make_engine(f"postgresql+psycopg://coherence@127.0.0.1:{port}/coherence")
        readiness = Readiness(hung, tick_seconds=30, database_timeout=0.5, clock=ManualClock())
        started = time.monotonic()
        assert readiness.problems() == ["database unreachable"]
        assert 0.5 <= time.monotonic() - started < 2
        # The next probe waits on the same check rather than starting another.
        assert readiness.problems() == ["database unreachable"]


def test_socket_mode_serves_liveness_readiness_and_metrics_without_slack(engine: Engine) -> None:
    clock = ManualClock()
    server = start_in_background(None, readiness=Readiness(engine, tick_seconds=1, clock=clock))
    try:
        assert _get(server.url + "/healthz") == (200, "ok\n")
        assert _get(server.url + "/readyz") == (200, "ready\n")
        clock.now += 4
        assert _get(server.url + "/readyz") == (
            503,
            "not ready: no scheduler tick for 4 s (allowed 3 s)\n",
        )
        assert _get(server.url + "/healthz") == (200, "ok\n")  # liveness is not readiness
        assert _get(server.url + "/metrics")[0] == 200
        assert _get(server.url + "/slack/events")[0] == 404  # events come over the websocket
    finally:
        server.close()


@dataclass
class PostgresServer:
    """A PostgreSQL server of this test's own, so stopping it disturbs no other test."""

    bin: Path
    data: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self.as_postgres, str(self.bin / program), "-D", str(self.data), *args]
        subprocess.run(command, check=check, capture_output=True)

    def _pg_ctl(self, *args: str) -> None:
        self.run("pg_ctl", *args)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data.parent} -c fsync=off"
        self._pg_ctl("-w", "-l", str(self.data.parent / "log"), "-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    if not os.environ.get("COHERENCE_TEST_POSTGRES_URL"):
        pytest.skip("no PostgreSQL server: run through `make test`, which starts one")
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL's server programs are not in /usr/lib/postgresql")
    folder = Path(tempfile.mkdtemp(prefix="coherence-readyz-"))
    as_postgres: list[str] = []
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(Path(bins[-1]), folder / "data", _free_port(), as_postgres)
    server.run("initdb", "-U", "postgres", "--auth=trust", "-E", "UTF8")
    server.start()
    yield server
    server.run("pg_ctl", "-m", "immediate", "stop", check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _wait_for(url: str, wanted: bool, *, within: float) -> tuple[float, str]:
    """Seconds until /readyz's answer is 200 (`wanted`) or not, and the body then."""
    started = time.monotonic()
    while True:
        status, body = _get(url)
        elapsed = time.monotonic() - started
        if (status == 200) == wanted:
            return elapsed, body
        assert elapsed < within, f"/readyz still {status} {body!r} after {elapsed:.1f} s"
        time.sleep(0.05)


def test_readyz_follows_the_database_going_away_and_coming_back(
    own_postgres: PostgresServer, sandbox: SlackSandbox, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COHERENCE_"))},
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "COHERENCE_PSEUDONYM_KEY": "test-pseudonym-key-not-secret",
        "SLACK_API_URL": sandbox.api_url,
        "DATABASE_URL": own_postgres.url,
        "SCHEDULER_TICK_SECONDS": str(TICK),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    served = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, health = f"http://127.0.0.1:{port}/readyz", f"http://127.0.0.1:{port}/healthz"
    try:
        # Read all along: a failing tick logs a traceback every second, and a full pipe would
        # stall the process.
        log: list[str] = []
        reader = threading.Thread(target=lambda: log.extend(served.stderr or []), daemon=True)
        reader.start()
        _wait_for(ready, True, within=60)  # start-up: imports, migrations, auth.test

        own_postgres.stop()
        went, body = _wait_for(ready, False, within=3 * TICK)
        assert body == "not ready: database unreachable\n"
        assert _get(health) == (200, "ok\n")
        # Down for longer than three ticks: the failing ticks do not count as ticking.
        time.sleep(3 * TICK + 1)
        status, body = _get(ready)
        assert status == 503
        assert body.startswith("not ready: database unreachable; no scheduler tick for ")

        own_postgres.start()
        back, body = _wait_for(ready, True, within=3 * TICK)
        assert body == "ready\n"
        print(f"/readyz not ready {went:.2f} s after the stop, ready {back:.2f} s after the start")

        served.send_signal(signal.SIGTERM)
        assert served.wait(timeout=30) == 0
        reader.join(timeout=10)
        text = "".join(log)
        assert "Not ready (database: " in text
        assert "Ready again" in text
    finally:
        if served.poll() is None:
            served.kill()
