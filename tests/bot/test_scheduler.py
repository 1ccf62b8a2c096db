"""APScheduler wakes the bot; what is due comes from the database at the clock's time."""

from __future__ import annotations

from datetime import timedelta

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
        # One job, private to this process, never sharing a job store with another scheduler.
        assert [job.id for job in scheduler.get_jobs()] == ["coherence-tick"]
        sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1, timeout=10)
    finally:
        scheduler.shutdown(wait=True)
    [run] = runs(bot.engine)
    assert run.status == "open"
