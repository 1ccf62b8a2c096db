"""`make run` without Slack tokens: the real bot against the sandbox, with scripted leaders.

Everything goes through the same code paths as production — the HTTP server, request
signing, the scheduler's tick, the Web API client — only Slack and the calendar are simulated.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from sandbox.ratelimits import RateLimits
from sandbox.records import SandboxEvent, View
from sandbox.render import render_event
from sandbox.server import SlackSandbox
from sandbox.workspace import Workspace

BOT_TOKEN = "xoxb-sandbox-not-a-real-token"
SIGNING_SECRET = "sandbox-signing-secret-not-real"
EXEC = "C0EXEC"
BERLIN = ZoneInfo("Europe/Berlin")

BANNER = """\
============================================================================
  COHERENCE · LOCAL SLACK SANDBOX
  No Slack tokens were found, so this run plays a scripted week in a local
  stand-in for Slack. Nothing here reaches a real workspace.

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

    def __call__(self, event: SandboxEvent) -> None:
        if event.kind in ("view_closed", "message_deleted"):
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
    slack = SlackSandbox(
        workspace, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, rate_limits=RateLimits()
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
        )
        clock = SimulatedClock()
        services = build_services(settings, engine=make_engine(database_url), clock=clock)
        server = start_in_background(build_app(services))
        slack.bot_url = server.events_url
        Scenario(slack, services, clock, printer).run()
    finally:
        if server is not None:
            server.close()
        slack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    out.write("Sandbox scenario finished.\n")
    return 0


class Scenario:
    """One leadership week: help, the pulse, answers, a reminder, the close, a late answer."""

    def __init__(
        self, slack: SlackSandbox, services: object, clock: SimulatedClock, printer: Printer
    ) -> None:
        from bot.services import Services

        assert isinstance(services, Services)
        self.slack = slack
        self.services = services
        self.clock = clock
        self.say: Callable[[str], None] = printer.narrate

    def run(self) -> None:
        self.show_help()
        self.one_week_of_pulses()

    def show_help(self) -> None:
        self.say("Alice runs `/coherence help` in #exec-team")
        response = self.slack.user("U0ALICE").run_command("/coherence", "help", channel=EXEC)
        if response.status != 200:
            raise RuntimeError(f"/coherence help answered HTTP {response.status}")

    def one_week_of_pulses(self) -> None:
        from pulses.groups import create_group, ensure_workspace
        from storage.db import session_scope
        from storage.models import Priority

        monday = datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)
        with session_scope(self.services.engine) as session:
            workspace = ensure_workspace(session=session, team_id=self.slack.workspace.team_id)
            assert workspace.id is not None
            for position, name in enumerate(
                ("Enterprise expansion", "Platform reliability", "Cost discipline")
            ):
                session.add(Priority(workspace_id=workspace.id, name=name, position=position))
            create_group(
                session=session,
                workspace_id=workspace.id,
                channel_id=EXEC,
                channel_name="exec-team",
                layer="executive",
                timezone="Europe/Berlin",
                created_at=(monday - timedelta(days=3)).astimezone(UTC),
            )
        self.say("#exec-team is a leadership group: weekly, Monday 09:00 Europe/Berlin")

        self.at(monday, "Monday 30 November, 09:00 in Berlin: the scheduler's tick")
        answers = {
            "U0ALICE": (4, "Enterprise expansion"),
            "U0BEN": (4, "Enterprise expansion"),
            "U0CHIE": (3, "Platform reliability"),
            "U0DIEGO": (5, "Enterprise expansion"),
            "U0EMMA": (2, "something else"),
        }
        for count, (user, (score, focus)) in enumerate(answers.items(), start=1):
            name = self.slack.workspace.users[user].real_name
            self.say(f"{name} clicks Answer and submits")
            self.submit(user, self.open_modal(user), score, focus)
            self.await_progress(f"{count} of 7 answered")
        self.at(
            monday + timedelta(days=1), "Tuesday 09:00: reminders to those who have not answered"
        )
        self.say("Farid answers after his reminder")
        self.submit("U0FARID", self.open_modal("U0FARID"), 3, "Cost discipline")
        self.await_progress("6 of 7 answered")
        self.say("Grace opens the pulse on Tuesday evening but leaves it open overnight")
        late_modal = self.open_modal("U0GRACE")
        self.at(monday + timedelta(days=2), "Wednesday 09:00: the 48-hour window closes")
        self.clock.now += timedelta(minutes=5)
        self.say("Grace submits at 09:05, after the close")
        self.submit("U0GRACE", late_modal, 4, "Platform reliability")

    def at(self, moment: datetime, narration: str) -> None:
        from pulses.dispatch import tick

        self.clock.now = moment.astimezone(UTC)
        self.say(narration)
        tick(
            engine=self.services.engine,
            messenger=self.services.messenger,
            now=self.clock.now,
            worker=self.services.worker,
        )
        self.slack.flush_events()

    def open_modal(self, user: str) -> View:
        from bot.views.pulse import ANSWER_ACTION

        before = set(self.slack.views)
        self.slack.user(user).click(self.slack.messages(EXEC)[0], ANSWER_ACTION)
        self.slack.wait_for(lambda s: any(v not in before for v in s.views))
        self.slack.flush_events()
        [new] = [v for k, v in self.slack.views.items() if k not in before]
        return new

    def submit(self, user: str, modal: View, score: int, focus: str) -> None:
        values: dict[str, object] = {
            block["block_id"]: str(score)
            for block in modal.view.get("blocks", [])
            if str(block.get("block_id", "")).isdigit()
        }
        values["focus"] = _option_value(modal, focus)
        if values["focus"] == "other":
            values["focus_other"] = "Hiring for the new region"
        values["friction"] = "Waiting on pricing decisions from the board."
        self.slack.user(user).submit(modal.id, values)
        self.slack.flush_events()

    def await_progress(self, progress: str) -> None:
        self.slack.wait_for(lambda s: progress in str(s.messages(EXEC)[0].blocks))
        self.slack.flush_events()


def _option_value(modal: View, label: str) -> str:
    for block in modal.view.get("blocks", []):
        if block.get("block_id") == "focus":
            for option in block["element"]["options"]:
                if option["text"]["text"].lower() == label.lower():
                    return str(option["value"])
    return "other"
