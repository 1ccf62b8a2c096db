"""`make run` without Slack tokens: the real bot against the sandbox, with scripted leaders.

Everything goes through the same code paths as production — the HTTP server, request
signing, the scheduler's tick, the Web API client — only Slack and the calendar are simulated.
"""

from __future__ import annotations

import logging
import random
import shutil
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from pulses.dimensions import dimension_keys
from sandbox.ratelimits import RateLimits
from sandbox.records import Message, SandboxEvent, View
from sandbox.render import plain_mrkdwn, render_event
from sandbox.server import SlackSandbox
from sandbox.workspace import Workspace

BOT_TOKEN = "xoxb-sandbox-not-a-real-token"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
EXEC = "C0EXEC"
DIRECTORS = "C0DIRS"
ADMIN_CHANNEL = "C0LEADOPS"
WEEKS = 12
# Waits return as soon as Slack has what the bot sent; the ceiling only matters on a machine
# so busy that the bot's threads barely run.
WAIT = 60.0
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def nine_on(day: datetime, zone: ZoneInfo) -> datetime:
    """09:00 in ``zone`` on ``day``'s calendar date (daylight saving time included)."""
    return datetime.combine(day.date(), time(9), tzinfo=zone)


BANNER = """\
============================================================================
  COHERENCE · LOCAL SLACK SANDBOX
  No Slack tokens were found, so this run plays twelve scripted weeks in a
  local stand-in for Slack. Nothing here reaches a real workspace.

  To connect a real workspace:
    1. api.slack.com/apps → Create New App → From a manifest → paste manifest.yml
    2. cp .env.example .env, then fill in SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET
       (and SLACK_APP_TOKEN for Socket Mode)
    3. make run
============================================================================
"""


@dataclass
class SimulatedClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


class Printer:
    """Prints every message, ephemeral and view the bot produces, readably."""

    def __init__(self, workspace: Workspace, out: TextIO) -> None:
        self.workspace = workspace
        self.out = out
        self._lock = threading.Lock()
        # Every leader sees the same modal; printing it once keeps the story readable.
        self.modals_shown: set[str] = set()
        # Weeks in the middle of the simulation are summarised, not printed message by message.
        self.muted = False

    def __call__(self, event: SandboxEvent) -> None:
        if self.muted or event.kind in ("view_closed", "message_deleted"):
            return
        if event.kind == "view_opened" and event.view is not None:
            title = str((event.view.get("title") or {}).get("text", ""))
            if title in self.modals_shown:
                return
            self.modals_shown.add(title)
        with self._lock:
            self.out.write(textwrap.indent(render_event(event, workspace=self.workspace), "  "))
            self.out.write("\n\n")
            self.out.flush()

    def narrate(self, text: str) -> None:
        with self._lock:
            self.out.write(f"▶ {text}\n\n")
            self.out.flush()


def play(out: TextIO = sys.stdout) -> int:
    """Run the scripted scenario; 0 when every step did what it should."""
    from bot.app import build_app, build_services
    from bot.server import start_in_background
    from bot.settings import Settings
    from storage.db import make_engine
    from storage.migrate import upgrade

    out.write(BANNER + "\n")
    # The story is what Slack shows; operational logs would drown it.
    logging.getLogger().setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="coherence-sandbox-"))
    workspace = Workspace.demo()
    workspace.add_channel(ADMIN_CHANNEL, "leadership-ops", ["U0ADMIN"])
    # Twelve weeks pass in a few real seconds; Slack's per-minute limits would stretch them
    # into minutes of waiting out Retry-After (the tests cover 429s).
    slack = SlackSandbox(
        workspace,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        rate_limits=RateLimits.off(),
    )
    printer = Printer(workspace, out)
    slack.subscribe(printer)
    slack.start()
    server = None
    try:
        database_url = f"sqlite:///{workdir / 'coherence.db'}"
        upgrade(database_url)
        settings = Settings(
            _env_file=None,
            slack_bot_token=SecretStr(BOT_TOKEN),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=slack.api_url,
            database_url=database_url,
            slack_posts_per_minute=0,
            coherence_admin_channel=ADMIN_CHANNEL,
        )
        clock = SimulatedClock()
        services = build_services(settings, engine=make_engine(database_url), clock=clock)
        server = start_in_background(build_app(services))
        slack.bot_url = server.events_url
        Scenario(slack, services, clock, printer).run()
    finally:
        if server is not None:
            server.close()
            services.answers.close()
        slack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    out.write("Sandbox scenario finished.\n")
    return 0


