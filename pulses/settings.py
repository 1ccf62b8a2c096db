"""A leadership group's settings: the setup modal's fields, validated, described and applied.

Every function takes the current time and a session; none reads the clock or talks to Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Final

from sqlmodel import Session, select

from pulses.audit import Change, InvalidChange, audited, unchanged
from pulses.cadence import (
    MONTHLY_WEEKS,
    Cadence,
    CadenceError,
    Frequency,
    is_known_timezone,
    next_occurrence,
)
from pulses.groups import create_group
from pulses.i18n import LANGUAGES as LANGUAGES  # the setup modal offers them from here
from pulses.i18n import N_, _, amount, weekday
from pulses.privacy import ANONYMITY_MINIMUM, DEFAULT_ANONYMITY_THRESHOLD
from storage.models import LeadershipGroup

# Marked for the catalogue: "monthly on the {week} {days}".
MONTHLY_WEEK_NAMES: Final[dict[int, str]] = {
    1: N_("first"),
    2: N_("second"),
    3: N_("third"),
    4: N_("fourth"),
    -1: N_("last"),
}
DELIVERY_MODES: Final = ("channel", "dm")
MAX_LAYER_LENGTH: Final = 64
# The answer window and the reminder are at least an hour, as the setup modal's hour fields
# allow, whatever path changes them (the cadence caps both at 14 days), in whole minutes since
# they are stored in minutes.
MIN_HOURS: Final = 1

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
LANGUAGE = "language"


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
    language: str = "en"

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
        language=group.language,
    )


def validate_settings(settings: GroupSettings) -> None:
    """Raise :class:`InvalidChange` naming each field that is wrong (the cadence by `validate`)."""
    problems: dict[str, str] = {}
    if settings.layer is not None and len(settings.layer) > MAX_LAYER_LENGTH:
        problems[LAYER] = _("Keep the layer label under {n} characters.").format(
            n=MAX_LAYER_LENGTH + 1
        )
    if settings.delivery_mode not in DELIVERY_MODES:
        problems[DELIVERY_MODE] = _("Choose the channel or a direct message.")
    elif settings.per_member_time and settings.delivery_mode != "dm":
        # One channel message goes out once, at the group's time; only DMs can follow each
        # member's clock (pulses.dispatch.per_member).
        problems[PER_MEMBER_TIME] = _(
            "Members' local time needs the pulse by direct message: a channel message goes "
            "out once, at the group's time."
        )
    if settings.anonymity_threshold < ANONYMITY_MINIMUM:
        problems[THRESHOLD] = _(
            "The anonymity threshold can't be below {n}: with fewer answers "
            "a leader's answer could be worked out."
        ).format(n=ANONYMITY_MINIMUM)
    if settings.language not in LANGUAGES:
        problems[LANGUAGE] = _("Choose one of the languages offered.")
    if settings.digest_weekday is not None and not 0 <= settings.digest_weekday <= 6:
        problems[DIGEST_WEEKDAY] = _("Choose a day of the week for the digest.")
    if not is_known_timezone(settings.timezone):
        problems[TIMEZONE] = _(
            "'{zone}' is not a known time zone (e.g. Europe/Berlin, America/New_York)."
        ).format(zone=settings.timezone[:40])
    if not settings.weekdays:
        problems[WEEKDAYS] = _("Pick at least one day of the week for the pulse.")
    if settings.monthly_week not in MONTHLY_WEEKS:
        problems[MONTHLY_WEEK] = _("Choose the first, second, third, fourth or last week.")
    if settings.frequency == "monthly" and len(settings.weekdays) > 1:
        problems[WEEKDAYS] = _("A monthly pulse goes out on one day: pick a single weekday.")
    for field_name, what, duration in (
        (ANSWER_WINDOW, _("The answer window"), settings.answer_window),
        (REMINDER, _("The reminder"), settings.reminder_after),
    ):
        if duration is not None and (problem := _hours_problem(what, duration)):
            problems[field_name] = problem
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


def _hours_problem(what: str, duration: timedelta) -> str | None:
    if duration < timedelta(hours=MIN_HOURS):
        return _("{what} must be at least {n} hour, got {hours}.").format(
            what=what, n=MIN_HOURS, hours=_hours(duration)
        )
    if duration % timedelta(minutes=1):
        return _("{what} must be a whole number of minutes, got {duration}.").format(
            what=what, duration=duration
        )
    return None


def describe_cadence(settings: GroupSettings) -> str:
    """`weekly on Mon, Thu at 09:30 (Europe/Berlin)` and the like."""
    days = ", ".join(weekday(day) for day in settings.weekdays)
    at = settings.local_time.strftime("%H:%M")
    if settings.frequency == "monthly":
        week = MONTHLY_WEEK_NAMES.get(settings.monthly_week)
        when = _("monthly on the {week} {days}").format(week=_(week) if week else "?", days=days)
    elif settings.frequency == "biweekly":
        when = _("every other week on {days}").format(days=days)
    else:
        when = _("weekly on {days}").format(days=days)
    if settings.per_member_time:
        return _("{when} at {at} in each member's time zone (fallback {zone})").format(
            when=when, at=at, zone=settings.timezone
        )
    return _("{when} at {at} ({zone})").format(when=when, at=at, zone=settings.timezone)


def _hours(duration: timedelta | None) -> str:
    if duration is None:
        return _("none")
    return _("{hours} h").format(hours=amount(duration.total_seconds() / 3600))


def _describe_digest(settings: GroupSettings) -> str:
    day = (
        _("the day after a pulse closes")
        if settings.digest_weekday is None
        else weekday(settings.digest_weekday)
    )
    channel = f"<#{settings.digest_channel_id}>" if settings.digest_channel_id else _("the group")
    return _("{day} at {at} in {channel}").format(
        day=day, at=f"{settings.digest_time:%H:%M}", channel=channel
    )


# Each setting a change may touch, as it is described to admins in the audit trail (the
# labels marked for the catalogue, translated where a line is written).
_DESCRIBED: Final[tuple[tuple[str, Callable[[GroupSettings], str]], ...]] = (
    (N_("cadence"), describe_cadence),
    (N_("answer window"), lambda settings: _hours(settings.answer_window)),
    (N_("reminder"), lambda settings: _hours(settings.reminder_after)),
    (N_("layer"), lambda settings: settings.layer or _("none")),
    (N_("delivery"), lambda settings: settings.delivery_mode),
    (N_("digest"), _describe_digest),
    (N_("anonymity threshold"), lambda settings: str(settings.anonymity_threshold)),
    (N_("language"), lambda settings: settings.language),
)


def describe_settings_changes(before: GroupSettings, after: GroupSettings) -> list[str]:
    """One line per setting that differs, in words."""
    lines = []
    for label, describe in _DESCRIBED:
        was, now = describe(before), describe(after)
        if was != now:
            lines.append(f"{_(label)} {was} → {now}")
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
    group.language = settings.language


def restart_schedule(
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


def save_settings(
    session: Session,
    group: LeadershipGroup,
    before: GroupSettings | None,
    after: GroupSettings,
    now: datetime,
) -> None:
    """Write ``after`` over ``before`` (None for a new group); a new cadence starts from now."""
    _write_settings(group, after)
    if before is None or describe_cadence(before) != describe_cadence(after):
        new_rhythm = before is None or before.frequency != after.frequency
        restart_schedule(group, after, now, new_rhythm=new_rhythm)
    group.updated_at = now
    session.add(group)
    session.flush()


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
    before = settings_of(group) if group is not None and group.active else None
    if group is None:
        # Its name is set with the rest below, as for a group set up again.
        group = create_group(
            session=session, workspace_id=workspace_id, channel_id=channel_id, created_at=now
        )
    name = f"#{channel_name or group.channel_name or channel_id}"

    def describe() -> list[str]:
        if before is None:
            made = _("made {name} a leadership group: {cadence}")
            return [made.format(name=name, cadence=describe_cadence(settings))]
        lines = describe_settings_changes(before, settings)
        if lines:
            lines[0] = f"#{group.channel_name or channel_id}: {lines[0]}"
        return lines

    assert group.id is not None
    if before is not None and not describe_settings_changes(before, settings):
        return unchanged(group.id)
    if before is None:
        group.active = True
        group.paused = False
        group.channel_name = channel_name or group.channel_name
    save_settings(session, group, before, settings, now)
    return audited(session, workspace_id, group.id, user_id, describe, now)
