"""When a group's pulses go out: a new cadence, pause, resume, skipped days, the next send.

Every function takes the current time and a session; none reads the clock or talks to Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from pulses.audit import Change, audited, unchanged
from pulses.cadence import Cadence, Frequency, next_occurrence, occurrence_dates
from pulses.groups import cadence_of
from pulses.i18n import _
from pulses.settings import (
    describe_cadence,
    restart_schedule,
    save_settings,
    settings_of,
    validate_settings,
)
from storage.models import LeadershipGroup, PulseRun, SkipDate


@dataclass(frozen=True)
class CadenceChange:
    """A new schedule for a group.

    ``timezone`` is ``None`` to keep the group's zone. ``per_member_time`` sends at each
    member's own time; then ``timezone``, if given, is the fallback for members without one.
    ``monthly_week`` (1–4, or -1 for the last week) is ``None`` to keep the group's.
    """

    frequency: Frequency
    weekdays: tuple[int, ...]
    local_time: time
    timezone: str | None
    per_member_time: bool
    monthly_week: int | None


def _name(group: LeadershipGroup) -> str:
    return f"#{group.channel_name or group.channel_id}"


def _audited_change(
    session: Session,
    group: LeadershipGroup,
    user_id: str,
    lines: Callable[[], Sequence[str]],
    now: datetime,
) -> Change:
    group.updated_at = now
    session.add(group)
    return audited(session, group.workspace_id, group.id, user_id, lines, now)


def change_cadence(
    *,
    session: Session,
    group: LeadershipGroup,
    change: CadenceChange,
    user_id: str,
    now: datetime,
) -> Change:
    """Give the group a new cadence; the new schedule counts from now."""
    assert group.id is not None
    before = settings_of(group)
    after = replace(
        before,
        frequency=change.frequency,
        weekdays=change.weekdays,
        local_time=change.local_time,
        timezone=change.timezone or before.timezone,
        per_member_time=change.per_member_time,
        monthly_week=(
            change.monthly_week if change.monthly_week is not None else before.monthly_week
        ),
    )
    validate_settings(after)
    if describe_cadence(before) == describe_cadence(after):
        already = _("the cadence already is {cadence}")
        return unchanged(group.id, already.format(cadence=describe_cadence(after)))
    save_settings(session, group, before, after, now)

    def describe() -> list[str]:
        line = _("{name}: cadence {was} → {now}")
        was, now_ = describe_cadence(before), describe_cadence(after)
        return [line.format(name=_name(group), was=was, now=now_)]

    return _audited_change(session, group, user_id, describe, now)


def pause(*, session: Session, group: LeadershipGroup, user_id: str, now: datetime) -> Change:
    """Stop scheduling pulses for the group until it is resumed."""
    assert group.id is not None
    if group.paused:
        return unchanged(group.id, _("{name} was already paused").format(name=_name(group)))
    group.paused = True
    return _audited_change(
        session, group, user_id, lambda: [_("paused {name}").format(name=_name(group))], now
    )


def resume(*, session: Session, group: LeadershipGroup, user_id: str, now: datetime) -> Change:
    """Schedule pulses again, from now on: days that passed while paused are not made up."""
    assert group.id is not None
    if not group.paused:
        return unchanged(group.id, _("{name} is not paused").format(name=_name(group)))
    group.paused = False
    restart_schedule(group, settings_of(group), now, new_rhythm=False)
    return _audited_change(
        session, group, user_id, lambda: [_("resumed {name}").format(name=_name(group))], now
    )


def skip(
    *, session: Session, group: LeadershipGroup, day: date, user_id: str, now: datetime
) -> Change:
    """No pulse on ``day`` (the group's local date)."""
    assert group.id is not None
    existing = session.exec(
        select(SkipDate).where(SkipDate.group_id == group.id, SkipDate.day == day)
    ).first()
    if existing is not None:
        already = _("{name} already skips {day}")
        return unchanged(group.id, already.format(name=_name(group), day=day.isoformat()))
    session.add(SkipDate(group_id=group.id, day=day))
    gone_out = has_run_on(session=session, group_id=group.id, day=day)
    not_due = not gone_out and day not in _pulse_days(cadence_of(session=session, group=group), day)

    def describe() -> list[str]:
        lines = [_("{name} skips {day}").format(name=_name(group), day=day.isoformat())]
        if gone_out:
            lines.append(_("that day's pulse had already gone out"))
        elif not_due:
            lines.append(_("no pulse was due that day anyway"))
        return lines

    return _audited_change(session, group, user_id, describe, now)


def _pulse_days(cadence: Cadence, day: date) -> set[date]:
    return set(occurrence_dates(replace(cadence, paused=False, skip_dates=frozenset()), day, day))


def has_run_on(*, session: Session, group_id: int, day: date) -> bool:
    """Whether the group has a run for ``day`` (its local date), scheduled or sent by hand."""
    found = session.exec(
        select(PulseRun.id).where(PulseRun.group_id == group_id, PulseRun.occurrence_day == day)
    ).first()
    return found is not None


def has_run_today(*, session: Session, group: LeadershipGroup, now: datetime) -> bool:
    """Whether today (the group's local date) has a run already: one run per group and day."""
    assert group.id is not None
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    return has_run_on(session=session, group_id=group.id, day=today)


def next_send(*, session: Session, group: LeadershipGroup, now: datetime) -> datetime | None:
    """When the group's next scheduled pulse goes out (UTC); None when paused or none is due.

    With per-member time this is the send in the group's (fallback) zone. A day that already
    has a run (a pulse sent by hand) is passed over, as the scheduler does.
    """
    assert group.id is not None
    cadence = cadence_of(session=session, group=group)
    after = now
    for _attempt in range(8):
        found = next_occurrence(cadence, after=after)
        if found is None:
            return None
        if not has_run_on(session=session, group_id=group.id, day=found.day):
            return found.send_at
        after = found.send_at
    return None
