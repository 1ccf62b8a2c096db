"""APScheduler wakes the bot; what is due comes from the database at the clock's time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot import scheduler as scheduler_module
from bot.scheduler import start_scheduler
from sandbox import SlackSandbox
from tests.bot.pulse_helpers import EXEC, at, make_group, runs
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"


def test_the_scheduler_sends_a_due_pulse_without_being_told(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    nine = at("2026-11-30 09:00", BERLIN)
    make_group(bot.engine, timezone=BERLIN, created_at=nine - timedelta(days=1))
    bot.clock.now = nine
    scheduler = start_scheduler(bot.services)
    try:
        # Pulses, digests and retention as jobs of their own (digests never hold back a
        # pulse), private to this process, never sharing a job store with another scheduler.
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert list(jobs) == ["coherence-tick", "coherence-digests", "coherence-retention"]
        assert jobs["coherence-tick"].kwargs == {"digests": False, "retention": False}
        # Comments are kept for weeks: looking for those past it hourly is soon enough.
        assert jobs["coherence-retention"].trigger.interval == timedelta(hours=1)
        sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1, timeout=10)
    finally:
        scheduler.shutdown(wait=True)
    [run] = runs(bot.engine)
    assert run.status == "open"


def test_a_slow_digest_never_holds_back_a_pulse(
    bot: RunningBot, sandbox: SlackSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    nine = at("2026-11-30 09:00", BERLIN)
    make_group(bot.engine, timezone=BERLIN, created_at=nine - timedelta(days=1))
    bot.clock.now = nine - timedelta(minutes=1)
    drawing, release = threading.Event(), threading.Event()

    def stuck_digests(**_: object) -> int:
        drawing.set()
        release.wait(timeout=30)
        return 0

    monkeypatch.setattr(scheduler_module, "send_due_digests", stuck_digests)
    monkeypatch.setattr(bot.services.settings, "scheduler_tick_seconds", 1)
    scheduler = start_scheduler(bot.services)
    try:
        assert drawing.wait(timeout=10)
        # The pulse falls due while the digest job is still drawing: the next tick sends it.
        bot.clock.now = nine
        sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1, timeout=10)
    finally:
        release.set()
        scheduler.shutdown(wait=True)
