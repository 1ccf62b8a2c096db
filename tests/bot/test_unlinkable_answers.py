"""Answers kept apart from who gave them, through the real signed HTTP path."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import SQLModel

from sandbox import SlackSandbox
from tests.bot.pulse_helpers import (
    EXEC,
    EXEC_LEADERS,
    answers,
    at,
    click_answer,
    invitations,
    messenger_for,
    run_tick,
    scores,
)
from tests.bot.test_pulses import BERLIN, _answer, _open_channel_pulse
from tests.conftest import RunningBot


def test_a_resubmission_replaces_by_pseudonym_and_the_close_leaves_no_user_id(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    _answer(sandbox, "U0ALICE", 4)
    _answer(sandbox, "U0BEN", 3)
    _answer(sandbox, "U0ALICE", 2)
    stored = answers(bot.engine)
    assert len(stored) == 2
    assert all(a.pseudonym and len(a.pseudonym) == 64 for a in stored)
    assert not any(user in str(a) for a in stored for user in EXEC_LEADERS)
    assert sorted(i.user_id for i in invitations(bot.engine) if i.answered) == [
        "U0ALICE",
        "U0BEN",
    ]
    sandbox.wait_for(lambda s: "2 of 7 answered" in str(s.messages(EXEC)[0].blocks))

    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-12-02 09:01", BERLIN))
    with bot.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in ("answers", "answer_scores"):
                continue
            dump = str(connection.execute(select(table)).all())
            assert not any(user in dump for user in EXEC_LEADERS), table.name
    assert all(a.pseudonym is None for a in answers(bot.engine))
    assert not any(i.answered for i in invitations(bot.engine))
    assert "2 of 7 answered" in str(sandbox.messages(EXEC)[0].blocks)


def test_an_answer_the_current_key_cannot_find_is_shown_as_received_not_counted_twice(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    _answer(sandbox, "U0CHIE", 4)
    open_before = click_answer(sandbox, "U0CHIE")
    # The operator changed COHERENCE_PSEUDONYM_KEY while the pulse was open.
    bot.services.settings.coherence_pseudonym_key = SecretStr("a-different-key")
    modal = click_answer(sandbox, "U0CHIE")
    assert "can no longer be changed" in str(modal.view)
    values = {b["block_id"]: "1" for b in open_before.view["blocks"] if b["block_id"].isdigit()}
    response = sandbox.user("U0CHIE").submit(
        open_before.id, {**values, "share_other": "100", "focus_other": "x"}
    )
    assert response.json is not None
    assert response.json["response_action"] == "update"
    assert "can no longer be changed" in str(response.json["view"])
    assert [a.friction for a in answers(bot.engine)] == [None]
    assert {s.score for s in scores(bot.engine)} == {4}
