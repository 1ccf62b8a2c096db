"""The `/coherence` slash command: parse, dispatch to the domain, answer ephemerally."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.services import services_of
from pulses.commands import CommandError, Help, parse_command

COMMAND = "/coherence"


def handle_coherence(
    ack: Ack, command: dict[str, Any], context: BoltContext, logger: Logger
) -> None:
    services = services_of(context)
    today = services.clock().date()
    try:
        parsed = parse_command(command.get("text", ""), today=today)
    except CommandError as error:
        ack(text=f":warning: {error.message}\nUsage: `{error.usage}`")
        return
    if isinstance(parsed, Help):
        ack(text=help_reply())
        return
    ack(text=help_reply())


def help_reply() -> str:
    from pulses.commands import help_text

    return help_text()


def register(app: App) -> None:
    app.command(COMMAND)(handle_coherence)
