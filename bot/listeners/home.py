"""The App Home: published each time someone opens it, with what they may see."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.i18n import workspace_language
from bot.listeners.admin.access import caller_in_workspace
from bot.services import services_of
from bot.views.home import home_view
from pulses.audit import recent_changes
from pulses.commitments import CommitmentView, open_commitments
from pulses.groups import workspace_for_team
from pulses.overview import admin_overview, open_pulses_for
from storage.db import session_scope
from storage.models import ConfigChange


def publish_home(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    services = services_of(context)
    user_id = str(event.get("user", ""))
    # Without an answer from users.info the viewer is treated as a member: never show more.
    caller = caller_in_workspace(context, client, user_id)
    timezone = caller.timezone if caller is not None else "UTC"
    is_admin = caller is not None and caller.is_admin
    now = services.clock()
    with session_scope(services.engine) as session:
        workspace = workspace_for_team(session=session, team_id=context.team_id or "")
        workspace_id = workspace.id if workspace is not None else None
        pulses = open_pulses_for(
            session=session, user_id=user_id, now=now, workspace_id=workspace_id
        )
        overview = None
        changes: list[ConfigChange] = []
        commitments: list[CommitmentView] = []
        if is_admin:
            overview = []
            if workspace_id is not None:
                overview = admin_overview(session=session, workspace_id=workspace_id, now=now)
                changes = recent_changes(session=session, workspace_id=workspace_id)
                commitments = open_commitments(session=session, workspace_id=workspace_id)
        language = workspace_language(session, workspace_id)
    view = home_view(timezone, pulses, overview, changes, commitments, language=language)
    client.views_publish(user_id=user_id, view=view)


def register(app: App) -> None:
    app.event("app_home_opened")(publish_home)
