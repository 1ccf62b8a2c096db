from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulses.commands import (
    USAGE,
    Command,
    CommandError,
    DigestNow,
    Export,
    Help,
    Pause,
    Priorities,
    PulseNow,
    Questions,
    Report,
    Resume,
    Setup,
    Skip,
    Status,
    Trend,
    help_text,
    parse_command,
)
from pulses.schedule import CadenceChange

TODAY = date(2026, 3, 1)


def parse(text: str) -> Command:
    return parse_command(text, today=TODAY)


def cadence_change(
    frequency: str = "weekly",
    weekdays: tuple[int, ...] = (0,),
    local_time: time = time(9, 0),
    timezone: str | None = None,
    per_member_time: bool = False,
    monthly_week: int | None = None,
) -> CadenceChange:
    return CadenceChange(
        frequency=frequency,  # type: ignore[arg-type]
        weekdays=weekdays,
        local_time=local_time,
        timezone=timezone,
        per_member_time=per_member_time,
        monthly_week=monthly_week,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Status()),
        ("   ", Status()),
        ("status", Status()),
        ("help", Help()),
        ("help cadence", Help()),
        ("trend", Trend(8)),
        ("trend 12", Trend(12)),
        ("trend 1", Trend(1)),
        ("trend 52", Trend(52)),
        ("setup", Setup()),
        ("priorities", Priorities()),
        ("questions", Questions()),
        ("pause", Pause()),
        ("resume", Resume()),
        ("skip 2026-12-28", Skip(date(2026, 12, 28))),
        ("skip 2026-03-01", Skip(TODAY)),
        ("pulse now", PulseNow()),
        ("digest now", DigestNow()),
        ("export", Export()),
        ("report", Report("latest")),
        ("report latest", Report("latest")),
        ("report 2026-02-23", Report(date(2026, 2, 23))),
        (
            "cadence weekly mon,thu 09:30 Europe/Berlin",
            cadence_change(weekdays=(0, 3), local_time=time(9, 30), timezone="Europe/Berlin"),
        ),
        (
            "cadence biweekly tue 10:00 America/New_York",
            cadence_change("biweekly", (1,), time(10, 0), "America/New_York"),
        ),
        (
            "cadence monthly first-mon 09:00 Europe/Paris",
            cadence_change("monthly", (0,), time(9, 0), "Europe/Paris", monthly_week=1),
        ),
        (
            "cadence monthly last-fri 16:00",
            cadence_change("monthly", (4,), time(16, 0), monthly_week=-1),
        ),
        (
            "cadence monthly 3rd wednesday 08:15",
            cadence_change("monthly", (2,), time(8, 15), monthly_week=3),
        ),
        ("cadence weekly mon 09:00 local", cadence_change(per_member_time=True)),
        (
            "cadence weekly mon 09:00 local Asia/Tokyo",
            cadence_change(timezone="Asia/Tokyo", per_member_time=True),
        ),
        ("cadence weekly mon 09:00", cadence_change()),
        ("cadence weekly mon-fri 09:00", cadence_change(weekdays=(0, 1, 2, 3, 4))),
        ("cadence weekly fri-mon 09:00", cadence_change(weekdays=(0, 4, 5, 6))),
        ("cadence weekly monday,thursday 09:00", cadence_change(weekdays=(0, 3))),
        ("cadence weekly thu,mon,thu 09:00", cadence_change(weekdays=(0, 3))),
        ("cadence weekly mon, thu 09:00", cadence_change(weekdays=(0, 3))),
        ("cadence weekly weekdays 09:00", cadence_change(weekdays=(0, 1, 2, 3, 4))),
        ("cadence fortnightly wed 9am", cadence_change("biweekly", (2,))),
        ("cadence weekly mon 5:30pm", cadence_change(local_time=time(17, 30))),
        ("cadence weekly mon 12am", cadence_change(local_time=time(0, 0))),
        ("cadence weekly mon 0:00 UTC", cadence_change(local_time=time(0, 0), timezone="UTC")),
    ],
)
def test_every_form_parses_to_its_command(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TREND 4", Trend(4)),
        ("  Pulse   NOW  ", PulseNow()),
        ("\tdigest\u00a0now\n", DigestNow()),
        (
            "  CADENCE  Weekly   MON,Thu   09:30   europe/berlin ",
            cadence_change(weekdays=(0, 3), local_time=time(9, 30), timezone="Europe/Berlin"),
        ),
        ("cadence weekly mon 09:00 LOCAL", cadence_change(per_member_time=True)),
        ("Report LATEST", Report("latest")),
    ],
)
def test_keywords_ignore_case_and_extra_spaces(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("frobnicate", "unknown subcommand 'frobnicate'", None),
        ("pasue", "unknown subcommand 'pasue' (did you mean 'pause'?)", None),
        (
            "cadence weekly mon,thx 09:30 Europe/Berlin",
            "'mon,thx' has an unknown weekday 'thx'",
            "cadence",
        ),
        ("cadence weekly mon-fry 09:30", "'mon-fry' has an unknown weekday 'fry'", "cadence"),
        ("cadence weekly mon-wed-fri 09:30", "bad range 'mon-wed-fri'", "cadence"),
        ("cadence weekly mon 25:00", "'25:00' is not a time (use HH:MM, 24-hour)", "cadence"),
        ("cadence weekly mon 09:60", "'09:60' is not a time", "cadence"),
        ("cadence weekly mon 13pm", "'13pm' is not a time", "cadence"),
        ("cadence weekly mon nine", "'nine' is not a time", "cadence"),
        (
            "cadence weekly mon 09:00 Europe/Berlim",
            "'Europe/Berlim' is not a known time zone (did you mean Europe/Berlin?)",
            "cadence",
        ),
        (
            "cadence weekly mon 09:00 Nowhere/Special",
            "'Nowhere/Special' is not a known time zone (e.g. Europe/Berlin, America/New_York)",
            "cadence",
        ),
        ("cadence weekly mon 09:00 localtime", "'localtime' is not a known time zone", "cadence"),
        ("cadence weekly mon 09:00 ../../etc/passwd", "is not a known time zone", "cadence"),
        ("cadence", "'cadence' needs a frequency, days and a time", "cadence"),
        ("cadence daily mon 09:00", "'daily' is not a frequency", "cadence"),
        ("cadence weekly", "'cadence weekly' needs the days", "cadence"),
        ("cadence weekly mon", "'cadence weekly' needs a time", "cadence"),
        ("cadence monthly mon 09:00", "'mon' needs a week of the month", "cadence"),
        ("cadence monthly fifth-mon 09:00", "unknown week 'fifth'", "cadence"),
        ("cadence monthly first-mon,thu 09:00", "monthly takes one day", "cadence"),
        ("cadence monthly first 09:00", "not a day of the month", "cadence"),
        ("cadence weekly mon 09:00 UTC Europe/Berlin", "got 'UTC Europe/Berlin'", "cadence"),
        ("cadence weekly mon 09:00 local local", "got 'local local'", "cadence"),
        ("skip 2026-01-05", "2026-01-05 is in the past", "skip"),
        ("skip 2026-12-28 2026-12-29", "'skip' takes one date, got 2 arguments", "skip"),
        ("skip", "'skip' needs a date", "skip"),
        ("skip 2026-02-30", "'2026-02-30' is not a date", "skip"),
        ("skip next-monday", "'next-monday' is not a date", "skip"),
        ("trend 0", "'trend' shows 1 to 52 runs, got '0'", "trend"),
        ("trend 53", "'trend' shows 1 to 52 runs, got '53'", "trend"),
        ("trend " + "9" * 5000, "'trend' shows 1 to 52 runs", "trend"),
        ("trend abc", "'abc' is not a number of runs", "trend"),
        ("trend -3", "'-3' is not a number of runs", "trend"),
        ("trend ²", "'²' is not a number of runs", "trend"),
        ("trend 4 8", "'trend' takes at most one number, got 2 arguments", "trend"),
        ("pulse", "'pulse' must be followed by 'now'", "pulse"),
        ("pulse later", "'pulse' must be followed by 'now', got 'later'", "pulse"),
        ("digest now please", "'digest' must be followed by 'now'", "digest"),
        ("pause everything", "'pause' takes no arguments, got 'everything'", "pause"),
        ("resume 1", "'resume' takes no arguments", "resume"),
        ("export csv", "'export' takes no arguments", "export"),
        ("setup x", "'setup' takes no arguments", "setup"),
        ("priorities x", "'priorities' takes no arguments", "priorities"),
        ("questions x", "'questions' takes no arguments", "questions"),
        ("status x", "'status' takes no arguments", "status"),
        ("report 2026-03-02", "2026-03-02 is in the future", "report"),
        ("report yesterday", "'yesterday' is not a date", "report"),
        ("report latest 2026-02-23", "'report' takes at most one run, got 2", "report"),
    ],
)
def test_malformed_forms_name_the_problem_and_give_the_usage(
    text: str, problem: str, usage: str | None
) -> None:
    with pytest.raises(CommandError) as raised:
        parse(text)

    assert problem in raised.value.message
    assert str(raised.value) == raised.value.message
    assert raised.value.usage == (USAGE[usage] if usage else help_text())


