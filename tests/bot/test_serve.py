"""`coherence serve` as operators run it: a real process, HTTP mode, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from sandbox import SlackSandbox
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_over_http_and_stops_cleanly_on_sigterm(
    sandbox: SlackSandbox, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "COHERENCE_PSEUDONYM_KEY": "test-pseudonym-key-not-secret",
        "SLACK_API_URL": sandbox.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'coherence.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        log: list[str] = []
        for line in server.stderr:  # waitress says when it is listening
            log.append(line)
            if "Serving on" in line:
                break
        else:
            raise AssertionError("".join(log))
        workspace = sandbox.workspace
        connected = f"Connected to workspace {workspace.team_domain} ({workspace.team_id}) as bot"
        assert any(connected in line for line in log), log
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
            assert health.status == 200
        sandbox.bot_url = f"http://127.0.0.1:{port}/slack/events"
        reply = sandbox.user("U0ALICE").run_command("/coherence", "help", channel="C0EXEC")
        assert reply.status == 200
        assert "/coherence setup" in reply.body

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        rest = server.stderr.read()
        assert "Stopping (signal 15)" in rest
        assert BOT_TOKEN not in "".join(log) + rest
    finally:
        if server.poll() is None:
            server.kill()
