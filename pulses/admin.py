"""What admins change: who counts as one, and each change validated, applied at once and audited.

Every function here takes the current time and a session; none reads the clock or talks to
Slack. A change writes a `ConfigChange` row in the same transaction as the change itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from pulses.cadence import (
    MONTHLY_WEEKS,
    Cadence,
    CadenceError,
    Frequency,
    is_known_timezone,
    next_occurrence,
    occurrence_dates,
)
from pulses.commands import CadenceChange
from pulses.groups import cadence_of, create_group
from pulses.metrics import ANONYMITY_MINIMUM, DEFAULT_ANONYMITY_THRESHOLD
from pulses.questions import FOCUS, FRICTION, current_questions
from pulses.reports import OpenRun, RunReport, group_status
from storage.models import (
    Answer,
    ConfigChange,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
    SkipDate,
)

WEEKDAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHLY_WEEK_NAMES: Final[dict[int, str]] = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    -1: "last",
}
DELIVERY_MODES: Final = ("channel", "dm")
MAX_LAYER_LENGTH: Final = 64
MAX_PRIORITY_NAME: Final = 75
MAX_PRIORITY_WEIGHT: Final = 1000.0
# The priorities modal spends three blocks on each priority; Slack allows 100 per modal.
MAX_PRIORITIES: Final = 25
MAX_QUESTION_TEXT: Final = 500
# A pulse should take under a minute (PRODUCT.md): a handful of statements, not a survey.
MAX_LIKERT_ITEMS: Final = 10
RECENT_CHANGES: Final = 10
_SUMMARY_LIMIT = 1000
_QUESTION_KEY = re.compile(r"[a-z][a-z0-9_]{1,31}")


class InvalidChange(ValueError):
    """A change that cannot be made; ``problems`` maps a field name to what is wrong with it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = dict(problems)

    @property
    def message(self) -> str:
        return " ".join(self.problems.values())


# --- who is an admin ------------------------------------------------------------------------


def is_admin(
    *, user_id: str, workspace_admin: bool, workspace_owner: bool, admin_ids: Iterable[str]
) -> bool:
    """Slack's workspace owners and admins, plus the members named in the settings."""
    return workspace_admin or workspace_owner or user_id in set(admin_ids)


# --- audit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What a change did, in words; ``changed`` is False when nothing needed doing."""

    group_id: int | None
    lines: tuple[str, ...]
    changed: bool = True

    @property
    def summary(self) -> str:
        return "; ".join(self.lines)


