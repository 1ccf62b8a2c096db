"""Workspaces and leadership groups: creating them and reading their cadence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from pulses.cadence import Cadence, Frequency
from pulses.questions import seed_default_questions
from storage import queries
from storage.models import LeadershipGroup, Priority, SkipDate, Workspace


def workspace_for_team(*, session: Session, team_id: str) -> Workspace | None:
    """The workspace row of a Slack team, if Coherence has seen it."""
    return session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()


def ensure_workspace(*, session: Session, team_id: str, name: str = "") -> Workspace:
    """The workspace row for `team_id`, created with the default questions on first sight."""
    workspace = workspace_for_team(session=session, team_id=team_id)
    if workspace is None:
        workspace = Workspace(team_id=team_id, name=name)
        session.add(workspace)
        session.flush()
        assert workspace.id is not None
        seed_default_questions(session=session, workspace_id=workspace.id)
    return workspace


def group_for_channel(
    *, session: Session, workspace_id: int, channel_id: str
) -> LeadershipGroup | None:
    """The active leadership group of a channel, if it is one."""
    return session.exec(
        select(LeadershipGroup).where(
            LeadershipGroup.workspace_id == workspace_id,
            LeadershipGroup.channel_id == channel_id,
            col(LeadershipGroup.active).is_(True),
        )
    ).first()


def cadence_of(*, session: Session, group: LeadershipGroup) -> Cadence:
    """The group's cadence as the calendar understands it, skip dates included."""
    return cadences_of(session=session, groups=[group])[0]


def cadences_of(*, session: Session, groups: Sequence[LeadershipGroup]) -> list[Cadence]:
    """`cadence_of` each group, their skip dates read together: every tick asks for every
    active group's."""
    skips: dict[int, set[date]] = {group.id: set() for group in groups if group.id is not None}
    if skips:
        for group_id, day in session.exec(
            select(col(SkipDate.group_id), col(SkipDate.day)).where(
                col(SkipDate.group_id).in_(skips)
            )
        ):
            skips[group_id].add(day)
    return [_cadence(group, skips.get(group.id or 0, set())) for group in groups]


def _cadence(group: LeadershipGroup, skip_dates: set[date]) -> Cadence:
    hour, minute = (int(part) for part in group.local_time.split(":"))
    frequency: Frequency = group.frequency  # type: ignore[assignment]
    return Cadence(
        frequency=frequency,
        weekdays=tuple(sorted(int(day) for day in group.weekdays.split(",") if day != "")),
        local_time=time(hour, minute),
        timezone=group.timezone,
        per_member_time=group.per_member_time,
        monthly_week=group.monthly_week,
        anchor=group.anchor or Cadence().anchor,
        answer_window=timedelta(minutes=group.answer_window_minutes),
        reminder_after=(
            timedelta(minutes=group.reminder_after_minutes)
            if group.reminder_after_minutes is not None
            else None
        ),
        skip_dates=frozenset(skip_dates),
        paused=group.paused,
    )


def grace_period(group: LeadershipGroup) -> timedelta:
    """How late a missed send may still go out: configured, or half the answer window."""
    minutes = group.grace_minutes
    return timedelta(minutes=minutes if minutes is not None else group.answer_window_minutes / 2)


def active_priorities(*, session: Session, group: LeadershipGroup) -> list[Priority]:
    """Declared priorities offered to this group: workspace-wide ones and its own."""
    return queries.active_priorities(
        session=session, workspace_id=group.workspace_id, group_id=group.id
    )


def create_group(
    *,
    session: Session,
    workspace_id: int,
    channel_id: str,
    channel_name: str = "",
    **settings: Any,
) -> LeadershipGroup:
    """Make a channel a leadership group (settings are LeadershipGroup fields)."""
    group = LeadershipGroup(
        workspace_id=workspace_id, channel_id=channel_id, channel_name=channel_name, **settings
    )
    session.add(group)
    session.flush()
    return group
