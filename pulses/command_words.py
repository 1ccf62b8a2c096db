"""The words of the ``/coherence`` text: dates, times, weekdays, time zones, each parsed or
refused with a :class:`CommandError` that names the problem and the usage.

The keywords are English in every language (the usage lines show them); a problem is worded
in the language spoken where the text is parsed (`pulses.i18n.speaking`).
"""

from __future__ import annotations

import difflib
import re
from datetime import date, time
from functools import cache
from typing import Final
from zoneinfo import available_timezones

from pulses.cadence import Frequency, is_known_timezone
from pulses.i18n import _


class CommandError(ValueError):
    """Text that is not a command: ``message`` names the problem, ``usage`` the fix."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


WEEKDAYS: Final[dict[str, int]] = {
    name: number
    for number, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
WEEKDAY_GROUPS: Final[dict[str, tuple[int, ...]]] = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "daily": (0, 1, 2, 3, 4, 5, 6),
}
FREQUENCIES: Final[dict[str, Frequency]] = {
    "weekly": "weekly",
    "biweekly": "biweekly",
    "bi-weekly": "biweekly",
    "fortnightly": "biweekly",
    "monthly": "monthly",
}
MONTHLY_WEEKS: Final[dict[str, int]] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "last": -1,
}
_TIME_24H = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_TIME_12H = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?(am|pm)")
LOOKS_LIKE_TIME = re.compile(r"[0-9]{1,2}(:[0-9]*)?(am|pm)?|.*:.*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER = re.compile(r"[0-9]+")
_QUOTE_LIMIT = 40
_SUGGEST_LIMIT = 64
# Zone files that describe the server, not a place: "localtime" is whatever the host uses.
_MACHINE_ZONES = frozenset({"localtime", "factory", "posixrules"})


def parse_weekdays(words: list[str], usage: str) -> tuple[int, ...]:
    spec = " ".join(words)
    parts = [part for part in ",".join(words).lower().split(",") if part]
    chosen: set[int] = set()
    for part in parts:
        if part in WEEKDAY_GROUPS:
            chosen.update(WEEKDAY_GROUPS[part])
            continue
        ends = part.split("-")
        if len(ends) > 2:
            message = _("{spec} has a bad range {part}")
            raise CommandError(message.format(spec=quote(spec), part=quote(part)), usage)
        numbers = []
        for end in ends:
            if end not in WEEKDAYS:
                raise _unknown_weekday(spec, end, usage)
            numbers.append(WEEKDAYS[end])
        first, last = numbers[0], numbers[-1]
        # A range may wrap around the weekend: fri-mon is fri, sat, sun, mon.
        chosen.update((first + step) % 7 for step in range((last - first) % 7 + 1))
    if not chosen:
        message = _("{spec} names no weekday (use e.g. mon,thu)")
        raise CommandError(message.format(spec=quote(spec)), usage)
    return tuple(sorted(chosen))


def parse_monthly_day(words: list[str], usage: str) -> tuple[int, tuple[int, ...]]:
    spec = " ".join(words)
    if "," in spec:
        message = _("{spec}: monthly takes one day, e.g. first-mon or last-fri")
        raise CommandError(message.format(spec=quote(spec)), usage)
    parts = re.split(r"[-\s]+", spec.lower().strip("-"))
    if len(parts) == 1 and parts[0] in WEEKDAYS:
        message = _("{spec} needs a week of the month, e.g. first-{day} or last-{day}")
        raise CommandError(message.format(spec=quote(spec), day=parts[0]), usage)
    if len(parts) != 2:
        message = _("{spec} is not a day of the month (use e.g. first-mon or last-fri)")
        raise CommandError(message.format(spec=quote(spec)), usage)
    week_word, day_word = parts
    if week_word not in MONTHLY_WEEKS:
        message = _("{spec} has an unknown week {week} (use first, second, third, fourth or last)")
        raise CommandError(message.format(spec=quote(spec), week=quote(week_word)), usage)
    if day_word not in WEEKDAYS:
        raise _unknown_weekday(spec, day_word, usage)
    return MONTHLY_WEEKS[week_word], (WEEKDAYS[day_word],)


def parse_time(word: str, usage: str) -> time:
    lowered = word.lower()
    hour: int | None = None
    minute = 0
    if match := _TIME_24H.fullmatch(lowered):
        hour, minute = int(match[1]), int(match[2])
    elif match := _TIME_12H.fullmatch(lowered):
        twelve_hour, minute = int(match[1]), int(match[2] or 0)
        if 1 <= twelve_hour <= 12:
            hour = twelve_hour % 12 + (12 if match[3] == "pm" else 0)
    if hour is None or not (0 <= hour <= 23 and 0 <= minute <= 59):
        message = _("{word} is not a time (use HH:MM, 24-hour)")
        raise CommandError(message.format(word=quote(word)), usage)
    return time(hour, minute)


def parse_zone(words: list[str], usage: str) -> tuple[str | None, bool]:
    per_member_time = False
    timezone: str | None = None
    for word in words:
        if word.lower() == "local" and not per_member_time:
            per_member_time = True
        elif timezone is None and word.lower() != "local":
            timezone = canonical_zone(word, usage)
        else:
            message = _(
                "'cadence' takes at most a time zone and 'local' after the time, got {words}"
            )
            raise CommandError(message.format(words=quote(" ".join(words))), usage)
    return timezone, per_member_time


def canonical_zone(word: str, usage: str) -> str:
    canonical = _zones_by_lower_name().get(word.lower())
    if canonical is not None:
        return canonical
    if word.lower() not in _MACHINE_ZONES and is_known_timezone(word):
        return word
    suggestion = suggest(word.lower(), list(_zones_by_lower_name()))
    message = (
        _("{word} is not a known time zone (did you mean {zone}?)")
        if suggestion
        else _("{word} is not a known time zone (e.g. Europe/Berlin, America/New_York)")
    )
    zone = _zones_by_lower_name()[suggestion] if suggestion else ""
    raise CommandError(message.format(word=quote(word), zone=zone), usage)


def parse_date(word: str, usage: str) -> date:
    try:
        if not _ISO_DATE.fullmatch(word):
            raise ValueError(word)
        return date.fromisoformat(word)
    except ValueError:
        message = _("{word} is not a date (use YYYY-MM-DD, e.g. 2026-12-28)")
        raise CommandError(message.format(word=quote(word)), usage) from None


def _unknown_weekday(spec: str, word: str, usage: str) -> CommandError:
    message = _("{spec} has an unknown weekday {word}")
    return CommandError(message.format(spec=quote(spec), word=quote(word)), usage)


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {
        name.lower(): name for name in available_timezones() if name.lower() not in _MACHINE_ZONES
    }


def suggest(word: str, choices: list[str]) -> str | None:
    if len(word) > _SUGGEST_LIMIT:
        return None
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.8)
    return matches[0] if matches else None


def quote(text: str) -> str:
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 1] + "…"
    return f"'{text}'"
