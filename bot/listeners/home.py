"""The App Home: published each time someone opens it, with what they may see."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlmodel import select

from bot.listeners.admin import look_up_caller
from bot.services import services_of
from bot.views.home import home_view
from pulses import admin
from storage.db import session_scope
from storage.models import Workspace


def publish_home(
    event: dict[str, Any], client: WebClient, context: BoltContext, logger: Logger
) -> None:
    if event.get("tab", "home") != "home":
        return
    services = services_of(context)
    user_id = str(event.get("user", ""))
    # Without an answer from users.info the viewer is treated as a member: never show more.
    caller = look_up_caller(client, user_id, services.settings.coherence_admin_ids)
    timezone = caller.timezone if caller is not None else "UTC"
    is_admin = caller is not None and caller.is_admin
    now = services.clock()
    with session_scope(services.engine) as session:
        workspace = session.exec(
            select(Workspace).where(Workspace.team_id == (context.team_id or ""))
        ).first()
        workspace_id = workspace.id if workspace is not None else None
        pulses = admin.open_pulses_for(
            session=session, user_id=user_id, now=now, workspace_id=workspace_id
        )
        overview = None
        changes = []
        if is_admin:
            overview = (
                admin.admin_overview(session=session, workspace_id=workspace_id, now=now)
                if workspace_id is not None
                else []
            )
            changes = (
                admin.recent_changes(session=session, workspace_id=workspace_id)
                if workspace_id is not None
                else []
            )
    view = home_view(timezone=timezone, pulses=pulses, overview=overview, changes=changes)
    client.views_publish(user_id=user_id, view=view)


def register(app: App) -> None:
    app.event("app_home_opened")(publish_home)
