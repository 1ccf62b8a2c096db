"""What every benchmark sets up: a sandbox workspace with Slack's rate limits, the bot serving
it over real HTTP, and figures printed the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import Engine, make_url

from bot.app import build_app, build_services
from bot.collector import exempt_start_up_objects
from bot.server import RunningServer, start_in_background
from bot.services import Services
from bot.settings import Settings
from pulses.groups import create_group, ensure_workspace
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

TOKEN = "xoxb-bench"
SECRET = "bench-secret"
CHANNEL = "C0ALL"
# A Monday 08:00 UTC: the groups' pulses are due at this instant.
DUE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def member_id(n: int) -> str:
    return f"U{n:05d}"


def slack_with_members(members: int) -> SlackSandbox:
    """A started sandbox with `members` people in #leaders, Slack's limits on."""
    workspace = Workspace()
    ids = [
        workspace.add_user(member_id(n), f"l{n}", f"L{n}", "Europe/Berlin").id
        for n in range(members)
    ]
    workspace.add_channel(CHANNEL, "leaders", ids)
    slack = SlackSandbox(
        workspace, bot_token=TOKEN, signing_secret=SECRET, rate_limits=RateLimits()
    )
    slack.start()
    return slack


@contextmanager
def limits_off(slack: SlackSandbox) -> Iterator[None]:
    """Set-up that is not being measured runs without Slack's limits."""
    slack.rate_limits.enabled = False
    try:
        yield
    finally:
        slack.rate_limits.enabled = True


def sqlite_url(folder: str) -> str:
    return f"sqlite:///{Path(folder) / 'bench.db'}"


def fresh_postgres_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server `server_url` points at."""
    import psycopg

    name = f"coherence_bench_{uuid.uuid4().hex[:12]}"
    admin = make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def settings_for_url(api_url: str, url: str) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=api_url,
        database_url=url,
    )


@dataclass
class ServedApp:
    """An app served by `benchmarks.served` in a process of its own."""

    process: subprocess.Popen[bytes]
    url: str

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def cpu_seconds(self) -> float:
        """The CPU time the process has used so far (user and system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(timeout=90) != 0:
            raise RuntimeError(f"the served app exited with {self.process.returncode}")


def serve_apart(
    kind: str, slack: SlackSandbox, url: str = "", threads: int | None = None
) -> ServedApp:
    """`coherence` (on database `url`, its clock at DUE) or the `bare` Bolt app (on
    ``threads`` waitress threads; None: Coherence's), served in a process of its own;
    returned once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "benchmarks.served", kind, url, slack.api_url, str(port)]
    command.append(DUE.isoformat())
    if threads is not None:
        command.append(str(threads))
    process = subprocess.Popen(command, cwd=Path(__file__).parents[1])
    served = ServedApp(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the served app exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return served
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.1)  # polling a port that is not open yet: nothing to wait on


@dataclass
class Bot:
    services: Services
    server: RunningServer

    @property
    def engine(self) -> Engine:
        return self.services.engine

    def close(self) -> None:
        self.server.close()
        self.services.answers.close()
        self.services.refresher.wait_idle(60)
        self.services.refresher.close()
        self.services.engine.dispose()


def start_bot(slack: SlackSandbox, url: str) -> Bot:
    """Coherence, migrated and serving on waitress, with Slack sending it its requests."""
    bot = start_bot_at(slack.api_url, url)
    slack.bot_url = bot.server.events_url
    return bot


def start_bot_at(api_url: str, url: str) -> Bot:
    """Coherence, migrated and serving on waitress, calling the Slack at ``api_url``."""
    upgrade(url)
    engine = make_engine(url)
    services = build_services(settings_for_url(api_url, url), engine=engine)
    app = build_app(services)
    exempt_start_up_objects()  # as `coherence serve` does once it has started
    server = start_in_background(app)
    return Bot(services, server)


def add_group(engine: Engine, *, delivery_mode: str, channel: str = CHANNEL) -> int:
    """A group whose first pulse is due at DUE."""
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id=Workspace().team_id)
        assert workspace.id is not None
        group = create_group(
            session=session,
            workspace_id=workspace.id,
            channel_id=channel,
            delivery_mode=delivery_mode,
            timezone="UTC",
            local_time="08:00",
            created_at=DUE - timedelta(days=1),
        )
        assert group.id is not None
        return group.id


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample at or above `share` of them."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * round(share * 100) // 100))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
