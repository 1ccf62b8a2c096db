"""`make run` with no Slack tokens plays the sandbox scenario and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_without_tokens_plays_the_sandbox_and_exits_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "LOCAL SLACK SANDBOX" in out
    assert "How to connect" in out or "To connect a real workspace" in out
    # The help reply as a virtual user sees it: ephemeral, readable, not JSON.
    assert "(only visible to Alice Berger)" in out
    assert "/coherence trend" in out
    assert '{"' not in out
    # The week: a pulse, progress, reminders, the close and a refused late answer.
    assert "0 of 7 answered" in out
    assert "(only visible to Grace Kim)" in out
    assert "has closed" in out
    assert "This pulse closed at Wed 2 Dec, 09:00 CET" in out
