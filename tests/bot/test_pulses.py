"""Pulses end to end: schedule, deliver, answer, remind and close, through the sandbox."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from freezegun import freeze_time
from sqlmodel import select

from bot.services import utc_now
from sandbox import SlackSandbox
from storage.db import session_scope
from storage.models import AnswerFocus, LeadershipGroup, SkipDate
from tests.bot.pulse_helpers import (
    EXEC,
    EXEC_LEADERS,
    add_priorities,
    answers,
    at,
    click_answer,
    dm_count,
    invitations,
    make_group,
    messenger_for,
    run_tick,
    runs,
    scores,
)
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"
THE_DAY_BEFORE = at("2026-11-29 09:00", BERLIN)

# Mondays either side of Europe's 2026 changes (29 March forward, 25 October back).
DST_MONDAYS = ["2026-03-23", "2026-03-30", "2026-10-19", "2026-10-26"]


@pytest.mark.parametrize("monday", DST_MONDAYS)
def test_weekly_berlin_pulse_goes_out_at_nine_local_either_side_of_dst(
    bot: RunningBot, sandbox: SlackSandbox, monday: str
) -> None:
    nine = at(f"{monday} 09:00", BERLIN)
    make_group(bot.engine, timezone=BERLIN, created_at=nine - timedelta(days=1))
    messenger = messenger_for(bot.services.settings)
    with freeze_time(nine - timedelta(minutes=1)):
        run_tick(bot.engine, messenger, utc_now())
    assert sandbox.messages(EXEC) == []
    with freeze_time(nine):
        run_tick(bot.engine, messenger, utc_now())
    [run] = runs(bot.engine)
    assert run.scheduled_at == nine
    assert run.occurrence_day == date.fromisoformat(monday)
    [message] = sandbox.messages(EXEC)
    assert "0 of 7 answered" in str(message.blocks)
    # The UTC instant moves with the clocks: 08:00Z in winter, 07:00Z in summer.
    summer = date.fromisoformat(monday) in (date(2026, 3, 30), date(2026, 10, 19))
    assert nine.hour == (7 if summer else 8)


def test_a_skipped_date_sends_nothing_and_the_next_week_does(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    group_id = make_group(bot.engine, timezone=BERLIN, created_at=at("2026-12-27 09:00", BERLIN))
    with session_scope(bot.engine) as session:
        session.add(SkipDate(group_id=group_id, day=date(2026, 12, 28)))
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, at("2026-12-28 12:00", BERLIN))
    assert runs(bot.engine) == []
    assert sandbox.messages(EXEC) == []
    run_tick(bot.engine, messenger, at("2027-01-04 09:00", BERLIN))
    assert [r.occurrence_day for r in runs(bot.engine)] == [date(2027, 1, 4)]


def test_a_paused_group_sends_nothing(bot: RunningBot, sandbox: SlackSandbox) -> None:
    make_group(bot.engine, timezone=BERLIN, paused=True, created_at=THE_DAY_BEFORE)
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-11-30 09:05", BERLIN))
    assert runs(bot.engine) == []
    assert sandbox.calls_to("chat.postMessage") == []


def test_per_member_time_sends_each_dm_at_that_members_nine(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(
        bot.engine,
        timezone=BERLIN,
        delivery_mode="dm",
        per_member_time=True,
        created_at=at("2026-11-28 12:00", "UTC"),
    )
    messenger = messenger_for(bot.services.settings)
    first_seen: dict[str, str] = {}
    # Step through Monday 30 November 2026 hour by hour, from Tokyo's morning to LA's.
    moment = at("2026-11-29 20:00", "UTC")
    while moment <= at("2026-11-30 20:00", "UTC"):
        run_tick(bot.engine, messenger, moment)
        for user in ("U0ALICE", "U0BEN", "U0CHIE"):
            if user not in first_seen and dm_count(sandbox, user):
                first_seen[user] = moment.isoformat()
        moment += timedelta(minutes=30)
    assert first_seen == {
        "U0CHIE": at("2026-11-30 09:00", "Asia/Tokyo").isoformat(),
        "U0ALICE": at("2026-11-30 09:00", BERLIN).isoformat(),
        "U0BEN": at("2026-11-30 09:00", "America/Los_Angeles").isoformat(),
    }
    # The bot and the deactivated member are never invited; everyone else exactly once.
    assert sorted(i.user_id for i in invitations(bot.engine)) == sorted(EXEC_LEADERS)
    assert all(dm_count(sandbox, u) == 1 for u in EXEC_LEADERS)


def _open_channel_pulse(bot: RunningBot, sandbox: SlackSandbox) -> None:
    make_group(bot.engine, timezone=BERLIN, created_at=THE_DAY_BEFORE)
    bot.clock.now = at("2026-11-30 09:00", BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), bot.clock.now)


def _answer(
    sandbox: SlackSandbox, user: str, value: int, shares: dict[str, str] | None = None
) -> None:
    """Answer every statement with ``value`` and give the shares of attention (by block id;
    by default all of it to something else, "hiring")."""
    person = sandbox.user(user)
    modal = click_answer(sandbox, user)
    values: dict[str, object] = {}
    for block in modal.view["blocks"]:
        if block["block_id"].isdigit():
            values[block["block_id"]] = str(value)
    values |= shares or {"share_other": "100"}
    if values.get("share_other", "0") != "0":
        values["focus_other"] = "hiring"
    response = person.submit(modal.id, values)
    assert response.status == 200
    assert response.json is None, response.json


def test_submit_stores_and_resubmitting_replaces_the_answer(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    _answer(sandbox, "U0ALICE", 4)
    [first] = answers(bot.engine)
    assert {s.score for s in scores(bot.engine)} == {4}
    _answer(sandbox, "U0ALICE", 2)
    [second] = answers(bot.engine)
    assert second.id == first.id
    # Five statements and the pressure item (issue 9), each replaced.
    assert [s.score for s in scores(bot.engine)] == [2] * 6
    # The channel message shows progress, never names.
    sandbox.wait_for(lambda s: "1 of 7 answered" in str(s.messages(EXEC)[0].blocks))
    assert "U0ALICE" not in str(sandbox.messages(EXEC)[0].blocks)


def test_the_same_submission_delivered_twice_stores_one_answer(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    person = sandbox.user("U0BEN")
    modal = click_answer(sandbox, "U0BEN")
    values = {b["block_id"]: "5" for b in modal.view["blocks"] if b["block_id"].isdigit()}
    first = person.submit(modal.id, {**values, "share_other": "100", "focus_other": "hiring"})
    replayed = person.replay(first)  # a double click, or Slack retrying the same payload
    assert (first.status, replayed.status) == (200, 200)
    assert len(answers(bot.engine)) == 1
    assert len(scores(bot.engine)) == 6  # five statements and the pressure item


def test_an_answer_after_the_close_is_refused_and_nothing_is_stored(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    person = sandbox.user("U0CHIE")
    modal = click_answer(sandbox, "U0CHIE")
    # The modal stays open past the 48-hour window, then the leader submits.
    bot.clock.now = at("2026-12-02 09:00", BERLIN)
    values = {b["block_id"]: "3" for b in modal.view["blocks"] if b["block_id"].isdigit()}
    response = person.submit(modal.id, {**values, "share_other": "100", "focus_other": "x"})
    assert response.json is not None
    assert response.json["response_action"] == "update"
    assert "This pulse closed at Wed 2 Dec, 17:00 JST" in str(response.json["view"])
    assert answers(bot.engine) == []


def test_invalid_input_is_shown_inline_and_nothing_is_stored(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    add_priorities(bot.engine, "Enterprise expansion", "Platform reliability")
    _open_channel_pulse(bot, sandbox)
    person = sandbox.user("U0DIEGO")
    modal = click_answer(sandbox, "U0DIEGO")
    values = {b["block_id"]: "3" for b in modal.view["blocks"] if b["block_id"].isdigit()}
    response = person.submit(modal.id, {**values, "share_other": "100"})
    assert response.json == {
        "response_action": "errors",
        "errors": {"focus_other": "You gave a share to something else: say briefly what it was."},
    }
    assert sandbox.views[modal.id].open
    assert answers(bot.engine) == []


def test_shares_that_do_not_make_100_percent_are_refused_inline(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    [expansion, reliability] = add_priorities(
        bot.engine, "Enterprise expansion", "Platform reliability"
    )
    _open_channel_pulse(bot, sandbox)
    person = sandbox.user("U0DIEGO")
    modal = click_answer(sandbox, "U0DIEGO")
    values = {b["block_id"]: "3" for b in modal.view["blocks"] if b["block_id"].isdigit()}
    shares = {f"share_{expansion}": "60", f"share_{reliability}": "30"}
    response = person.submit(modal.id, {**values, **shares})
    assert response.json == {
        "response_action": "errors",
        "errors": {"share_other": "Your shares add up to 90%: together they need to make 100%."},
    }
    assert answers(bot.engine) == []


def test_shares_of_attention_are_stored_in_tenths_and_prefilled_when_changing(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    [expansion, reliability] = add_priorities(
        bot.engine, "Enterprise expansion", "Platform reliability"
    )
    _open_channel_pulse(bot, sandbox)
    modal = click_answer(sandbox, "U0ALICE")
    selects = {
        b["block_id"]: b["label"]["text"]
        for b in modal.view["blocks"]
        if b["block_id"].startswith("share_")
    }
    assert selects == {
        f"share_{expansion}": "Enterprise expansion",
        f"share_{reliability}": "Platform reliability",
        "share_other": "Something else",
    }
    # Every share starts at 0%, offered in steps of 10%.
    [first] = [b for b in modal.view["blocks"] if b["block_id"] == f"share_{expansion}"]
    assert first["element"]["initial_option"]["value"] == "0"
    assert [o["value"] for o in first["element"]["options"]] == [str(10 * i) for i in range(11)]
    _answer(sandbox, "U0ALICE", 4, {f"share_{expansion}": "70", "share_other": "30"})
    with session_scope(bot.engine) as session:
        stored = {(f.priority_id, f.tenths) for f in session.exec(select(AnswerFocus))}
    assert stored == {(expansion, 7), (None, 3)}
    [answer] = answers(bot.engine)
    assert answer.focus_other == "hiring"
    again = click_answer(sandbox, "U0ALICE")
    initial = {
        b["block_id"]: b["element"]["initial_option"]["value"]
        for b in again.view["blocks"]
        if b["block_id"].startswith("share_")
    }
    assert initial == {f"share_{expansion}": "70", f"share_{reliability}": "0", "share_other": "30"}
    # Changed to all on reliability: the earlier shares and the "something else" text go.
    changed = {f"share_{expansion}": "0", f"share_{reliability}": "100", "share_other": "0"}
    _answer(sandbox, "U0ALICE", 4, changed)
    with session_scope(bot.engine) as session:
        stored = {(f.priority_id, f.tenths) for f in session.exec(select(AnswerFocus))}
    assert stored == {(reliability, 10)}
    [answer] = answers(bot.engine)
    assert answer.focus_other is None


def test_without_declared_priorities_focus_offers_only_something_else(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    modal = click_answer(sandbox, "U0EMMA")
    shares = [b["block_id"] for b in modal.view["blocks"] if b["block_id"].startswith("share_")]
    assert shares == ["share_other"]


def test_reminder_goes_once_and_only_to_non_responders(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _open_channel_pulse(bot, sandbox)
    _answer(sandbox, "U0ALICE", 4)
    _answer(sandbox, "U0BEN", 4)
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, at("2026-12-01 08:59", BERLIN))
    assert sandbox.calls_to("chat.postEphemeral") == []
    run_tick(bot.engine, messenger, at("2026-12-01 09:00", BERLIN))
    run_tick(bot.engine, messenger, at("2026-12-01 15:00", BERLIN))
    reminded = sorted(c.args["user"] for c in sandbox.calls_to("chat.postEphemeral"))
    assert reminded == sorted(set(EXEC_LEADERS) - {"U0ALICE", "U0BEN"})


def test_the_run_closes_at_the_end_of_its_window(bot: RunningBot, sandbox: SlackSandbox) -> None:
    _open_channel_pulse(bot, sandbox)
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, at("2026-12-02 08:59", BERLIN))
    assert runs(bot.engine)[0].status == "open"
    run_tick(bot.engine, messenger, at("2026-12-02 09:00", BERLIN))
    assert runs(bot.engine)[0].status == "closed"
    assert "has closed" in sandbox.messages(EXEC)[0].text


def test_a_pulse_missed_beyond_the_grace_window_is_recorded_not_sent(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, created_at=THE_DAY_BEFORE)
    messenger = messenger_for(bot.services.settings)
    # Default grace is half the 48-hour window: 24 hours late still sends, 25 does not.
    run_tick(bot.engine, messenger, at("2026-12-01 10:00", BERLIN))
    [run] = runs(bot.engine)
    assert run.status == "missed"
    assert sandbox.messages(EXEC) == []


def test_a_pulse_late_within_grace_is_still_sent(bot: RunningBot, sandbox: SlackSandbox) -> None:
    make_group(bot.engine, timezone=BERLIN, created_at=THE_DAY_BEFORE)
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-11-30 20:00", BERLIN))
    assert [r.status for r in runs(bot.engine)] == ["open"]
    assert len(sandbox.messages(EXEC)) == 1


def test_bot_not_in_channel_is_recorded_and_not_retried(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    sandbox.workspace.channels[EXEC].bot_is_member = False
    make_group(bot.engine, timezone=BERLIN, created_at=THE_DAY_BEFORE)
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, at("2026-11-30 09:00", BERLIN))
    run_tick(bot.engine, messenger, at("2026-11-30 09:30", BERLIN))
    [run] = runs(bot.engine)
    assert run.failure_reason in ("not_in_channel", "channel_not_found")
    assert {i.status for i in invitations(bot.engine)} <= {"failed"}
    assert len(sandbox.calls_to("chat.postMessage")) <= 1


def test_a_cadence_change_takes_effect_on_the_next_tick(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    group_id = make_group(bot.engine, timezone=BERLIN, created_at=at("2026-12-02 12:00", BERLIN))
    messenger = messenger_for(bot.services.settings)
    run_tick(bot.engine, messenger, at("2026-12-03 09:30", BERLIN))  # a Thursday: nothing due
    assert runs(bot.engine) == []
    with session_scope(bot.engine) as session:
        found = session.exec(select(LeadershipGroup).where(LeadershipGroup.id == group_id)).one()
        found.weekdays = "3"
        session.add(found)
    run_tick(bot.engine, messenger, at("2026-12-03 09:31", BERLIN))
    assert [r.occurrence_day for r in runs(bot.engine)] == [date(2026, 12, 3)]


def test_pulse_now_sends_at_once_and_todays_scheduled_pulse_does_not_follow(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    from pulses.dispatch import claim_run_now

    group_id = make_group(bot.engine, timezone=BERLIN, created_at=THE_DAY_BEFORE)
    messenger = messenger_for(bot.services.settings)
    early = at("2026-11-30 07:30", BERLIN)
    assert claim_run_now(engine=bot.engine, group_id=group_id, now=early) is True
    assert claim_run_now(engine=bot.engine, group_id=group_id, now=early) is False
    run_tick(bot.engine, messenger, early)
    run_tick(bot.engine, messenger, at("2026-11-30 09:00", BERLIN))
    assert len(sandbox.messages(EXEC)) == 1
    [run] = runs(bot.engine)
    assert run.scheduled_at == early
    assert run.closes_at == early + timedelta(hours=48)


def test_a_new_schedule_does_not_catch_up_on_days_before_it_started(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    group_id = make_group(bot.engine, timezone=BERLIN, created_at=at("2026-11-01 09:00", BERLIN))
    # On Wednesday the group moves from Mondays to Tuesdays: Tuesday 1 December (yesterday)
    # must be neither sent late nor recorded as missed.
    with session_scope(bot.engine) as session:
        found = session.exec(select(LeadershipGroup).where(LeadershipGroup.id == group_id)).one()
        found.weekdays = "1"
        found.schedule_starts_at = at("2026-12-02 10:00", BERLIN)
        session.add(found)
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-12-02 10:01", BERLIN))
    assert runs(bot.engine) == []
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-12-08 09:00", BERLIN))
    assert [r.occurrence_day for r in runs(bot.engine)] == [date(2026, 12, 8)]


def test_a_stop_request_ends_the_fan_out_between_sends_and_the_next_tick_finishes_it(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    import threading

    from pulses.dispatch import tick
    from pulses.ticks import Worker

    make_group(bot.engine, timezone=BERLIN, delivery_mode="dm", created_at=THE_DAY_BEFORE)
    messenger = messenger_for(bot.services.settings)
    worker = Worker("test:0:stopping")
    nine = at("2026-11-30 09:00", BERLIN)
    # SIGTERM arrives while the third DM is on its way.
    sandbox.faults.inject("chat.postMessage", "slow", times=2, delay=0.01)
    sandbox.faults.inject("chat.postMessage", "slow", times=1, delay=0.3)

    def sigterm_during_the_third_send() -> None:
        sandbox.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= 2)
        worker.stop_requested.set()

    signal = threading.Thread(target=sigterm_during_the_third_send)
    signal.start()
    report = tick(engine=bot.engine, messenger=messenger, now=nine, worker=worker)
    signal.join()
    assert 2 <= report.sent < len(EXEC_LEADERS)
    assert "sending" not in {i.status for i in invitations(bot.engine)}  # nothing left in flight

    run_tick(bot.engine, messenger, nine + timedelta(minutes=1))
    assert [dm_count(sandbox, user) for user in EXEC_LEADERS] == [1] * len(EXEC_LEADERS)


def test_in_dm_mode_answering_turns_the_dm_into_a_confirmation_with_a_way_to_change_it(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, delivery_mode="dm", created_at=THE_DAY_BEFORE)
    bot.clock.now = at("2026-11-30 09:00", BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), bot.clock.now)
    [dm] = sandbox.messages(sandbox.dm_channel("U0ALICE"))
    assert "Closes Wed 2 Dec, 09:00 CET" in str(dm.blocks)
    assert "answered" not in str(dm.blocks)  # a DM is not refreshed, so it shows no count

    modal = click_answer(sandbox, "U0ALICE", channel="DM")
    values = {b["block_id"]: "4" for b in modal.view["blocks"] if b["block_id"].isdigit()}
    sandbox.user("U0ALICE").submit(modal.id, {**values, "share_other": "100", "focus_other": "x"})
    sandbox.wait_for(lambda s: "your answer" in s.messages(s.dm_channel("U0ALICE"))[0].text)
    [dm] = sandbox.messages(sandbox.dm_channel("U0ALICE"))
    assert "You can change it until Wed 2 Dec, 09:00 CET." in str(dm.blocks)
    # "Change answer" opens the modal again, prefilled.
    again = click_answer(sandbox, "U0ALICE", channel="DM")
    assert again.view["submit"]["text"] == "Update"


def test_in_dm_mode_a_refused_submission_leaves_the_dm_unconfirmed(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, delivery_mode="dm", created_at=THE_DAY_BEFORE)
    bot.clock.now = at("2026-11-30 09:00", BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), bot.clock.now)
    refused = click_answer(sandbox, "U0ALICE", channel="DM")
    values = {b["block_id"]: "4" for b in refused.view["blocks"] if b["block_id"].isdigit()}
    response = sandbox.user("U0ALICE").submit(refused.id, {**values, "share_other": "100"})
    assert response.json["response_action"] == "errors"
    # Ben's answer is confirmed after Alice's refusal went through the same listeners.
    accepted = click_answer(sandbox, "U0BEN", channel="DM")
    sandbox.user("U0BEN").submit(accepted.id, {**values, "share_other": "100", "focus_other": "x"})
    sandbox.wait_for(lambda s: "your answer" in s.messages(s.dm_channel("U0BEN"))[0].text)
    assert "your answer" not in sandbox.messages(sandbox.dm_channel("U0ALICE"))[0].text
