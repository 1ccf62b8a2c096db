"""A large fan-out runs beside interactions without delaying their acknowledgement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.app import build_app, build_services
from bot.server import start_in_background
from pulses.ticks import TickReport
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine
from tests.bot.pulse_helpers import at, dm_count, make_group, messenger_for, run_tick
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, Clock, sandbox_settings, stop_serving

MEMBERS = 300
BERLIN = "Europe/Berlin"
NINE = at("2026-11-30 09:00", BERLIN)
# Slack's hard limit for acknowledging an interaction.
ACK_DEADLINE_SECONDS = 3.0


@pytest.fixture
def crowded() -> Iterator[SlackSandbox]:
    workspace = Workspace()
    ids = [
        workspace.add_user(f"U{n:05d}", f"l{n}", f"Leader {n}", BERLIN).id for n in range(MEMBERS)
    ]
    workspace.add_channel("C0CROWD", "leaders", ids)
    slack = SlackSandbox(
        workspace, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, rate_limits=RateLimits.off()
    )
    slack.start()
    yield slack
    slack.stop()


def test_commands_are_acknowledged_in_time_while_a_fan_out_runs(
    crowded: SlackSandbox, migrated_url: str
) -> None:
    settings = sandbox_settings(crowded, migrated_url)
    engine = make_engine(migrated_url)
    services = build_services(settings, engine=engine, clock=Clock())
    app = build_app(services)
    server = start_in_background(app)
    crowded.bot_url = server.events_url
    try:
        make_group(
            engine,
            channel="C0CROWD",
            delivery_mode="dm",
            timezone=BERLIN,
            created_at=NINE - timedelta(days=1),
        )
        # Every DM takes Slack a little while, so the fan-out lasts several seconds.
        crowded.faults.inject("chat.postMessage", "slow", times=MEMBERS, delay=0.01)
        reports: list[TickReport] = []
        fan_out = threading.Thread(
            target=lambda: reports.append(run_tick(engine, messenger_for(settings), NINE))
        )
        fan_out.start()
        crowded.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= 20, timeout=30)
        responses = []
        for n in range(8):
            responses.append(
                crowded.user(f"U{n:05d}").run_command("/coherence", "help", channel="C0CROWD")
            )
        still_sending = len(crowded.calls_to("chat.postMessage")) < MEMBERS
        fan_out.join(timeout=120)
        assert still_sending, "the commands must arrive while the fan-out is under way"
        assert [r.status for r in responses] == [200] * 8
        assert max(r.elapsed for r in responses) < ACK_DEADLINE_SECONDS
        assert reports[0].sent == MEMBERS
        assert all(dm_count(crowded, f"U{n:05d}") == 1 for n in range(MEMBERS))
    finally:
        stop_serving(app, server, services)
        engine.dispose()
