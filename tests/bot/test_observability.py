"""What an operator watches: /metrics, quiet INFO logs, and JSON lines with request context."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.logs import ContextExecutor, configure_logging
from bot.scheduler import run_tick, start_scheduler
from bot.server import start_in_background
from sandbox import SlackSandbox
from tests.bot.pulse_helpers import EXEC, at, click_answer, make_group
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, RunningBot

BERLIN = "Europe/Berlin"


def scrape(url: str) -> dict[str, float]:
    """Every sample /metrics serves, by name (and labels), as Prometheus would read it."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.fixture
def restored_logging() -> Iterator[None]:
    # configure_logging replaces pytest's capture handlers and sets library levels; undo both.
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in ("apscheduler", "alembic")}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, previous in chatty.items():
        logging.getLogger(name).setLevel(previous)


def test_metrics_count_a_pulse_fan_out_through_the_scheduler_tick(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    before = scrape(bot.server.url)
    bot.clock.now = at("2026-11-30 09:00", BERLIN)
    run_tick(bot.services)
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1, timeout=10)
    after = scrape(bot.server.url)
    assert after["coherence_pulses_sent_total"] - before["coherence_pulses_sent_total"] == 1
    assert after["coherence_pulses_failed_total"] == before["coherence_pulses_failed_total"]
    assert after["coherence_open_runs"] == 1
    ticks = "coherence_tick_duration_seconds_count"
    assert after[ticks] - before[ticks] == 1
    for series in (
        "coherence_reminders_sent_total",
        "coherence_digests_posted_total",
        "coherence_slack_rate_limited_total",
        "coherence_tick_lag_seconds",
    ):
        assert series in after


def test_metrics_count_an_answer_submitted_through_slack(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    bot.clock.now = at("2026-11-30 09:00", BERLIN)
    run_tick(bot.services)
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1, timeout=10)
    before = scrape(bot.server.url)["coherence_answers_total"]
    user = sandbox.channel_members(EXEC)[0]
    modal = click_answer(sandbox, user)
    values: dict[str, object] = {
        block["block_id"]: "4" for block in modal.view["blocks"] if block["block_id"].isdigit()
    }
    assert sandbox.user(user).submit(modal.id, {**values, "share_other": "100", "focus_other": "x"})
    assert scrape(bot.server.url)["coherence_answers_total"] == before + 1
    # A submission refused in the modal ("something else" without saying what) counts nothing.
    modal = click_answer(sandbox, user)
    sandbox.user(user).submit(modal.id, {**values, "share_other": "100", "focus_other": ""})
    assert scrape(bot.server.url)["coherence_answers_total"] == before + 1


def test_a_day_of_idle_ticks_writes_no_info_line(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    # A weekly Monday group created on a Tuesday: every tick that day finds nothing due.
    start = at("2026-12-01 00:00", BERLIN)
    make_group(bot.engine, timezone=BERLIN, created_at=start)
    with caplog.at_level(logging.INFO):
        for minutes in range(0, 24 * 60, 10):
            bot.clock.now = start + timedelta(minutes=minutes)
            run_tick(bot.services)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


def test_apschedulers_per_tick_lines_are_silenced(
    bot: RunningBot, capfd: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    configure_logging("INFO")
    scheduler = start_scheduler(bot.services)
    try:
        deadline = time.monotonic() + 10
        while scheduler.get_jobs()[0].next_run_time is not None and time.monotonic() < deadline:
            if "coherence_tick_duration_seconds_count 0" not in _raw(bot.server.url):
                break
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert _raw(bot.server.url).count("coherence_tick_duration_seconds_count 0") == 0
    err = capfd.readouterr().err
    assert "Running job" not in err
    assert "executed successfully" not in err
    assert "Scheduler started" not in err


def _raw(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_json_logs_carry_the_request_id_and_workspace_but_no_user(
    sandbox: SlackSandbox, capfd: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=sandbox.api_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        listener_executor=ContextExecutor(),
    )

    @app.command("/coherence")
    def handle(ack: Ack, respond: Respond, command: dict[str, str]) -> None:
        ack()
        logging.getLogger("bot.test").info("handled a command from U0123ABCDEF")

    server = start_in_background(app)
    sandbox.bot_url = server.events_url
    configure_logging("INFO", "json")
    try:
        sandbox.user("U0ALICE").run_command("/coherence", "help", channel="C0EXEC")
    finally:
        server.close()
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    [entry] = [line for line in lines if line["logger"] == "bot.test"]
    assert entry["level"] == "INFO"
    assert entry["workspace"] == "T0SANDBOX"
    assert len(entry["request_id"]) == 16
    assert entry["message"] == "handled a command from [user]"
