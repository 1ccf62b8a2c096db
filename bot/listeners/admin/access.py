"""Who may run admin commands and submit admin modals: a Bolt listener middleware asks Slack
(`users.info`, with the token of the request's workspace) on every request, modal submissions
included, since a modal opened by an admin may be submitted after they lost the role. It puts
the caller and the workspace in the context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import Session

from bot.i18n import _, channel_language, speaking
from bot.services import services_of
from bot.views.admin.inputs import metadata_of
from bot.views.admin.replies import ADMIN_CHECK_FAILED, ADMINS_ONLY, notice_view
from pulses.audit import is_admin
from pulses.groups import ensure_workspace
from storage.db import session_scope

Next = Callable[[], None]
CALLER_KEY = "caller"
WORKSPACE_KEY = "workspace_id"


@dataclass(frozen=True)
class Caller:
    """Who ran an admin action, as Slack knows them right now."""

    user_id: str
    is_admin: bool
    timezone: str


def prompt_client(client: WebClient, *, timeout: int = 2) -> WebClient:
    """A client for calls made before an acknowledgement: it fails fast instead of waiting.

    The app's client waits out 429s, which could outlast the 3 seconds Slack gives an ack.
    """
    return WebClient(
        token=client.token, base_url=client.base_url, timeout=timeout, retry_handlers=[]
    )


def look_up_caller(
    client: WebClient, user_id: str, admin_ids: list[str], *, team_id: str | None = None
) -> Caller | None:
    """The caller's admin rights and zone from `users.info`; None if Slack could not say.

    `team_id` names the workspace for an org-wide install's token, which serves every
    workspace of the org: a member's role is the one they hold in that workspace.
    """
    extra: dict[str, Any] = {} if team_id is None else {"team_id": team_id}
    try:
        user = prompt_client(client).users_info(user=user_id, **extra)["user"]
    except (SlackApiError, SlackClientError, OSError, KeyError, TypeError):
        return None
    return Caller(
        user_id=user_id,
        is_admin=is_admin(
            user_id=user_id,
            workspace_admin=bool(user.get("is_admin")),
            workspace_owner=bool(user.get("is_owner")),
            admin_ids=admin_ids,
        ),
        timezone=str(user.get("tz") or "UTC"),
    )


def caller_in_workspace(
    context: BoltContext, client: WebClient, user_id: str, team_id: str | None = None
) -> Caller | None:
    """`look_up_caller` with the admins of the request's workspace (`team_id`, by default the
    request's own), asking for that workspace's role when the token serves a whole org."""
    team_id = team_id or context.team_id or ""
    return look_up_caller(
        client,
        user_id,
        services_of(context).admin_ids(team_id),
        team_id=team_id if context.is_enterprise_install else None,
    )


def _admit(
    context: BoltContext, client: WebClient, user_id: str, team_id: str, next: Next
) -> str | None:
    """Let an admin through with the caller and workspace in the context; else the refusal."""
    services = services_of(context)
    caller = caller_in_workspace(context, client, user_id, team_id)
    if caller is None:
        return ADMIN_CHECK_FAILED
    if not caller.is_admin:
        return ADMINS_ONLY
    with session_scope(services.engine) as session:
        workspace = ensure_workspace(session=session, team_id=team_id)
        context[WORKSPACE_KEY] = workspace.id
    context[CALLER_KEY] = caller
    next()
    return None


def admins_only(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, next: Next
) -> BoltResponse | None:
    """Listener middleware for admin commands and modals: anyone else is told so, nothing changes.

    A refused command gets an ephemeral reply; a refused modal is replaced by the refusal.
    """
    refusal = _admit(context, client, context.user_id or "", context.team_id or "", next)
    if refusal is None:
        return None
    # In the language of the channel's group (a modal names its channel in its metadata).
    channel_id = body.get("channel_id") or metadata_of(body.get("view") or {}).get("channel_id")
    where = {"team_id": context.team_id or "", "channel_id": channel_id or ""}
    with speaking(channel_language(services_of(context).engine, where)):
        if body.get("type") == "view_submission":
            title = _("Admins only") if refusal == ADMINS_ONLY else _("Not saved")
            return ack(response_action="update", view=notice_view(title, _(refusal)))
        return ack(text=_(refusal))


def workspace_admin_ids(context: BoltContext) -> list[str]:
    """The members who administer Coherence in the request's workspace besides its Slack
    admins and owners (COHERENCE_ADMIN_IDS with one bot token; the installer otherwise)."""
    return services_of(context).admin_ids(context.team_id or "")


def caller_of(context: BoltContext) -> Caller:
    """The admin who made this request (put in the context by the admin middleware)."""
    caller = context[CALLER_KEY]
    assert isinstance(caller, Caller)
    return caller


def workspace_id_of(context: BoltContext) -> int:
    """The workspace of this admin request (put in the context by the admin middleware)."""
    workspace_id = context[WORKSPACE_KEY]
    assert isinstance(workspace_id, int)
    return workspace_id


@contextmanager
def workspace_session(context: BoltContext) -> Iterator[tuple[Session, int]]:
    """A session on the database and the id of the admin's workspace, for reading what a
    modal shows."""
    with session_scope(services_of(context).engine) as session:
        yield session, workspace_id_of(context)
