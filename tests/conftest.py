"""Shared fixtures: a migrated database, the Slack sandbox, and the real bot server."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import freezegun
import pytest
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr
from slack_bolt import App
from sqlalchemy.engine import Engine

from bot.app import build_app, build_services
from bot.server import RunningServer, start_in_background
from bot.services import Services
from bot.settings import Settings
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine
from storage.migrate import upgrade

# The sandbox plays Slack, which lives in real time; frozen test time applies to the bot only.
freezegun.configure(extend_ignore_list=["sandbox", "waitress"])

# CI runs a fixed set of property-test examples, so a landing never hinges on a lucky draw;
# local runs keep exploring new ones (and a case they find becomes an @example).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

BOT_TOKEN = "xoxb-sandbox-token"
SIGNING_SECRET = "sandbox-signing-secret"


def _drop_dead_log_handlers() -> None:
    root = logging.getLogger()
    for handler in root.handlers[:]:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
            root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_logging_into_closed_captures() -> Iterator[None]:
    """The CLI commands tests run in-process point the root logger at `sys.stderr`, which is
    then the test's own capture, closed when the test ends: a record logged later (by a lazy
    listener finishing, or a migration's "Context impl") would print a "Logging error"."""
    _drop_dead_log_handlers()
    yield
    _drop_dead_log_handlers()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "coherence.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_url(_migrated_template: Path, tmp_path: Path) -> str:
    """A fresh copy of a database migrated to head (migrating once per session is faster)."""
    path = tmp_path / "coherence.db"
    shutil.copy(_migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def workspace() -> Workspace:
    return Workspace.demo()


@pytest.fixture
def sandbox(workspace: Workspace) -> Iterator[SlackSandbox]:
    slack = SlackSandbox(
        workspace, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, rate_limits=RateLimits.off()
    )
    slack.start()
    yield slack
    slack.stop()


def sandbox_settings(sandbox: SlackSandbox, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=sandbox.api_url,
        database_url=database_url,
    )


@dataclass
class Clock:
    """A settable clock for the bot; the domain reads time only through it."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RunningBot:
    app: App
    server: RunningServer
    services: Services
    engine: Engine
    clock: Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(
    sandbox: SlackSandbox, migrated_url: str, engine: Engine, clock: Clock
) -> Iterator[RunningBot]:
    """The real bot behind its real HTTP server, talking to the sandbox."""
    settings = sandbox_settings(sandbox, migrated_url)
    services = build_services(settings, engine=engine, clock=clock)
    app = build_app(services)
    server = start_in_background(app)
    sandbox.bot_url = server.events_url
    yield RunningBot(app, server, services, engine, clock)
    stop_serving(app, server, services)


def stop_serving(app: App, server: RunningServer, services: Services) -> None:
    """Close the server, then let the work after its acks (lazy listeners: a pulse sent, a
    digest posted "now", an export; message refreshes) finish while the sandbox is still up,
    so none of it fails or logs into the next test."""
    server.close()
    app.listener_runner.listener_executor.shutdown(wait=True)
    services.answers.close()
    services.refresher.close()
    services.refresher.wait_idle(10)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database on the loopback server `make test` starts."""
    import os
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    server = os.environ.get("COHERENCE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("no PostgreSQL server: run through `make test`, which starts one")
    name = f"coherence_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(server).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
