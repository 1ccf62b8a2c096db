"""A 1,000-member DM fan-out: its throughput, memory, and what it does to ack latency.

Baseline: the latency of `/coherence help` with the bot idle. Measured: the same while the
scheduler's fan-out runs. The figure that matters is the ratio, and that every ack stays
under Slack's 3 seconds.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from bot.app import build_app, build_client, build_services
from bot.messenger import SlackMessenger
from bot.server import start_in_background
from bot.settings import Settings
from pulses.dispatch import tick
from pulses.groups import create_group, ensure_workspace
from pulses.ticks import Worker
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

MEMBERS = 1000
SAMPLES = 40
TOKEN = "xoxb-bench"
SECRET = "bench-secret"
NINE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _ack_latencies(slack: SlackSandbox, count: int) -> list[float]:
    return [
        slack.user(f"U{n % MEMBERS:05d}").run_command("/coherence", "help", channel="C0ALL").elapsed
        for n in range(count)
    ]


def _describe(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{label:<28} p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    workspace = Workspace()
    ids = [
        workspace.add_user(f"U{n:05d}", f"l{n}", f"L{n}", "Europe/Berlin").id
        for n in range(MEMBERS)
    ]
    workspace.add_channel("C0ALL", "leaders", ids)
    slack = SlackSandbox(
        workspace, bot_token=TOKEN, signing_secret=SECRET, rate_limits=RateLimits.off()
    )
    slack.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        settings = Settings(
            _env_file=None,
            slack_bot_token=SecretStr(TOKEN),
            slack_signing_secret=SecretStr(SECRET),
            slack_api_url=slack.api_url,
            database_url=url,
        )
        server = start_in_background(build_app(build_services(settings, engine=engine)))
        slack.bot_url = server.events_url
        with session_scope(engine) as session:
            ws = ensure_workspace(session=session, team_id=workspace.team_id)
            assert ws.id is not None
            create_group(
                session=session,
                workspace_id=ws.id,
                channel_id="C0ALL",
                delivery_mode="dm",
                timezone="UTC",
                local_time="08:00",
                created_at=NINE - timedelta(days=1),
            )
        baseline = _ack_latencies(slack, SAMPLES)

        messenger = SlackMessenger(build_client(settings), posts_per_minute=0)
        started = time.perf_counter()
        fan_out = threading.Thread(
            target=tick,
            kwargs={
                "engine": engine,
                "messenger": messenger,
                "now": NINE,
                "worker": Worker("bench:0:0"),
            },
        )
        fan_out.start()
        slack.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= 50, timeout=60)
        during = _ack_latencies(slack, SAMPLES)
        fan_out.join()
        elapsed = time.perf_counter() - started
        sent = len(slack.calls_to("chat.postMessage"))
        server.close()
    slack.stop()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = statistics.median(during) / statistics.median(baseline)
    print(
        f"fan-out: {sent} DMs to {MEMBERS} members in {elapsed:.1f} s "
        f"({sent / elapsed:.0f}/s unpaced; production pacing is 300/min)"
    )
    print(_describe("ack, bot idle (baseline)", baseline))
    print(_describe("ack, during the fan-out", during))
    print(
        f"ack latency ratio during/idle (median): {ratio:.2f}x; "
        f"slowest ack {max(during) * 1000:.0f} ms (Slack's limit: 3000 ms)"
    )
    print(f"peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
