"""The text forms of the ``/coherence`` slash command, parsed into typed commands.

Parsing is pure: no Slack, no database. Whether a command is allowed for the caller,
and what it does, is decided by whoever handles the returned value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from pulses.command_words import (
    FREQUENCIES,
    LOOKS_LIKE_TIME,
    NUMBER,
    parse_date,
    parse_monthly_day,
    parse_time,
    parse_weekdays,
    parse_zone,
    quote,
    suggest,
)
from pulses.command_words import (
    CommandError as CommandError,  # raised by parse_command; callers import it from here
)
from pulses.i18n import N_, _
from pulses.schedule import CadenceChange

MIN_TREND_RUNS: Final = 1
MAX_TREND_RUNS: Final = 52
DEFAULT_TREND_RUNS: Final = 8
# One stretch of time away at most this long: a typo in the year must not silence a leader.
MAX_AWAY_DAYS: Final = 366


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


@dataclass(frozen=True)
class Away:
    """``away YYYY-MM-DD[..YYYY-MM-DD]``: the caller is away these days (their own dates)."""

    first_day: date
    last_day: date


class Back(NoArguments):
    """``back``: the caller's time away ends today."""


class Close(NoArguments):
    """``close``: close the group's open pulse now, once the admin confirms."""


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
    | Away
    | Back
    | Close
)


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
    "away": "/coherence away YYYY-MM-DD[..YYYY-MM-DD]",
    "back": "/coherence back",
    "close": "/coherence close",
}

# Marked for the catalogue; `help_text` translates them.
_DESCRIPTIONS: Final[dict[str, str]] = {
    "status": N_("response rate, coherence and what is drifting right now"),
    "help": N_("this list"),
    "trend": N_("coherence over the last N runs ({least}–{most}, default {default})"),
    "setup": N_("set up this channel as a leadership group"),
    "priorities": N_("edit the declared priorities"),
    "questions": N_("edit the question set"),
    "cadence": N_(
        "when pulses go out, e.g. `weekly mon,thu 09:30 Europe/Berlin` or "
        "`monthly last-fri 16:00`; end with `local` to use each member's own time"
    ),
    "pause": N_("stop sending pulses"),
    "resume": N_("start sending pulses again"),
    "skip": N_("no pulse on that date (a holiday)"),
    "pulse": N_("send a pulse right away"),
    "digest": N_("post the digest right away"),
    "export": N_("download the aggregates for people analytics"),
    "report": N_("the full report of the latest run, or of the run on a date"),
    "away": N_("you are away (holiday, leave): no pulse or reminder reaches you on these days"),
    "back": N_("you are back: pulses reach you again from today"),
    "close": N_("close the open pulse now (admins; asks to confirm)"),
}


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
        suggestion = suggest(name, list(_PARSERS))
        message = (
            _("unknown subcommand {word} (did you mean '{suggestion}'?)")
            if suggestion
            else _("unknown subcommand {word}")
        )
        raise CommandError(message.format(word=quote(words[0]), suggestion=suggestion), help_text())
    return parser(args, today)


def help_text() -> str:
    """Every subcommand with a short description, in Slack mrkdwn."""
    lines = [_("*Coherence* — here is what `/coherence` can do:")]
    trend = {"least": MIN_TREND_RUNS, "most": MAX_TREND_RUNS, "default": DEFAULT_TREND_RUNS}
    lines += [
        f"• `{USAGE[name]}` — {_(description).format(**trend)}"
        for name, description in _DESCRIPTIONS.items()
    ]
    lines.append(
        _(
            "DAYS are `mon`…`sun`, lists like `mon,thu` or ranges like `mon-fri`; "
            "monthly takes one day such as `first-mon` or `last-fri`."
        )
    )
    return "\n".join(lines)


def _no_arguments(make: Callable[[], Command], name: str) -> Callable[[list[str], date], Command]:
    def parse(args: list[str], today: date) -> Command:
        if args:
            message = _("'{name}' takes no arguments, got {args}")
            raise CommandError(message.format(name=name, args=quote(" ".join(args))), USAGE[name])
        return make()

    return parse


def _now_command(make: Callable[[], Command], name: str) -> Callable[[list[str], date], Command]:
    def parse(args: list[str], today: date) -> Command:
        if [arg.lower() for arg in args] != ["now"]:
            message = (
                _("'{name}' must be followed by 'now', got {args}")
                if args
                else _("'{name}' must be followed by 'now'")
            )
            raise CommandError(message.format(name=name, args=quote(" ".join(args))), USAGE[name])
        return make()

    return parse