def record_change(
    *,
    session: Session,
    workspace_id: int,
    group_id: int | None,
    user_id: str,
    summary: str,
    now: datetime,
) -> ConfigChange:
    """Write who changed what, when."""
    if len(summary) > _SUMMARY_LIMIT:
        summary = summary[: _SUMMARY_LIMIT - 1] + "…"
    row = ConfigChange(
        workspace_id=workspace_id,
        group_id=group_id,
        user_id=user_id,
        summary=summary,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _audited(
    session: Session,
    workspace_id: int,
    group_id: int | None,
    user_id: str,
    lines: Sequence[str],
    now: datetime,
) -> Change:
    change = Change(group_id=group_id, lines=tuple(lines))
    record_change(
        session=session,
        workspace_id=workspace_id,
        group_id=group_id,
        user_id=user_id,
        summary=change.summary,
        now=now,
    )
    return change


def recent_changes(
    *, session: Session, workspace_id: int, limit: int = RECENT_CHANGES
) -> list[ConfigChange]:
    """The workspace's latest configuration changes, newest first."""
    return list(
        session.exec(
            select(ConfigChange)
            .where(ConfigChange.workspace_id == workspace_id)
            .order_by(col(ConfigChange.created_at).desc(), col(ConfigChange.id).desc())
            .limit(limit)
        ).all()
    )


# --- a group's settings ---------------------------------------------------------------------

# Field names double as the setup modal's block ids, so a problem lands next to its input.
LAYER = "layer"
DELIVERY_MODE = "delivery_mode"
FREQUENCY = "frequency"
WEEKDAYS = "weekdays"
MONTHLY_WEEK = "monthly_week"
LOCAL_TIME = "local_time"
TIMEZONE = "timezone"
PER_MEMBER_TIME = "per_member_time"
ANSWER_WINDOW = "answer_window_hours"
REMINDER = "reminder_hours"
DIGEST_WEEKDAY = "digest_weekday"
DIGEST_TIME = "digest_time"
DIGEST_CHANNEL = "digest_channel"
THRESHOLD = "anonymity_threshold"


@dataclass(frozen=True)
class GroupSettings:
    """Everything the setup modal edits, in the domain's types."""

    layer: str | None = None
    delivery_mode: str = "channel"
    frequency: Frequency = "weekly"
    weekdays: tuple[int, ...] = (0,)
    monthly_week: int = 1
    local_time: time = time(9, 0)
    timezone: str = "UTC"
    per_member_time: bool = False
    answer_window: timedelta = timedelta(hours=48)
    reminder_after: timedelta | None = timedelta(hours=24)
    digest_weekday: int | None = None
    digest_time: time = time(9, 0)
    digest_channel_id: str | None = None
    anonymity_threshold: int = DEFAULT_ANONYMITY_THRESHOLD

    def cadence(self) -> Cadence:
        return Cadence(
            frequency=self.frequency,
            weekdays=self.weekdays,
            local_time=self.local_time,
            timezone=self.timezone,
            per_member_time=self.per_member_time,
            monthly_week=self.monthly_week,
            answer_window=self.answer_window,
            reminder_after=self.reminder_after,
        )


def default_settings(*, timezone: str) -> GroupSettings:
    """A new group's settings: weekly on Monday at 09:00 in the admin's zone."""
    return GroupSettings(timezone=timezone if is_known_timezone(timezone) else "UTC")


def _parse_hhmm(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


def settings_of(group: LeadershipGroup) -> GroupSettings:
    """A group's current settings."""
    frequency: Frequency = group.frequency  # type: ignore[assignment]
    return GroupSettings(
        layer=group.layer,
        delivery_mode=group.delivery_mode,
        frequency=frequency,
        weekdays=tuple(sorted(int(day) for day in group.weekdays.split(",") if day != "")),
        monthly_week=group.monthly_week,
        local_time=_parse_hhmm(group.local_time),
        timezone=group.timezone,
        per_member_time=group.per_member_time,
        answer_window=timedelta(minutes=group.answer_window_minutes),
        reminder_after=(
            timedelta(minutes=group.reminder_after_minutes)
            if group.reminder_after_minutes is not None
            else None
        ),
        digest_weekday=group.digest_weekday,
        digest_time=_parse_hhmm(group.digest_time),
        digest_channel_id=group.digest_channel_id,
        anonymity_threshold=group.anonymity_threshold,
    )


def validate_settings(settings: GroupSettings) -> None:
    """Raise :class:`InvalidChange` naming each field that is wrong (the cadence by `validate`)."""
    problems: dict[str, str] = {}
    if settings.layer is not None and len(settings.layer) > MAX_LAYER_LENGTH:
        problems[LAYER] = f"Keep the layer label under {MAX_LAYER_LENGTH + 1} characters."
    if settings.delivery_mode not in DELIVERY_MODES:
        problems[DELIVERY_MODE] = "Choose the channel or a direct message."
    elif settings.per_member_time and settings.delivery_mode != "dm":
        # One channel message goes out once, at the group's time; only DMs can follow each
        # member's clock (pulses.dispatch.per_member).
        problems[PER_MEMBER_TIME] = (
            "Members' local time needs the pulse by direct message: a channel message goes "
            "out once, at the group's time."
        )
    if settings.anonymity_threshold < ANONYMITY_MINIMUM:
        problems[THRESHOLD] = (
            f"The anonymity threshold can't be below {ANONYMITY_MINIMUM}: with fewer answers "
            "a leader's answer could be worked out."
        )
    if settings.digest_weekday is not None and not 0 <= settings.digest_weekday <= 6:
        problems[DIGEST_WEEKDAY] = "Choose a day of the week for the digest."
    if not is_known_timezone(settings.timezone):
        problems[TIMEZONE] = (
            f"'{settings.timezone[:40]}' is not a known time zone (e.g. Europe/Berlin, "
            "America/New_York)."
        )
    if not settings.weekdays:
        problems[WEEKDAYS] = "Pick at least one day of the week for the pulse."
    if settings.monthly_week not in MONTHLY_WEEKS:
        problems[MONTHLY_WEEK] = "Choose the first, second, third, fourth or last week."
    if settings.frequency == "monthly" and len(settings.weekdays) > 1:
        problems[WEEKDAYS] = "A monthly pulse goes out on one day: pick a single weekday."
    if not problems:
        # The window is checked without the reminder first, so each message lands on its field.
        try:
            replace(settings.cadence(), reminder_after=None).validate()
        except CadenceError as error:
            field_name = FREQUENCY if "frequency" in str(error) else ANSWER_WINDOW
            problems[field_name] = str(error)
    if not problems:
        try:
            settings.cadence().validate()
        except CadenceError as error:
            problems[REMINDER] = str(error)
    if problems:
        raise InvalidChange(problems)


def describe_cadence(settings: GroupSettings) -> str:
    """`weekly on Mon, Thu at 09:30 (Europe/Berlin)` and the like."""
    days = ", ".join(WEEKDAY_NAMES[day] for day in settings.weekdays)
    at = settings.local_time.strftime("%H:%M")
    if settings.frequency == "monthly":
        when = f"monthly on the {MONTHLY_WEEK_NAMES.get(settings.monthly_week, '?')} {days}"
    elif settings.frequency == "biweekly":
        when = f"every other week on {days}"
    else:
        when = f"weekly on {days}"
    if settings.per_member_time:
        return f"{when} at {at} in each member's time zone (fallback {settings.timezone})"
    return f"{when} at {at} ({settings.timezone})"


def _hours(duration: timedelta | None) -> str:
    if duration is None:
        return "none"
    hours = duration.total_seconds() / 3600
    return f"{hours:g} h"


def _describe_digest(settings: GroupSettings) -> str:
    day = (
        "the day after a pulse closes"
        if settings.digest_weekday is None
        else WEEKDAY_NAMES[settings.digest_weekday]
    )
    channel = f"<#{settings.digest_channel_id}>" if settings.digest_channel_id else "the group"
    return f"{day} at {settings.digest_time:%H:%M} in {channel}"


def describe_settings_changes(before: GroupSettings, after: GroupSettings) -> list[str]:
    """One line per setting that differs, in words."""
    lines: list[str] = []
    if describe_cadence(before) != describe_cadence(after):
        lines.append(f"cadence {describe_cadence(before)} → {describe_cadence(after)}")
    if before.answer_window != after.answer_window:
        lines.append(
            f"answer window {_hours(before.answer_window)} → {_hours(after.answer_window)}"
        )
    if before.reminder_after != after.reminder_after:
        lines.append(f"reminder {_hours(before.reminder_after)} → {_hours(after.reminder_after)}")
    if before.layer != after.layer:
        lines.append(f"layer {before.layer or 'none'} → {after.layer or 'none'}")
    if before.delivery_mode != after.delivery_mode:
        lines.append(f"delivery {before.delivery_mode} → {after.delivery_mode}")
    digest_before = (before.digest_weekday, before.digest_time, before.digest_channel_id)
    digest_after = (after.digest_weekday, after.digest_time, after.digest_channel_id)
    if digest_before != digest_after:
        lines.append(f"digest {_describe_digest(before)} → {_describe_digest(after)}")
    if before.anonymity_threshold != after.anonymity_threshold:
        lines.append(
            f"anonymity threshold {before.anonymity_threshold} → {after.anonymity_threshold}"
        )
    return lines


def _write_settings(group: LeadershipGroup, settings: GroupSettings) -> None:
    group.layer = settings.layer or None
    group.delivery_mode = settings.delivery_mode
    group.frequency = settings.frequency
    group.weekdays = ",".join(str(day) for day in settings.weekdays)
    group.monthly_week = settings.monthly_week
    group.local_time = settings.local_time.strftime("%H:%M")
    group.timezone = settings.timezone
    group.per_member_time = settings.per_member_time
    group.answer_window_minutes = int(settings.answer_window.total_seconds() // 60)
    group.reminder_after_minutes = (
        int(settings.reminder_after.total_seconds() // 60)
        if settings.reminder_after is not None
        else None
    )
    group.digest_weekday = settings.digest_weekday
    group.digest_time = settings.digest_time.strftime("%H:%M")
    group.digest_channel_id = settings.digest_channel_id
    group.anonymity_threshold = settings.anonymity_threshold


def _schedule_from(
    group: LeadershipGroup, settings: GroupSettings, now: datetime, *, new_rhythm: bool
) -> None:
    """Make a new schedule start now.

    The scheduler claims every occurrence since the schedule started (up to a week back) that has
    no run yet, so without this a new schedule would "catch up" on days before the change:
    late pulses sent at once, or missed runs recorded for days nobody was asked about.
    ``new_rhythm`` (a group that just became biweekly) also picks its "on" weeks; a biweekly
    group whose day or time changes keeps them.
    """
    group.schedule_starts_at = now
    if new_rhythm and settings.frequency == "biweekly":
        # The "on" week is the one of the first pulse day from now, not a fixed 2026 Monday.
        weekly = replace(settings.cadence(), frequency="weekly")
        first = next_occurrence(weekly, after=now)
        group.anchor = first.day if first is not None else None


def _group_in_channel(
    session: Session, workspace_id: int, channel_id: str
) -> LeadershipGroup | None:
    return session.exec(
        select(LeadershipGroup).where(
            LeadershipGroup.workspace_id == workspace_id, LeadershipGroup.channel_id == channel_id
        )
    ).first()


def apply_setup(
    *,
    session: Session,
    workspace_id: int,
    channel_id: str,
    channel_name: str,
    settings: GroupSettings,
    user_id: str,
    now: datetime,
) -> Change:
    """Make the channel a leadership group with these settings, or change its settings."""
    validate_settings(settings)
    group = _group_in_channel(session, workspace_id, channel_id)
    if group is None or not group.active:
        if group is None:
            group = create_group(
                session=session,
                workspace_id=workspace_id,
                channel_id=channel_id,
                channel_name=channel_name,
                created_at=now,
            )
        group.active = True
        group.paused = False
        group.channel_name = channel_name or group.channel_name
        _write_settings(group, settings)
        _schedule_from(group, settings, now, new_rhythm=True)
        group.updated_at = now
        session.add(group)
        session.flush()
        assert group.id is not None
        line = (
            f"made #{group.channel_name or channel_id} a leadership group: "
            f"{describe_cadence(settings)}"
        )
        return _audited(session, workspace_id, group.id, user_id, [line], now)
    assert group.id is not None
    before = settings_of(group)
    lines = describe_settings_changes(before, settings)
    if not lines:
        return Change(group_id=group.id, lines=("nothing changed",), changed=False)
    _write_settings(group, settings)
    if describe_cadence(before) != describe_cadence(settings):
        _schedule_from(group, settings, now, new_rhythm=before.frequency != settings.frequency)
    group.updated_at = now
    session.add(group)
    session.flush()
    lines[0] = f"#{group.channel_name or channel_id}: {lines[0]}"
    return _audited(session, workspace_id, group.id, user_id, lines, now)


def change_cadence(
    *,
    session: Session,
    group: LeadershipGroup,
    change: CadenceChange,
    user_id: str,
    now: datetime,
) -> Change:
    """Apply ``/coherence cadence …``; the new schedule counts from now."""
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
        return Change(
            group_id=group.id,
            lines=(f"the cadence already is {describe_cadence(after)}",),
            changed=False,
        )
    _write_settings(group, after)
    _schedule_from(group, after, now, new_rhythm=before.frequency != after.frequency)
    group.updated_at = now
    session.add(group)
    session.flush()
    line = (
        f"#{group.channel_name or group.channel_id}: cadence {describe_cadence(before)} "
        f"→ {describe_cadence(after)}"
    )
    return _audited(session, group.workspace_id, group.id, user_id, [line], now)


def pause(*, session: Session, group: LeadershipGroup, user_id: str, now: datetime) -> Change:
    """Stop scheduling pulses for the group until it is resumed."""
    assert group.id is not None
    name = f"#{group.channel_name or group.channel_id}"
    if group.paused:
        return Change(group_id=group.id, lines=(f"{name} was already paused",), changed=False)
    group.paused = True
    group.updated_at = now
    session.add(group)
    return _audited(session, group.workspace_id, group.id, user_id, [f"paused {name}"], now)


def resume(*, session: Session, group: LeadershipGroup, user_id: str, now: datetime) -> Change:
    """Schedule pulses again, from now on: days that passed while paused are not made up."""
    assert group.id is not None
    name = f"#{group.channel_name or group.channel_id}"
    if not group.paused:
        return Change(group_id=group.id, lines=(f"{name} is not paused",), changed=False)
    group.paused = False
    _schedule_from(group, settings_of(group), now, new_rhythm=False)
    group.updated_at = now
    session.add(group)
    return _audited(session, group.workspace_id, group.id, user_id, [f"resumed {name}"], now)


def skip(
    *, session: Session, group: LeadershipGroup, day: date, user_id: str, now: datetime
) -> Change:
    """No pulse on ``day`` (the group's local date)."""
    assert group.id is not None
    name = f"#{group.channel_name or group.channel_id}"
    existing = session.exec(
        select(SkipDate).where(SkipDate.group_id == group.id, SkipDate.day == day)
    ).first()
    if existing is not None:
        return Change(
            group_id=group.id, lines=(f"{name} already skips {day.isoformat()}",), changed=False
        )
    session.add(SkipDate(group_id=group.id, day=day))
    group.updated_at = now
    session.add(group)
    lines = [f"{name} skips {day.isoformat()}"]
    sent = session.exec(
        select(PulseRun).where(PulseRun.group_id == group.id, PulseRun.occurrence_day == day)
    ).first()
    if sent is not None:
        lines.append("that day's pulse had already gone out")
    elif day not in _pulse_days(cadence_of(session=session, group=group), day):
        lines.append("no pulse was due that day anyway")
    return _audited(session, group.workspace_id, group.id, user_id, lines, now)


def _pulse_days(cadence: Cadence, day: date) -> set[date]:
    return set(occurrence_dates(replace(cadence, paused=False, skip_dates=frozenset()), day, day))


def next_send(*, session: Session, group: LeadershipGroup, now: datetime) -> datetime | None:
    """When the group's next scheduled pulse goes out (UTC); None when paused or none is due.

    With per-member time this is the send in the group's (fallback) zone. A day that already
    has a run (a pulse sent by hand) is passed over, as the scheduler does.
    """
    cadence = cadence_of(session=session, group=group)
    after = now
    for _ in range(8):
        found = next_occurrence(cadence, after=after)
        if found is None:
            return None
        has_run = session.exec(
            select(PulseRun.id).where(
                PulseRun.group_id == group.id, PulseRun.occurrence_day == found.day
            )
        ).first()
        if has_run is None:
            return found.send_at
        after = found.send_at
    return None


# --- priorities -----------------------------------------------------------------------------

PRIORITY_NEW_NAME = "priority_new_name"
PRIORITY_NEW_WEIGHT = "priority_new_weight"
PRIORITY_NEW_SCOPE = "priority_new_scope"
PRIORITY_RETIRE = "priority_retire"


def priority_name_field(priority_id: int) -> str:
    return f"priority_name_{priority_id}"


def priority_weight_field(priority_id: int) -> str:
    return f"priority_weight_{priority_id}"


def priority_order_field(priority_id: int) -> str:
    return f"priority_order_{priority_id}"


@dataclass(frozen=True)
class PriorityRow:
    """The modal's values for one existing priority."""

    priority_id: int
    name: str
    weight: float | None
    order: float
    retire: bool = False


@dataclass(frozen=True)
class NewPriority:
    name: str
    weight: float | None = None
    group_only: bool = False


@dataclass(frozen=True)
class PriorityEdits:
    rows: tuple[PriorityRow, ...] = ()
    new: NewPriority | None = None


def editable_priorities(
    *, session: Session, workspace_id: int, group: LeadershipGroup | None
) -> list[Priority]:
    """The active workspace-wide priorities, and the group's own when there is a group."""
    scope: ColumnElement[bool] = col(Priority.group_id).is_(None)
    if group is not None:
        scope = or_(scope, Priority.group_id == group.id)
    return list(
        session.exec(
            select(Priority)
            .where(Priority.workspace_id == workspace_id, col(Priority.active).is_(True), scope)
            .order_by(col(Priority.position), col(Priority.id))
        ).all()
    )


def _weight_text(weight: float | None) -> str:
    return "equal" if weight is None else f"{weight:g}"


def _check_weight(weight: float | None) -> str | None:
    if weight is None:
        return None
    if not math.isfinite(weight) or not 0 <= weight <= MAX_PRIORITY_WEIGHT:
        return f"A weight is a number from 0 to {MAX_PRIORITY_WEIGHT:g}; leave it empty for equal."
    return None


def _check_name(name: str) -> str | None:
    if not name.strip():
        return "Give the priority a name."
    if len(name.strip()) > MAX_PRIORITY_NAME:
        return f"Keep the name under {MAX_PRIORITY_NAME + 1} characters."
    return None


def apply_priorities(
    *,
    session: Session,
    workspace_id: int,
    group: LeadershipGroup | None,
    edits: PriorityEdits,
    user_id: str,
    now: datetime,
) -> Change:
    """Rename, reweight, reorder, retire and add priorities in one go.

    Retiring keeps the row (runs and answers reference it by id), so past digests still name
    it; `active_priorities` leaves it out of every new pulse.
    """
    current: dict[int, Priority] = {
        p.id: p
        for p in editable_priorities(session=session, workspace_id=workspace_id, group=group)
        if p.id is not None
    }
    # A row for a priority retired meanwhile (a stale modal) is ignored, not revived.
    rows = [row for row in edits.rows if row.priority_id in current]
    problems: dict[str, str] = {}
    kept_names: dict[str, int] = {}
    for row in rows:
        if row.retire:
            continue
        problem = _check_name(row.name)
        if problem:
            problems[priority_name_field(row.priority_id)] = problem
        elif row.name.strip().casefold() in kept_names:
            problems[priority_name_field(row.priority_id)] = "Another priority has this name."
        kept_names[row.name.strip().casefold()] = row.priority_id
        problem = _check_weight(row.weight)
        if problem:
            problems[priority_weight_field(row.priority_id)] = problem
    new = edits.new
    if new is not None:
        problem = _check_name(new.name)
        if problem is None and new.name.strip().casefold() in kept_names:
            problem = "A priority with this name exists already."
        if problem:
            problems[PRIORITY_NEW_NAME] = problem
        problem = _check_weight(new.weight)
        if problem:
            problems[PRIORITY_NEW_WEIGHT] = problem
        if new.group_only and group is None:
            problems[PRIORITY_NEW_SCOPE] = (
                "Run this in a leadership group's channel to add one just for it."
            )
        active_after = sum(1 for row in rows if not row.retire) + len(
            [p for p in current if p not in {row.priority_id for row in rows}]
        )
        if active_after >= MAX_PRIORITIES:
            problems.setdefault(
                PRIORITY_NEW_NAME,
                f"There can be at most {MAX_PRIORITIES} priorities; retire one first.",
            )
    if problems:
        raise InvalidChange(problems)

    lines: list[str] = []
    by_id = {row.priority_id: row for row in rows}
    for priority_id, priority in current.items():
        edit = by_id.get(priority_id)
        if edit is None:
            continue
        if edit.retire:
            priority.active = False
            priority.retired_at = now
            lines.append(f"retired '{priority.name}'")
            continue
        name = edit.name.strip()
        if name != priority.name:
            lines.append(f"renamed '{priority.name}' to '{name}'")
            priority.name = name
        if edit.weight != priority.weight:
            lines.append(
                f"weight of '{name}' {_weight_text(priority.weight)} → {_weight_text(edit.weight)}"
            )
            priority.weight = edit.weight
    kept = [p for p in current.values() if p.active]
    old_order = [p.id for p in kept]
    kept.sort(
        key=lambda p: (
            by_id[p.id].order if p.id in by_id else float(p.position + 1),
            p.position,
            p.id or 0,
        )
    )
    if [p.id for p in kept] != old_order:
        lines.append("new order: " + ", ".join(f"'{p.name}'" for p in kept))
    for position, priority in enumerate(kept):
        priority.position = position
    if new is not None:
        scoped = group if new.group_only else None
        session.add(
            Priority(
                workspace_id=workspace_id,
                group_id=scoped.id if scoped is not None else None,
                name=new.name.strip(),
                weight=new.weight,
                position=len(kept),
                created_at=now,
            )
        )
        where = f" for #{scoped.channel_name}" if scoped is not None else ""
        lines.append(f"added '{new.name.strip()}'{where}")
    if not lines:
        return Change(
            group_id=group.id if group else None, lines=("nothing changed",), changed=False
        )
    session.add_all(current.values())
    session.flush()
    return _audited(session, workspace_id, group.id if group else None, user_id, lines, now)


# --- questions ------------------------------------------------------------------------------

QUESTION_NEW_KEY = "question_new_key"
QUESTION_NEW_TEXT = "question_new_text"


def question_field(key: str) -> str:
    return f"question_{key}"


@dataclass(frozen=True)
class QuestionEdits:
    """New wording by question key, and optionally a new Likert item with its dimension key."""

    texts: Mapping[str, str] = field(default_factory=dict)
    new_key: str | None = None
    new_text: str | None = None


def apply_questions(
    *, session: Session, workspace_id: int, edits: QuestionEdits, user_id: str, now: datetime
) -> Change:
    """Every changed wording becomes a new version; a version is never rewritten.

    Runs record the exact question ids they asked, so a trend can say where wording changed.
    """
    current = {q.key: q for q in current_questions(session=session, workspace_id=workspace_id)}
    problems: dict[str, str] = {}
    changed: dict[str, str] = {}
    for key, text in edits.texts.items():
        question = current.get(key)
        if question is None:
            continue
        wording = " ".join(text.split())
        if not wording:
            problems[question_field(key)] = "A question needs some wording."
        elif len(wording) > MAX_QUESTION_TEXT:
            problems[question_field(key)] = f"Keep it under {MAX_QUESTION_TEXT + 1} characters."
        elif wording != question.text:
            changed[key] = wording
    new_key = (edits.new_key or "").strip().lower()
    new_text = " ".join((edits.new_text or "").split())
    if new_key or new_text:
        if not new_key:
            problems[QUESTION_NEW_KEY] = "Name the dimension this statement measures."
        elif not _QUESTION_KEY.fullmatch(new_key):
            problems[QUESTION_NEW_KEY] = (
                "Use 2–32 lowercase letters, digits or _, starting with a letter "
                "(e.g. customer_focus)."
            )
        elif new_key in (FOCUS, FRICTION) or _key_exists(session, workspace_id, new_key):
            problems[QUESTION_NEW_KEY] = (
                f"'{new_key}' exists already; edit its wording above instead."
            )
        elif sum(1 for q in current.values() if q.kind == "likert") >= MAX_LIKERT_ITEMS:
            problems[QUESTION_NEW_KEY] = (
                f"A pulse has at most {MAX_LIKERT_ITEMS} statements, so it stays under a minute."
            )
        if not new_text:
            problems[QUESTION_NEW_TEXT] = "Write the statement leaders will rate from 1 to 5."
        elif len(new_text) > MAX_QUESTION_TEXT:
            problems[QUESTION_NEW_TEXT] = f"Keep it under {MAX_QUESTION_TEXT + 1} characters."
    if problems:
        raise InvalidChange(problems)
    lines: list[str] = []
    for key, wording in changed.items():
        question = current[key]
        version = _latest_version(session, workspace_id, key) + 1
        session.add(
            Question(
                workspace_id=workspace_id,
                key=key,
                kind=question.kind,
                text=wording,
                version=version,
                position=question.position,
                created_at=now,
            )
        )
        lines.append(f"new wording for '{key}' (version {version}): \"{wording}\"")
    if new_key:
        position = max((q.position for q in current.values()), default=-1) + 1
        session.add(
            Question(
                workspace_id=workspace_id,
                key=new_key,
                kind="likert",
                text=new_text,
                version=1,
                position=position,
                created_at=now,
            )
        )
        lines.append(f"added statement '{new_key}': \"{new_text}\"")
    if not lines:
        return Change(group_id=None, lines=("nothing changed",), changed=False)
    try:
        session.flush()
    except IntegrityError:
        # Another admin saved a version of the same question at the same moment.
        field = question_field(next(iter(changed))) if changed else QUESTION_NEW_KEY
        raise InvalidChange(
            {
                field: "Someone else changed the questions just now. Close this and run "
                "/coherence questions again to see their change."
            }
        ) from None
    return _audited(session, workspace_id, None, user_id, lines, now)


def _key_exists(session: Session, workspace_id: int, key: str) -> bool:
    found = session.exec(
        select(Question.id).where(Question.workspace_id == workspace_id, Question.key == key)
    ).first()
    return found is not None


def _latest_version(session: Session, workspace_id: int, key: str) -> int:
    latest = session.exec(
        select(func.max(Question.version)).where(
            Question.workspace_id == workspace_id, Question.key == key
        )
    ).one()
    return int(latest or 0)


def question_versions(*, session: Session, workspace_id: int) -> dict[str, list[Question]]:
    """Every version of every question, oldest first, by key."""
    versions: dict[str, list[Question]] = {}
    for question in session.exec(
        select(Question)
        .where(Question.workspace_id == workspace_id)
        .order_by(col(Question.key), col(Question.version))
    ):
        versions.setdefault(question.key, []).append(question)
    return versions


# --- what admins and members see on the App Home --------------------------------------------


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
    cadence: str
    next_send: datetime | None
    latest: RunReport | None
    open_run: OpenRun | None
    problems: tuple[DeliveryProblem, ...]


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
                cadence=describe_cadence(settings_of(group)),
                next_send=next_send(session=session, group=group, now=now),
                latest=status.latest,
                open_run=status.open_run,
                problems=tuple(delivery_problems(session=session, group_id=group.id)),
            )
        )
    return overview


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
    answered = select(Answer.run_id).where(Answer.user_id == user_id)
    query = (
        select(PulseRun, LeadershipGroup)
        .join(Invitation, col(Invitation.run_id) == PulseRun.id)
        .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
        .where(
            Invitation.user_id == user_id,
            Invitation.status == "sent",
            PulseRun.status == "open",
            col(PulseRun.id).not_in(answered),
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


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar date of ``moment`` in ``timezone`` (UTC if unknown)."""
    zone = ZoneInfo(timezone if is_known_timezone(timezone) else "UTC")
    return moment.astimezone(zone).date()