def test_long_arguments_are_shortened_in_messages() -> None:
    with pytest.raises(CommandError) as raised:
        parse("x" * 10_000)

    assert len(raised.value.message) < 100
    assert "…" in raised.value.message


def test_command_error_is_a_value_error() -> None:
    assert issubclass(CommandError, ValueError)


def test_usage_has_one_line_per_subcommand() -> None:
    for name, line in USAGE.items():
        assert "\n" not in line
        assert line.startswith("/coherence")
        if name != "status":
            assert line.split()[1] == name


def test_help_lists_every_subcommand() -> None:
    text = help_text()

    for line in USAGE.values():
        assert f"`{line}`" in text
    assert len(text) < 3000  # one Slack section block


def test_every_usage_line_example_parses() -> None:
    # The examples in the help must themselves be valid commands.
    examples = [
        "",
        "help",
        "trend 12",
        "setup",
        "priorities",
        "questions",
        "cadence weekly mon,thu 09:30 Europe/Berlin",
        "cadence monthly last-fri 16:00",
        "cadence weekly mon 09:00 local",
        "pause",
        "resume",
        "skip 2026-12-28",
        "pulse now",
        "digest now",
        "export",
        "report latest",
        "away 2026-12-21..2027-01-04",
        "back",
        "close",
    ]
    parsed = {type(parse(example)).__name__ for example in examples}

    assert len(parsed) == len(USAGE)


