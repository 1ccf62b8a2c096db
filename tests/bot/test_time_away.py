"""Time away through the sandbox: `/coherence away` and a Slack away status each keep a member
out of a run (no pulse, no reminder, not counted as invited), and the rate says "· 1 away"."""

from __future__ import annotations

from datetime import timedelta

from sandbox import SlackSandbox
from storage.db import session_scope
from storage.queries import run_progress
from tests.bot.pulse_helpers import (
    EXEC,
    EXEC_LEADERS,
    at,
    dm_count,
    invitations,
    make_group,
    messenger_for,
    run_tick,
    runs,
)
from tests.bot.test_pulses import _answer
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"
MONDAY = at("2026-11-30 09:00", BERLIN)
BEN = "U0BEN"


def _reply(sandbox: SlackSandbox, user: str) -> str:
    return sandbox.ephemerals[-1].text if sandbox.ephemerals[-1].user == user else ""


def _week_of_dm_pulses(bot: RunningBot, sandbox: SlackSandbox) -> None:
    make_group(bot.engine, timezone=BERLIN, delivery_mode="dm", created_at=MONDAY - timedelta(3))
    messenger = messenger_for(bot.services.settings)
    for moment in (MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=1, hours=6)):
        run_tick(bot.engine, messenger, moment)


def _assert_ben_left_out(bot: RunningBot, sandbox: SlackSandbox) -> None:
    assert dm_count(sandbox, BEN) == 0  # no pulse, and no reminder either
    assert all(dm_count(sandbox, u) == 2 for u in EXEC_LEADERS if u != BEN)  # pulse + reminder
    assert sorted(i.user_id for i in invitations(bot.engine)) == sorted(set(EXEC_LEADERS) - {BEN})
    [run] = runs(bot.engine)
    assert run.id is not None
    with session_scope(bot.engine) as session:
        assert run_progress(session=session, run_id=run.id) == (0, 6)


def test_a_member_away_gets_nothing_and_is_not_counted(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = MONDAY - timedelta(days=2)
    sandbox.user(BEN).run_command("/coherence", "away 2026-11-30..2026-12-04", channel=EXEC)
    reply = _reply(sandbox, BEN)
    assert "You're away Mon 30 Nov 2026 to Fri 4 Dec 2026" in reply
    _week_of_dm_pulses(bot, sandbox)
    _assert_ben_left_out(bot, sandbox)
    # Who is away is said to nobody: the status counts them only.
    sandbox.user("U0ALICE").run_command("/coherence", "", channel=EXEC)
    status = sandbox.ephemerals[-1]
    assert "0 of 6 answered so far (0%) · 1 away" in str(status.blocks)
    assert "Ben" not in str(status.blocks)
    assert BEN not in str(status.blocks)


def test_a_slack_vacationing_status_does_the_same(bot: RunningBot, sandbox: SlackSandbox) -> None:
    sandbox.user(BEN).set_status(":palm_tree:", "Vacationing")
    _week_of_dm_pulses(bot, sandbox)
    _assert_ben_left_out(bot, sandbox)


def test_an_expired_away_status_does_not_count(bot: RunningBot, sandbox: SlackSandbox) -> None:
    expired = int((MONDAY - timedelta(hours=1)).timestamp())
    sandbox.user(BEN).set_status(":face_with_thermometer:", "Out sick", expires=expired)
    _week_of_dm_pulses(bot, sandbox)
    assert dm_count(sandbox, BEN) == 2


def test_back_early_gets_the_next_pulse(bot: RunningBot, sandbox: SlackSandbox) -> None:
    bot.clock.now = MONDAY - timedelta(days=2)
    sandbox.user(BEN).run_command("/coherence", "away 2026-11-28..2026-12-20", channel=EXEC)
    bot.clock.now = MONDAY - timedelta(days=1)
    sandbox.user(BEN).run_command("/coherence", "back", channel=EXEC)
    assert "Welcome back" in _reply(sandbox, BEN)
    _week_of_dm_pulses(bot, sandbox)
    assert dm_count(sandbox, BEN) == 2


def test_a_bad_date_or_a_past_range_is_refused_and_nothing_changes(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = MONDAY
    ben = sandbox.user(BEN)
    ben.run_command("/coherence", "away 2026-13-01", channel=EXEC)
    assert "'2026-13-01' is not a date (use YYYY-MM-DD" in _reply(sandbox, BEN)
    ben.run_command("/coherence", "away 2026-11-01..2026-11-20", channel=EXEC)
    assert "is in the past" in _reply(sandbox, BEN)
    ben.run_command("/coherence", "away 2026-12-10..2026-12-01", channel=EXEC)
    assert "2026-12-01 is before 2026-12-10" in _reply(sandbox, BEN)
    _week_of_dm_pulses(bot, sandbox)
    assert dm_count(sandbox, BEN) == 2


def test_channel_progress_says_who_many_are_away_and_the_rate_ignores_them(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    sandbox.user(BEN).set_status(":palm_tree:", "Vacationing")
    make_group(bot.engine, timezone=BERLIN, created_at=MONDAY - timedelta(days=3))
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY)
    assert "0 of 6 answered · 1 away" in str(sandbox.messages(EXEC)[0].blocks)
    _answer(sandbox, "U0ALICE", 4)
    sandbox.wait_for(lambda s: "1 of 6 answered · 1 away" in str(s.messages(EXEC)[0].blocks))


def test_an_away_member_does_not_hide_a_group_at_the_threshold(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    # Seven leaders, results shown from six answers: with Ben away, the six others answering
    # is everyone asked, and the digest shows the figures.
    sandbox.user(BEN).set_status(":palm_tree:", "Vacationing")
    make_group(
        bot.engine, timezone=BERLIN, anonymity_threshold=6, created_at=MONDAY - timedelta(days=3)
    )
    messenger = messenger_for(bot.services.settings)
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger, MONDAY)
    present = [u for u in EXEC_LEADERS if u != BEN]
    for user in present:
        _answer(sandbox, user, 4)
    sandbox.wait_for(lambda s: "6 of 6 answered · 1 away" in str(s.messages(EXEC)[0].blocks))
    bot.clock.now = MONDAY + timedelta(days=2)
    run_tick(bot.engine, messenger, bot.clock.now)
    sandbox.user("U0ADMIN").run_command("/coherence", "digest now", channel=EXEC)
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 2)
    digest = str(sandbox.messages(EXEC)[1].blocks)
    assert "Response: 6 of 6 leaders (100%) · 1 away" in digest
    assert "Fewer than" not in digest
    assert "Coherence index" in digest
    assert "Ben" not in digest
    assert BEN not in digest