def _parse_trend(args: list[str], today: date) -> Command:
    usage = USAGE["trend"]
    if not args:
        return Trend()
    if len(args) > 1:
        message = _("'trend' takes at most one number, got {n} arguments")
        raise CommandError(message.format(n=len(args)), usage)
    word = args[0]
    if not NUMBER.fullmatch(word):
        raise CommandError(_("{word} is not a number of runs").format(word=quote(word)), usage)
    # A length cap before int(): Python refuses to convert very long digit strings.
    n = int(word) if len(word) <= 6 else MAX_TREND_RUNS + 1
    if not MIN_TREND_RUNS <= n <= MAX_TREND_RUNS:
        message = _("'trend' shows {least} to {most} runs, got {word}")
        raise CommandError(
            message.format(least=MIN_TREND_RUNS, most=MAX_TREND_RUNS, word=quote(word)), usage
        )
    return Trend(n)


def _parse_skip(args: list[str], today: date) -> Command:
    usage = USAGE["skip"]
    if not args:
        raise CommandError(_("'skip' needs a date, e.g. skip 2026-12-28"), usage)
    if len(args) > 1:
        message = _("'skip' takes one date, got {n} arguments")
        raise CommandError(message.format(n=len(args)), usage)
    day = parse_date(args[0], usage)
    if day < today:
        raise CommandError(_("{day} is in the past").format(day=day.isoformat()), usage)
    return Skip(day)


def _parse_report(args: list[str], today: date) -> Command:
    usage = USAGE["report"]
    if len(args) > 1:
        message = _("'report' takes at most one run, got {n} arguments")
        raise CommandError(message.format(n=len(args)), usage)
    if not args or args[0].lower() == "latest":
        return Report()
    day = parse_date(args[0], usage)
    if day > today:
        raise CommandError(_("{day} is in the future").format(day=day.isoformat()), usage)
    return Report(day)


def _parse_away(args: list[str], today: date) -> Command:
    usage = USAGE["away"]
    spec = "".join(args)  # "2026-12-21 .. 2027-01-01" reads the same as without spaces
    if not spec:
        raise CommandError(
            _("'away' needs a date or a range, e.g. away 2026-12-21..2027-01-01"), usage
        )
    first_word, dots, last_word = spec.partition("..")
    first = parse_date(first_word, usage)
    last = parse_date(last_word, usage) if dots else first
    if last < first:
        message = _("{last} is before {first}")
        raise CommandError(message.format(last=last.isoformat(), first=first.isoformat()), usage)
    if last < today:
        raise CommandError(_("{day} is in the past").format(day=quote(spec)), usage)
    if (last - first).days >= MAX_AWAY_DAYS:
        message = _("time away is at most {n} days at a time")
        raise CommandError(message.format(n=MAX_AWAY_DAYS), usage)
    return Away(first, last)


def _parse_cadence(args: list[str], today: date) -> Command:
    usage = USAGE["cadence"]
    if not args:
        raise CommandError(
            _(
                "'cadence' needs a frequency, days and a time, "
                "e.g. cadence weekly mon,thu 09:30 Europe/Berlin"
            ),
            usage,
        )
    frequency = FREQUENCIES.get(args[0].lower())
    if frequency is None:
        message = _("{word} is not a frequency (use weekly, biweekly or monthly)")
        raise CommandError(message.format(word=quote(args[0])), usage)
    rest = args[1:]
    if not rest:
        message = _("'cadence {frequency}' needs the days to send on")
        raise CommandError(message.format(frequency=frequency), usage)
    # The days may contain spaces ("mon, thu"); they run up to the first time-like word.
    split = next(
        (i for i, word in enumerate(rest) if i and LOOKS_LIKE_TIME.fullmatch(word.lower())),
        1,
    )
    day_words, rest = rest[:split], rest[split:]
    if frequency == "monthly":
        monthly_week, weekdays = parse_monthly_day(day_words, usage)
    else:
        monthly_week, weekdays = None, parse_weekdays(day_words, usage)
    if not rest:
        message = _("'cadence {frequency}' needs a time after the days, e.g. 09:30")
        raise CommandError(message.format(frequency=frequency), usage)
    local_time = parse_time(rest[0], usage)
    timezone, per_member_time = parse_zone(rest[1:], usage)
    return CadenceChange(
        frequency=frequency,
        weekdays=weekdays,
        local_time=local_time,
        timezone=timezone,
        per_member_time=per_member_time,
        monthly_week=monthly_week,
    )


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
    "away": _parse_away,
    "back": _no_arguments(Back, "back"),
    "close": _no_arguments(Close, "close"),
}
