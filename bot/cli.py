"""The `coherence` command: run the bot, migrate, and the operator's reports."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any, Literal

from bot.settings import Settings, SettingsError, get_settings

logger = logging.getLogger("coherence")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coherence", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="serve with Slack tokens, or play the sandbox without them")
    commands.add_parser("serve", help="serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    commands.add_parser("sandbox", help="play the scripted scenario in a local Slack sandbox")
    report = commands.add_parser("report", help="print a run's metrics")
    report.add_argument("--group", required=True, help="the group's channel id or #name")
    report.add_argument("--run", default="latest", help="latest (default) or YYYY-MM-DD")
    report.add_argument("--json", action="store_true", help="print JSON (the only format yet)")
    digest = commands.add_parser("digest", help="show a group's weekly digest")
    digest.add_argument("--group", required=True, help="the group's channel id or #name")
    digest.add_argument("--preview", action="store_true", help="print it to the terminal")
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
        from bot.logs import configure_logging

        configure_logging(settings.log_level)
        command = args.command or "run"
        if command == "run":
            return serve(settings) if settings.has_slack_credentials else play_sandbox()
        if command == "serve":
            return serve(settings)
        if command == "migrate":
            from storage.migrate import upgrade

            upgrade(settings.database_url)
            return 0
        if command == "sandbox":
            return play_sandbox()
        if command == "report":
            return print_report(settings, group=args.group, run=args.run)
        if command == "digest":
            return print_digest(settings, group=args.group)
    except SettingsError as error:
        print(f"coherence: {error}", file=sys.stderr)
        return 2
    parser.print_help()
    return 2


def serve(settings: Settings) -> int:
    """Migrate, then serve Slack until stopped."""
    settings.require_slack_credentials()
    from bot.app import build_app, build_services
    from bot.scheduler import start_scheduler
    from storage.db import make_engine
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    services = build_services(settings, engine=make_engine(settings.database_url))
    app = build_app(services)
    scheduler = start_scheduler(services)

    def stop(signum: int, _frame: object) -> None:
        # Platforms send SIGTERM before a restart: finish the send in flight, claim no more.
        logger.info("Stopping (signal %d): finishing the send in progress", signum)
        services.worker.stop_requested.set()
        scheduler.shutdown(wait=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert settings.slack_app_token is not None
        logger.info("Connecting to Slack in Socket Mode")
        handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
        handler.start()  # type: ignore[no-untyped-call]
        return 0
    from bot.server import serve_forever

    serve_forever(app, host=settings.host, port=settings.port)
    return 0


def _find_group(session: Any, channel: str) -> Any:
    from sqlmodel import col, or_, select

    from storage.models import LeadershipGroup

    name = channel.removeprefix("#")
    return session.exec(
        select(LeadershipGroup)
        .where(
            col(LeadershipGroup.active).is_(True),
            or_(LeadershipGroup.channel_id == channel, LeadershipGroup.channel_name == name),
        )
        .order_by(col(LeadershipGroup.id))
    ).first()


def print_report(settings: Settings, *, group: str, run: str) -> int:
    """`coherence report --group CHANNEL [--run latest|YYYY-MM-DD] --json`."""
    import json
    from datetime import date

    from pulses.reports import report_json, run_report
    from storage.db import make_engine, session_scope

    try:
        selector: Literal["latest"] | date = (
            "latest" if run == "latest" else date.fromisoformat(run)
        )
    except ValueError:
        print(f"coherence: --run must be 'latest' or YYYY-MM-DD, got {run!r}", file=sys.stderr)
        return 2
    with session_scope(make_engine(settings.database_url)) as session:
        found = _find_group(session, group)
        if found is None:
            print(f"coherence: no leadership group for {group}", file=sys.stderr)
            return 1
        report = run_report(
            session=session,
            group_id=found.id,
            run=selector,
            thresholds=settings.flag_thresholds,
        )
    if report is None:
        print(f"coherence: no closed pulse for {group} ({run})", file=sys.stderr)
        return 1
    print(json.dumps(report_json(report), indent=2, ensure_ascii=False))
    return 0


def print_digest(settings: Settings, *, group: str) -> int:
    """`coherence digest --group CHANNEL --preview`: the digest as Slack would lay it out."""
    from datetime import UTC, datetime

    from bot.views.digest import blocks_as_dicts, digest_blocks
    from pulses.reports import group_digest
    from sandbox.render import render_blocks
    from storage.db import make_engine, session_scope

    with session_scope(make_engine(settings.database_url)) as session:
        found = _find_group(session, group)
        if found is None:
            print(f"coherence: no leadership group for {group}", file=sys.stderr)
            return 1
        digest = group_digest(
            session=session,
            group_id=found.id,
            now=datetime.now(UTC),
            thresholds=settings.flag_thresholds,
        )
    _, blocks = digest_blocks(digest)
    print(render_blocks(blocks_as_dicts(blocks)))
    return 0


def play_sandbox() -> int:
    from sandbox.scenario import play

    return play()


if __name__ == "__main__":
    raise SystemExit(main())