ADMIN = "U0ADMIN"
EXEC_LEADERS = ["U0ALICE", "U0BEN", "U0CHIE", "U0DIEGO", "U0EMMA", "U0FARID", "U0GRACE"]
DIRECTOR_IDS = ["U0ADMIN", "U0IVY", "U0JONAS", "U0KENJI", "U0LAURA", "U0MATEO", "U0NORA", "U0OMAR"]
PRIORITIES = ("Enterprise expansion", "Platform reliability", "Cost discipline")


@dataclass(frozen=True)
class Answer:
    """A leader's answer: scores by dimension key, shares of attention (percent) by priority."""

    scores: dict[str, int]
    shares: dict[str, int]
    friction: str | None = None


# The executive team's drift: from week 9, five of its seven leaders move their attention
# from expansion to cost, 50 points by week 12, while the declared priorities stay the same.
DRIFT_FROM = 9
EXEC_SHIFT = {
    9: {"Enterprise expansion": 50, "Platform reliability": 20, "Cost discipline": 30},
    10: {"Enterprise expansion": 40, "Platform reliability": 10, "Cost discipline": 50},
    11: {"Enterprise expansion": 20, "Platform reliability": 10, "Cost discipline": 70},
    12: {"Enterprise expansion": 10, "Platform reliability": 10, "Cost discipline": 80},
}
EXEC_BEFORE = {"Enterprise expansion": 60, "Platform reliability": 20, "Cost discipline": 20}
EXEC_STEADY = {"Enterprise expansion": 30, "Platform reliability": 70}
# Coherence under pressure: both teams have pressured weeks; the executive team's answers
# scatter in theirs (agreement falls), the directors' hold steady in theirs.
EXEC_PRESSURED = frozenset({2, 4, 6, 7, 9, 11})
DIRECTORS_PRESSURED = frozenset({3, 5, 6, 8, 10, 11})
# Time away: Ben takes a quiet week off (no drift, no pressure), set with `/coherence away`.
AWAY_WEEK = 8
AWAY_LEADER = "U0BEN"
# Acting on results: under this week's digest a team lead records what the team will do; the
# next (the last) digest asks about it and its owner marks it done.
COMMIT_WEEK = 11
TEAM_LEAD = "U0ALICE"
COMMITMENT_OWNER = "U0FARID"
COMMITMENT = "Budget decisions come to the Monday leadership meeting before they land"


def pressure_answer(pressured: bool, rng: random.Random) -> int:
    return rng.choice((4, 5, 5)) if pressured else rng.choice((2, 2, 3))


def executive_answers(week: int, rng: random.Random) -> dict[str, Answer]:
    """The executive team drifts: attention moves from expansion to cost, stability falls; in
    its pressured weeks its leaders' answers scatter."""
    answers = {}
    pressured = week in EXEC_PRESSURED
    for n, user in enumerate(EXEC_LEADERS):
        late = week >= DRIFT_FROM
        scores = {
            "reinforcement": rng.choice((1, 3, 5)) if pressured else rng.choice((4, 4, 5)),
            "translation": rng.choice((1, 3, 5)) if late else rng.choice((4, 4, 5)),
            "stability": rng.choice((2, 2, 3)) if late else rng.choice((4, 4, 5)),
            "signal": rng.choice((2, 3, 5)) if pressured else rng.choice((3, 4, 4)),
            "decision_flow": rng.choice((1, 3, 5)) if pressured else rng.choice((3, 4, 4)),
            "pressure": pressure_answer(pressured, rng),
        }
        shares = EXEC_SHIFT.get(week, EXEC_BEFORE) if n < 5 else EXEC_STEADY
        friction = (
            rng.choice(
                (
                    "Budget freeze landed without a say from product.",
                    "Hiring plan changed twice this week.",
                    "Cost reviews keep pre-empting roadmap decisions.",
                )
            )
            if late and n % 2 == 0
            else None
        )
        answers[user] = Answer(scores, shares, friction)
    return answers


def director_answers(week: int, rng: random.Random) -> dict[str, Answer]:
    """The directors stay steady on reliability, under pressure too; one quiet week falls below
    the threshold."""
    responders = DIRECTOR_IDS[:4] if week == 3 else DIRECTOR_IDS[:7]
    pressured = week in DIRECTORS_PRESSURED
    return {
        user: Answer(
            {key: rng.choice((3, 4, 4)) for key in dimension_keys()}
            | {"pressure": pressure_answer(pressured, rng)},
            {"Platform reliability": 80, "Enterprise expansion": 20}
            if n < 5
            else {"Enterprise expansion": 60, "Platform reliability": 40},
            "Release trains are crowded." if n == 1 else None,
        )
        for n, user in enumerate(responders)
    }