# --- Properties ---------------------------------------------------------------------------

KEYWORDS = [*USAGE, "weekly", "biweekly", "monthly", "now", "local", "latest", "mon-fri"]
words = st.one_of(
    st.sampled_from(KEYWORDS),
    st.text(min_size=1, max_size=30),
    st.from_regex(r"[0-9]{1,3}:[0-9]{1,3}(am|pm)?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.sampled_from(["Europe/Berlin", "europe/BERLIN", "first-mon", "last-sun", "mon,thu", "-"]),
)
command_like = st.builds(
    lambda head, rest, gap: gap.join([head, *rest]),
    st.sampled_from(list(USAGE)),
    st.lists(words, max_size=6),
    st.sampled_from([" ", "   ", "\t", "\u00a0", " \u2003 "]),
)
anything = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(), min_size=1000, max_size=5000),
    st.text(alphabet=" \t\n", max_size=200),
    command_like,
)


@settings(max_examples=500, deadline=None)
@given(text=anything, today=st.dates())
def test_arbitrary_text_raises_nothing_but_command_error(text: str, today: date) -> None:
    outcome: Command | CommandError
    try:
        outcome = parse_command(text, today=today)
    except CommandError as error:
        outcome = error

    if isinstance(outcome, CommandError):
        assert outcome.message
        assert outcome.usage
    else:
        assert isinstance(outcome, Command)


@settings(max_examples=300, deadline=None)
@given(
    weekdays=st.sets(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_weekly_cadence_round_trips_days_and_time(
    weekdays: set[str], hour: int, minute: int
) -> None:
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    command = parse(f"cadence weekly {','.join(sorted(weekdays))} {hour:02d}:{minute:02d}")

    assert isinstance(command, CadenceChange)
    assert command.weekdays == tuple(sorted(names.index(day) for day in weekdays))
    assert command.local_time == time(hour, minute)
