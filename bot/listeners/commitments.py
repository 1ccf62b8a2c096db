"""Acting on results: "Commit" under a digest opens a modal that records what the team will do;
"Done" on a commitment listed by a later digest marks it done and updates that message.

Anyone who can see a digest can click its buttons (a digest channel may be wider than the
group), so each click and submission is checked: only members of the group's own channel and
Coherence admins may commit or mark done; anyone else is told so, only them, and nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from logging import Logger
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.i18n import _, run_language, speaking
from bot.listeners.admin.access import caller_in_workspace, prompt_client
from bot.services import services_of
from bot.views.commitments import (
    COMMIT_ACTION,
    COMMIT_CALLBACK,
    DONE_ACTION,
    OWNER_ACTION,
    OWNER_BLOCK,
    TEXT_ACTION,
    TEXT_BLOCK,
    check_failed_text,
    commitment_block,
    commitment_block_id,
    commitment_modal,
    not_allowed_text,
    recorded_text,
)
from bot.views.pulse import notice_modal
from pulses.commitments import (
    CommitmentNotFound,
    GroupOfCommitment,
    InvalidCommitment,
    group_of,
    mark_done,
    record_commitment,
)
from pulses.groups import workspace_for_team
from storage.db import session_scope

NOT_FOUND = "This digest's pulse no longer exists, so nothing can be recorded under it."
# The block ids of the modal's inputs are the names `InvalidCommitment` gives its problems.
_PROBLEM_BLOCKS = {"text": TEXT_BLOCK, "owner": OWNER_BLOCK}
T = TypeVar("T")


def _workspace_id(context: BoltContext) -> int | None:
    with session_scope(services_of(context).engine) as session:
        workspace = workspace_for_team(session=session, team_id=context.team_id or "")
        return workspace.id if workspace is not None else None


def _in_workspace(context: BoltContext, change: Callable[..., T]) -> T:
    """``change(session=…, workspace_id=…)`` in one transaction, in the caller's workspace."""
    workspace_id = _workspace_id(context)
    if workspace_id is None:
        raise CommitmentNotFound(context.team_id or "")
    with session_scope(services_of(context).engine) as session:
        return change(session=session, workspace_id=workspace_id)


def _in_language(language: str, text: Callable[..., str], *args: Any) -> str:
    """``text(*args)`` written in ``language``."""
    with speaking(language):
        return text(*args)


def _message_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and ts of the (non-ephemeral) message clicked, for replies and updates."""
    container = body.get("container") or {}
    if container.get("is_ephemeral") or "message" not in body:
        return None, None
    return container.get("channel_id"), container.get("message_ts")


def _in_channel(client: WebClient, channel_id: str, user_id: str) -> bool | None:
    """Whether the user is a member of the channel now; None if Slack could not say."""
    # Asked before an ack or a trigger_id expires: fail fast rather than wait out a 429.
    quick = prompt_client(client)
    cursor: str | None = None
    try:
        while True:
            page = quick.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            if user_id in (page.get("members") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
    except (SlackApiError, SlackClientError, OSError):
        return None


def _refusal(
    client: WebClient, context: BoltContext, user_id: str, group: GroupOfCommitment
) -> str | None:
    """None when the user may act on the group's commitments, else what to tell them."""
    member = _in_channel(client, group.channel_id, user_id)
    if member:
        return None
    caller = caller_in_workspace(context, client, user_id)
    if caller is not None and caller.is_admin:
        return None
    if member is None or caller is None:
        return check_failed_text(group.name)
    return not_allowed_text(group.name)


