"""`/coherence setup`: the settings modal, opened prefilled and saved as one audited change."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.i18n import _, channel_language, speaking
from bot.listeners.admin.access import Caller, caller_of, prompt_client, workspace_id_of
from bot.listeners.admin.schedule import next_send_line
from bot.services import Services, services_of
from bot.views.admin.inputs import metadata_of
from bot.views.admin.replies import NOT_IN_A_CHANNEL, change_text, notice_view
from bot.views.admin.setup import parse_setup, setup_modal
from pulses.audit import Change, InvalidChange
from pulses.groups import group_for_channel
from pulses.settings import apply_setup, default_settings, settings_of
from storage.db import session_scope


def open_setup(ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    channel_id = str(command.get("channel_id", ""))
    if not channel_id.startswith(("C", "G")):
        ack(text=NOT_IN_A_CHANNEL)
        return
    # The trigger_id expires three seconds after the command: acknowledge, then open at once.
    ack()
    services = services_of(context)
    with session_scope(services.engine) as session:
        group = group_for_channel(
            session=session, workspace_id=workspace_id_of(context), channel_id=channel_id
        )
        settings = (
            settings_of(group)
            if group is not None
            else default_settings(timezone=caller_of(context).timezone)
        )
        name = group.channel_name if group is not None else ""
    channel_name = name or str(command.get("channel_name", ""))
    if channel_name in ("privategroup", "directmessage"):
        channel_name = ""
    view = setup_modal(
        settings, channel_id=channel_id, channel_name=channel_name, existing=group is not None
    )
    client.views_open(trigger_id=command["trigger_id"], view=view)


def submit_setup(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    services = services_of(context)
    caller = caller_of(context)
    metadata = metadata_of(view)
    channel_id = str(metadata.get("channel_id", ""))
    # The form's problems in the group's language (a new group's: English, until it is saved).
    where = {"team_id": context.team_id or "", "channel_id": channel_id}
    try:
        with speaking(channel_language(services.engine, where)):
            settings = parse_setup(view["state"]["values"])
            with session_scope(services.engine) as session:
                change = apply_setup(
                    session=session,
                    workspace_id=workspace_id_of(context),
                    channel_id=channel_id,
                    channel_name=str(metadata.get("channel_name", "")),
                    settings=settings,
                    user_id=caller.user_id,
                    now=services.clock(),
                )
    except InvalidChange as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    assert change.group_id is not None
    # What was saved, in the language the group speaks from now on.
    with speaking(settings.language):
        text = _saved_text(services, change, caller, client, channel_id)
        ack(response_action="update", view=notice_view(_("Saved"), text))


def _saved_text(
    services: Services, change: Change, caller: Caller, client: WebClient, channel_id: str
) -> str:
    assert change.group_id is not None
    text = change_text(change, extra=next_send_line(services, change.group_id, caller))
    if not _bot_is_in_channel(client, channel_id):
        warning = _(
            ":warning: Coherence is not in {channel} yet: invite it there "
            "(`/invite @Coherence`), or its pulses cannot be delivered."
        )
        text += "\n" + warning.format(channel=f"<#{channel_id}>")
    return text


def _bot_is_in_channel(client: WebClient, channel_id: str) -> bool:
    """Whether the bot can post in the channel; True when Slack cannot tell us right now."""
    try:
        # One second at most: with the admin check before it, the ack stays inside 3 seconds.
        channel = prompt_client(client, timeout=1).conversations_info(channel=channel_id)["channel"]
    except SlackApiError as error:
        return bool(error.response.get("error") != "channel_not_found")
    except (SlackClientError, OSError):
        return True
    return bool(channel.get("is_member", True))
