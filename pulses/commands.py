"""The text forms of the ``/coherence`` slash command, parsed into typed commands.

Parsing is pure: no Slack, no database. Whether a command is allowed for the caller,
and what it does, is decided by whoever handles the returned value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from typing import Final, Literal
from zoneinfo import available_timezones

from pulses.cadence import Frequency, is_known_timezone
from pulses.schedule import CadenceChange

MIN_TREND_RUNS: Final = 1
MAX_TREND_RUNS: Final = 52
DEFAULT_TREND_RUNS: Final = 8


@dataclass(frozen=True)
class NoArguments:
    """A subcommand without arguments: its type says it all."""


class Help(NoArguments):
    """``help``: list every subcommand."""


class Status(NoArguments):
    """No text (or ``status``): the group's current response rate, coherence and drift."""


@dataclass(frozen=True)
class Trend:
    """``trend [N]``: coherence over the last ``n`` runs."""

    n: int = DEFAULT_TREND_RUNS


class Setup(NoArguments):
    """``setup``: open the group's settings."""


class Priorities(NoArguments):
    """``priorities``: edit the declared priorities."""


class Questions(NoArguments):
    """``questions``: edit the question set."""


class Pause(NoArguments):
    """``pause``: stop sending pulses until ``resume``."""


class Resume(NoArguments):
    """``resume``: start sending pulses again."""


@dataclass(frozen=True)
class Skip:
    """``skip YYYY-MM-DD``: no pulse on that local date."""

    day: date


class PulseNow(NoArguments):
    """``pulse now``: send a pulse immediately."""


class DigestNow(NoArguments):
    """``digest now``: post the digest immediately."""


class Export(NoArguments):
    """``export``: the group's aggregates as a file."""


@dataclass(frozen=True)
class Report:
    """``report [latest|YYYY-MM-DD]``: the full report of one run."""

    run: Literal["latest"] | date = "latest"


Command = (
    Help
    | Status
    | Trend
    | Setup
    | Priorities
    | Questions
    | CadenceChange
    | Pause
    | Resume
    | Skip
    | PulseNow
    | DigestNow
    | Export
    | Report
)


