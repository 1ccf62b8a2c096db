"""The answer window's bounds hold on the server, not only in Slack's client: a setup
submission that skips the modal's minimum, and a `/coherence cadence` text command on a group
whose stored window is out of range, are refused with the problem and change nothing."""

from __future__ import annotations

from sandbox import SlackSandbox
from tests.bot.pulse_helpers import make_group
from tests.bot.test_admin import ADMIN, BERLIN, WEDNESDAY, command, open_modal, reply, snapshot
from tests.conftest import RunningBot


def test_a_setup_window_under_an_hour_is_refused_inline(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    modal = open_modal(sandbox, ADMIN, "setup")
    before = snapshot(bot.engine)
    # Slack's client enforces the field's minimum of 1; a request need not come from it.
    response = sandbox.user(ADMIN).submit(
        modal.id, {"answer_window_hours": "0.5", "reminder_hours": ""}
    )
    assert response.json is not None
    assert response.json["response_action"] == "errors"
    errors = response.json["errors"]
    # The modal's own bound (the same MIN_HOURS the domain enforces) refuses it on the server.
    assert errors["answer_window_hours"] == "Enter a number of hours from 1 to 336 (14 days)."
    assert sandbox.views[modal.id].open
    assert snapshot(bot.engine) == before


def test_a_cadence_command_on_an_out_of_range_window_is_refused(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    # Stored before the server checked the bounds (or written by hand): a 30-minute window.
    make_group(bot.engine, timezone=BERLIN, answer_window_minutes=30, reminder_after_minutes=None)
    before = snapshot(bot.engine)
    answer = reply(command(sandbox, ADMIN, "cadence weekly thu 09:30"))
    assert answer.startswith(":warning: The answer window must be at least 1 hour, got 0.5 h.")
    assert "`/coherence setup`" in answer  # where the window is changed
    assert snapshot(bot.engine) == before
