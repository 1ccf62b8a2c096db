"""The `/coherence` slash command: the text is parsed once per request, and each typed command
has its own Bolt listener, matched by the parsed kind (so each brings its own middleware).

Whatever no listener takes — help, or text that is not a command — is answered here, last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext
from slack_bolt.response import BoltResponse
from sqlmodel import Session

from bot.i18n import _, channel_language, speaking
from bot.services import services_of
from pulses.commands import Command, CommandError, help_text, parse_command
from pulses.groups import group_for_channel, workspace_for_team
from storage.db import session_scope

COMMAND = "/coherence"
PARSED_KEY = "parsed_command"
TODAY_KEY = "parsed_on"
GROUP_KEY = "group_id"

Parsed = TypeVar("Parsed", bound=Command)
# A Bolt listener middleware: answers the request itself (and returns the ack's response)
# to refuse, or calls next() to let the listener run.
Middleware = Callable[..., BoltResponse | None]


def parsed_command(command: dict[str, Any], context: BoltContext) -> Command | CommandError:
    """The request's text as a command, parsed on first use and kept in the context."""
    if PARSED_KEY not in context:
        try:
            today = services_of(context).clock().date()
            context[TODAY_KEY] = today
            context[PARSED_KEY] = parse_command(command.get("text", ""), today=today)
        except CommandError as error:
            context[PARSED_KEY] = error
    parsed = context[PARSED_KEY]
    assert isinstance(parsed, Command | CommandError)
    return parsed


def parsed_as(context: BoltContext, kind: type[Parsed]) -> Parsed:
    """The parsed command of a listener matched by ``command_is(kind)``."""
    parsed = context[PARSED_KEY]
    assert isinstance(parsed, kind)
    return parsed


def command_is(kind: type[Command]) -> Callable[..., bool]:
    """A Bolt listener matcher: the text parses to a command of this kind."""

    def matches(command: dict[str, Any], context: BoltContext) -> bool:
        return isinstance(parsed_command(command, context), kind)

    return matches


def channel_group_id(session: Session, command: dict[str, Any]) -> int | None:
    """The id of the active leadership group of the channel the command was run in."""
    workspace = workspace_for_team(session=session, team_id=str(command.get("team_id", "")))
    if workspace is None or workspace.id is None:
        return None
    group = group_for_channel(
        session=session, workspace_id=workspace.id, channel_id=str(command.get("channel_id", ""))
    )
    return group.id if group is not None else None


def in_a_group(refusal: str) -> Middleware:
    """A listener middleware: the channel's group id goes in the context, or ``refusal`` is
    the answer when the channel is not a leadership group."""

    def require_group(
        ack: Ack, command: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> BoltResponse | None:
        with session_scope(services_of(context).engine) as session:
            group_id = channel_group_id(session, command)
        if group_id is None:
            return ack(text=refusal)
        context[GROUP_KEY] = group_id
        next()
        return None

    return require_group


def group_id_of(context: BoltContext) -> int:
    """The group id put in the context by ``in_a_group``."""
    group_id = context[GROUP_KEY]
    assert isinstance(group_id, int)
    return group_id


def answer_the_rest(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    """Help, and the usage of text that is not a command."""
    parsed = parsed_command(command, context)
    # In the channel's group's language; English in a DM or another channel.
    with speaking(channel_language(services_of(context).engine, command)):
        if isinstance(parsed, CommandError):
            problem = _worded(parsed, command, context)
            usage = _("Usage: {usage}").format(usage=problem.usage)
            ack(text=f":warning: {problem.message}\n{usage}")
        else:
            ack(text=help_text())


def _worded(error: CommandError, command: dict[str, Any], context: BoltContext) -> CommandError:
    """The problem in the language being spoken: every listener's matcher parses the text
    before the channel's group (and its language) is known, so the text is parsed again."""
    try:
        parse_command(command.get("text", ""), today=context[TODAY_KEY])
    except CommandError as worded:
        return worded
    return error


def register(app: App) -> None:
    """Register after every other `/coherence` listener: this one takes whatever is left."""
    app.command(COMMAND)(answer_the_rest)
