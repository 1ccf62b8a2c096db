"""Everyone answers at once while Slack is slow and rate-limits chat.update: every answer is
acknowledged at once and stored, and the channel message ends at the right count."""

from __future__ import annotations

import threading

from sqlalchemy import text

from bot.listeners import pulses as listener
from sandbox import SlackSandbox, View
from sandbox.users import ACK_TIMEOUT
from storage.db import session_scope
from tests.bot.pulse_helpers import EXEC, EXEC_LEADERS, answers, click_answer
from tests.bot.test_pulses import _open_channel_pulse
from tests.conftest import RunningBot

FORM = "application/x-www-form-urlencoded"


def _modal_values(sandbox: SlackSandbox, user: str) -> tuple[View, dict[str, object], str]:
    """The member's open modal, an answer to it, and the block its inline error goes on."""
    modal = click_answer(sandbox, user)
    values: dict[str, object] = {
        b["block_id"]: "4" for b in modal.view["blocks"] if b["block_id"].isdigit()
    }
    values |= {"share_other": "100", "focus_other": "hiring"}
    first_block = next(b["block_id"] for b in modal.view["blocks"] if "element" in b)
    return modal, values, first_block


def _body(sandbox: SlackSandbox, user: str) -> bytes:
    modal, values, _ = _modal_values(sandbox, user)
    return sandbox.user(user).submission_body(modal.id, values)


def test_a_burst_of_answers_is_acked_at_once_while_chat_update_waits(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    bodies = {user: _body(sandbox, user) for user in EXEC_LEADERS}
    # Slack takes 2 s over the first update, then answers the next with a 429.
    sandbox.faults.inject("chat.update", "slow", delay=2.0)
    sandbox.faults.inject("chat.update", "ratelimited", retry_after=1)
    acks: dict[str, float] = {}
    start = threading.Barrier(len(bodies))

    def submit(user: str) -> None:
        start.wait()
        response = sandbox.user(user).send_raw(bodies[user], FORM)
        assert response.status == 200
        assert response.json is None
        acks[user] = response.elapsed

    threads = [threading.Thread(target=submit, args=(u,)) for u in EXEC_LEADERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(acks) == sorted(EXEC_LEADERS)
    # None waited for the slow update or the 429 (each alone would take a second or more).
    assert max(acks.values()) < 1.0
    assert len(answers(bot.engine)) == len(EXEC_LEADERS)
    sandbox.wait_for(lambda s: "7 of 7 answered" in str(s.messages(EXEC)[0].blocks))
    assert bot.services.refresher.wait_idle(10)
    # Coalesced: the first update, then the latest count (its 429 answered once more); or the
    # first alone, when all seven were stored in one batch before it went out.
    updates = [c for c in sandbox.calls_to("chat.update") if c.response.get("ok")]
    assert 1 <= len(updates) <= 3
    assert "7 of 7 answered" in str(updates[-1].args.get("blocks"))


def test_an_answer_the_database_refuses_is_refused_inline_and_can_be_submitted_again(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    modal, values, first_block = _modal_values(sandbox, "U0ALICE")
    # The answers table is gone from under the running bot: its INSERT fails for real.
    with bot.engine.begin() as connection:
        connection.execute(text("ALTER TABLE answers RENAME TO answers_elsewhere"))
    response = sandbox.user("U0ALICE").submit(modal.id, values)
    assert response.json == {
        "response_action": "errors",
        "errors": {first_block: listener.NOT_STORED},
    }
    # The modal stays open with the member's answer in it, to submit again.
    assert sandbox.views[modal.id].open
    with bot.engine.begin() as connection:
        connection.execute(text("ALTER TABLE answers_elsewhere RENAME TO answers"))
    assert answers(bot.engine) == []
    assert sandbox.user("U0ALICE").submit(modal.id, values).json is None
    assert len(answers(bot.engine)) == 1


def test_an_answer_kept_waiting_by_another_write_is_refused_inline_before_slacks_timeout(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    modal, values, first_block = _modal_values(sandbox, "U0ALICE")
    with session_scope(bot.engine) as session:
        # A write that holds the database longer than an ack may wait.
        session.execute(text("UPDATE leadership_groups SET timezone = timezone"))
        response = sandbox.user("U0ALICE").submit(modal.id, values)
    assert response.elapsed < ACK_TIMEOUT
    assert response.json == {
        "response_action": "errors",
        "errors": {first_block: listener.NOT_STORED},
    }
    assert answers(bot.engine) == []
    assert sandbox.user("U0ALICE").submit(modal.id, values).json is None
    assert len(answers(bot.engine)) == 1
