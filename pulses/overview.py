"""What the App Home shows: each group's cadence, figures and delivery problems for admins,
and for everyone the pulses still waiting for their answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from pulses.i18n import shared_language, speaking
from pulses.reports import OpenRun, RunReport, group_status
from pulses.schedule import next_send
from pulses.settings import describe_cadence, settings_of
from storage.models import Invitation, LeadershipGroup, PulseRun


@dataclass(frozen=True)
class DeliveryProblem:
    """A recorded reason a pulse did not reach people; ``count`` members (0: the whole run)."""

    reason: str
    count: int = 0
    day: date | None = None


@dataclass(frozen=True)
class GroupOverview:
    group_id: int
    channel_id: str
    name: str
    layer: str | None
    paused: bool
    # In the language the Home speaks: the one every group shares, else English.
    cadence: str
    next_send: datetime | None
    latest: RunReport | None
    open_run: OpenRun | None
    problems: tuple[DeliveryProblem, ...]
    # Whether members get the pulse at their own time (the cadence's words say so in the
    # Home's language; this says it to the view).
    per_member_time: bool = False


def delivery_problems(*, session: Session, group_id: int) -> list[DeliveryProblem]:
    """What went wrong delivering the group's most recent run, if anything."""
    run = session.exec(
        select(PulseRun)
        .where(PulseRun.group_id == group_id, PulseRun.status != "pending")
        .order_by(col(PulseRun.occurrence_day).desc(), col(PulseRun.id).desc())
        .limit(1)
    ).first()
    if run is None:
        return []
    problems: list[DeliveryProblem] = []
    if run.status == "missed":
        problems.append(DeliveryProblem("missed", day=run.occurrence_day))
    if run.failure_reason:
        problems.append(DeliveryProblem(run.failure_reason, day=run.occurrence_day))
    for reason, count in session.exec(
        select(Invitation.failure_reason, func.count())
        .where(
            Invitation.run_id == run.id,
            col(Invitation.status).in_(("failed", "missed")),
            col(Invitation.failure_reason).is_not(None),
        )
        .group_by(col(Invitation.failure_reason))
    ):
        if reason and reason != run.failure_reason:
            problems.append(DeliveryProblem(reason, count=int(count), day=run.occurrence_day))
    return problems


def admin_overview(*, session: Session, workspace_id: int, now: datetime) -> list[GroupOverview]:
    """Every active group with its cadence, next send, last reportable figures and problems."""
    groups = session.exec(
        select(LeadershipGroup)
        .where(LeadershipGroup.workspace_id == workspace_id, col(LeadershipGroup.active).is_(True))
        .order_by(col(LeadershipGroup.channel_name), col(LeadershipGroup.id))
    ).all()
    overview: list[GroupOverview] = []
    language = shared_language(group.language for group in groups)
    for group in groups:
        assert group.id is not None
        status = group_status(session=session, group_id=group.id, now=now, trend_runs=1)
        overview.append(
            GroupOverview(
                group_id=group.id,
                channel_id=group.channel_id,
                name=group.channel_name or group.channel_id,
                layer=group.layer,
                paused=group.paused,
                cadence=_cadence_in(language, group),
                next_send=next_send(session=session, group=group, now=now),
                latest=status.latest,
                open_run=status.open_run,
                problems=tuple(delivery_problems(session=session, group_id=group.id)),
                per_member_time=group.per_member_time,
            )
        )
    return overview


def _cadence_in(language: str, group: LeadershipGroup) -> str:
    with speaking(language):
        return describe_cadence(settings_of(group))


@dataclass(frozen=True)
class OpenPulse:
    run_id: int
    group_name: str
    closes_at: datetime
    timezone: str


def open_pulses_for(
    *, session: Session, user_id: str, now: datetime, workspace_id: int | None = None
) -> list[OpenPulse]:
    """Pulses delivered to the user, still open and not answered yet, closing soonest first."""
    query = (
        select(PulseRun, LeadershipGroup)
        .join(Invitation, col(Invitation.run_id) == PulseRun.id)
        .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
        .where(
            Invitation.user_id == user_id,
            Invitation.status == "sent",
            PulseRun.status == "open",
            col(Invitation.answered).is_(False),
        )
        .order_by(col(PulseRun.closes_at), col(PulseRun.id))
    )
    if workspace_id is not None:
        query = query.where(LeadershipGroup.workspace_id == workspace_id)
    pulses: list[OpenPulse] = []
    for run, group in session.exec(query):
        closes_at = run.closes_at
        if closes_at <= now or run.id is None:
            continue
        pulses.append(
            OpenPulse(
                run_id=run.id,
                group_name=group.channel_name or group.channel_id,
                closes_at=closes_at,
                timezone=group.timezone,
            )
        )
    return pulses
