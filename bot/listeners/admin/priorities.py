"""`/coherence priorities`: the declared priorities modal, opened and saved as one change."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.i18n import _, speaking, workspace_language
from bot.listeners.admin.access import caller_of, workspace_id_of, workspace_session
from bot.services import services_of
from bot.views.admin.inputs import metadata_of
from bot.views.admin.priorities import parse_priorities, priorities_modal
from bot.views.admin.replies import change_text, notice_view
from pulses.audit import InvalidChange
from pulses.groups import group_for_channel
from pulses.priorities import apply_priorities, editable_priorities
from storage.db import session_scope


def open_priorities(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    channel_id = str(command.get("channel_id", ""))
    with workspace_session(context) as (session, workspace_id):
        group = group_for_channel(session=session, workspace_id=workspace_id, channel_id=channel_id)
        priorities = editable_priorities(session=session, workspace_id=workspace_id, group=group)
    view = priorities_modal(priorities, group=group, channel_id=channel_id)
    client.views_open(trigger_id=command["trigger_id"], view=view)


def submit_priorities(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    workspace_id = workspace_id_of(context)
    channel_id = str(metadata_of(view).get("channel_id", ""))
    with session_scope(services.engine) as session:
        group = group_for_channel(session=session, workspace_id=workspace_id, channel_id=channel_id)
        # The modal's language: its group's, else the one the workspace's groups share.
        language = group.language if group else workspace_language(session, workspace_id)
    with speaking(language):
        try:
            with session_scope(services.engine) as session:
                group = group_for_channel(
                    session=session, workspace_id=workspace_id, channel_id=channel_id
                )
                listed = editable_priorities(
                    session=session, workspace_id=workspace_id, group=group
                )
                change = apply_priorities(
                    session=session,
                    workspace_id=workspace_id,
                    group=group,
                    edits=parse_priorities(
                        view["state"]["values"], [p.id for p in listed if p.id is not None]
                    ),
                    user_id=caller_of(context).user_id,
                    now=services.clock(),
                )
        except InvalidChange as invalid:
            ack(response_action="errors", errors=invalid.problems)
            return
        ack(response_action="update", view=notice_view(_("Priorities"), change_text(change)))
