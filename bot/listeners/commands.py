"""The `/coherence` slash command: parse the text, route the typed command to its handler."""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger
from typing import Any, Protocol

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.services import services_of
from pulses.commands import Command, CommandError, Help, help_text, parse_command

COMMAND = "/coherence"


class CommandHandler(Protocol):
    def __call__(
        self,
        *,
        ack: Ack,
        parsed: Any,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        logger: Logger,
    ) -> None: ...


class CommandRouter:
    """Which handler answers which typed command; modules add their own routes."""

    def __init__(self) -> None:
        self._routes: dict[type[Any], CommandHandler] = {}

    def route(self, kind: type[Any], handler: CommandHandler) -> None:
        self._routes[kind] = handler

    def handler_for(self, parsed: Command) -> CommandHandler | None:
        return self._routes.get(type(parsed))

    def listener(self) -> Callable[..., None]:
        """The Bolt listener (a plain function: Bolt injects arguments by parameter name)."""

        def handle_coherence(
            ack: Ack,
            command: dict[str, Any],
            client: WebClient,
            context: BoltContext,
            logger: Logger,
        ) -> None:
            today = services_of(context).clock().date()
            try:
                parsed = parse_command(command.get("text", ""), today=today)
            except CommandError as error:
                ack(text=f":warning: {error.message}\nUsage: {error.usage}")
                return
            handler = self.handler_for(parsed)
            if handler is None:
                ack(text=help_text())
                return
            handler(
                ack=ack,
                parsed=parsed,
                command=command,
                client=client,
                context=context,
                logger=logger,
            )

        return handle_coherence


def show_help(
    *,
    ack: Ack,
    parsed: Help,
    command: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    ack(text=help_text())


def register(app: App, router: CommandRouter) -> None:
    router.route(Help, show_help)
    app.command(COMMAND)(router.listener())
