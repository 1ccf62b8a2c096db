"""Messages in the group's language (issue 15, part 4): a German group gets German pulses,
reminders and digests through the sandbox; every converted view renders in English and German
within Block Kit's limits, and no German view shows a catalogue message left in English; a
German group's command errors, change confirmations and the Home's cadence are German."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from slack_sdk.models.views import View
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.i18n import CATALOGUES, DOMAIN, _, speaking, translator
from bot.messenger import SlackMessenger
from bot.views.admin.priorities import priorities_modal
from bot.views.admin.questions import questions_modal
from bot.views.admin.replies import (
    ADMIN_CHECK_FAILED,
    ADMINS_ONLY,
    change_text,
    next_send_text,
    notice_view,
)
from bot.views.admin.setup import setup_modal
from bot.views.away import (
    KEPT_OPEN,
    NO_LONGER_EXISTS,
    away_text,
    back_text,
    close_confirmation,
    no_open_pulse,
)
from bot.views.commitments import (
    check_failed_text,
    commitment_block,
    commitment_modal,
    follow_up_blocks,
    home_blocks,
    not_allowed_text,
    recorded_text,
)
from bot.views.digest import (
    MAX_BLOCKS,
    blocks_as_dicts,
    digest_blocks,
    org_digest_blocks,
    status_blocks,
    trend_blocks,
)
from bot.views.home import MAX_HOME_BLOCKS, home_view
from bot.views.pressure import org_pressure_blocks, pressure_blocks
from bot.views.pulse import (
    ANSWER_LOCKED,
    NOT_FOUND,
    NOT_INVITED,
    answered_message,
    closed_message,
    closed_modal,
    pulse_message,
    pulse_modal,
    refusal_modal,
    reminder_text,
)
from pulses.answers import PulseForm
from pulses.audit import Change
from pulses.commands import help_text
from pulses.commitments import CommitmentView
from pulses.dimensions import DIMENSIONS
from pulses.organisation import OrgDigest, org_digest
from pulses.overview import DeliveryProblem, OpenPulse
from pulses.ports import PulseNotice
from pulses.reports import GroupDigest, group_digest, group_status
from pulses.settings import default_settings
from sandbox import SlackSandbox
from sandbox.blockkit import validate_message_blocks, validate_message_text, validate_view
from storage.db import session_scope
from storage.models import ConfigChange, LeadershipGroup, Priority, PulseRun, Question
from tests.bot.pulse_helpers import (
    EXEC,
    EXEC_LEADERS,
    answers,
    at,
    click_answer,
    make_group,
    messenger_for,
    run_tick,
)
from tests.bot.test_admin import ADMIN, changes, open_modal, snapshot
from tests.bot.test_digest_views import _huge_digest, _many_groups
from tests.bot.test_home import _overview, open_home
from tests.bot.test_pulses import _answer
from tests.conftest import RunningBot

BERLIN = "Europe/Berlin"
MONDAY = at("2026-11-30 09:00", BERLIN)
ROOT = Path(__file__).resolve().parents[2]


def _german_catalogue() -> dict[str, str]:
    """msgid → msgstr of every German message (plural forms by their singular)."""
    with (CATALOGUES / "de" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        catalog = read_po(source, locale="de")
    out = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        value = message.string[0] if isinstance(message.string, tuple) else message.string
        out[key] = value
    return out


def _english_fragments() -> list[str]:
    """The distinctive English words of the catalogue: each message's text between its
    placeholders, where it differs from the German and is long enough to be telling."""
    fragments = set()
    for english, german in _german_catalogue().items():
        for part in re.split(r"\{[a-z_]*\}", english):
            part = part.strip(" *_·:()—–,.")
            if len(part) >= 12 and part not in german:
                fragments.add(part)
    return sorted(fragments)


def _untranslated(rendered: str) -> list[str]:
    return [fragment for fragment in _english_fragments() if fragment in rendered]


# --- the catalogue -----------------------------------------------------------------------------


def test_every_marked_message_has_a_german_translation_with_the_same_placeholders() -> None:
    catalogue = _german_catalogue()
    extracted = {
        (message[2][0] if isinstance(message[2], tuple) else message[2])
        for source in ("bot", "pulses")
        for message in extract_from_dir(str(ROOT / source))
    }
    assert extracted, "pybabel finds the marked messages"
    assert sorted(extracted - set(catalogue)) == []  # nothing marked is left untranslated
    assert sorted(set(catalogue) - extracted) == []  # and nothing stale is kept
    for english, german in catalogue.items():
        assert german, english
        assert set(re.findall(r"\{\w*\}", english)) == set(re.findall(r"\{\w*\}", german)), english


def test_the_registrys_dimension_names_are_in_the_catalogue() -> None:
    catalogue = _german_catalogue()
    assert all(dimension.name in catalogue for dimension in DIMENSIONS)


def test_an_unknown_locale_speaks_english_and_numbers_and_dates_follow_the_locale() -> None:
    moment = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    english, german, other = translator("en"), translator("de"), translator("fr")
    assert other.locale == "en"
    assert other.gettext("Answer") == "Answer"
    assert german.gettext("Answer") == "Antworten"
    assert english.moment(moment, BERLIN) == "Wed 2 Dec, 09:00 CET"
    assert german.moment(moment, BERLIN) == "Mi., 2. Dez., 09:00 MEZ"
    assert german.moment(moment, "Asia/Tokyo") == "Mi., 2. Dez., 17:00 JST"
    assert (english.number(3.456, 1), german.number(3.456, 1)) == ("3.5", "3,5")
    assert (english.percent(0.857), german.percent(0.857)) == ("86%", "86\xa0%")
    assert german.ngettext("{n} group", "{n} groups", 1) == "{n} Gruppe"
    assert german.ngettext("{n} group", "{n} groups", 3) == "{n} Gruppen"


# --- through the sandbox ----------------------------------------------------------------------


def test_a_german_group_gets_german_pulse_dms_and_reminders(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(
        bot.engine,
        timezone=BERLIN,
        delivery_mode="dm",
        language="de",
        created_at=MONDAY - timedelta(days=3),
    )
    messenger = messenger_for(bot.services.settings)
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger, MONDAY)
    dm = sandbox.messages(sandbox.dm_channel("U0ALICE"))
    assert (
        dm[0].text
        == "Zeit für den Coherence-Pulse dieser Woche für exec-team (unter einer Minute)."
    )
    blocks = json.dumps(dm[0].blocks, ensure_ascii=False)
    assert "Schließt Mi., 2. Dez., 09:00 MEZ" in blocks
    assert "Antworten" in blocks
    assert _untranslated(blocks) == []
    # Chie reads in Tokyo: her own zone, in German.
    tokyo = json.dumps(sandbox.messages(sandbox.dm_channel("U0CHIE"))[0].blocks, ensure_ascii=False)
    assert "Schließt Mi., 2. Dez., 17:00 JST" in tokyo
    # The reminder, a day later, to everyone who has not answered.
    run_tick(bot.engine, messenger, MONDAY + timedelta(days=1, hours=1))
    reminder = sandbox.messages(sandbox.dm_channel("U0ALICE"))[-1].text
    assert reminder.startswith("Erinnerung: Der Coherence-Pulse dieser Woche für exec-team ")
    assert "schließt Mi., 2. Dez., 09:00 MEZ. Er dauert unter einer Minute." in reminder


def _german_channel_pulse_sent(bot: RunningBot) -> SlackMessenger:
    """A German group in Berlin whose Monday channel pulse is out; the messenger that sent it."""
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    messenger = messenger_for(bot.services.settings)
    bot.clock.now = MONDAY
    run_tick(bot.engine, messenger, MONDAY)
    return messenger


def test_a_german_group_answers_and_reads_its_digest_in_german(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    messenger = _german_channel_pulse_sent(bot)
    channel = json.dumps(sandbox.messages(EXEC)[0].blocks, ensure_ascii=False)
    assert "0 von 7 haben geantwortet · schließt Mi., 2. Dez., 09:00 MEZ" in channel
    for user in EXEC_LEADERS[:6]:
        _answer(sandbox, user, 4)
    sandbox.wait_for(lambda s: "6 von 7 haben geantwortet" in str(s.messages(EXEC)[0].blocks))
    bot.clock.now = MONDAY + timedelta(days=2)
    run_tick(bot.engine, messenger, bot.clock.now)
    sandbox.user(ADMIN).run_command("/coherence", "digest now", channel=EXEC)
    sandbox.wait_for(lambda s: len(s.messages(EXEC)) == 2)
    digest = sandbox.messages(EXEC)[1]
    shown = json.dumps(digest.blocks, ensure_ascii=False)
    assert digest.text.startswith("Coherence-Digest · #exec-team · Mo., 30. Nov. 2026: ")
    assert "Rücklauf: 6 von 7 Führungskräften (86\xa0%)" in shown
    assert "Kohärenzindex" in shown
    assert "Zusage" in shown  # the Commit button under it
    assert _untranslated(shown) == []
    # The channel message closed, in German too.
    assert "Geschlossen · 6 von 7 haben geantwortet" in str(sandbox.messages(EXEC)[0].blocks)


def test_the_setup_modal_sets_the_language_and_refuses_one_it_does_not_offer(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN)
    modal = open_modal(sandbox, ADMIN, "setup")
    offered = next(b for b in modal.view["blocks"] if b.get("block_id") == "language")
    assert [o["value"] for o in offered["element"]["options"]] == ["en", "de"]
    before = snapshot(bot.engine)
    # A forged option: Slack's client offers only the two.
    forged = {"value": "fr", "text": {"type": "plain_text", "text": "Français"}}
    refused = sandbox.user(ADMIN).submit(modal.id, {"language": forged})
    assert refused.json is not None
    assert refused.json["errors"] == {"language": "Choose one of the languages offered."}
    assert snapshot(bot.engine) == before
    response = sandbox.user(ADMIN).submit(modal.id, {"language": "de"})
    assert response.json is not None
    assert response.json["response_action"] == "update"
    with session_scope(bot.engine) as session:
        [group] = session.exec(select(LeadershipGroup)).all()
        assert group.language == "de"
    assert [c.summary for c in changes(bot.engine)] == ["#exec-team: language en → de"]


# --- every converted view, in both languages --------------------------------------------------


def _check_message(text: str, blocks: list[dict[str, Any]]) -> None:
    assert validate_message_blocks(blocks) == []
    assert validate_message_text(text) == []
    assert len(blocks) <= MAX_BLOCKS


def _speaking_groups(engine: Engine, language: str) -> None:
    """Every group speaks ``language``: the engine writes its flags in it, the views theirs."""
    with session_scope(engine) as session:
        for group in session.exec(select(LeadershipGroup)):
            group.language = language
            session.add(group)


def _in(language: str, engine: Engine, digest: GroupDigest) -> GroupDigest:
    _speaking_groups(engine, language)
    with session_scope(engine) as session:
        return group_digest(
            session=session, group_id=digest.group.group_id, now=digest.generated_at
        )


def _org_in(language: str, engine: Engine, digest: OrgDigest) -> OrgDigest:
    _speaking_groups(engine, language)
    with session_scope(engine) as session:
        return org_digest(session=session, workspace_id=digest.workspace_id)


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_view_stays_within_block_kit_in_both_languages(engine: Engine, language: str) -> None:
    rendered: list[str] = []
    digest = _in(language, engine, _huge_digest(engine))
    text, blocks = digest_blocks(digest)
    _check_message(text, blocks_as_dicts(blocks))
    rendered.append(text + json.dumps(blocks_as_dicts(blocks), ensure_ascii=False))
    with speaking(language):
        follow = blocks_as_dicts(follow_up_blocks(digest))
    rendered.append(json.dumps(follow, ensure_ascii=False))
    with session_scope(engine) as session:
        status = group_status(
            session=session, group_id=digest.group.group_id, now=digest.generated_at
        )
    text, blocks = status_blocks(status)
    _check_message(text, blocks_as_dicts(blocks))
    rendered.append(text + json.dumps(blocks_as_dicts(blocks), ensure_ascii=False))
    with speaking(language):
        text, blocks = trend_blocks(digest.history, 12)
    _check_message(text, blocks_as_dicts(blocks))
    rendered.append(text + json.dumps(blocks_as_dicts(blocks), ensure_ascii=False))
    org = _org_in(language, engine, _many_groups(engine))
    text, blocks = org_digest_blocks(org)
    _check_message(text, blocks_as_dicts(blocks))
    rendered.append(text + json.dumps(blocks_as_dicts(blocks), ensure_ascii=False))
    with speaking(language):
        pressure = blocks_as_dicts(pressure_blocks(digest.history) + org_pressure_blocks(org))
    _check_message("pressure", pressure)
    rendered.append(json.dumps(pressure, ensure_ascii=False))
    rendered += _pulse_views(engine, language)
    rendered += _member_and_admin_views(language, digest)
    everything = "\n".join(rendered)
    if language == "de":
        assert _untranslated(everything) == []
        assert "Kohärenzindex" in everything
        assert "korrigiert für" in everything  # the engine's evidence, in German too
    else:
        assert "Kohärenz" not in everything


def _pulse_views(engine: Engine, language: str) -> list[str]:
    notice = PulseNotice(
        run_id=1,
        group_name="exec-team",
        channel_id=EXEC,
        closes_at=datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        timezone=BERLIN,
        answered=5,
        invited=8,
        away=1,
        language=language,
    )
    out = []
    for text, blocks in (
        pulse_message(notice),
        pulse_message(notice, in_dm=True),
        pulse_message(PulseNotice(**{**notice.__dict__, "closed": True})),
        answered_message(notice),
    ):
        dicts = blocks_as_dicts(blocks)
        _check_message(text, dicts)
        out.append(text + json.dumps(dicts, ensure_ascii=False))
    out.append(reminder_text(notice))
    with speaking(language):
        out.append(closed_message(notice.closes_at, "Asia/Tokyo"))
    for modal in (
        closed_modal(notice.closes_at, "Asia/Tokyo", language),
        *(refusal_modal(r, language) for r in (NOT_FOUND, NOT_INVITED, ANSWER_LOCKED)),
    ):
        out.append(_checked_view(modal))
    modal = pulse_modal(_form(), group_name="exec-team", language=language).to_dict()
    assert validate_view(modal) == []
    out.append(json.dumps(modal, ensure_ascii=False))
    return out


def _form() -> PulseForm:
    likert = [
        Question(id=i + 1, workspace_id=1, key=d.key, kind="likert", text=d.statement, version=1)
        for i, d in enumerate(DIMENSIONS)
    ]
    focus = Question(id=10, workspace_id=1, key="focus", kind="attention", text="Focus?", version=1)
    priorities = [Priority(id=i + 1, workspace_id=1, name=f"P{i}", position=i) for i in range(3)]
    run = PulseRun(
        id=1, group_id=1, occurrence_day=MONDAY.date(), scheduled_at=MONDAY, closes_at=MONDAY
    )
    return PulseForm(run=run, likert=likert, focus=focus, friction=None, priorities=priorities)


def test_a_german_group_answers_in_a_german_modal_and_is_refused_in_german(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    _german_channel_pulse_sent(bot)
    modal = click_answer(sandbox, "U0ALICE")
    shown = json.dumps(modal.view, ensure_ascii=False)
    assert modal.view["title"]["text"] == "Coherence-Pulse"
    assert "Stimme voll zu" in shown
    assert _untranslated(shown) == []
    # Shares that do not add up: the problem in German, nothing stored.
    values: dict[str, object] = {b["block_id"]: "4" for b in modal.view["blocks"]}
    values = {key: value for key, value in values.items() if key.isdigit()}
    refused = sandbox.user("U0ALICE").submit(modal.id, {**values, "share_other": "50"})
    assert refused.json is not None
    assert refused.json["errors"] == {
        "share_other": "Ihre Anteile ergeben zusammen 50 %: Es müssen 100 % sein."
    }
    assert answers(bot.engine) == []
    # After the close, the modal says so in German, in the reader's zone.
    bot.clock.now = MONDAY + timedelta(days=3)
    closed = click_answer(sandbox, "U0CHIE")
    assert closed.view["title"]["text"] == "Pulse geschlossen"
    text = closed.view["blocks"][0]["text"]["text"]
    assert text.startswith("Dieser Pulse wurde am Mi., 2. Dez., 17:00 JST geschlossen")


def _reply(sandbox: SlackSandbox, user: str, text: str, channel: str) -> str:
    sandbox.user(user).run_command("/coherence", text, channel=channel)
    reply = sandbox.ephemerals[-1]
    assert reply.user == user
    return reply.text


def test_a_members_own_replies_and_the_home_speak_the_groups_language(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    bot.clock.now = MONDAY
    away = _reply(sandbox, "U0BEN", "away 2026-12-07..2026-12-11", EXEC)
    assert away.startswith(":palm_tree: Sie sind abwesend: Mo., 7. Dez. 2026 bis Fr., 11. Dez.")
    assert _reply(sandbox, "U0BEN", "back", EXEC).startswith(":wave: Willkommen zurück")
    help_in_channel = _reply(sandbox, "U0ALICE", "help", EXEC)
    assert help_in_channel.startswith("*Coherence* – das kann `/coherence`:")
    assert _untranslated(help_in_channel) == []
    # A direct message belongs to no group: English.
    help_in_dm = _reply(sandbox, "U0ALICE", "help", sandbox.dm_channel("U0ALICE"))
    assert help_in_dm.startswith("*Coherence* — here is what `/coherence` can do:")
    # The Home of a workspace whose groups all speak German.
    member = open_home(sandbox, "U0ALICE")
    assert "Ihre offenen Pulses" in member
    assert "Nichts wartet auf Sie" in member
    admin = open_home(sandbox, ADMIN)
    assert "Führungsgruppen" in admin
    assert "Letzter Pulse: noch keiner geschlossen." in admin
    assert _untranslated(member + admin) == []


# Every delivery problem the App Home explains (bot.views.home.problem_text).
PROBLEM_REASONS = (
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "missing_scope",
    "invalid_auth",
    "not_authed",
    "team_access_not_granted",
    "missed",
    "user_disabled",
    "account_inactive",
    "user_not_found",
    "cannot_dm_bot",
    "user_not_in_channel",
    "the bot was offline",
    "the pulse closed before it was sent",
)
# Layout helpers that wrap text a view has already written: no words of their own.
LAYOUT_HELPERS = {"bot.views.text.section", "bot.views.text.line_sections"}
# Every function of bot/views that returns blocks or a view, and where the test above renders it.
RENDERED_VIEWS = {
    "bot.views.away.close_confirmation",
    "bot.views.commitments.commitment_block",
    "bot.views.commitments.commitment_modal",
    "bot.views.commitments.follow_up_blocks",
    "bot.views.commitments.home_blocks",
    "bot.views.digest.digest_blocks",
    "bot.views.digest.org_digest_blocks",
    "bot.views.digest.status_blocks",
    "bot.views.digest.trend_blocks",
    "bot.views.home.home_view",
    "bot.views.pressure.org_pressure_blocks",
    "bot.views.pressure.pressure_blocks",
    "bot.views.pulse.answered_message",
    "bot.views.pulse.closed_modal",
    "bot.views.pulse.notice_modal",  # through refusal_modal, closed_modal and notice_view
    "bot.views.pulse.pulse_message",
    "bot.views.pulse.pulse_modal",
    "bot.views.pulse.refusal_modal",
    "bot.views.admin.priorities.priorities_modal",
    "bot.views.admin.questions.questions_modal",
    "bot.views.admin.replies.notice_view",
    "bot.views.admin.setup.setup_modal",
}


def test_the_every_view_test_renders_every_view_of_bot_views() -> None:
    """A view added to bot/views without being rendered above in both languages fails here."""
    import importlib
    import inspect
    import pkgutil

    import bot.views
    import bot.views.admin

    found = set()
    for package in (bot.views, bot.views.admin):
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            for name, function in inspect.getmembers(module, inspect.isfunction):
                returns = str(inspect.signature(function).return_annotation)
                if (
                    function.__module__ == module.__name__
                    and not name.startswith("_")
                    and ("View" in returns or "Block" in returns)
                    and not module.__name__.startswith("bot.views.fields")
                ):
                    found.add(f"{module.__name__}.{name}")
    assert found - LAYOUT_HELPERS == RENDERED_VIEWS


def _checked_view(view: View) -> str:
    as_dict = view.to_dict()
    assert validate_view(as_dict) == []
    return json.dumps(as_dict, ensure_ascii=False)


def _member_and_admin_views(language: str, digest: GroupDigest) -> list[str]:
    """The App Home (a member's and a crowded admin's), the replies to away, back, close and
    help, the admin modals and replies, the commitment modal and list."""
    out = []
    pulses = [
        OpenPulse(run_id=i, group_name=f"team-{i}", closes_at=MONDAY, timezone=BERLIN)
        for i in range(12)
    ]
    problems = tuple(
        DeliveryProblem(reason, count=count, day=MONDAY.date())
        for reason in (*PROBLEM_REASONS, "gave up after 5 tries: ratelimited", "fatal_error")
        for count in (1, 3)
    )
    overview = [replace(_overview(i), problems=problems) for i in range(3)] + [
        replace(_overview(i), paused=i % 2 == 0) for i in range(3, 40)
    ]
    latest = digest.history[-1]
    overview[1] = replace(overview[1], latest=latest, next_send=None)
    commitments = [
        CommitmentView(
            commitment_id=i,
            group_id=1,
            group_name="exec-team",
            run_id=1,
            run_day=MONDAY.date(),
            text="Hire a CFO " * 20,
            owner_id="U0ALICE",
        )
        for i in range(20)
    ]
    changes = [
        ConfigChange(workspace_id=1, user_id="U0ADMIN", summary="cadence", created_at=MONDAY)
    ]
    for view in (
        home_view(BERLIN, [], None, language=language),
        home_view(BERLIN, pulses, overview, changes, commitments, language=language),
        home_view(BERLIN, [], [], language=language),
    ):
        assert len(view.blocks) <= MAX_HOME_BLOCKS
        out.append(_checked_view(view))
    group = LeadershipGroup(
        id=1, workspace_id=1, channel_id=EXEC, channel_name="exec-team", language=language
    )
    settings = replace(default_settings(timezone=BERLIN), language=language)
    priorities = [
        Priority(id=i + 1, workspace_id=1, group_id=1 if i else None, name=f"P{i}", position=i)
        for i in range(3)
    ]
    out += [
        _checked_view(setup_modal(settings, channel_id=EXEC, channel_name="", existing=False)),
        _checked_view(
            setup_modal(settings, channel_id=EXEC, channel_name="exec-team", existing=True)
        ),
        _checked_view(priorities_modal(priorities, group=group, channel_id=EXEC)),
        _checked_view(priorities_modal([], group=group, channel_id=EXEC)),
        _checked_view(questions_modal(_form().likert, {"alignment": 2}, language)),
        _checked_view(
            commitment_modal(
                run_id=1,
                user_id="U0ALICE",
                channel=EXEC,
                ts="1.2",
                group_name="exec-team",
                language=language,
            )
        ),
    ]
    with speaking(language):
        text, blocks = close_confirmation(1, "exec-team", 5, 8, MONDAY, BERLIN)
        _check_message(text, blocks_as_dicts(blocks))
        listed = blocks_as_dicts(
            [*home_blocks(commitments), *home_blocks([]), commitment_block(commitments[0])]
        )
        _check_message("commitments", listed)
        change = Change(group_id=1, lines=("language en → de",), changed=True)
        out += [
            text + json.dumps(blocks_as_dicts(blocks), ensure_ascii=False),
            json.dumps(listed, ensure_ascii=False),
            _checked_view(notice_view(_("Coherence setup"), change_text(change))),
            away_text(MONDAY.date(), MONDAY.date() + timedelta(days=4)),
            back_text(0) + back_text(1) + no_open_pulse("exec-team"),
            _(KEPT_OPEN) + _(NO_LONGER_EXISTS) + _(ADMINS_ONLY) + _(ADMIN_CHECK_FAILED),
            next_send_text(MONDAY, timezone=BERLIN, paused=False, per_member=True),
            not_allowed_text("exec-team") + check_failed_text("exec-team"),
            recorded_text(commitments[0], "U0ALICE"),
            help_text(),
        ]
    return out


def test_the_trend_chart_is_drawn_in_the_groups_language(engine: Engine) -> None:
    from bot.views import chart

    history = _huge_digest(engine).history
    english = chart.trend_chart_png(history)
    german = chart.trend_chart_png(history, language="de")
    assert german != english
    # Each language keeps its own template: English is drawn as before.
    assert chart.trend_chart_png(history) == english
    template = chart._templates.by_runs[(len(history), "de")]
    assert template.axes.get_title(loc="left").startswith("Kohärenzindex und seine zwei Faktoren")
    legend = [text.get_text() for text in template.axes.get_legend().get_texts()]
    assert legend == [
        "Niveau (× 100)",
        "Einigkeit (× 100)",
        "Druck (Kontext, 1–5 als 0–100)",
        "Kohärenzindex",
    ]


def test_a_non_admin_is_refused_in_the_groups_language(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    before = snapshot(bot.engine)
    refusal = _reply(sandbox, "U0ALICE", "pause", EXEC)
    assert refusal.startswith(":lock: Nur Workspace-Admins")
    assert snapshot(bot.engine) == before


# --- commands, changes and the Home's cadence (the domain's own words) ------------------------


def test_a_german_groups_command_errors_speak_german_and_a_dm_english(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    bot.clock.now = MONDAY
    before = snapshot(bot.engine)
    unknown = _reply(sandbox, "U0ALICE", "trnd", EXEC)
    assert unknown.startswith(":warning: unbekannter Unterbefehl 'trnd' (meinten Sie „trend“?)\n")
    assert "\nVerwendung: *Coherence* – das kann `/coherence`:" in unknown
    past = _reply(sandbox, ADMIN, "skip 2026-11-01", EXEC)
    assert past == (
        ":warning: 2026-11-01 liegt in der Vergangenheit\nVerwendung: /coherence skip YYYY-MM-DD"
    )
    zone = _reply(sandbox, ADMIN, "cadence weekly mon 09:00 Europe/Berln", EXEC)
    assert zone.startswith(
        ":warning: 'Europe/Berln' ist keine bekannte Zeitzone (meinten Sie Europe/Berlin?)"
    )
    assert _untranslated(unknown + past + zone) == []
    assert snapshot(bot.engine) == before
    # The same mistake in a direct message: English, as before.
    in_dm = _reply(sandbox, ADMIN, "skip 2026-11-01", sandbox.dm_channel(ADMIN))
    assert in_dm == ":warning: 2026-11-01 is in the past\nUsage: /coherence skip YYYY-MM-DD"


def test_a_german_groups_changes_are_confirmed_in_german_and_audited_in_english(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    bot.clock.now = MONDAY
    cadence = _reply(sandbox, ADMIN, "cadence weekly mon,thu 09:30", EXEC)
    assert cadence.startswith(
        ":white_check_mark: Erledigt – #exec-team: Rhythmus wöchentlich am Mo. um 09:00 "
        "(Europe/Berlin) → wöchentlich am Mo., Do. um 09:30 (Europe/Berlin).\nNächster Pulse: "
    )
    again = _reply(sandbox, ADMIN, "cadence weekly mon,thu 09:30", EXEC)
    assert again.startswith("Nichts zu ändern – der Rhythmus ist schon wöchentlich am Mo., Do.")
    refused = _reply(sandbox, ADMIN, "cadence monthly mon,thu 09:30", EXEC)
    assert refused == (
        ":warning: 'mon,thu': monthly nimmt einen Tag, z. B. first-mon oder last-fri\n"
        "Verwendung: /coherence cadence weekly|biweekly|monthly DAYS HH:MM [TIME_ZONE|local]"
    )
    # A cadence the settings check refuses: its problem and the usage's note in German.
    local = _reply(sandbox, ADMIN, "cadence weekly mon 09:00 local", EXEC)
    assert local.startswith(":warning: Die Ortszeit der Mitglieder braucht den Pulse per ")
    assert local.endswith("(Antwortfenster und Erinnerung stehen in `/coherence setup`)")
    assert _reply(sandbox, ADMIN, "pause", EXEC).startswith(
        ":white_check_mark: Erledigt – #exec-team pausiert."
    )
    # The setup modal's confirmation, in the language the group keeps.
    modal = open_modal(sandbox, ADMIN, "setup")
    response = sandbox.user(ADMIN).submit(modal.id, {"anonymity_threshold": "7"})
    assert response.json is not None
    saved = response.json["view"]
    assert saved["title"]["text"] == "Gespeichert"
    shown = json.dumps(saved["blocks"], ensure_ascii=False)
    assert "Erledigt – #exec-team: Anonymitätsschwelle 5 → 7." in shown
    assert _untranslated(cadence + again + refused + local + shown) == []
    # The audit log is one record for every group's admins: English.
    assert [c.summary for c in changes(bot.engine)] == [
        "#exec-team: cadence weekly on Mon at 09:00 (Europe/Berlin) → "
        "weekly on Mon, Thu at 09:30 (Europe/Berlin)",
        "paused #exec-team",
        "#exec-team: anonymity threshold 5 → 7",
    ]


def test_the_homes_cadence_line_speaks_the_groups_shared_language(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    bot.clock.now = MONDAY
    home = open_home(sandbox, ADMIN)
    assert "Rhythmus: wöchentlich am Mo. um 09:00 (Europe/Berlin)" in home
    # A second group speaking English: the Home, and its cadence lines, are English.
    make_group(bot.engine, channel="C0OTHER", name="other-team", timezone=BERLIN)
    home = open_home(sandbox, ADMIN)
    assert "Cadence: weekly on Mon at 09:00 (Europe/Berlin)" in home
    assert "Rhythmus" not in home


def test_a_german_groups_pulse_and_digest_now_replies_speak_german(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    make_group(bot.engine, timezone=BERLIN, language="de", created_at=MONDAY - timedelta(3))
    bot.clock.now = MONDAY
    before = snapshot(bot.engine)
    nothing = _reply(sandbox, ADMIN, "digest now", EXEC)
    assert nothing == (
        "Noch kein Pulse von #exec-team ist geschlossen, daher gibt es keinen Digest zu posten."
    )
    assert snapshot(bot.engine) == before
    sending = _reply(sandbox, ADMIN, "pulse now", EXEC)
    assert sending == ":white_check_mark: Der Pulse geht jetzt an #exec-team."
    again = _reply(sandbox, ADMIN, "pulse now", EXEC)
    assert again.startswith("Der heutige Pulse für #exec-team besteht bereits (einer pro Tag)")
    assert _untranslated(nothing + sending + again) == []
