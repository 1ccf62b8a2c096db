"""Each configuration mistake an operator makes, as a real `coherence serve` process.

The bar: one line on stderr naming the variable and what to do, exit status 2, no traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import SlackSandbox
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

PSEUDONYM_KEY = "test-pseudonym-key-not-secret"
ROOT = Path(__file__).resolve().parents[2]
# `coherence serve`, as the container image and the Procfile run it (tests/test_container.py).
SERVE_ARGS = ["serve"]
SERVE = [sys.executable, "-m", "bot.cli", *SERVE_ARGS]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mistake:
    name: str
    env: dict[str, str]
    variable: str


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.fixture
def without_psycopg(tmp_path: Path) -> Path:
    """A folder that, first on the path, makes psycopg look uninstalled."""
    shadow = tmp_path / "no-psycopg" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'psycopg'\")\n")
    return shadow.parent


def base_env(sandbox: SlackSandbox, folder: Path) -> dict[str, str]:
    """A configuration that starts: every case below breaks one thing in it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "COHERENCE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "SLACK_API_URL": sandbox.api_url,
        "DATABASE_URL": f"sqlite:///{folder / 'coherence.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }


def run_serve(env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        SERVE, cwd=folder, env=env, capture_output=True, text=True, timeout=90, check=False
    )


