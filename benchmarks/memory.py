"""Idle memory: `coherence serve` against a bare Bolt app on waitress, each in its own process.

Each process is started, asked for /healthz until it answers, left a few seconds (the
scheduler's first tick runs), and its resident set read from /proc.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.harness import SECRET, TOKEN, sqlite_url
from sandbox import SlackSandbox

SETTLE_SECONDS = 3.0
START_TIMEOUT_SECONDS = 60.0
# The baseline: Bolt and waitress, nothing else.
BARE_BOLT = """
import sys
from slack_bolt import App
from slack_sdk import WebClient
from waitress import serve
app = App(client=WebClient(token=sys.argv[1], base_url=sys.argv[2]), signing_secret=sys.argv[3])

def wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

serve(wsgi, host="127.0.0.1", port=int(sys.argv[4]))
"""
# What the stack the project is built on costs before any of its own code: the bare app with
# the libraries `coherence serve` cannot start without imported (the ORM its tables are
# declared in, the scheduler, the settings), so a reader can tell the stack from the project.
STACK = (
    "import sqlalchemy.orm, sqlmodel, pydantic_settings, apscheduler.schedulers.background\n"
    + BARE_BOLT
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _idle_rss(command: list[str], port: int, env: dict[str, str]) -> float:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not answer /healthz") from None
                time.sleep(0.2)
        time.sleep(SETTLE_SECONDS)
        return _rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(slack: SlackSandbox) -> tuple[float, float, float]:
    """(coherence serve, bare Bolt app, bare app with the stack) idle resident MiB."""
    python = sys.executable
    coherence = str(Path(python).with_name("coherence"))
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": sqlite_url(folder),
            "COHERENCE_PSEUDONYM_KEY": "bench-" + "k" * 32,
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        served = _idle_rss([coherence, "serve"], port, env)
    bare, stack = (_bare_rss(python, code, slack) for code in (BARE_BOLT, STACK))
    return served, bare, stack


def _bare_rss(python: str, code: str, slack: SlackSandbox) -> float:
    port = _free_port()
    command = [python, "-c", code, TOKEN, slack.api_url, SECRET, str(port)]
    return _idle_rss(command, port, dict(os.environ))


def report(served: float, bare: float, stack: float) -> dict[str, object]:
    ratio = served / bare
    print(
        f"idle RSS of coherence serve: {ratio:.2f}x the bare Bolt app "
        f"({served:.0f} MiB vs {bare:.0f} MiB)"
    )
    print(
        f"the bare app with the stack imported (SQLAlchemy ORM, SQLModel, pydantic-settings, "
        f"APScheduler): {stack / bare:.2f}x ({stack:.0f} MiB); the project's own share "
        f"{served - stack:.0f} MiB"
    )
    return {
        "serve_mib": round(served, 1),
        "bare_mib": round(bare, 1),
        "stack_mib": round(stack, 1),
        "ratio": round(ratio, 3),
        "ratio_stack": round(stack / bare, 3),
    }
