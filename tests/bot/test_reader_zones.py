"""Every time a leader reads is in their own zone: `/coherence` status, and the late-answer
notice when they click a pulse that has closed."""

from __future__ import annotations

import copy
from datetime import timedelta

from bot.views.pulse import ANSWER_ACTION
from sandbox import Message, SlackSandbox
from tests.bot.pulse_helpers import EXEC, at, make_group, messenger_for, run_tick
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"
MONDAY = at("2026-11-30 09:00", BERLIN)


def _open_pulse(bot: RunningBot) -> None:
    """The Berlin group's pulse, open from Monday 09:00 to Wednesday 09:00 CET."""
    make_group(bot.engine, timezone=BERLIN, created_at=MONDAY - timedelta(days=3))
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY)


def _status(sandbox: SlackSandbox, user: str) -> str:
    assert sandbox.user(user).run_command("/coherence", "", channel=EXEC).status == 200
    latest = sandbox.ephemerals[-1]
    assert latest.user == user
    return str(latest.blocks)


def test_the_status_says_when_the_pulse_closes_in_the_readers_zone(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_pulse(bot)
    # The group is in Berlin; Chie reads in Tokyo, Ben in Los Angeles, Alice in Berlin.
    assert "closes Wed 2 Dec, 17:00 JST" in _status(sandbox, "U0CHIE")
    assert "closes Wed 2 Dec, 00:00 PST" in _status(sandbox, "U0BEN")
    assert "closes Wed 2 Dec, 09:00 CET" in _status(sandbox, "U0ALICE")
    # The zone is cached like other member lookups: asking again costs no call to Slack.
    lookups = len(sandbox.calls_to("users.info"))
    assert "closes Wed 2 Dec, 17:00 JST" in _status(sandbox, "U0CHIE")
    assert len(sandbox.calls_to("users.info")) == lookups


def test_a_reader_slack_cannot_place_sees_the_groups_zone(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_pulse(bot)
    sandbox.workspace.users["U0CHIE"].tz = "Not/AZone"
    assert "closes Wed 2 Dec, 09:00 CET" in _status(sandbox, "U0CHIE")


def test_clicking_a_closed_pulse_says_when_it_closed_in_the_readers_zone(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_pulse(bot)
    # The message as a client still shows it (with its button) after the window ended.
    pulse = copy.deepcopy(sandbox.messages(EXEC)[0])
    bot.clock.now = MONDAY + timedelta(days=3)
    for user, closed in [
        ("U0CHIE", "Wed 2 Dec, 17:00 JST"),
        ("U0BEN", "Wed 2 Dec, 00:00 PST"),
        ("U0ALICE", "Wed 2 Dec, 09:00 CET"),
    ]:
        assert f"This pulse closed at {closed}" in _notice_after_click(sandbox, user, pulse)


def _notice_after_click(sandbox: SlackSandbox, user: str, pulse: Message) -> str:
    assert sandbox.user(user).click(pulse, ANSWER_ACTION).status == 200
    sandbox.wait_for(lambda s: any(v.user_id == user for v in s.views.values()))
    [notice] = [v for v in sandbox.views.values() if v.user_id == user]
    return str(notice.view["blocks"])
