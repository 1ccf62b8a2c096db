"""No pulse is sent twice or lost: killed processes, concurrent processes, 429 storms, 5xx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox import RateLimits, SlackSandbox, Workspace
from tests.bot.pulse_helpers import (
    at,
    dm_count,
    invitations,
    make_group,
    messenger_for,
    run_tick,
    runs,
)
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
BIG = "C0BIG"
ALL_HANDS = "C0ALLHANDS"
BERLIN = "Europe/Berlin"
NINE = at("2026-11-30 09:00", BERLIN)


def big_workspace(members: int) -> Workspace:
    workspace = Workspace()
    ids = []
    for n in range(members):
        user = workspace.add_user(f"U{n:05d}", f"leader{n}", f"Leader {n}", BERLIN)
        ids.append(user.id)
    workspace.add_channel(BIG, "leaders", ids)
    workspace.add_channel(ALL_HANDS, "all-hands", ids[:10])
    return workspace


@pytest.fixture
def big_sandbox() -> Iterator[SlackSandbox]:
    slack = SlackSandbox(
        big_workspace(40),
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        rate_limits=RateLimits.off(),
    )
    slack.start()
    yield slack
    slack.stop()


def start_worker(database_url: str, sandbox: SlackSandbox, ticks: int = 1) -> subprocess.Popen[str]:
    """A real, separate bot process running the scheduler's tick."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bot.fanout_worker",
            database_url,
            sandbox.api_url,
            NINE.isoformat(),
            str(ticks),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_fan_out_killed_partway_resumes_and_sends_each_pulse_once(
    big_sandbox: SlackSandbox, migrated_url: str, engine: object
) -> None:
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    make_group(
        engine,
        channel=BIG,
        delivery_mode="dm",
        timezone=BERLIN,
        created_at=NINE - timedelta(days=1),
    )
    # The twelfth DM reaches Slack but its reply stalls: the process is killed after Slack
    # has the message and before the bot could record it — the worst moment to die.
    big_sandbox.faults.inject("chat.postMessage", "slow", times=11, delay=0.01)
    big_sandbox.faults.inject("chat.postMessage", "slow_response", times=1, delay=30)
    first = start_worker(migrated_url, big_sandbox)
    big_sandbox.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= 12, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    delivered_before_restart = sum(dm_count(big_sandbox, f"U{n:05d}") for n in range(40))
    assert delivered_before_restart == 12
    assert [i.status for i in invitations(engine)].count("sending") == 1

    big_sandbox.faults.clear()
    second = start_worker(migrated_url, big_sandbox)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "recovered=1" in out  # found in Slack by its metadata marker, not sent again

    assert [dm_count(big_sandbox, f"U{n:05d}") for n in range(40)] == [1] * 40
    assert {i.status for i in invitations(engine)} == {"sent"}


def test_two_bot_processes_on_one_database_send_every_occurrence_once(
    big_sandbox: SlackSandbox, migrated_url: str, engine: object
) -> None:
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    make_group(
        engine,
        channel=BIG,
        delivery_mode="dm",
        timezone=BERLIN,
        created_at=NINE - timedelta(days=1),
    )
    make_group(
        engine,
        channel=ALL_HANDS,
        name="all-hands",
        timezone=BERLIN,
        created_at=NINE - timedelta(days=1),
    )
    workers = [start_worker(migrated_url, big_sandbox, ticks=3) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err

    assert [dm_count(big_sandbox, f"U{n:05d}") for n in range(40)] == [1] * 40
    assert len(big_sandbox.messages(ALL_HANDS)) == 1
    assert len(runs(engine)) == 2


def test_a_429_storm_and_5xx_still_deliver_exactly_one_pulse_each(
    sandbox: SlackSandbox, bot: object
) -> None:
    from tests.conftest import RunningBot

    assert isinstance(bot, RunningBot)
    make_group(bot.engine, delivery_mode="dm", timezone=BERLIN, created_at=NINE - timedelta(days=1))
    leaders = ["U0ALICE", "U0BEN", "U0CHIE", "U0DIEGO", "U0EMMA", "U0FARID", "U0GRACE"]
    sandbox.faults.inject("chat.postMessage", "ratelimited", times=4, retry_after=1)
    sandbox.faults.inject("chat.postMessage", "http_503", times=2)
    sandbox.faults.inject("chat.postMessage", "http_500", times=2)
    sandbox.faults.inject("users.info", "ratelimited", times=2, retry_after=1)
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, NINE)
    # A send that is still failing after the client's own retries waits for a later tick.
    run_tick(bot.engine, messenger, NINE + timedelta(minutes=5))

    assert [dm_count(sandbox, user) for user in leaders] == [1] * 7
    statuses = [c.status for c in sandbox.calls_to("chat.postMessage")]
    assert statuses.count(429) == 4
    assert statuses.count(200) == 7


def test_a_permanently_failing_dm_is_recorded_and_the_rest_are_delivered(
    sandbox: SlackSandbox, bot: object
) -> None:
    from tests.conftest import RunningBot

    assert isinstance(bot, RunningBot)
    make_group(
        bot.engine,
        delivery_mode="dm",
        per_member_time=True,
        timezone=BERLIN,
        created_at=NINE - timedelta(days=2),
    )
    messenger = messenger_for(bot.services.settings)
    # Members are resolved when the date begins anywhere; Chie's account is deactivated
    # before her 09:00 in Tokyo comes round.
    run_tick(bot.engine, messenger, at("2026-11-30 09:30", "Pacific/Kiritimati"))
    sandbox.workspace.users["U0CHIE"].deleted = True
    for zone in ("Asia/Tokyo", BERLIN, "America/Los_Angeles"):
        run_tick(bot.engine, messenger, at("2026-11-30 09:00", zone))

    by_user = {i.user_id: i for i in invitations(bot.engine)}
    assert by_user["U0CHIE"].status == "failed"
    assert by_user["U0CHIE"].failure_reason == "user_disabled"
    delivered = {u for u, i in by_user.items() if i.status == "sent"}
    assert delivered == set(by_user) - {"U0CHIE"}
    assert all(dm_count(sandbox, u) == 1 for u in delivered)

    # Not retried forever: another tick leaves it failed and sends nothing new.
    def calls_to_chie() -> int:
        return sum(c.args.get("channel") == "U0CHIE" for c in sandbox.calls_to("chat.postMessage"))

    before = calls_to_chie()
    run_tick(bot.engine, messenger, at("2026-12-01 10:00", "America/Los_Angeles"))
    assert calls_to_chie() == before == 1
    assert by_user["U0CHIE"].status == "failed"
