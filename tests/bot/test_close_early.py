"""`/coherence close` through signed requests to the sandbox: an admin confirms, a tick closes
the run at once and the change is audited; anyone else, or "Keep it open", changes nothing."""

from __future__ import annotations

import copy
from datetime import timedelta

from sqlmodel import col, select

from bot.views.admin.replies import ADMINS_ONLY
from bot.views.away import CLOSE_ACTION, KEEP_OPEN_ACTION, KEPT_OPEN
from bot.views.pulse import ANSWER_ACTION
from sandbox import Ephemeral, SlackSandbox
from storage.db import session_scope
from storage.models import ConfigChange, PulseRun
from tests.bot.pulse_helpers import (
    EXEC,
    answers,
    at,
    click_answer,
    make_group,
    messenger_for,
    run_tick,
    runs,
)
from tests.bot.test_admin import snapshot
from tests.bot.test_pulses import _answer
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"
MONDAY = at("2026-11-30 09:00", BERLIN)
ADMIN = "U0ADMIN"


def _open_pulse(bot: RunningBot) -> PulseRun:
    make_group(bot.engine, timezone=BERLIN, created_at=MONDAY - timedelta(days=3))
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY)
    [run] = runs(bot.engine)
    return run


def _ask_to_close(sandbox: SlackSandbox, user: str) -> Ephemeral:
    response = sandbox.user(user).run_command("/coherence", "close", channel=EXEC)
    assert response.status == 200
    latest = sandbox.ephemerals[-1]
    assert latest.user == user
    return latest


def _changes(bot: RunningBot) -> list[ConfigChange]:
    with session_scope(bot.engine) as session:
        return list(session.exec(select(ConfigChange).order_by(col(ConfigChange.id))).all())


def test_an_admin_confirms_and_the_pulse_closes_at_once_audited(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    run = _open_pulse(bot)
    _answer(sandbox, "U0ALICE", 4)
    sandbox.wait_for(lambda s: "1 of 7 answered" in str(s.messages(EXEC)[0].blocks))
    chie_modal = click_answer(sandbox, "U0CHIE")  # opened before the close, submitted after
    # The pulse as Ben's client still shows it, with its Answer button, when he clicks later.
    open_pulse = copy.deepcopy(sandbox.messages(EXEC)[0])
    bot.clock.now = MONDAY + timedelta(hours=6)
    question = _ask_to_close(sandbox, ADMIN)
    assert "Close the open pulse of #exec-team now?" in str(question.blocks)
    # In Dana's zone (users.info: Europe/Berlin), when it would otherwise close.
    assert "1 of 7 have answered; it would close Wed 2 Dec, 09:00 CET" in str(question.blocks)

    response = sandbox.user(ADMIN).click(question, CLOSE_ACTION)
    assert response.status == 200
    sandbox.wait_for(lambda s: "has closed" in str(s.messages(EXEC)[0].blocks))
    [closed] = runs(bot.engine)
    assert (closed.status, closed.closed_at) == ("closed", bot.clock.now)
    assert closed.closes_at == MONDAY + timedelta(hours=6) < run.closes_at
    assert "Closed · 1 of 7 answered" in str(sandbox.messages(EXEC)[0].blocks)
    # The confirmation is replaced by what was done, and the change is in the audit trail.
    sandbox.wait_for(lambda s: "Done" in s.ephemerals[-1].text)
    assert "closed the pulse of #exec-team of Mon 30 Nov early" in sandbox.ephemerals[-1].text
    assert question not in sandbox.ephemerals
    [change] = _changes(bot)
    assert (change.user_id, change.created_at) == (ADMIN, bot.clock.now)
    assert change.summary == "closed the pulse of #exec-team of Mon 30 Nov early"

    # A later answer is refused, with the close in the reader's own zone, and nothing stored.
    bot.clock.now += timedelta(minutes=5)
    values = {b["block_id"]: "3" for b in chie_modal.view["blocks"] if b["block_id"].isdigit()}
    refused = sandbox.user("U0CHIE").submit(
        chie_modal.id, {**values, "share_other": "100", "focus_other": "x"}
    )
    assert refused.json is not None
    assert refused.json["response_action"] == "update"
    assert "This pulse closed at Mon 30 Nov, 23:00 JST" in str(refused.json["view"])
    assert len(answers(bot.engine)) == 1
    assert sandbox.user("U0BEN").click(open_pulse, ANSWER_ACTION).status == 200
    sandbox.wait_for(lambda s: any(v.user_id == "U0BEN" for v in s.views.values()))
    [ben_sees] = [v for v in sandbox.views.values() if v.user_id == "U0BEN"]
    assert ben_sees.view["title"]["text"] == "Pulse closed"
    assert "This pulse closed at Mon 30 Nov, 06:00 PST" in str(ben_sees.view["blocks"])
    # Closing again finds nothing open.
    assert "#exec-team has no open pulse to close." in _ask_to_close(sandbox, ADMIN).text


def test_keep_it_open_changes_nothing(bot: RunningBot, sandbox: SlackSandbox) -> None:
    _open_pulse(bot)
    question = _ask_to_close(sandbox, ADMIN)
    before = snapshot(bot.engine)
    response = sandbox.user(ADMIN).click(question, KEEP_OPEN_ACTION)
    assert response.status == 200
    sandbox.wait_for(lambda s: s.ephemerals[-1].text == KEPT_OPEN)
    run_tick(bot.engine, messenger_for(bot.services.settings), bot.clock.now)
    assert snapshot(bot.engine) == before
    assert [r.status for r in runs(bot.engine)] == ["open"]
    assert "0 of 7 answered" in str(sandbox.messages(EXEC)[0].blocks)


def test_a_member_is_refused_and_nothing_changes(bot: RunningBot, sandbox: SlackSandbox) -> None:
    _open_pulse(bot)
    before = snapshot(bot.engine)
    assert ADMINS_ONLY in _ask_to_close(sandbox, "U0ALICE").text
    # A forged click on an admin's confirmation is checked again, and refused too.
    question = _ask_to_close(sandbox, ADMIN)
    forged = sandbox.user("U0ALICE").click(question, CLOSE_ACTION)
    assert forged.status == 200
    sandbox.wait_for(lambda s: s.ephemerals[-1].user == "U0ALICE")
    assert ADMINS_ONLY in sandbox.ephemerals[-1].text
    run_tick(bot.engine, messenger_for(bot.services.settings), bot.clock.now)
    assert snapshot(bot.engine) == before
    assert [r.status for r in runs(bot.engine)] == ["open"]
