"""The Slack side of the leaders' language: which language a reply speaks.

The catalogue, `_()` and the locale's numbers and dates are the domain's (`pulses.i18n`), so the
domain's words (flags, evidence) and the views' words come from one catalogue; they are named
here too, so a view imports its words from one place.

A view made for a group speaks the group's language; the App Home, which shows every group,
the language the workspace's groups share, else English. A member's own reply (help, time away)
speaks the language of the leadership group whose channel the command was run in, and English
in a direct message or any other channel: a DM belongs to no group.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pulses.groups import group_for_channel, workspace_for_team
from pulses.i18n import (
    CATALOGUES,
    DOMAIN,
    MISSING,
    N_,
    SOURCE_LOCALE,
    Translator,
    _,
    current,
    day,
    known_locale,
    moment,
    ngettext,
    number,
    percent,
    shared_language,
    speaking,
    translator,
    weekday,
)
from storage.db import session_scope
from storage.models import LeadershipGroup, PulseRun

__all__ = [
    "CATALOGUES",
    "DOMAIN",
    "MISSING",
    "N_",
    "SOURCE_LOCALE",
    "Translator",
    "_",
    "channel_language",
    "current",
    "day",
    "known_locale",
    "moment",
    "ngettext",
    "number",
    "percent",
    "run_language",
    "shared_language",
    "speaking",
    "translator",
    "weekday",
    "workspace_language",
]


def channel_language(engine: Engine, payload: dict[str, Any]) -> str:
    """The language of the leadership group whose channel a command or action came from
    (``team_id`` and ``channel_id`` of a slash command's payload), else English."""
    team_id = str(payload.get("team_id", ""))
    channel_id = str(payload.get("channel_id", ""))
    if not channel_id or channel_id.startswith("D"):
        return SOURCE_LOCALE
    with session_scope(engine) as session:
        workspace = workspace_for_team(session=session, team_id=team_id)
        if workspace is None or workspace.id is None:
            return SOURCE_LOCALE
        group = group_for_channel(session=session, workspace_id=workspace.id, channel_id=channel_id)
        return known_locale(group.language if group is not None else None)


def run_language(engine: Engine, run_id: int) -> str:
    """The language of a run's group (English when the run is gone): what a refusal to answer
    it speaks."""
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        group = session.get(LeadershipGroup, run.group_id) if run else None
        return known_locale(group.language if group is not None else None)


def workspace_language(session: Session, workspace_id: int | None) -> str:
    """The language every active group of the workspace speaks, else English."""
    if workspace_id is None:
        return SOURCE_LOCALE
    return shared_language(
        session.exec(
            select(LeadershipGroup.language).where(
                LeadershipGroup.workspace_id == workspace_id,
                col(LeadershipGroup.active).is_(True),
            )
        )
    )