def open_commit_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    # The trigger_id expires three seconds after the click: acknowledge, then open at once.
    ack()
    run_id = int(body["actions"][0]["value"])
    user_id = body["user"]["id"]
    try:
        group = _in_workspace(context, partial(group_of, run_id=run_id))
    except CommitmentNotFound:
        client.views_open(
            trigger_id=body["trigger_id"], view=notice_modal("Pulse not found", NOT_FOUND)
        )
        return
    language = run_language(services_of(context).engine, run_id)
    with speaking(language):
        refusal = _refusal(client, context, user_id, group)
    if refusal is not None:
        respond(text=refusal, response_type="ephemeral", replace_original=False)
        return
    channel, ts = _message_of(body)
    view = commitment_modal(
        run_id=run_id,
        user_id=user_id,
        channel=channel,
        ts=ts,
        group_name=group.name,
        language=language,
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_commitment(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
) -> None:
    """Record the commitment, or say in the modal what is missing; then say so in the thread."""
    services = services_of(context)
    meta = json.loads(view["private_metadata"])
    values = view["state"]["values"]
    user_id = body["user"]["id"]
    try:
        # Asked again on submission: the modal may have been opened before they left the channel.
        group = _in_workspace(context, partial(group_of, run_id=int(meta["run_id"])))
    except CommitmentNotFound:
        ack(response_action="update", view=notice_modal("Pulse not found", NOT_FOUND))
        return
    language = run_language(services.engine, int(meta["run_id"]))
    with speaking(language):
        refusal = _refusal(client, context, user_id, group)
        refused = None if refusal is None else notice_modal(_("Not recorded"), refusal)
    if refused is not None:
        ack(response_action="update", view=refused)
        return
    try:
        recorded = _in_workspace(
            context,
            partial(
                record_commitment,
                run_id=int(meta["run_id"]),
                text=(values.get(TEXT_BLOCK, {}).get(TEXT_ACTION) or {}).get("value"),
                owner_id=(values.get(OWNER_BLOCK, {}).get(OWNER_ACTION) or {}).get("selected_user"),
                user_id=user_id,
                now=services.clock(),
            ),
        )
    except InvalidCommitment as invalid:
        errors = {_PROBLEM_BLOCKS[key]: text for key, text in invalid.problems.items()}
        ack(response_action="errors", errors=errors)
        return
    except CommitmentNotFound:
        ack(response_action="update", view=notice_modal("Pulse not found", NOT_FOUND))
        return
    ack()
    if meta.get("channel") and meta.get("ts"):
        try:
            client.chat_postMessage(
                channel=meta["channel"],
                thread_ts=meta["ts"],
                text=_in_language(language, recorded_text, recorded, user_id),
            )
        except Exception:
            # Recorded all the same: the next digest lists it.
            logger.exception("Could not say in the digest's thread that a commitment was recorded")


def mark_commitment_done(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: Logger,
    respond: Respond,
) -> None:
    """Record that it was done, then show it done in the message clicked."""
    ack()
    services = services_of(context)
    commitment_id = int(body["actions"][0]["value"])
    try:
        group = _in_workspace(context, partial(group_of, commitment_id=commitment_id))
        refusal = _refusal(client, context, body["user"]["id"], group)
        if refusal is not None:
            respond(text=refusal, response_type="ephemeral", replace_original=False)
            return
        done = _in_workspace(
            context,
            partial(
                mark_done,
                commitment_id=commitment_id,
                user_id=body["user"]["id"],
                now=services.clock(),
            ),
        )
    except CommitmentNotFound:
        logger.warning("A Done button named commitment %s, which is not there", commitment_id)
        return
    channel, ts = _message_of(body)
    if channel is None or ts is None:
        return
    message = body["message"]
    block_id = commitment_block_id(commitment_id)
    blocks = [
        commitment_block(done).to_dict() if block.get("block_id") == block_id else block
        for block in message.get("blocks", [])
    ]
    client.chat_update(channel=channel, ts=ts, text=message.get("text", ""), blocks=blocks)


def register(app: App) -> None:
    app.action(COMMIT_ACTION)(open_commit_modal)
    app.view(COMMIT_CALLBACK)(submit_commitment)
    app.action(DONE_ACTION)(mark_commitment_done)
