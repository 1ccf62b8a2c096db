"""When a leadership group's pulse is due: the pure calendar behind the scheduler.

Nothing here reads the clock; the current time is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pulses.i18n import _, amount, ngettext

Frequency = Literal["weekly", "biweekly", "monthly"]
FREQUENCIES: Final[tuple[Frequency, ...]] = get_args(Frequency)

MONTHLY_WEEKS: Final = (1, 2, 3, 4, -1)
# A Monday; the ISO week containing it is an "on" week for biweekly cadences.
DEFAULT_BIWEEKLY_ANCHOR: Final = date(2026, 1, 5)
MAX_ANSWER_WINDOW: Final = timedelta(days=14)
# Long enough to reach the next monthly pulse even past a few skipped months.
LOOKAHEAD: Final = timedelta(days=400)

_SEARCH_STEP = timedelta(days=35)


class CadenceError(ValueError):
    """A cadence that cannot be scheduled; the message is written for an admin."""


@dataclass(frozen=True)
class Cadence:
    """How often a group is pulsed, on which days, at what local time, and for how long.

    ``weekdays`` uses 0 = Monday … 6 = Sunday. For ``monthly`` each chosen weekday is
    taken in week ``monthly_week`` of the month (1–4, or -1 for the last one). For
    ``biweekly`` the ISO week (Monday–Sunday) containing ``anchor`` is an "on" week;
    ``None`` means :data:`DEFAULT_BIWEEKLY_ANCHOR`. With ``per_member_time`` each member
    is pulsed at ``local_time`` in their own zone and ``timezone`` is the fallback.
    ``answer_window`` and ``reminder_after`` are elapsed time from the send.
    """

    frequency: Frequency = "weekly"
    weekdays: tuple[int, ...] = (0,)
    local_time: time = time(9, 0)
    timezone: str = "UTC"
    per_member_time: bool = False
    monthly_week: int = 1
    anchor: date | None = DEFAULT_BIWEEKLY_ANCHOR
    answer_window: timedelta = timedelta(hours=48)
    reminder_after: timedelta | None = timedelta(hours=24)
    skip_dates: frozenset[date] = field(default_factory=frozenset)
    paused: bool = False

    def validate(self) -> None:
        """Raise :class:`CadenceError` unless this cadence can be scheduled.

        Beyond the field ranges, the answer window must not be longer than the shortest
        gap between two pulse days, so one run closes before the next one opens (a DST
        change can still make them touch for an hour), and never longer than 14 days.
        """
        if self.frequency not in FREQUENCIES:
            raise CadenceError(
                f"'{self.frequency}' is not a frequency (use weekly, biweekly or monthly)."
            )
        if not self.weekdays:
            raise CadenceError("Pick at least one day of the week for the pulse.")
        if any(type(day) is not int or not 0 <= day <= 6 for day in self.weekdays):
            raise CadenceError(
                f"Weekdays must be numbers from 0 (Monday) to 6 (Sunday), got {self.weekdays}."
            )
        if list(self.weekdays) != sorted(set(self.weekdays)):
            raise CadenceError(f"Weekdays must be sorted and unique, got {self.weekdays}.")
        if self.monthly_week not in MONTHLY_WEEKS:
            raise CadenceError(
                f"The week of the month must be 1, 2, 3, 4 or -1 (last), got {self.monthly_week}."
            )
        if self.local_time.tzinfo is not None:
            raise CadenceError("The send time must be a wall-clock time without a time zone.")
        if not is_known_timezone(self.timezone):
            raise CadenceError(_("'{zone}' is not a known time zone.").format(zone=self.timezone))
        self._validate_window()

    def _validate_window(self) -> None:
        window = self.answer_window
        if window <= timedelta(0):
            raise CadenceError(_("The answer window must be longer than zero."))
        if window > MAX_ANSWER_WINDOW:
            raise CadenceError(
                _("The answer window ({window}) is longer than the maximum of 14 days.").format(
                    window=_describe(window)
                )
            )
        gap = timedelta(days=_shortest_gap_days(self))
        if window > gap:
            raise CadenceError(
                _(
                    "The answer window ({window}) is longer than the {gap} between two pulses; "
                    "make it at most {gap} so each pulse closes before the next one opens."
                ).format(window=_describe(window), gap=_describe(gap))
            )
        reminder = self.reminder_after
        if reminder is not None and not timedelta(0) < reminder < window:
            raise CadenceError(
                _(
                    "The reminder ({reminder} after sending) must come before the pulse closes "
                    "({window} after sending)."
                ).format(reminder=_describe(reminder), window=_describe(window))
            )


@dataclass(frozen=True)
class Occurrence:
    """One due pulse: the local calendar ``day`` it belongs to and its UTC ``send_at``."""

    day: date
    send_at: datetime


def is_known_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    try:
        _zone(name)
    except CadenceError:
        return False
    return True


def send_timezone(cadence: Cadence, member_timezone: str | None) -> str:
    """The zone a member is pulsed in: their own with ``per_member_time``, else the group's.

    A member without a (known) zone falls back to the group's zone.
    """
    if cadence.per_member_time and member_timezone and is_known_timezone(member_timezone):
        return member_timezone
    return cadence.timezone


def occurrence_dates(cadence: Cadence, start: date, end: date) -> list[date]:
    """The local calendar days in ``start``–``end`` (inclusive) on which a pulse is due.

    Skipped dates are left out; a paused cadence has none.
    """
    if cadence.paused or start > end:
        return []
    if cadence.frequency == "monthly":
        days = _monthly_days(cadence, start, end)
    else:
        chosen = set(cadence.weekdays)
        days = [
            day
            for day in _days_between(start, end)
            if day.weekday() in chosen
            and (cadence.frequency == "weekly" or _is_on_week(day, cadence.anchor))
        ]
    return [day for day in days if day not in cadence.skip_dates]


def local_send_time(day: date, at: time, tz: str) -> datetime:
    """The UTC instant at which the wall clock in ``tz`` shows ``at`` on ``day``.

    Across DST the wall time is kept, not the UTC time. A wall time that does not exist
    (the spring-forward gap) moves forward by the length of the gap, e.g. 02:30 becomes
    03:30 in Europe/Berlin on 2026-03-29; one that happens twice (fall-back) takes the
    first, still-summer-time occurrence. Both follow from ``fold=0`` (PEP 495).
    """
    if at.tzinfo is not None:
        raise ValueError("'at' must be a wall-clock time without tzinfo")
    return datetime.combine(day, at.replace(fold=0), tzinfo=_zone(tz)).astimezone(UTC)


def due_occurrences(
    cadence: Cadence, *, after: datetime, until: datetime, tz: str | None = None
) -> list[Occurrence]:
    """Every occurrence whose send time in ``tz`` lies in ``(after, until]``, in send order.

    ``tz`` defaults to the cadence's zone; pass a member's zone (see :func:`send_timezone`)
    for ``per_member_time``. In the rare case that two days share one instant (a zone
    skipping a whole calendar day, as Pacific/Apia did on 2011-12-30), only the day that
    exists on the local calendar is kept.
    """
    _require_aware(after=after, until=until)
    zone_name = tz if tz is not None else cadence.timezone
    zone = _zone(zone_name)
    if cadence.paused or until <= after:
        return []
    # The local dates are taken in the zone being asked about, not the cadence's zone; a
    # send time can land a calendar day after its nominal day (a gap around midnight).
    first_day = after.astimezone(zone).date() - timedelta(days=2)
    last_day = until.astimezone(zone).date() + timedelta(days=1)
    by_instant: dict[datetime, Occurrence] = {}
    for day in occurrence_dates(cadence, first_day, last_day):
        send_at = local_send_time(day, cadence.local_time, zone_name)
        if not after < send_at <= until:
            continue
        kept = by_instant.get(send_at)
        if kept is None or send_at.astimezone(zone).date() == day:
            by_instant[send_at] = Occurrence(day=day, send_at=send_at)
    return sorted(by_instant.values(), key=lambda occurrence: occurrence.send_at)


def next_occurrence(
    cadence: Cadence, *, after: datetime, tz: str | None = None
) -> Occurrence | None:
    """The first occurrence sent strictly after ``after``, looking at most 400 days ahead.

    ``None`` when the cadence is paused or everything in that horizon is skipped.
    """
    _require_aware(after=after)
    start = after.astimezone(UTC)
    horizon = start + LOOKAHEAD
    while start < horizon:
        stop = min(start + _SEARCH_STEP, horizon)
        found = due_occurrences(cadence, after=start, until=stop, tz=tz)
        if found:
            return found[0]
        start = stop
    return None


def closes_at(send_at: datetime, cadence: Cadence) -> datetime:
    """When a pulse sent at ``send_at`` stops taking answers (UTC)."""
    _require_aware(send_at=send_at)
    # In UTC: adding to a zone-aware datetime adds wall-clock time, off by any DST shift.
    return send_at.astimezone(UTC) + cadence.answer_window


def remind_at(send_at: datetime, cadence: Cadence) -> datetime | None:
    """When non-respondents to a pulse sent at ``send_at`` are reminded (UTC), if at all."""
    _require_aware(send_at=send_at)
    if cadence.reminder_after is None:
        return None
    return send_at.astimezone(UTC) + cadence.reminder_after


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise CadenceError(_("'{zone}' is not a known time zone.").format(zone=name)) from error


def _require_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"'{name}' must be timezone-aware, got {moment.isoformat()}")


def _days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _is_on_week(day: date, anchor: date | None) -> bool:
    anchor_monday = _monday_of(anchor or DEFAULT_BIWEEKLY_ANCHOR)
    return (_monday_of(day) - anchor_monday).days // 7 % 2 == 0


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _monthly_days(cadence: Cadence, start: date, end: date) -> list[date]:
    days: list[date] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        for weekday in cadence.weekdays:
            day = _nth_weekday(year, month, weekday, cadence.monthly_week)
            if start <= day <= end:
                days.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(days)


def _nth_weekday(year: int, month: int, weekday: int, week: int) -> date:
    if week == -1:
        next_first = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        last = next_first - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))


def _shortest_gap_days(cadence: Cadence) -> int:
    """The fewest days between two consecutive pulse days this cadence can produce."""
    days = sorted(set(cadence.weekdays))
    if cadence.frequency == "monthly" and len(days) == 1:
        return 28
    period = 14 if cadence.frequency == "biweekly" else 7
    gaps = [later - earlier for earlier, later in pairwise(days)]
    gaps.append(days[0] + period - days[-1])
    if cadence.frequency == "monthly":
        # Two weekdays can fall in either order within a month's chosen week.
        return min(min(gap, 7 - gap) for gap in gaps)
    return min(gaps)


def _describe(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    if hours % 24 == 0:
        days = int(hours // 24)
        return ngettext("{n} day", "{n} days", days).format(n=days)
    shown = round(hours, 1)
    if shown == int(shown):
        return ngettext("{n} hour", "{n} hours", int(shown)).format(n=int(shown))
    return _("{n} hours").format(n=amount(shown))
