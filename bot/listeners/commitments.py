"""Acting on results: "Commit" under a digest opens a modal that records what the team will do;
"Done" on a commitment listed by a later digest marks it done and updates that message."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.services import services_of
from bot.views.commitments import (
    COMMIT_ACTION,
    COMMIT_CALLBACK,
    DONE_ACTION,
    OWNER_ACTION,
    OWNER_BLOCK,
    TEXT_ACTION,
    TEXT_BLOCK,
    commitment_block,
    commitment_block_id,
    commitment_modal,
    recorded_text,
)
from bot.views.pulse import notice_modal
from pulses.commitments import (
    CommitmentNotFound,
    CommitmentView,
    InvalidCommitment,
    mark_done,
    record_commitment,
)
from pulses.groups import workspace_for_team
from storage.db import session_scope
from storage.models import LeadershipGroup, PulseRun

NOT_FOUND = "This digest's pulse no longer exists, so nothing can be recorded under it."
# The block ids of the modal's inputs are the names `InvalidCommitment` gives its problems.
_PROBLEM_BLOCKS = {"text": TEXT_BLOCK, "owner": OWNER_BLOCK}


def _workspace_id(context: BoltContext) -> int | None:
    with session_scope(services_of(context).engine) as session:
        workspace = workspace_for_team(session=session, team_id=context.team_id or "")
        return workspace.id if workspace is not None else None


def _in_workspace(context: BoltContext, change: Callable[..., CommitmentView]) -> CommitmentView:
    """``change(session=…, workspace_id=…)`` in one transaction, in the caller's workspace."""
    workspace_id = _workspace_id(context)
    if workspace_id is None:
        raise CommitmentNotFound(context.team_id or "")
    with session_scope(services_of(context).engine) as session:
        return change(session=session, workspace_id=workspace_id)


def _message_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and ts of the (non-ephemeral) message clicked, for replies and updates."""
    container = body.get("container") or {}
    if container.get("is_ephemeral") or "message" not in body:
        return None, None
    return container.get("channel_id"), container.get("message_ts")


def open_commit_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    # The trigger_id expires three seconds after the click: acknowledge, then open at once.
    ack()
    run_id = int(body["actions"][0]["value"])
    workspace_id = _workspace_id(context)
    with session_scope(services_of(context).engine) as session:
        run = session.get(PulseRun, run_id)
        group = session.get(LeadershipGroup, run.group_id) if run is not None else None
        name = None
        if group is not None and group.workspace_id == workspace_id:
            name = group.channel_name or group.channel_id
    if name is None:
        view = notice_modal("Pulse not found", NOT_FOUND)
    else:
        channel, ts = _message_of(body)
        view = commitment_modal(
            run_id=run_id, user_id=body["user"]["id"], channel=channel, ts=ts, group_name=name
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
                text=recorded_text(recorded, user_id),
            )
        except Exception:
            # Recorded all the same: the next digest lists it.
            logger.exception("Could not say in the digest's thread that a commitment was recorded")


def mark_commitment_done(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, logger: Logger
) -> None:
    """Record that it was done, then show it done in the message clicked."""
    ack()
    services = services_of(context)
    commitment_id = int(body["actions"][0]["value"])
    try:
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
