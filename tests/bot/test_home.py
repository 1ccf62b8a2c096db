"""The App Home, published on `app_home_opened` through the sandbox, and its pure builder."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bot.views.home import MAX_HOME_BLOCKS, home_view, problem_text
from pulses.overview import DeliveryProblem, GroupOverview, OpenPulse
from sandbox import SlackSandbox
from sandbox.blockkit import validate_view
from storage.db import session_scope
from storage.models import ConfigChange, Invitation, LeadershipGroup
from tests.bot.pulse_helpers import (
    EXEC,
    at,
    click_answer,
    make_group,
    messenger_for,
    run_tick,
)
from tests.conftest import RunningBot
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
BERLIN = "Europe/Berlin"
MONDAY_NINE = at("2026-11-30 09:00", BERLIN)


def open_home(sandbox: SlackSandbox, user: str) -> str:
    """Open the Home tab as ``user`` and return what it shows, as JSON text."""
    previous = json.dumps(sandbox.home_tabs.get(user))
    response = sandbox.user(user).open_home()
    assert response.status == 200
    sandbox.wait_for(lambda s: json.dumps(s.home_tabs.get(user)) != previous)
    return json.dumps(sandbox.home_tabs[user], ensure_ascii=False)


def test_the_home_shows_a_recorded_delivery_failure_in_plain_words(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    sandbox.workspace.channels["C0DIRS"].bot_is_member = False
    make_group(bot.engine, channel="C0DIRS", name="directors", timezone=BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY_NINE)
    bot.clock.now = MONDAY_NINE + timedelta(hours=1)
    shown = open_home(sandbox, ADMIN)
    assert "Not in #directors — invite @Coherence to the channel" in shown
    assert "not_in_channel" not in shown


def test_a_member_sees_their_open_pulse_with_an_answer_button_and_its_closing_time(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY_NINE)
    bot.clock.now = MONDAY_NINE + timedelta(hours=1)
    shown = open_home(sandbox, ALICE)
    assert "*#exec-team* · closes Wed 2 Dec, 09:00 CET" in shown
    home = sandbox.home_tabs[ALICE]
    [button] = [b["accessory"] for b in home["blocks"] if "accessory" in b]
    assert (button["action_id"], button["text"]["text"]) == ("pulse.answer", "Answer")
    # Members see no organisation view.
    assert "Leadership groups" not in shown

    # The button opens the pulse modal (handled by the pulses listener).
    before = set(sandbox.views)
    assert sandbox.user(ALICE).click_in_home("pulse.answer").status == 200
    sandbox.wait_for(lambda s: any(v not in before and s.views[v].type == "modal" for v in s.views))
    [modal_id] = [v for v in sandbox.views if v not in before and sandbox.views[v].type == "modal"]
    assert sandbox.views[modal_id].view["callback_id"] == "pulse.submit"


def test_an_answered_or_closed_pulse_leaves_the_home(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY_NINE)
    bot.clock.now = MONDAY_NINE + timedelta(hours=1)
    modal = click_answer(sandbox, ALICE)
    values: dict[str, object] = {
        b["block_id"]: "4" for b in modal.view["blocks"] if b["block_id"].isdigit()
    }
    sandbox.user(ALICE).submit(modal.id, {**values, "share_other": "100", "focus_other": "hiring"})
    assert "Nothing waiting for you" in open_home(sandbox, ALICE)
    assert "closes Wed 2 Dec" in open_home(sandbox, "U0BEN")
    bot.clock.now = at("2026-12-02 09:00", BERLIN)
    assert "Nothing waiting for you" in open_home(sandbox, "U0BEN")


def test_admins_see_each_group_with_cadence_next_send_figures_and_recent_changes(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    bot.clock.now = at("2026-12-02 10:00", BERLIN)
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        exec_team = seed_group(session, org, timezone=BERLIN, layer="Executive")
        exec_team.created_at = datetime(2025, 1, 1, tzinfo=UTC)
        seed_run(session, org, exec_team, date(2026, 11, 23), [Seeded(uniform(4), "Hiring")] * 6)
        directors = seed_group(session, org, channel_id="C0DIRS", name="directors")
        directors.created_at = datetime(2025, 1, 1, tzinfo=UTC)
        # Two answers under the threshold of 5: no figure may be shown for this run.
        seed_run(session, org, directors, date(2026, 11, 23), [Seeded(uniform(2))] * 2)
    sandbox.user(ADMIN).run_command("/coherence", "cadence weekly thu 09:30", channel=EXEC)

    shown = open_home(sandbox, ADMIN)
    assert "*#exec-team* · Executive" in shown
    assert "Cadence: weekly on Thu at 09:30 (Europe/Berlin)" in shown
    assert "Next pulse: Thu 3 Dec, 09:30 CET (your time)" in shown
    assert "Last pulse (23 Nov): response rate 100% · coherence index" in shown
    assert "Cadence: weekly on Mon at 09:00 (UTC)" in shown
    assert "Next pulse: Mon 7 Dec, 10:00 CET (your time)" in shown  # 09:00 UTC for Berlin
    assert "Last pulse (23 Nov): Fewer than 5 leaders answered" in shown
    assert shown.count("response rate") == 1
    assert "Recent changes" in shown
    assert "<@U0ADMIN>: #exec-team: cadence weekly on Mon at 09:00" in shown


def test_the_home_of_a_member_has_no_admin_content_even_with_groups(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    with session_scope(bot.engine) as session:
        session.add(
            ConfigChange(workspace_id=1, group_id=None, user_id=ADMIN, summary="paused #exec-team")
        )
    shown = open_home(sandbox, "U0IVY")
    for admin_only in ("Leadership groups", "Recent changes", "paused #exec-team", "Cadence"):
        assert admin_only not in shown


# --- the pure builder -----------------------------------------------------------------------


def _overview(index: int) -> GroupOverview:
    return GroupOverview(
        group_id=index,
        channel_id=f"C{index:05d}",
        name=f"team-{index}",
        layer=None,
        paused=False,
        cadence="weekly on Mon at 09:00 (UTC)",
        next_send=datetime(2026, 12, 7, 9, tzinfo=UTC),
        latest=None,
        open_run=None,
        problems=(DeliveryProblem("not_in_channel"), DeliveryProblem("user_disabled", count=2)),
    )


def test_the_home_stays_within_slacks_100_blocks_with_many_groups_and_pulses() -> None:
    pulses = [
        OpenPulse(run_id=i, group_name=f"team-{i}", closes_at=MONDAY_NINE, timezone=BERLIN)
        for i in range(30)
    ]
    changes = [
        ConfigChange(
            workspace_id=1,
            user_id=ADMIN,
            summary="x" * 900,
            created_at=MONDAY_NINE,
        )
        for _ in range(10)
    ]
    view = home_view(
        timezone=BERLIN,
        pulses=pulses,
        overview=[_overview(i) for i in range(80)],
        changes=changes,
    )
    rendered = view.to_dict()
    assert len(rendered["blocks"]) <= MAX_HOME_BLOCKS
    assert validate_view(rendered) == []
    text = json.dumps(rendered, ensure_ascii=False)
    assert "…and 20 more." in text
    assert "more groups." in text


def test_delivery_problems_read_as_what_to_do() -> None:
    assert problem_text(DeliveryProblem("user_disabled", count=1), "exec-team") == (
        "1 member's account is deactivated — remove them from #exec-team."
    )
    assert problem_text(DeliveryProblem("user_disabled", count=3), "exec-team").startswith(
        "3 members' accounts are deactivated"
    )
    assert "invite @Coherence" in problem_text(DeliveryProblem("channel_not_found"), "exec-team")
    missed = problem_text(DeliveryProblem("missed", day=date(2026, 11, 30)), "exec-team")
    assert missed.startswith("The pulse (Mon 30 Nov) was not sent")
    unknown = problem_text(DeliveryProblem("fatal_error", count=2), "exec-team")
    assert unknown == "2 pulses were not delivered: Slack answered `fatal_error`."


def test_a_failed_dm_is_counted_per_member_on_the_home(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    group_id = make_group(bot.engine, timezone=BERLIN, delivery_mode="dm")
    run_tick(bot.engine, messenger_for(bot.services.settings), MONDAY_NINE)
    with session_scope(bot.engine) as session:
        invitation = session.get(Invitation, 1)
        assert invitation is not None
        invitation.status, invitation.failure_reason = "failed", "user_disabled"
        session.add(invitation)
        assert session.get(LeadershipGroup, group_id) is not None
    bot.clock.now = MONDAY_NINE + timedelta(hours=1)
    assert "1 member's account is deactivated — remove them from #exec-team." in open_home(
        sandbox, ADMIN
    )
