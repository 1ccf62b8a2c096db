"""The coherence command: serve Slack, migrate the database, print a group's report or digest."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from slack_bolt import App
    from sqlalchemy.engine import Engine

logger = logging.getLogger("coherence")

# Commands other installed packages add (the sandbox adds `sandbox`), so bot/ names none of them.
COMMANDS_GROUP = "coherence.commands"
# Text renderers of Block Kit (the sandbox's terminal renderer), for `digest --preview`.
RENDERERS_GROUP = "coherence.renderers"
SANDBOX_COMMAND = "sandbox"

DESCRIPTION = """\
Coherence asks a leadership team a short weekly pulse in Slack and posts a digest of
whether they pull in one direction.

Without a subcommand, coherence prints this help and exits with status 2."""

EPILOG = """\
environment variables (also read from a .env file in the working directory; an empty
value means unset):
  SLACK_BOT_TOKEN            Bot User OAuth Token (xoxb-...). Without it, run plays the sandbox.
  SLACK_SIGNING_SECRET       verifies every request from Slack (Basic Information).
  SLACK_APP_TOKEN            app-level token (xapp-...): Socket Mode. Empty: serve HTTP on PORT.
  SLACK_API_URL              Web API base URL (default https://slack.com/api/).
  DATABASE_URL               sqlite:///path/coherence.db (default: ./coherence.db) or
                             postgresql://user:password@host:5432/coherence (postgres:// too).
  DATABASE_WAIT_SECONDS      how long start-up retries an unreachable database (default 60).
  HOST, PORT                 where HTTP mode listens (default 0.0.0.0:3000); /slack/events,
                             /healthz, /readyz and /metrics (Socket Mode serves the last
                             three).
  LOG_LEVEL                  DEBUG, INFO (default), WARNING or ERROR.
  LOG_FORMAT                 text (default) or json: one object per line with request_id
                             and workspace.
  COHERENCE_PSEUDONYM_KEY    secret key for answer pseudonyms while a pulse is open; serve
                             needs it (e.g. openssl rand -hex 32).
  COHERENCE_FRICTION_RETENTION_WEEKS  weeks before friction comments are deleted (default 26).
  COHERENCE_ADMIN_IDS        comma-separated user IDs who may administer besides Slack admins.
  COHERENCE_ADMIN_CHANNEL    channel ID for the weekly organisation digest.
  COHERENCE_FLAG_THRESHOLDS  JSON overrides of the digest's flag thresholds.
  SCHEDULER_TICK_SECONDS     seconds between looks for due sends (default 30, at least 1).
  SLACK_POSTS_PER_MINUTE     pacing of chat.postMessage (default 300; 0: only Retry-After).

exit status: 0 success, 1 nothing found (report, digest), 2 configuration or usage error."""

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "serve Slack when tokens are set, otherwise play the local sandbox",
        "What make run does: with SLACK_BOT_TOKEN set, the same as serve; without it, the\n"
        "scripted sandbox story.\n\nexample:\n  coherence run",
    ),
    "serve": (
        "migrate the database, then serve Slack until SIGTERM",
        "Serves HTTP on HOST:PORT (/slack/events, /healthz, /readyz, /metrics), or Socket\n"
        "Mode when SLACK_APP_TOKEN is set. Configuration mistakes stop it with one line and\n"
        "status 2.\n\n"
        "example:\n  SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... coherence serve",
    ),
    "migrate": (
        "upgrade or downgrade the database schema",
        "Moves DATABASE_URL's schema to --revision: head (the default), base (empty) or a\n"
        "revision ID, up or down as needed. serve migrates to head by itself.\n\n"
        "examples:\n  coherence migrate\n  coherence migrate --revision base",
    ),
    "report": (
        "print a closed pulse's metrics",
        "The latest closed pulse of a group (or the one of --run's date): readable text, or\n"
        "JSON with --json.\n\n"
        "examples:\n  coherence report --group '#exec-team'\n"
        "  coherence report --group C0123ABCD --run 2026-03-02 --json",
    ),
    "digest": (
        "print a group's weekly digest",
        "The digest as it would be posted now: Block Kit JSON (paste it into Slack's Block\n"
        "Kit Builder), or drawn as terminal text with --preview.\n\n"
        "examples:\n  coherence digest --group '#exec-team' --preview\n"
        "  coherence digest --group C0123ABCD > digest.json",
    ),
    "purge": (
        "delete all of a workspace's data",
        "Deletes every group, pulse, answer, priority, question and setting of one Slack\n"
        "workspace, for a deletion request.\n\nexample:\n  coherence purge --workspace T0123ABCD",
    ),
}


class Command(Protocol):
    """A subcommand another package registers under the coherence.commands entry points."""

    help: str
    description: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only help and a plugin's own command need the plugins' parsers. Loading them anyway
    # would keep the sandbox (its HTTP server, state and renderer) in every `coherence serve`
    # for the life of the process.
    plugins = {} if _named_command(argv) in SUBCOMMANDS else installed_commands()
    parser = build_parser(plugins)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command in plugins:
        return plugins[args.command].run(args)
    try:
        settings = get_settings()
        from bot.logs import configure_logging

        configure_logging(settings.log_level, settings.log_format)
        return run_command(args, settings)
    except SettingsError as error:
        print(f"coherence: {error}", file=sys.stderr)
        return 2


def build_parser(plugins: dict[str, Command]) -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="coherence", description=DESCRIPTION, epilog=EPILOG, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"coherence {_version()}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    parsers = {
        name: commands.add_parser(
            name, help=help_, description=description, formatter_class=formatter
        )
        for name, (help_, description) in SUBCOMMANDS.items()
    }
    parsers["migrate"].add_argument(
        "--revision", default="head", help="head (default), base, or a revision ID such as 0003"
    )
    for name in ("report", "digest"):
        parsers[name].add_argument(
            "--group", required=True, help="the group's channel: an ID or #name"
        )
    parsers["purge"].add_argument("--workspace", required=True, help="the Slack team ID (T…)")
    parsers["report"].add_argument("--run", default="latest", help="latest (default) or YYYY-MM-DD")
    parsers["report"].add_argument("--json", action="store_true", help="print JSON, not text")
    parsers["digest"].add_argument(
        "--preview", action="store_true", help="draw it as terminal text, not Block Kit JSON"
    )
    for name, plugin in sorted(plugins.items()):
        plugin.configure(
            commands.add_parser(
                name, help=plugin.help, description=plugin.description, formatter_class=formatter
            )
        )
    return parser


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, if any: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def installed_commands() -> dict[str, Command]:
    """Subcommands registered by installed packages, by name."""
    return {
        entry.name: entry.load()
        for entry in importlib.metadata.entry_points(group=COMMANDS_GROUP)
        if entry.name not in SUBCOMMANDS
    }


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        if settings.has_slack_credentials:
            return serve(settings)
        plugins = installed_commands()
        if SANDBOX_COMMAND not in plugins:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set and the sandbox is not installed; set "
                "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see .env.example)"
            )
        return plugins[SANDBOX_COMMAND].run(args)
    if args.command == "serve":
        return serve(settings)
    if args.command == "migrate":
        return migrate(settings, revision=args.revision)
    if args.command == "purge":
        return purge(settings, team_id=args.workspace)
    if args.command == "report":
        return print_report(settings, group=args.group, run=args.run, as_json=args.json)
    return print_digest(settings, group=args.group, preview=args.preview)


def _version() -> str:
    try:
        return importlib.metadata.version("coherence")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def open_database(settings: Settings) -> Engine:
    """The engine for DATABASE_URL once the database answers (retried for a bounded time)."""
    from sqlalchemy.exc import OperationalError

    from storage.db import describe_database, first_line, make_engine, wait_for_database

    engine = make_engine(settings.database_url)
    try:
        wait_for_database(engine, budget_seconds=settings.database_wait_seconds)
    except OperationalError as error:
        raise SettingsError(
            f"DATABASE_URL: cannot connect to {describe_database(settings.database_url)} "
            f"({first_line(error)}); check that the database is running and the URL is right"
        ) from None
    return engine


def migrate(settings: Settings, *, revision: str) -> int:
    """`coherence migrate [--revision REV]`."""
    from alembic.util import CommandError

    from storage.migrate import UnknownRevision, known_revisions, migrate_to

    open_database(settings).dispose()
    _key_for_migrations(settings)
    try:
        before, after = migrate_to(settings.database_url, revision)
    except UnknownRevision:
        known = ", ".join(["head", "base", *known_revisions()])
        raise SettingsError(
            f"--revision {revision} is not a migration; use one of {known}"
        ) from None
    except CommandError as error:
        raise SettingsError(f"DATABASE_URL: migrating failed ({error})") from None
    print(f"Database schema: {before or 'empty'} → {after or 'empty'}")
    return 0


def _key_for_migrations(settings: Settings) -> None:
    # The migration that makes answers unlinkable keys open runs' answers from the
    # environment; a key that came from .env must reach it too.
    if settings.coherence_pseudonym_key is not None:
        key = settings.coherence_pseudonym_key.get_secret_value()
        os.environ.setdefault("COHERENCE_PSEUDONYM_KEY", key)


def purge(settings: Settings, *, team_id: str) -> int:
    """`coherence purge --workspace T…`: a workspace's data deleted on request."""
    from pulses.retention import purge_workspace
    from storage.db import session_scope

    with session_scope(open_database(settings)) as session:
        purged = purge_workspace(session=session, team_id=team_id)
    if purged is None:
        print(f"coherence: no data for workspace {team_id}", file=sys.stderr)
        return 1
    print(f"Deleted workspace {team_id}: {purged.groups} groups, {purged.runs} pulses and answers.")
    return 0


def serve(settings: Settings) -> int:
    """Check the configuration, migrate, then serve Slack until stopped."""
    settings.require_slack_credentials()
    settings.require_pseudonym_key()
    _key_for_migrations(settings)
    from bot.app import build_app, build_client, build_services
    from bot.collector import exempt_start_up_objects
    from bot.drawer import DRAWER
    from bot.health import Readiness
    from bot.metrics import count_slack_retries
    from bot.scheduler import start_scheduler
    from bot.server import StopSignals, listen, serve_in_background
    from storage.migrate import MigrationFailed, upgrade_in_child

    engine = open_database(settings)
    try:
        upgrade_in_child(settings.database_url)
    except MigrationFailed as error:
        raise SettingsError(f"DATABASE_URL: migrating failed ({error})") from None
    # With installs through "Add to Slack" there is no one token to check: each workspace's
    # comes from its installation.
    identity = None if settings.oauth else check_bot_token(settings)
    client = build_client(settings)
    count_slack_retries(client)
    services = build_services(settings, engine=engine, client=client)
    app = build_app(services)
    readiness = Readiness(engine, tick_seconds=settings.scheduler_tick_seconds)
    try:
        # Bound before the scheduler starts, so a port in use stops a process that sent nothing.
        server = listen(
            None if settings.socket_mode else app,
            host=settings.host,
            port=settings.port,
            readiness=readiness,
        )
    except OSError as error:
        raise SettingsError(
            f"PORT {settings.port} on HOST {settings.host} cannot be used ({error.strerror}); "
            "choose a free PORT or stop what is listening there"
        ) from None
    # After the last configuration check, so a mistake still prints one line alone.
    if identity is None:
        logger.info("Serving the workspaces installed through /slack/install")
    else:
        logger.info("Connected to workspace %s as bot user %s", identity[0], identity[1])
    scheduler = start_scheduler(services)
    readiness.watch(scheduler)

    # Caught from here on: a restart's SIGTERM ends fan-outs between two sends.
    stop_signals = StopSignals(on_signal=services.worker.stop_requested.set)
    exempt_start_up_objects()
    # The HTTP server (Slack's requests, or only the probes in Socket Mode) runs on a thread
    # of its own, so the main thread does nothing but wait for the signal.
    running = serve_in_background(server)
    server.print_listen("Serving on http://{}:{}")
    if settings.socket_mode:
        connect_socket_mode(app, settings)
    signum = stop_signals.wait()
    # Platforms send SIGTERM before a restart: finish the send in flight, claim no more.
    logger.info("Stopping (signal %d): finishing the send in progress", signum)
    scheduler.shutdown(wait=True)
    running.close()
    # Answers are stored before their ack (the writer finishes what is queued); what remains
    # is the message refreshes after them (counts, confirmations), given a few seconds so the
    # last count is not cut off.
    services.answers.close()
    services.refresher.close()
    services.refresher.wait_idle(10)
    DRAWER.close()
    return 0


def connect_socket_mode(app: App, settings: Settings) -> None:
    """Connect to Slack over a websocket; events then arrive on the handler's threads."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    assert settings.slack_app_token is not None
    logger.info("Connecting to Slack in Socket Mode")
    handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        raise SettingsError(
            f"SLACK_APP_TOKEN was refused by Slack ({error.response.get('error')}); create an "
            "app-level token with connections:write under Basic Information"
        ) from None


def check_bot_token(settings: Settings) -> tuple[str, str]:
    """auth.test once at start: a revoked token or an unreachable Slack is a configuration error.
    Returns the workspace and the bot user, each as `name (id)`.

    A client of its own, without retries or logging, so the operator reads one line.
    """
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    quiet = logging.getLogger("coherence.startup_check")
    quiet.propagate = False
    quiet.handlers[:] = [logging.NullHandler()]
    assert settings.slack_bot_token is not None
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        logger=quiet,
        retry_handlers=[],
    )
    try:
        identity = client.auth_test()
    except SlackApiError as error:
        raise SettingsError(
            f"SLACK_BOT_TOKEN was refused by Slack ({error.response.get('error')}); reinstall "
            "the app and copy the Bot User OAuth Token from OAuth & Permissions"
        ) from None
    except (SlackClientError, OSError) as error:
        raise SettingsError(
            f"SLACK_API_URL {settings.slack_api_url} cannot be reached ({error}); check the URL "
            "and the network"
        ) from None
    return (
        f"{identity.get('team')} ({identity.get('team_id')})",
        f"{identity.get('user')} ({identity.get('user_id')})",
    )


def _group_id(session: Any, channel: str) -> int | None:
    """The active group of a channel id or #name; None, said on stderr, when there is none."""
    from sqlmodel import col, or_, select

    from storage.models import LeadershipGroup

    name = channel.removeprefix("#")
    found: int | None = session.exec(
        select(LeadershipGroup.id)
        .where(
            col(LeadershipGroup.active).is_(True),
            or_(LeadershipGroup.channel_id == channel, LeadershipGroup.channel_name == name),
        )
        .order_by(col(LeadershipGroup.id))
    ).first()
    if found is None:
        print(f"coherence: no leadership group for {channel}", file=sys.stderr)
    return found


def print_report(settings: Settings, *, group: str, run: str, as_json: bool) -> int:
    """`coherence report --group CHANNEL [--run latest|YYYY-MM-DD] [--json]`."""
    import yaml

    from pulses.report_json import report_json
    from pulses.reports import group_history, run_report
    from pulses.under_pressure import under_pressure
    from storage.db import session_scope

    try:
        selector: Literal["latest"] | date = (
            "latest" if run == "latest" else date.fromisoformat(run)
        )
    except ValueError:
        print(f"coherence: --run must be 'latest' or YYYY-MM-DD, got {run!r}", file=sys.stderr)
        return 2
    with session_scope(open_database(settings)) as session:
        group_id = _group_id(session, group)
        if group_id is None:
            return 1
        thresholds = settings.flag_thresholds
        report = run_report(session=session, group_id=group_id, run=selector, thresholds=thresholds)
        if report is None:
            print(f"coherence: no closed pulse for {group} ({run})", file=sys.stderr)
            return 1
        # Coherence under pressure is a group figure: the shown runs up to this one.
        history = group_history(
            session=session, group_id=group_id, until=report.occurrence_day, thresholds=thresholds
        )
    content = report_json(report)
    content["coherence_under_pressure"] = under_pressure(history).to_dict()
    if as_json:
        print(json.dumps(content, indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), end="")
    return 0


def print_digest(settings: Settings, *, group: str, preview: bool) -> int:
    """`coherence digest --group CHANNEL [--preview]`: the digest as Slack would lay it out."""
    from bot.views.digest import blocks_as_dicts, digest_blocks
    from pulses.reports import group_digest
    from storage.db import session_scope

    render = _block_renderer() if preview else None
    with session_scope(open_database(settings)) as session:
        group_id = _group_id(session, group)
        if group_id is None:
            return 1
        now, thresholds = datetime.now(UTC), settings.flag_thresholds
        digest = group_digest(session=session, group_id=group_id, now=now, thresholds=thresholds)
    text, blocks = digest_blocks(digest)
    if render is not None:
        print(render(blocks_as_dicts(blocks)))
    else:
        print(json.dumps({"text": text, "blocks": blocks_as_dicts(blocks)}, indent=2))
    return 0


def _block_renderer() -> Callable[[list[dict[str, Any]]], str]:
    for entry in importlib.metadata.entry_points(group=RENDERERS_GROUP, name="text"):
        renderer: Callable[[list[dict[str, Any]]], str] = entry.load()
        return renderer
    raise SettingsError(
        "--preview needs the sandbox's text renderer, which is not installed; "
        "leave out --preview for Block Kit JSON"
    )


if __name__ == "__main__":
    raise SystemExit(main())