class Scenario:
    """Twelve leadership weeks: help, pulses in a channel and by DM, answers, reminders, a late
    answer, the close, and the weekly digests — through the bot's real code paths."""

    def __init__(
        self, slack: SlackSandbox, services: object, clock: SimulatedClock, printer: Printer
    ) -> None:
        from bot.services import Services

        assert isinstance(services, Services)
        self.slack = slack
        self.services = services
        self.clock = clock
        self.printer = printer
        self.say: Callable[[str], None] = printer.narrate
        self.rng = random.Random(2026)
        self.question_keys: dict[str, str] = {}

    def run(self) -> None:
        self.show_help()
        first_monday = datetime(2026, 10, 5, 9, 0, tzinfo=BERLIN)
        self.set_up(first_monday)
        for week in range(1, WEEKS + 1):
            monday = first_monday + timedelta(weeks=week - 1)
            detailed = week in (1, WEEKS)
            self.printer.muted = False
            if week == AWAY_WEEK:
                self.go_away(monday)
            if detailed:
                self.say(f"Week {week} of {WEEKS} (Mon {monday:%-d %b}), message by message")
            else:
                self.say(f"Week {week} (Mon {monday:%-d %b}): pulses, answers, close, digests")
            self.printer.muted = not detailed
            self.play_week(week, monday, detailed)
            if week == COMMIT_WEEK:
                self.commit()
        self.printer.muted = False
        self.mark_done()
        self.say("Alice asks for the status in #exec-team")
        self.slack.user("U0ALICE").run_command("/coherence", "", channel=EXEC)
        self.slack.flush_events()
        self.show_home()
        self.export()

    def show_help(self) -> None:
        self.say("Alice runs `/coherence help` in #exec-team")
        response = self.slack.user("U0ALICE").run_command("/coherence", "help", channel=EXEC)
        if response.status != 200:
            raise RuntimeError(f"/coherence help answered HTTP {response.status}")
        self.slack.flush_events()

    def set_up(self, first_monday: datetime) -> None:
        from pulses.questions import default_questions

        self.question_keys = {q.text: q.key for q in default_questions()}
        self.clock.now = (first_monday - timedelta(days=3)).astimezone(UTC)
        self.say("Friday: Dana, a workspace admin, runs `/coherence setup` in #exec-team")
        modal = self.admin_modal("setup", EXEC)
        self.slack.user(ADMIN).submit(modal.id, {"layer": "Executive"})
        self.slack.flush_events()
        self.say("…and in #directors, by DM at each director's own 09:00")
        self.printer.muted = True  # the same form again
        modal = self.admin_modal("setup", DIRECTORS)
        self.printer.muted = False
        self.slack.user(ADMIN).submit(
            modal.id,
            {"layer": "Directors", "delivery_mode": "dm", "per_member_time": ["per_member"]},
        )
        self.slack.flush_events()
        self.say(
            f"Dana declares the strategic priorities with `/coherence priorities`: "
            f"{', '.join(PRIORITIES)}"
        )
        for position, name in enumerate(PRIORITIES):
            self.printer.muted = position > 0
            modal = self.admin_modal("priorities", EXEC)
            self.slack.user(ADMIN).submit(modal.id, {"priority_new_name": name})
            self.slack.flush_events()
        self.printer.muted = False

    def admin_modal(self, subcommand: str, channel: str) -> View:
        before = set(self.slack.views)
        response = self.slack.user(ADMIN).run_command("/coherence", subcommand, channel=channel)
        if response.status != 200:
            raise RuntimeError(f"/coherence {subcommand} answered HTTP {response.status}")
        self.slack.wait_for(lambda s: any(v not in before for v in s.views), timeout=WAIT)
        self.slack.flush_events()
        [new] = [v for k, v in self.slack.views.items() if k not in before]
        return new

    def show_home(self) -> None:
        self.say("Dana opens Coherence's App Home")
        before = len(self.slack.calls_to("views.publish"))
        self.slack.user(ADMIN).open_home()
        self.slack.wait_for(lambda s: len(s.calls_to("views.publish")) > before, timeout=WAIT)
        self.slack.flush_events()

    def go_away(self, monday: datetime) -> None:
        """The Thursday before: the leader sets their week away, which only they are told."""
        first, last = monday.date(), (monday + timedelta(days=4)).date()
        self.say(
            f"Thursday: {self.name(AWAY_LEADER)} is off next week and runs "
            f"`/coherence away {first}..{last}` in #exec-team"
        )
        self.slack.user(AWAY_LEADER).run_command(
            "/coherence", f"away {first}..{last}", channel=EXEC
        )
        self.slack.flush_events()

    def latest_digest(self, channel: str) -> Message:
        return [
            m
            for m in self.slack.messages(channel)
            if m.thread_ts is None and "Coherence digest" in m.text
        ][-1]

    def await_new_view(self, before: set[str]) -> View:
        """The view the bot opened since ``before`` (the ids of the views then)."""
        self.slack.wait_for(lambda s: any(v not in before for v in s.views), timeout=WAIT)
        self.slack.flush_events()
        [new] = [v for k, v in self.slack.views.items() if k not in before]
        return new

    def commit(self) -> None:
        """Thursday, under the digest: the team lead records what the team will do."""
        from bot.views.commitments import COMMIT_ACTION

        self.printer.muted = False
        digest = self.latest_digest(EXEC)
        self.say(f"Thursday: {self.name(TEAM_LEAD)} presses Commit under #exec-team's digest")
        before = set(self.slack.views)
        self.slack.user(TEAM_LEAD).click(digest, COMMIT_ACTION)
        modal = self.await_new_view(before)
        self.say(f"…and records “{COMMITMENT}”, owned by {self.name(COMMITMENT_OWNER)}")

        def replies(slack: SlackSandbox) -> int:
            return sum(m.thread_ts == digest.ts for m in slack.messages(EXEC))

        # The digest's thread already holds its chart: wait for a reply beyond those, or the
        # story would race ahead of the confirmation posted after the ack.
        replies_before = replies(self.slack)
        self.slack.user(TEAM_LEAD).submit(modal.id, {"text": COMMITMENT, "owner": COMMITMENT_OWNER})
        self.slack.wait_for(lambda s: replies(s) > replies_before, timeout=WAIT)
        self.slack.flush_events()

    def mark_done(self) -> None:
        """The last digest asks whether last week's commitment was done; its owner says so."""
        from bot.views.commitments import DONE_ACTION, commitment_block_id

        digest = self.latest_digest(EXEC)
        [done] = [
            str(block["accessory"]["value"])
            for block in digest.blocks
            if (block.get("accessory") or {}).get("action_id") == DONE_ACTION
        ]
        self.say(f"{self.name(COMMITMENT_OWNER)} clicks Done on it under the new digest")
        self.printer.muted = True  # the same digest again, one line changed: that line is told
        self.slack.user(COMMITMENT_OWNER).click(digest, DONE_ACTION)
        self.slack.wait_for(
            lambda s: any(m.ts == digest.ts and m.updated for m in s.messages(EXEC)), timeout=WAIT
        )
        self.slack.flush_events()
        self.printer.muted = False
        [updated] = [m for m in self.slack.messages(EXEC) if m.ts == digest.ts]
        [line] = [
            str(block["text"]["text"])
            for block in updated.blocks
            if block.get("block_id") == commitment_block_id(int(done))
        ]
        if "done by" not in line:
            raise RuntimeError(f"the commitment was not marked done: {line}")
        self.say(f"The digest now reads: {plain_mrkdwn(line, self.slack.workspace)}")

    def export(self) -> None:
        self.say(
            "Dana runs `/coherence export` in #leadership-ops: every group's figures, and the "
            "organisation heatmap"
        )
        before = len(self.slack.files)
        self.slack.user(ADMIN).run_command("/coherence", "export", channel=ADMIN_CHANNEL)
        self.slack.wait_for(lambda s: len(s.files) == before + 2, timeout=WAIT)
        self.slack.flush_events()

    def reached(self, user: str) -> int:
        """How many messages the bot has sent this user: DMs, and ephemerals it posted."""
        ephemerals = [e for e in self.slack.ephemerals if e.user == user and e.source == "api"]
        return len(self.slack.messages(self.slack.dm_channel(user))) + len(ephemerals)

    def play_week(self, week: int, monday: datetime, detailed: bool) -> None:
        exec_answers = executive_answers(week, self.rng)
        away = week == AWAY_WEEK
        if away:
            # Drawn and dropped, so the other weeks' answers stay as they were.
            del exec_answers[AWAY_LEADER]
        reached_before = self.reached(AWAY_LEADER)
        invited = len(exec_answers)
        dir_answers = director_answers(week, self.rng)
        on_time = dict(list(exec_answers.items())[:5])
        late = dict(list(exec_answers.items())[5:])
        # Directors' DMs go out at 09:00 in Tokyo, Berlin and Los Angeles: tick through the day.
        # Each zone's own 09:00 that Monday (Tokyo is UTC+9 all year, Berlin not).
        self.at(nine_on(monday, TOKYO), "Monday 09:00 in Tokyo" if detailed else None)
        self.at(monday, "Monday 09:00 in Berlin: the #exec-team pulse" if detailed else None)
        for count, (user, answer) in enumerate(on_time.items(), start=1):
            if detailed:
                self.say(f"{self.name(user)} clicks Answer and submits")
            self.submit(user, self.open_modal(user, EXEC), answer)
            self.await_progress(EXEC, f"{count} of {invited} answered")
        self.at(nine_on(monday, LOS_ANGELES), "Monday 09:00 in Los Angeles" if detailed else None)
        for user, answer in dir_answers.items():
            self.submit(user, self.open_modal(user, user), answer)
            self.await_confirmation(user)
        if detailed:
            self.say(f"{len(dir_answers)} of 8 directors answer in their DMs")
        self.at(monday + timedelta(days=1), "Tuesday 09:00: reminders" if detailed else None)
        late_modal = None
        answered = len(on_time)
        for user, answer in late.items():
            if user == "U0GRACE" and detailed:
                self.say("Grace opens the pulse on Tuesday evening but leaves it open overnight")
                late_modal = (self.open_modal(user, EXEC), answer)
                continue
            if detailed:
                self.say(f"{self.name(user)} answers after the reminder")
            self.submit(user, self.open_modal(user, EXEC), answer)
            answered += 1
            self.await_progress(EXEC, f"{answered} of {invited} answered")
        # In the week away the close is shown too: the count says "· 1 away", never who.
        self.printer.muted = not (detailed or away)
        self.at(
            monday + timedelta(days=2),
            "Wednesday 09:00: #exec-team's window closes" if detailed or away else None,
        )
        if away:
            if self.reached(AWAY_LEADER) != reached_before:
                raise RuntimeError(f"{AWAY_LEADER} was sent something in their week away")
            self.say(f"Nothing reached {self.name(AWAY_LEADER)} this week: no pulse, no reminder")
        self.printer.muted = not detailed
        self.at(
            monday + timedelta(days=2, hours=9),
            "Wednesday 18:00: the directors' window closes (the last DM's 09:00 + 48 h)"
            if detailed
            else None,
        )
        if late_modal is not None:
            self.clock.now += timedelta(minutes=5)
            self.say("Grace submits after the close")
            self.submit("U0GRACE", *late_modal)
        if detailed and week == WEEKS:
            self.say("Thursday 09:00: the weekly digests, and the organisation digest")
        self.at(monday + timedelta(days=3), None)

    def name(self, user: str) -> str:
        return self.slack.workspace.users[user].real_name

    def at(self, moment: datetime, narration: str | None) -> None:
        from bot.scheduler import run_tick

        self.clock.now = moment.astimezone(UTC)
        if narration:
            self.say(narration)
        run_tick(self.services)
        self.slack.flush_events()

    def open_modal(self, user: str, channel: str) -> View:
        from bot.views.pulse import ANSWER_ACTION

        before = set(self.slack.views)
        message = self.slack.messages(channel)[-1]
        self.slack.user(user).click(message, ANSWER_ACTION)
        self.slack.wait_for(lambda s: any(v not in before for v in s.views), timeout=WAIT)
        self.slack.flush_events()
        [new] = [v for k, v in self.slack.views.items() if k not in before]
        return new

    def submit(self, user: str, modal: View, answer: Answer) -> None:
        from pulses.answers import share_field

        values: dict[str, object] = {}
        for block in modal.view.get("blocks", []):
            block_id = str(block.get("block_id", ""))
            label = str(block.get("label", {}).get("text", ""))
            if block_id.isdigit():
                values[block_id] = str(answer.scores[self.question_keys[label]])
            elif block_id.startswith(share_field("")):
                values[block_id] = str(answer.shares.get(label, 0))
        if values and answer.friction:
            values["friction"] = answer.friction
        self.slack.user(user).submit(modal.id, values)
        self.slack.flush_events()

    def await_confirmation(self, user: str) -> None:
        """The answer's DM turns into "your answer is in" after the ack, off the request path."""
        self.slack.wait_for(
            lambda s: "your answer to" in str(s.messages(user)[-1].blocks), timeout=WAIT
        )
        self.slack.flush_events()

    def await_progress(self, channel: str, progress: str) -> None:
        self.slack.wait_for(lambda s: progress in str(s.messages(channel)[-1].blocks), timeout=WAIT)
        self.slack.flush_events()
