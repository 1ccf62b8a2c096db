"""`make bench` at a tenth of its sizes and less: every row it prints is measured and lands in
its JSON line (the figures themselves are for a quiet machine, not for a test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.digests import ROUNDS

ROOT = Path(__file__).resolve().parents[1]


def bench(*options: str) -> tuple[dict[str, Any], str]:
    """`python -m benchmarks` with ``options``: its JSON last line, and all it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


def test_bench_burst_and_memory_rows_run_end_to_end_at_a_small_scale() -> None:
    figures, printed = bench("--scale", "0.1", "--rounds", "1", "--only", "burst,memory")
    burst = figures["burst_sqlite"]
    # Every answer of the burst stored, and the channel message caught up with them.
    assert burst["members"] == 20
    assert burst["stored_min"] == 20
    assert burst["progress_min"] == 20
    assert burst["ratio"] > 0
    memory = figures["idle_rss"]
    assert memory["bare_mib"] < memory["stack_mib"] < memory["serve_mib"]
    assert "p99 ack of 20 concurrent answers, SQLite" in printed


def test_bench_fanout_and_digest_rows_run_end_to_end_at_a_small_scale() -> None:
    figures, printed = bench("--scale", "0.02", "--only", "fanout,digests")
    fanout = figures["fanout"]
    assert (fanout["members"], fanout["lost"], fanout["twice"]) == (20, 0, 0)
    digests = figures["digests"]
    # Every due digest drawn, charted and posted through the scheduler.
    assert digests["posted"] == digests["charts"] == digests["scheduled_groups"] == 2
    assert digests["groups"] == 10
    assert len(digests["ratio_floor_rounds"]) == ROUNDS
    assert all(ratio > 0 for ratio in digests["ratio_floor_rounds"])
    assert "10 digests, 104 weeks of history, compute: " in printed