def test_every_configuration_mistake_is_one_line_and_exit_2(
    sandbox: SlackSandbox,
    tmp_path: Path,
    closed_port: int,
    busy_port: int,
    without_psycopg: Path,
) -> None:
    mistakes = [
        Mistake("mysql", {"DATABASE_URL": "mysql://root@127.0.0.1/coherence"}, "DATABASE_URL"),
        Mistake("no scheme", {"DATABASE_URL": "coherence.db"}, "DATABASE_URL"),
        Mistake(
            "postgres unreachable",
            {
                "DATABASE_URL": f"postgres://coherence@127.0.0.1:{closed_port}/coherence",
                "DATABASE_WAIT_SECONDS": "0",
            },
            "DATABASE_URL",
        ),
        Mistake(
            "missing sqlite folder",
            {"DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'coherence.db'}"},
            "DATABASE_URL",
        ),
        Mistake(
            "postgres extra not installed",
            {
                "DATABASE_URL": "postgresql://coherence@127.0.0.1/coherence",
                "PYTHONPATH": f"{without_psycopg}{os.pathsep}{ROOT}",
            },
            "DATABASE_URL",
        ),
        Mistake("api url without scheme", {"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        Mistake(
            "slack unreachable",
            {"SLACK_API_URL": f"http://127.0.0.1:{closed_port}/api/"},
            "SLACK_API_URL",
        ),
        Mistake("log level", {"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
        Mistake("log format", {"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        Mistake(
            "thresholds not json",
            {"COHERENCE_FLAG_THRESHOLDS": "{drift_divergence: 0.2"},
            "COHERENCE_FLAG_THRESHOLDS",
        ),
        Mistake(
            "unknown threshold",
            {"COHERENCE_FLAG_THRESHOLDS": '{"drift": 0.2}'},
            "COHERENCE_FLAG_THRESHOLDS",
        ),
        Mistake("port in use", {"PORT": str(busy_port)}, "PORT"),
        Mistake("port not a number", {"PORT": "web"}, "PORT"),
        Mistake("revoked token", {"SLACK_BOT_TOKEN": "xoxb-revoked-0000"}, "SLACK_BOT_TOKEN"),
        Mistake("app token in bot token", {"SLACK_BOT_TOKEN": "xapp-1-A0-1-ff"}, "SLACK_BOT_TOKEN"),
        Mistake("bot token in app token", {"SLACK_APP_TOKEN": "xoxb-1-2-3"}, "SLACK_APP_TOKEN"),
        Mistake("user token in bot token", {"SLACK_BOT_TOKEN": "xoxp-1-2-3-ff"}, "SLACK_BOT_TOKEN"),
        Mistake("refresh token in bot token", {"SLACK_BOT_TOKEN": "xoxe-1-ff"}, "SLACK_BOT_TOKEN"),
        Mistake("user token in app token", {"SLACK_APP_TOKEN": "xoxp-1-2-3-ff"}, "SLACK_APP_TOKEN"),
        Mistake("no signing secret", {"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        Mistake("no pseudonym key", {"COHERENCE_PSEUDONYM_KEY": ""}, "COHERENCE_PSEUDONYM_KEY"),
        Mistake("tick of zero", {"SCHEDULER_TICK_SECONDS": "0"}, "SCHEDULER_TICK_SECONDS"),
        Mistake("negative pacing", {"SLACK_POSTS_PER_MINUTE": "-1"}, "SLACK_POSTS_PER_MINUTE"),
    ]

    def attempt(index: int, mistake: Mistake) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / f"case{index}"
        return run_serve({**base_env(sandbox, folder), **mistake.env}, folder)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, range(len(mistakes)), mistakes))
    for mistake, result in zip(mistakes, results, strict=True):
        output = result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (mistake.name, output)
        assert "Traceback" not in output, (mistake.name, output)
        assert len(lines) == 1, (mistake.name, output)
        assert lines[0].startswith(f"coherence: {mistake.variable}"), (mistake.name, lines[0])
        assert "revoked-0000" not in output  # a token's value is never echoed
        assert "xapp-1-A0" not in output


OAUTH_CLIENT = {"SLACK_CLIENT_ID": "1111111111.2222222222", "SLACK_CLIENT_SECRET": "oauth-secret"}


def test_every_oauth_configuration_mistake_is_one_line_and_exit_2(
    sandbox: SlackSandbox, tmp_path: Path
) -> None:
    # Each starts from single-workspace settings; "" unsets a variable (empty means unset).
    oauth_only = {**OAUTH_CLIENT, "SLACK_BOT_TOKEN": ""}
    mistakes = [
        Mistake(
            "client id without secret",
            {"SLACK_CLIENT_ID": OAUTH_CLIENT["SLACK_CLIENT_ID"], "SLACK_BOT_TOKEN": ""},
            "SLACK_CLIENT_SECRET",
        ),
        Mistake(
            "client secret a placeholder",
            {**oauth_only, "SLACK_CLIENT_SECRET": "changeme"},
            "SLACK_CLIENT_SECRET",
        ),
        Mistake("bot token and client id", OAUTH_CLIENT, "SLACK_BOT_TOKEN"),
        Mistake(
            "oauth with socket mode",
            {**oauth_only, "SLACK_APP_TOKEN": "xapp-1-A0-1-ff"},
            "SLACK_CLIENT_ID",
        ),
        Mistake(
            "rotation minutes zero",
            {**oauth_only, "SLACK_TOKEN_ROTATION_MINUTES": "0"},
            "SLACK_TOKEN_ROTATION_MINUTES",
        ),
        Mistake(
            "rotation minutes past the token's life",
            {**oauth_only, "SLACK_TOKEN_ROTATION_MINUTES": "721"},
            "SLACK_TOKEN_ROTATION_MINUTES",
        ),
        Mistake(
            "rotation minutes not a number",
            {**oauth_only, "SLACK_TOKEN_ROTATION_MINUTES": "2h"},
            "SLACK_TOKEN_ROTATION_MINUTES",
        ),
        Mistake("client id shape", {**oauth_only, "SLACK_CLIENT_ID": "A0APPID"}, "SLACK_CLIENT_ID"),
        Mistake(
            "one admin list for every workspace",
            {**oauth_only, "COHERENCE_ADMIN_IDS": "U0ADMIN"},
            "COHERENCE_ADMIN_IDS",
        ),
    ]

    def attempt(index: int, mistake: Mistake) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / f"oauth{index}"
        env = {**base_env(sandbox, folder), **mistake.env}
        return run_serve({k: v for k, v in env.items() if v}, folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(attempt, range(len(mistakes)), mistakes))
    for mistake, result in zip(mistakes, results, strict=True):
        output = result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (mistake.name, output)
        assert "Traceback" not in output, (mistake.name, output)
        assert len(lines) == 1, (mistake.name, output)
        assert lines[0].startswith(f"coherence: {mistake.variable}"), (mistake.name, lines[0])
        assert "oauth-secret" not in output  # the client secret is never echoed
        assert "xapp-1-A0" not in output


def test_an_unreachable_database_is_retried_with_a_line_per_attempt(
    sandbox: SlackSandbox, tmp_path: Path, closed_port: int
) -> None:
    env = {
        **base_env(sandbox, tmp_path),
        "DATABASE_URL": f"postgresql://coherence:pw@127.0.0.1:{closed_port}/coherence",
        "DATABASE_WAIT_SECONDS": "1.2",
    }
    result = run_serve(env, tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    retries = [line for line in lines[:-1] if "not reachable (attempt" in line]
    assert len(retries) >= 2, result.stderr
    assert retries == lines[:-1]
    assert lines[-1].startswith("coherence: DATABASE_URL: cannot connect to")
    assert ":pw@" not in result.stderr  # the password stays out of the log


def test_the_shipped_env_example_starts_in_http_mode(sandbox: SlackSandbox, tmp_path: Path) -> None:
    # The operator's first step: copy .env.example, fill in the three secrets, leave
    # SLACK_APP_TOKEN empty for HTTP mode, and start.
    port = free_port()
    example = (ROOT / ".env.example").read_text()
    filled = {
        "SLACK_BOT_TOKEN=": f"SLACK_BOT_TOKEN={BOT_TOKEN}",
        "SLACK_SIGNING_SECRET=": f"SLACK_SIGNING_SECRET={SIGNING_SECRET}",
        "COHERENCE_PSEUDONYM_KEY=": f"COHERENCE_PSEUDONYM_KEY={PSEUDONYM_KEY}",
        "SLACK_API_URL=https://slack.com/api/": f"SLACK_API_URL={sandbox.api_url}",
        "PORT=3000": f"PORT={port}",
        "HOST=0.0.0.0": "HOST=127.0.0.1",
    }
    lines = [filled.get(line, line) for line in example.splitlines()]
    assert "SLACK_APP_TOKEN=" in lines
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(SERVE, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        log = []
        for line in server.stderr:
            log.append(line)
            if "Serving on" in line:
                break
        else:
            raise AssertionError("".join(log))
        assert f"127.0.0.1:{port}" in log[-1]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert (tmp_path / "coherence.db").exists()
    shutil.rmtree(tmp_path / "coherence.db", ignore_errors=True)
