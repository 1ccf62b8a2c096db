"""Admin configuration through signed slash commands and modal submissions in the sandbox."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col, select

from bot.listeners.errors import GENERIC_FAILURE
from bot.services import utc_now
from bot.views.admin.replies import ADMINS_ONLY
from bot.views.digest import digest_blocks
from pulses.commands import CommandError, parse_command
from pulses.reports import group_digest, group_history
from sandbox import BotResponse, SlackSandbox, View
from storage.db import session_scope
from storage.models import (
    ConfigChange,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
    SkipDate,
)
from tests.bot.pulse_helpers import (
    EXEC,
    LONG_AGO,
    at,
    click_answer,
    make_group,
    messenger_for,
    run_tick,
    runs,
)
from tests.conftest import RunningBot
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
BERLIN = "Europe/Berlin"
# A Wednesday morning in Berlin.
WEDNESDAY = at("2026-12-02 10:00", BERLIN)

ADMIN_COMMANDS = [
    "setup",
    "priorities",
    "questions",
    "cadence weekly mon,thu 09:30 Europe/Berlin",
    "pause",
    "resume",
    "skip 2099-12-28",
    "pulse now",
    "digest now",
    "export",
]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused action changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(table.select())),
                key=repr,
            )
            for table in SQLModel.metadata.sorted_tables
        }


def command(sandbox: SlackSandbox, user: str, text_: str, channel: str = EXEC) -> BotResponse:
    response = sandbox.user(user).run_command("/coherence", text_, channel=channel)
    assert response.status == 200
    assert not response.timed_out
    return response


def reply(response: BotResponse) -> str:
    # Bolt answers an ack with only text as a plain-text body.
    return str(response.json.get("text", "")) if response.json is not None else response.body


def open_modal(sandbox: SlackSandbox, user: str, text_: str, channel: str = EXEC) -> View:
    before = set(sandbox.views)
    response = command(sandbox, user, text_, channel)
    assert response.body == ""
    sandbox.wait_for(lambda s: any(v not in before and s.views[v].type == "modal" for v in s.views))
    [view_id] = [v for v in sandbox.views if v not in before and sandbox.views[v].type == "modal"]
    return sandbox.views[view_id]


def group_row(engine: Engine, channel: str = EXEC) -> LeadershipGroup:
    with session_scope(engine) as session:
        return session.exec(
            select(LeadershipGroup).where(LeadershipGroup.channel_id == channel)
        ).one()


def changes(engine: Engine) -> list[ConfigChange]:
    with session_scope(engine) as session:
        return list(session.exec(select(ConfigChange).order_by(col(ConfigChange.id))).all())


# --- who may ----------------------------------------------------------------------------------


def test_a_non_admin_is_refused_every_admin_action_and_nothing_changes(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        group = session.exec(select(LeadershipGroup)).one()
        seed_run(session, org, group, date(2026, 11, 23), [Seeded(uniform(4))] * 6)
    # Modals opened by an admin, submitted by someone who is not (or is no longer) one.
    modals = [open_modal(sandbox, ADMIN, name) for name in ("setup", "priorities", "questions")]
    before = snapshot(bot.engine)
    calls_before = len(sandbox.calls)

    for text_ in ADMIN_COMMANDS:
        assert reply(command(sandbox, ALICE, text_)) == ADMINS_ONLY, text_
    for modal in modals:
        response = sandbox.user(ALICE).submit(modal.id, {})
        assert response.json is not None
        assert response.json["response_action"] == "update"
        assert "Only workspace admins" in json.dumps(response.json["view"])

    assert snapshot(bot.engine) == before
    # Refusals cost one users.info each and nothing else: no view, message or upload.
    assert {c.method for c in sandbox.calls[calls_before:]} == {"users.info"}
    assert sandbox.files == []


def test_an_admin_who_lost_the_role_cannot_submit_an_open_modal(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    modal = open_modal(sandbox, ADMIN, "setup")
    before = snapshot(bot.engine)
    dana = sandbox.workspace.users[ADMIN]
    dana.is_admin = dana.is_owner = False
    response = sandbox.user(ADMIN).submit(modal.id, {})
    assert response.json is not None
    assert "Only workspace admins" in json.dumps(response.json["view"])
    assert snapshot(bot.engine) == before


def test_a_member_named_in_the_settings_is_an_admin(bot: RunningBot, sandbox: SlackSandbox) -> None:
    bot.services.settings.coherence_admin_ids = [ALICE]
    make_group(bot.engine, timezone=BERLIN)
    assert "paused #exec-team" in reply(command(sandbox, ALICE, "pause"))
    assert group_row(bot.engine).paused


# --- setup, then pulse now ------------------------------------------------------------------


def test_setup_through_the_modal_then_pulse_now_sends_the_group_its_pulse(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    modal = open_modal(sandbox, ADMIN, "setup")
    # Defaults are filled in: the admin's zone, weekly on Monday at 09:00, threshold 5.
    blocks = {b["block_id"]: b for b in modal.view["blocks"] if b["type"] == "input"}
    assert blocks["timezone"]["element"]["initial_value"] == BERLIN
    assert blocks["anonymity_threshold"]["element"]["initial_value"] == "5"
    assert blocks["local_time"]["element"]["initial_time"] == "09:00"

    response = sandbox.user(ADMIN).submit(
        modal.id,
        {"layer": "Executive", "weekdays": ["0", "3"], "local_time": "09:30"},
    )
    assert response.json is not None
    shown = json.dumps(response.json["view"], ensure_ascii=False)
    assert "made #exec-team a leadership group: weekly on Mon, Thu at 09:30 (Europe/Berlin)" in (
        shown
    )
    assert "Next pulse: Thu 3 Dec, 09:30 CET (your time)" in shown
    group = group_row(bot.engine)
    assert (group.layer, group.weekdays, group.local_time, group.timezone) == (
        "Executive",
        "0,3",
        "09:30",
        BERLIN,
    )
    [change] = changes(bot.engine)
    assert (change.user_id, change.group_id) == (ADMIN, group.id)

    answer = reply(command(sandbox, ADMIN, "pulse now"))
    assert "Sending the pulse to #exec-team now" in answer
    sandbox.wait_for(lambda s: any("pulse" in m.text for m in s.messages(EXEC)))
    [message] = sandbox.messages(EXEC)
    assert "pulse.answer" in json.dumps(message.blocks)
    [run] = runs(bot.engine)
    assert run.scheduled_at == WEDNESDAY
    # A second "pulse now" the same day adds nothing: one run per group and day.
    assert "exists already" in reply(command(sandbox, ADMIN, "pulse now"))
    assert len(runs(bot.engine)) == 1


def test_editing_the_setup_changes_only_what_was_edited_and_says_so(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)
    modal = open_modal(sandbox, ADMIN, "setup")
    response = sandbox.user(ADMIN).submit(modal.id, {"anonymity_threshold": "7"})
    assert response.json is not None
    assert "anonymity threshold 5 → 7" in json.dumps(response.json["view"], ensure_ascii=False)
    assert group_row(bot.engine).anonymity_threshold == 7
    assert [c.summary for c in changes(bot.engine)] == ["#exec-team: anonymity threshold 5 → 7"]


@pytest.mark.parametrize(
    ("values", "block_id", "words"),
    [
        ({"anonymity_threshold": "2"}, "anonymity_threshold", "can't be below 3"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not a known time zone"),
        ({"weekdays": ["0", "1"], "answer_window_hours": "48"}, "answer_window_hours", "1 day"),
        ({"answer_window_hours": "24", "reminder_hours": "30"}, "reminder_hours", "before"),
        ({"frequency": "monthly", "weekdays": ["0", "3"]}, "weekdays", "one day"),
        ({"answer_window_hours": "400"}, "answer_window_hours", "336"),
    ],
)
def test_invalid_setup_is_shown_inline_and_nothing_is_saved(
    bot: RunningBot,
    sandbox: SlackSandbox,
    values: dict[str, object],
    block_id: str,
    words: str,
) -> None:
    modal = open_modal(sandbox, ADMIN, "setup")
    before = snapshot(bot.engine)
    response = sandbox.user(ADMIN).submit(modal.id, values)
    assert response.json is not None
    assert response.json["response_action"] == "errors"
    assert words in response.json["errors"][block_id]
    assert sandbox.views[modal.id].open
    assert snapshot(bot.engine) == before


def test_setup_in_a_direct_message_explains_where_to_run_it(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    answer = reply(command(sandbox, ADMIN, "setup", channel=sandbox.dm_channel(ADMIN)))
    assert "in the leadership channel" in answer


# --- cadence and the other text forms -------------------------------------------------------


def test_a_cadence_change_moves_the_next_occurrence_at_once(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)  # weekly, Monday 09:00
    answer = reply(command(sandbox, ADMIN, "cadence weekly thu 09:30 Europe/Berlin"))
    assert "weekly on Mon at 09:00 (Europe/Berlin) → weekly on Thu at 09:30 (Europe/Berlin)" in (
        answer
    )
    # Stated in the admin's own zone (users.info says Europe/Berlin).
    assert "Next pulse: Thu 3 Dec, 09:30 CET (your time)" in answer
    messenger = messenger_for(bot.services.settings)
    # The bot is not restarted: the next ticks read the new cadence from the database.
    with freeze_time(at("2026-12-03 09:29", BERLIN)):
        run_tick(bot.engine, messenger, utc_now())
    assert runs(bot.engine) == []
    with freeze_time(at("2026-12-03 09:30", BERLIN)):
        run_tick(bot.engine, messenger, utc_now())
    with freeze_time(at("2026-12-07 09:00", BERLIN)):  # the old Monday slot
        run_tick(bot.engine, messenger, utc_now())
    # Nothing is made up for days before the change (no late or "missed" Monday run).
    assert [r.occurrence_day for r in runs(bot.engine)] == [date(2026, 12, 3)]
    assert len(sandbox.messages(EXEC)) == 1
    [change] = changes(bot.engine)
    assert change.user_id == ADMIN
    assert change.created_at == WEDNESDAY


def test_cadence_in_members_local_time_says_so(bot: RunningBot, sandbox: SlackSandbox) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN, delivery_mode="dm")
    answer = reply(command(sandbox, ADMIN, "cadence monthly first-mon 08:00 local"))
    assert "monthly on the first Mon at 08:00 in each member's time zone" in answer
    assert "Next pulse: Mon 7 Dec, 08:00 CET (your time)" in answer
    group = group_row(bot.engine)
    assert (group.per_member_time, group.monthly_week, group.frequency) == (True, 1, "monthly")


def test_pause_resume_and_skip_answer_with_what_changed_and_are_audited(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)
    paused = reply(command(sandbox, ADMIN, "pause"))
    assert "paused #exec-team" in paused
    assert "No pulse is scheduled while the group is paused" in paused
    assert "already paused" in reply(command(sandbox, ADMIN, "pause"))
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-12-07 09:00", BERLIN))
    assert runs(bot.engine) == []

    bot.clock.now = at("2026-12-08 10:00", BERLIN)
    resumed = reply(command(sandbox, ADMIN, "resume"))
    assert "resumed #exec-team" in resumed
    assert "Next pulse: Mon 14 Dec, 09:00 CET (your time)" in resumed
    skipped = reply(command(sandbox, ADMIN, "skip 2026-12-14"))
    assert "#exec-team skips 2026-12-14" in skipped
    assert "Next pulse: Mon 21 Dec, 09:00 CET (your time)" in skipped
    assert "already skips" in reply(command(sandbox, ADMIN, "skip 2026-12-14"))
    # The paused Monday is not sent late after the resume.
    run_tick(bot.engine, messenger_for(bot.services.settings), at("2026-12-08 10:05", BERLIN))
    assert runs(bot.engine) == []
    with session_scope(bot.engine) as session:
        assert [s.day for s in session.exec(select(SkipDate)).all()] == [date(2026, 12, 14)]
    assert [(c.user_id, c.summary) for c in changes(bot.engine)] == [
        (ADMIN, "paused #exec-team"),
        (ADMIN, "resumed #exec-team"),
        (ADMIN, "#exec-team skips 2026-12-14"),
    ]


def test_text_forms_outside_a_leadership_channel_change_nothing(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    before = snapshot(bot.engine)
    for text_ in ("pause", "resume", "skip 2099-01-04", "pulse now", "digest now"):
        assert "not a leadership group" in reply(command(sandbox, ADMIN, text_, "C0DIRS"))
    assert snapshot(bot.engine) == before


@pytest.mark.parametrize(
    ("text_", "problem", "usage"),
    [
        ("frobnicate", "unknown subcommand 'frobnicate'", "/coherence setup"),
        ("threshold 2", "unknown subcommand 'threshold'", "/coherence setup"),
        ("cadence weekly funday 09:30", "unknown weekday 'funday'", "/coherence cadence"),
        ("cadence weekly mon 25:00", "'25:00' is not a time", "/coherence cadence"),
        ("cadence weekly mon 09:30 Mars/Olympus", "not a known time zone", "/coherence cadence"),
        ("cadence weekly daily 09:00", "longer than the 1 day between two pulses", "cadence"),
        ("skip 2020-01-01", "2020-01-01 is in the past", "/coherence skip YYYY-MM-DD"),
        ("skip 2026-13-40", "not a date", "/coherence skip YYYY-MM-DD"),
        ("pause now", "'pause' takes no arguments", "/coherence pause"),
        ("export everything", "'export' takes no arguments", "/coherence export"),
        ("pulse", "'pulse' must be followed by 'now'", "/coherence pulse now"),
        ("setup please", "'setup' takes no arguments", "/coherence setup"),
    ],
)
def test_every_malformed_text_form_names_the_problem_and_usage_and_changes_nothing(
    bot: RunningBot, sandbox: SlackSandbox, text_: str, problem: str, usage: str
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)
    before = snapshot(bot.engine)
    answer = reply(command(sandbox, ADMIN, text_))
    assert answer.startswith(":warning:")
    assert problem in answer
    assert usage in answer
    assert snapshot(bot.engine) == before
    assert sandbox.views == {}


# Slash command text as people type it: words, digits, punctuation, any script.
_COMMAND_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=80,
)
_WORDS = st.sampled_from(
    ["setup", "cadence", "weekly", "monthly", "mon", "thu,fri", "09:30", "25:61", "Europe/Berlin",
     "local", "skip", "2026-12-28", "pause", "resume", "pulse", "digest", "now", "export",
     "priorities", "questions", "trend", "first-mon", "x"]
)  # fmt: skip
_TYPED = st.one_of(
    _COMMAND_TEXT,
    st.lists(st.one_of(_WORDS, _COMMAND_TEXT), max_size=6).map(" ".join),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(typed=_TYPED)
def test_arbitrary_text_from_a_member_never_fails_and_changes_nothing(
    bot: RunningBot, sandbox: SlackSandbox, typed: str
) -> None:
    bot.clock.now = WEDNESDAY
    with session_scope(bot.engine) as session:
        has_group = session.exec(select(LeadershipGroup)).first() is not None
    if not has_group:
        make_group(bot.engine, timezone=BERLIN)
    before = snapshot(bot.engine)
    response = sandbox.user(ALICE).run_command("/coherence", typed, channel=EXEC)
    assert response.status == 200
    assert GENERIC_FAILURE not in response.body
    assert snapshot(bot.engine) == before


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(typed=_TYPED)
def test_arbitrary_malformed_text_from_an_admin_never_fails_and_changes_nothing(
    bot: RunningBot, sandbox: SlackSandbox, typed: str
) -> None:
    bot.clock.now = WEDNESDAY
    try:
        parse_command(typed, today=WEDNESDAY.date())
    except CommandError:
        pass
    else:
        assume(False)
    before = snapshot(bot.engine)
    response = sandbox.user(ADMIN).run_command("/coherence", typed, channel=EXEC)
    assert response.status == 200
    assert GENERIC_FAILURE not in response.body
    assert "Usage:" in reply(response)
    assert snapshot(bot.engine) == before


# --- priorities -----------------------------------------------------------------------------


def _seed_history(engine: Engine, respondents: int = 6, focus: str = "Hiring") -> int:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, timezone=BERLIN)
        group.created_at = LONG_AGO
        seed_run(
            session,
            org,
            group,
            date(2026, 11, 23),
            [Seeded(uniform(4), focus=focus)] * respondents,
        )
        assert group.id is not None
        return group.id


def _priority(engine: Engine, name: str) -> Priority:
    with session_scope(engine) as session:
        return session.exec(select(Priority).where(Priority.name == name)).one()


def test_retiring_a_priority_keeps_it_in_past_digests_and_removes_it_from_new_pulses(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    group_id = _seed_history(bot.engine)
    hiring = _priority(bot.engine, "Hiring")
    modal = open_modal(sandbox, ADMIN, "priorities")
    response = sandbox.user(ADMIN).submit(modal.id, {"priority_retire": [str(hiring.id)]})
    assert response.json is not None
    assert "retired 'Hiring'" in json.dumps(response.json["view"])
    retired = _priority(bot.engine, "Hiring")
    assert (retired.active, retired.retired_at) == (False, WEDNESDAY)

    with session_scope(bot.engine) as session:
        digest = group_digest(session=session, group_id=group_id, now=WEDNESDAY)
    _, blocks = digest_blocks(digest)
    assert "Hiring" in json.dumps([b.to_dict() for b in blocks])

    command(sandbox, ADMIN, "pulse now")
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1)
    pulse = click_answer(sandbox, ALICE)
    offered = [
        b["label"]["text"] for b in pulse.view["blocks"] if b["block_id"].startswith("share_")
    ]
    assert offered == ["Enterprise expansion", "Billing revamp", "Something else"]


def test_priorities_are_renamed_reweighted_reordered_and_added_in_one_save(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    group_id = _seed_history(bot.engine)
    ids = {name: _priority(bot.engine, name).id for name in ("Enterprise expansion", "Hiring")}
    modal = open_modal(sandbox, ADMIN, "priorities")
    response = sandbox.user(ADMIN).submit(
        modal.id,
        {
            f"priority_name_{ids['Hiring']}": "Hiring senior engineers",
            f"priority_weight_{ids['Enterprise expansion']}": "3",
            f"priority_order_{ids['Hiring']}": "1",
            f"priority_order_{ids['Enterprise expansion']}": "3",
            "priority_new_name": "Pricing",
            "priority_new_scope": "group",
        },
    )
    assert response.json is not None
    shown = json.dumps(response.json["view"], ensure_ascii=False)
    assert "renamed 'Hiring' to 'Hiring senior engineers'" in shown
    assert "weight of 'Enterprise expansion' equal → 3" in shown
    assert "added 'Pricing' for #exec-team" in shown
    with session_scope(bot.engine) as session:
        active = session.exec(
            select(Priority).where(col(Priority.active).is_(True)).order_by(col(Priority.position))
        ).all()
    assert [(p.name, p.weight, p.group_id) for p in active] == [
        ("Hiring senior engineers", None, None),
        ("Billing revamp", None, None),
        ("Enterprise expansion", 3.0, None),
        ("Pricing", None, group_id),
    ]
    [change] = changes(bot.engine)
    assert "new order" in change.summary


def test_a_duplicate_priority_name_is_shown_inline(bot: RunningBot, sandbox: SlackSandbox) -> None:
    _seed_history(bot.engine)
    modal = open_modal(sandbox, ADMIN, "priorities")
    before = snapshot(bot.engine)
    response = sandbox.user(ADMIN).submit(modal.id, {"priority_new_name": "hiring"})
    assert response.json == {
        "response_action": "errors",
        "errors": {"priority_new_name": "A priority with this name exists already."},
    }
    assert snapshot(bot.engine) == before


# --- questions ------------------------------------------------------------------------------


def test_editing_a_question_adds_a_version_and_the_trend_marks_the_change(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    group_id = _seed_history(bot.engine)
    modal = open_modal(sandbox, ADMIN, "questions")
    labels = [b["label"]["text"] for b in modal.view["blocks"] if b["type"] == "input"]
    assert "stability (statement, rated 1–5)" in labels
    new_wording = "This week, our priorities stayed put long enough to finish things."
    response = sandbox.user(ADMIN).submit(
        modal.id,
        {
            "question_stability": new_wording,
            "question_new_key": "customer_focus",
            "question_new_text": "This week, our decisions started from what customers need.",
        },
    )
    assert response.json is not None
    assert "new wording for 'stability' (version 2)" in json.dumps(response.json["view"])
    with session_scope(bot.engine) as session:
        stability = session.exec(
            select(Question).where(Question.key == "stability").order_by(col(Question.version))
        ).all()
        added = session.exec(select(Question).where(Question.key == "customer_focus")).one()
    # Version 1 is untouched: past answers keep pointing at the wording they answered.
    assert [(q.version, q.text) for q in stability] == [
        (1, "This week, our priorities held steady enough for work to build on itself."),
        (2, new_wording),
    ]
    assert (added.kind, added.version) == ("likert", 1)

    # The next run asks the new versions, and its report says where the wording changed.
    with session_scope(bot.engine) as session:
        org = seed_org(session, priorities=())
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        seed_run(session, org, group, date(2026, 11, 30), [Seeded(uniform(3))] * 6)
        history = group_history(session=session, group_id=group_id, limit=2)
    assert history[-1].wording_changed == ("stability",)


def test_a_question_edit_with_empty_wording_is_refused_inline(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    modal = open_modal(sandbox, ADMIN, "questions")
    before = snapshot(bot.engine)
    response = sandbox.user(ADMIN).submit(
        modal.id, {"question_new_key": "Bad Key!", "question_new_text": "Something."}
    )
    assert response.json is not None
    assert response.json["response_action"] == "errors"
    assert "lowercase" in response.json["errors"]["question_new_key"]
    assert snapshot(bot.engine) == before


# --- digest now and export ------------------------------------------------------------------


def test_digest_now_posts_the_latest_digest_in_the_digest_channel(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    _seed_history(bot.engine)
    answer = reply(command(sandbox, ADMIN, "digest now"))
    assert "Posting the digest of #exec-team" in answer
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 1)
    [message] = sandbox.messages(EXEC)
    assert "exec-team" in message.text


def test_digest_now_without_a_closed_pulse_says_there_is_none(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    before = snapshot(bot.engine)
    assert "no digest to post" in reply(command(sandbox, ADMIN, "digest now"))
    assert snapshot(bot.engine) == before


def test_export_arrives_in_the_admins_dm_without_suppressed_runs_or_user_ids(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, timezone=BERLIN)
        seed_run(session, org, group, date(2026, 11, 16), [Seeded(uniform(4), "Hiring")] * 6)
        # Two answers under a threshold of 5: this run must not appear at all.
        seed_run(session, org, group, date(2026, 11, 23), [Seeded(uniform(2), "Hiring")] * 2)
    answer = reply(command(sandbox, ADMIN, "export"))
    assert "direct messages" in answer
    sandbox.wait_for(lambda s: len(s.files) == 1)
    [upload] = sandbox.files
    assert upload.channel == sandbox.dm_channel(ADMIN)
    assert upload.name == "coherence-export-2026-12-02.csv"
    content = upload.content.decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [row["run_date"] for row in rows] == ["2026-11-16"]
    assert rows[0]["n_responded"] == "6"
    # seed_run's respondents are U00000…; no user id (nor any U0 id) leaves in the file.
    assert "U0" not in content
    assert not any("user" in column for column in rows[0])


def test_runs_are_untouched_by_configuration_changes(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    """A closed run keeps the threshold and questions it was asked with."""
    bot.clock.now = WEDNESDAY
    _seed_history(bot.engine)
    with session_scope(bot.engine) as session:
        before = [r.model_dump() for r in session.exec(select(PulseRun)).all()]
    modal = open_modal(sandbox, ADMIN, "setup")
    sandbox.user(ADMIN).submit(modal.id, {"anonymity_threshold": "6"})
    with session_scope(bot.engine) as session:
        after = [r.model_dump() for r in session.exec(select(PulseRun)).all()]
    assert after == before


def test_setup_in_a_channel_the_bot_is_not_in_says_how_to_fix_it(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    sandbox.workspace.channels["C0DIRS"].bot_is_member = False
    modal = open_modal(sandbox, ADMIN, "setup", channel="C0DIRS")
    response = sandbox.user(ADMIN).submit(modal.id, {"layer": "Directors"})
    assert response.json is not None
    shown = json.dumps(response.json["view"], ensure_ascii=False)
    assert "Coherence is not in <#C0DIRS> yet" in shown
    assert "/invite @Coherence" in shown


def test_setup_in_a_channel_the_bot_is_in_gives_no_warning(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    modal = open_modal(sandbox, ADMIN, "setup")
    response = sandbox.user(ADMIN).submit(modal.id, {"layer": "Executive"})
    assert response.json is not None
    assert "is not in" not in json.dumps(response.json["view"])


def test_a_rate_limited_admin_check_answers_in_time_and_changes_nothing(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    before = snapshot(bot.engine)
    sandbox.faults.inject("users.info", "ratelimited", times=1, retry_after=30)
    response = command(sandbox, ADMIN, "pause")
    assert response.elapsed < 3.0  # not waiting out a 30-second Retry-After before the ack
    assert "couldn't check your admin rights" in reply(response)
    assert snapshot(bot.engine) == before


def test_members_local_time_for_a_channel_group_is_refused_and_changes_nothing(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = WEDNESDAY
    make_group(bot.engine, timezone=BERLIN)
    before = snapshot(bot.engine)
    answer = reply(command(sandbox, ADMIN, "cadence weekly mon 09:00 local"))
    assert "needs the pulse by direct message" in answer
    assert "/coherence cadence" in answer  # the usage
    assert snapshot(bot.engine) == before