class CommandError(ValueError):
    """Text that is not a command: ``message`` names the problem, ``usage`` the fix."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


USAGE: Final[dict[str, str]] = {
    "status": "/coherence",
    "help": "/coherence help",
    "trend": "/coherence trend [N]",
    "setup": "/coherence setup",
    "priorities": "/coherence priorities",
    "questions": "/coherence questions",
    "cadence": "/coherence cadence weekly|biweekly|monthly DAYS HH:MM [TIME_ZONE|local]",
    "pause": "/coherence pause",
    "resume": "/coherence resume",
    "skip": "/coherence skip YYYY-MM-DD",
    "pulse": "/coherence pulse now",
    "digest": "/coherence digest now",
    "export": "/coherence export",
    "report": "/coherence report [latest|YYYY-MM-DD]",
}

_DESCRIPTIONS: Final[dict[str, str]] = {
    "status": "response rate, coherence and what is drifting right now",
    "help": "this list",
    "trend": (
        f"coherence over the last N runs ({MIN_TREND_RUNS}–{MAX_TREND_RUNS}, "
        f"default {DEFAULT_TREND_RUNS})"
    ),
    "setup": "set up this channel as a leadership group",
    "priorities": "edit the declared priorities",
    "questions": "edit the question set",
    "cadence": (
        "when pulses go out, e.g. `weekly mon,thu 09:30 Europe/Berlin` or "
        "`monthly last-fri 16:00`; end with `local` to use each member's own time"
    ),
    "pause": "stop sending pulses",
    "resume": "start sending pulses again",
    "skip": "no pulse on that date (a holiday)",
    "pulse": "send a pulse right away",
    "digest": "post the digest right away",
    "export": "download the aggregates for people analytics",
    "report": "the full report of the latest run, or of the run on a date",
}

_WEEKDAYS: Final[dict[str, int]] = {
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
_WEEKDAY_GROUPS: Final[dict[str, tuple[int, ...]]] = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "daily": (0, 1, 2, 3, 4, 5, 6),
}
_FREQUENCIES: Final[dict[str, Frequency]] = {
    "weekly": "weekly",
    "biweekly": "biweekly",
    "bi-weekly": "biweekly",
    "fortnightly": "biweekly",
    "monthly": "monthly",
}
_MONTHLY_WEEKS: Final[dict[str, int]] = {
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
_LOOKS_LIKE_TIME = re.compile(r"[0-9]{1,2}(:[0-9]*)?(am|pm)?|.*:.*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]+")
_QUOTE_LIMIT = 40
_SUGGEST_LIMIT = 64
_EXAMPLE_ZONES = "e.g. Europe/Berlin, America/New_York"
# Zone files that describe the server, not a place: "localtime" is whatever the host uses.
_MACHINE_ZONES = frozenset({"localtime", "factory", "posixrules"})


def parse_command(text: str, *, today: date) -> Command:
    """Parse the text after ``/coherence`` into a command, or raise :class:`CommandError`.

    Keywords are case-insensitive and extra spaces are ignored. ``today`` is the caller's
    local date, against which ``skip`` rejects past dates and ``report`` future ones.
    """
    words = text.split()
    if not words:
        return Status()
    name, args = words[0].lower(), words[1:]
    parser = _PARSERS.get(name)
    if parser is None:
        message = f"unknown subcommand {_quote(words[0])}"
        suggestion = _suggest(name, list(_PARSERS))
        if suggestion:
            message += f" (did you mean '{suggestion}'?)"
        raise CommandError(message, help_text())
    return parser(args, today)


def help_text() -> str:
    """Every subcommand with a short description, in Slack mrkdwn."""
    lines = ["*Coherence* — here is what `/coherence` can do:"]
    lines += [f"• `{USAGE[name]}` — {description}" for name, description in _DESCRIPTIONS.items()]
    lines.append(
        "DAYS are `mon`…`sun`, lists like `mon,thu` or ranges like `mon-fri`; "
        "monthly takes one day such as `first-mon` or `last-fri`."
    )
    return "\n".join(lines)


def _no_arguments(make: Callable[[], Command], name: str) -> Callable[[list[str], date], Command]:
    def parse(args: list[str], today: date) -> Command:
        if args:
            raise CommandError(
                f"'{name}' takes no arguments, got {_quote(' '.join(args))}", USAGE[name]
            )
        return make()

    return parse


def _now_command(make: Callable[[], Command], name: str) -> Callable[[list[str], date], Command]:
    def parse(args: list[str], today: date) -> Command:
        if [arg.lower() for arg in args] != ["now"]:
            got = f", got {_quote(' '.join(args))}" if args else ""
            raise CommandError(f"'{name}' must be followed by 'now'{got}", USAGE[name])
        return make()

    return parse


def _parse_trend(args: list[str], today: date) -> Command:
    usage = USAGE["trend"]
    if not args:
        return Trend()
    if len(args) > 1:
        raise CommandError(f"'trend' takes at most one number, got {len(args)} arguments", usage)
    word = args[0]
    if not _NUMBER.fullmatch(word):
        raise CommandError(f"{_quote(word)} is not a number of runs", usage)
    # A length cap before int(): Python refuses to convert very long digit strings.
    n = int(word) if len(word) <= 6 else MAX_TREND_RUNS + 1
    if not MIN_TREND_RUNS <= n <= MAX_TREND_RUNS:
        raise CommandError(
            f"'trend' shows {MIN_TREND_RUNS} to {MAX_TREND_RUNS} runs, got {_quote(word)}", usage
        )
    return Trend(n)


def _parse_skip(args: list[str], today: date) -> Command:
    usage = USAGE["skip"]
    if not args:
        raise CommandError("'skip' needs a date, e.g. skip 2026-12-28", usage)
    if len(args) > 1:
        raise CommandError(f"'skip' takes one date, got {len(args)} arguments", usage)
    day = _parse_date(args[0], usage)
    if day < today:
        raise CommandError(f"{day.isoformat()} is in the past", usage)
    return Skip(day)


def _parse_report(args: list[str], today: date) -> Command:
    usage = USAGE["report"]
    if len(args) > 1:
        raise CommandError(f"'report' takes at most one run, got {len(args)} arguments", usage)
    if not args or args[0].lower() == "latest":
        return Report()
    day = _parse_date(args[0], usage)
    if day > today:
        raise CommandError(f"{day.isoformat()} is in the future", usage)
    return Report(day)


def _parse_cadence(args: list[str], today: date) -> Command:
    usage = USAGE["cadence"]
    if not args:
        raise CommandError(
            "'cadence' needs a frequency, days and a time, "
            "e.g. cadence weekly mon,thu 09:30 Europe/Berlin",
            usage,
        )
    frequency = _FREQUENCIES.get(args[0].lower())
    if frequency is None:
        raise CommandError(
            f"{_quote(args[0])} is not a frequency (use weekly, biweekly or monthly)", usage
        )
    rest = args[1:]
    if not rest:
        raise CommandError(f"'cadence {frequency}' needs the days to send on", usage)
    # The days may contain spaces ("mon, thu"); they run up to the first time-like word.
    split = next(
        (i for i, word in enumerate(rest) if i and _LOOKS_LIKE_TIME.fullmatch(word.lower())),
        1,
    )
    day_words, rest = rest[:split], rest[split:]
    if frequency == "monthly":
        monthly_week, weekdays = _parse_monthly_day(day_words, usage)
    else:
        monthly_week, weekdays = None, _parse_weekdays(day_words, usage)
    if not rest:
        raise CommandError(f"'cadence {frequency}' needs a time after the days, e.g. 09:30", usage)
    local_time = _parse_time(rest[0], usage)
    timezone, per_member_time = _parse_zone(rest[1:], usage)
    return CadenceChange(
        frequency=frequency,
        weekdays=weekdays,
        local_time=local_time,
        timezone=timezone,
        per_member_time=per_member_time,
        monthly_week=monthly_week,
    )


def _parse_weekdays(words: list[str], usage: str) -> tuple[int, ...]:
    spec = " ".join(words)
    parts = [part for part in ",".join(words).lower().split(",") if part]
    chosen: set[int] = set()
    for part in parts:
        if part in _WEEKDAY_GROUPS:
            chosen.update(_WEEKDAY_GROUPS[part])
            continue
        ends = part.split("-")
        if len(ends) > 2:
            raise CommandError(f"{_quote(spec)} has a bad range {_quote(part)}", usage)
        numbers = []
        for end in ends:
            if end not in _WEEKDAYS:
                raise CommandError(f"{_quote(spec)} has an unknown weekday {_quote(end)}", usage)
            numbers.append(_WEEKDAYS[end])
        first, last = numbers[0], numbers[-1]
        # A range may wrap around the weekend: fri-mon is fri, sat, sun, mon.
        chosen.update((first + step) % 7 for step in range((last - first) % 7 + 1))
    if not chosen:
        raise CommandError(f"{_quote(spec)} names no weekday (use e.g. mon,thu)", usage)
    return tuple(sorted(chosen))


def _parse_monthly_day(words: list[str], usage: str) -> tuple[int, tuple[int, ...]]:
    spec = " ".join(words)
    if "," in spec:
        raise CommandError(
            f"{_quote(spec)}: monthly takes one day, e.g. first-mon or last-fri", usage
        )
    parts = re.split(r"[-\s]+", spec.lower().strip("-"))
    if len(parts) == 1 and parts[0] in _WEEKDAYS:
        raise CommandError(
            f"{_quote(spec)} needs a week of the month, e.g. first-{parts[0]} or last-{parts[0]}",
            usage,
        )
    if len(parts) != 2:
        raise CommandError(
            f"{_quote(spec)} is not a day of the month (use e.g. first-mon or last-fri)", usage
        )
    week_word, day_word = parts
    if week_word not in _MONTHLY_WEEKS:
        raise CommandError(
            f"{_quote(spec)} has an unknown week {_quote(week_word)} "
            "(use first, second, third, fourth or last)",
            usage,
        )
    if day_word not in _WEEKDAYS:
        raise CommandError(f"{_quote(spec)} has an unknown weekday {_quote(day_word)}", usage)
    return _MONTHLY_WEEKS[week_word], (_WEEKDAYS[day_word],)


def _parse_time(word: str, usage: str) -> time:
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
        raise CommandError(f"{_quote(word)} is not a time (use HH:MM, 24-hour)", usage)
    return time(hour, minute)


def _parse_zone(words: list[str], usage: str) -> tuple[str | None, bool]:
    per_member_time = False
    timezone: str | None = None
    for word in words:
        if word.lower() == "local" and not per_member_time:
            per_member_time = True
        elif timezone is None and word.lower() != "local":
            timezone = _canonical_zone(word, usage)
        else:
            raise CommandError(
                f"'cadence' takes at most a time zone and 'local' after the time, "
                f"got {_quote(' '.join(words))}",
                usage,
            )
    return timezone, per_member_time


def _canonical_zone(word: str, usage: str) -> str:
    canonical = _zones_by_lower_name().get(word.lower())
    if canonical is not None:
        return canonical
    if word.lower() not in _MACHINE_ZONES and is_known_timezone(word):
        return word
    suggestion = _suggest(word.lower(), list(_zones_by_lower_name()))
    hint = f"did you mean {_zones_by_lower_name()[suggestion]}?" if suggestion else _EXAMPLE_ZONES
    raise CommandError(f"{_quote(word)} is not a known time zone ({hint})", usage)


def _parse_date(word: str, usage: str) -> date:
    try:
        if not _ISO_DATE.fullmatch(word):
            raise ValueError(word)
        return date.fromisoformat(word)
    except ValueError:
        raise CommandError(
            f"{_quote(word)} is not a date (use YYYY-MM-DD, e.g. 2026-12-28)", usage
        ) from None


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {
        name.lower(): name for name in available_timezones() if name.lower() not in _MACHINE_ZONES
    }


def _suggest(word: str, choices: list[str]) -> str | None:
    if len(word) > _SUGGEST_LIMIT:
        return None
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.8)
    return matches[0] if matches else None


def _quote(text: str) -> str:
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 1] + "…"
    return f"'{text}'"


_PARSERS: Final[dict[str, Callable[[list[str], date], Command]]] = {
    "status": _no_arguments(Status, "status"),
    # "help cadence" is a natural thing to type; the full list answers it.
    "help": lambda args, today: Help(),
    "trend": _parse_trend,
    "setup": _no_arguments(Setup, "setup"),
    "priorities": _no_arguments(Priorities, "priorities"),
    "questions": _no_arguments(Questions, "questions"),
    "cadence": _parse_cadence,
    "pause": _no_arguments(Pause, "pause"),
    "resume": _no_arguments(Resume, "resume"),
    "skip": _parse_skip,
    "pulse": _now_command(PulseNow, "pulse"),
    "digest": _now_command(DigestNow, "digest"),
    "export": _no_arguments(Export, "export"),
    "report": _parse_report,
}
