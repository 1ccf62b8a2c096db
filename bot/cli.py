"""The `coherence` command: run the bot, migrate, and the operator's reports."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, get_settings

logger = logging.getLogger("coherence")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coherence", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="serve with Slack tokens, or play the sandbox without them")
    commands.add_parser("serve", help="serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    commands.add_parser("sandbox", help="play the scripted scenario in a local Slack sandbox")
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
    start_scheduler(services)
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


def play_sandbox() -> int:
    from sandbox.scenario import play

    return play()


if __name__ == "__main__":
    raise SystemExit(main())
