from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from freezegun import freeze_time
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pulses.cadence import (
    Cadence,
    CadenceError,
    Occurrence,
    closes_at,
    due_occurrences,
    local_send_time,
    next_occurrence,
    occurrence_dates,
    remind_at,
    send_timezone,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def send_instants(cadence: Cadence, after: str, until: str, tz: str | None = None) -> list[str]:
    found = due_occurrences(cadence, after=utc(after), until=utc(until), tz=tz)
    return [occurrence.send_at.strftime("%Y-%m-%dT%H:%MZ") for occurrence in found]


# --- DST: the wall time is kept, the UTC instant moves ------------------------------------


def test_berlin_monday_0900_keeps_local_time_across_both_2026_dst_changes() -> None:
    cadence = Cadence(weekdays=(0,), local_time=time(9, 0), timezone="Europe/Berlin")

    spring = send_instants(cadence, "2026-03-22T00:00", "2026-04-01T00:00")
    autumn = send_instants(cadence, "2026-10-18T00:00", "2026-10-28T00:00")

    assert spring == ["2026-03-23T08:00Z", "2026-03-30T07:00Z"]
    assert autumn == ["2026-10-19T07:00Z", "2026-10-26T08:00Z"]


def test_los_angeles_monday_0900_keeps_local_time_across_both_2026_dst_changes() -> None:
    cadence = Cadence(weekdays=(0,), timezone="America/Los_Angeles")

    spring = send_instants(cadence, "2026-03-01T00:00", "2026-03-11T00:00")
    autumn = send_instants(cadence, "2026-10-25T00:00", "2026-11-04T00:00")

    assert spring == ["2026-03-02T17:00Z", "2026-03-09T16:00Z"]
    assert autumn == ["2026-10-26T16:00Z", "2026-11-02T17:00Z"]


def test_tokyo_has_no_dst_so_the_utc_instant_never_moves() -> None:
    cadence = Cadence(weekdays=(0,), timezone="Asia/Tokyo")

    year = due_occurrences(cadence, after=utc("2026-01-01T00:00"), until=utc("2027-01-01T00:00"))

    assert len(year) == 52
    assert {occurrence.send_at.time() for occurrence in year} == {time(0, 0)}


def test_nonexistent_0230_on_spring_forward_day_moves_forward_by_the_gap() -> None:
    sent = local_send_time(date(2026, 3, 29), time(2, 30), "Europe/Berlin")

    assert sent == utc("2026-03-29T01:30")
    assert sent.astimezone(ZoneInfo("Europe/Berlin")).time() == time(3, 30)


def test_nonexistent_time_in_a_sunday_cadence_is_sent_after_the_gap() -> None:
    cadence = Cadence(weekdays=(6,), local_time=time(2, 30), timezone="America/Los_Angeles")

    assert send_instants(cadence, "2026-03-07T00:00", "2026-03-16T00:00") == [
        "2026-03-08T10:30Z",  # 03:30 PDT: 02:30 does not exist that night
        "2026-03-15T09:30Z",
    ]


def test_ambiguous_0230_on_fall_back_day_takes_the_first_occurrence() -> None:
    sent = local_send_time(date(2026, 10, 25), time(2, 30), "Europe/Berlin")

    assert sent == utc("2026-10-25T00:30")  # 02:30 CEST, not the later 02:30 CET


def test_local_send_time_returns_utc_aware_datetimes() -> None:
    sent = local_send_time(date(2026, 6, 1), time(9, 0), "Europe/Berlin")

    assert sent.tzinfo is UTC
    assert sent == utc("2026-06-01T07:00")


def test_local_send_time_rejects_an_aware_time() -> None:
    with pytest.raises(ValueError, match="wall-clock"):
        local_send_time(date(2026, 6, 1), time(9, 0, tzinfo=UTC), "Europe/Berlin")


def test_a_calendar_day_the_zone_skipped_does_not_duplicate_the_next_days_pulse() -> None:
    # Samoa jumped from 2011-12-29 to 2011-12-31: Friday 09:00 "moves forward by the gap"
    # onto Saturday 09:00, the same instant as Saturday's own pulse, which is kept.
    cadence = Cadence(weekdays=(3, 4, 5), timezone="Pacific/Apia")

    found = due_occurrences(cadence, after=utc("2011-12-27T00:00"), until=utc("2012-01-02T00:00"))

    assert found == [
        Occurrence(date(2011, 12, 29), utc("2011-12-29T19:00")),
        Occurrence(date(2011, 12, 31), utc("2011-12-30T19:00")),
    ]


# --- Per-member local time ----------------------------------------------------------------


def test_members_in_tokyo_and_los_angeles_get_the_same_local_day_17_hours_apart() -> None:
    cadence = Cadence(weekdays=(0,), timezone="Europe/Berlin", per_member_time=True)
    after, until = utc("2026-03-01T12:00"), utc("2026-03-03T00:00")

    tokyo = due_occurrences(cadence, after=after, until=until, tz="Asia/Tokyo")
    los_angeles = due_occurrences(cadence, after=after, until=until, tz="America/Los_Angeles")

    assert tokyo == [Occurrence(date(2026, 3, 2), utc("2026-03-02T00:00"))]
    assert los_angeles == [Occurrence(date(2026, 3, 2), utc("2026-03-02T17:00"))]


def test_window_is_read_in_the_members_zone_not_the_groups() -> None:
    # Monday 09:00 in Kiritimati (UTC+14) is Sunday 19:00Z: a UTC-calendar window that
    # looks only at Sunday must still find Monday's pulse there.
    cadence = Cadence(weekdays=(0,), timezone="UTC", per_member_time=True)

    assert send_instants(cadence, "2026-03-01T18:00", "2026-03-01T20:00", "Pacific/Kiritimati") == [
        "2026-03-01T19:00Z"
    ]
    assert send_instants(cadence, "2026-03-02T19:00", "2026-03-02T21:00", "Pacific/Pago_Pago") == [
        "2026-03-02T20:00Z"
    ]


def test_send_timezone_uses_the_members_zone_only_for_per_member_time() -> None:
    group = Cadence(timezone="Europe/Berlin")
    per_member = Cadence(timezone="Europe/Berlin", per_member_time=True)

    assert send_timezone(group, "Asia/Tokyo") == "Europe/Berlin"
    assert send_timezone(per_member, "Asia/Tokyo") == "Asia/Tokyo"
    assert send_timezone(per_member, None) == "Europe/Berlin"
    assert send_timezone(per_member, "Mars/Olympus_Mons") == "Europe/Berlin"


# --- Which days ---------------------------------------------------------------------------


def test_weekly_mon_and_thu() -> None:
    cadence = Cadence(weekdays=(0, 3))

    assert occurrence_dates(cadence, date(2026, 3, 1), date(2026, 3, 14)) == [
        date(2026, 3, 2),
        date(2026, 3, 5),
        date(2026, 3, 9),
        date(2026, 3, 12),
    ]


def test_occurrence_dates_range_is_inclusive_on_both_ends() -> None:
    cadence = Cadence(weekdays=(0,))

    assert occurrence_dates(cadence, date(2026, 3, 2), date(2026, 3, 9)) == [
        date(2026, 3, 2),
        date(2026, 3, 9),
    ]
    assert occurrence_dates(cadence, date(2026, 3, 9), date(2026, 3, 2)) == []


def test_biweekly_follows_the_anchor_week_even_across_iso_week_53() -> None:
    # 2026 has an ISO week 53, so "even ISO weeks" would send on 2026-12-21 (W52) and
    # then skip 2027-01-04 (W01); counting from the anchor keeps a steady two weeks.
    cadence = Cadence(frequency="biweekly", weekdays=(0,), anchor=date(2026, 1, 5))

    assert occurrence_dates(cadence, date(2026, 12, 1), date(2027, 1, 31)) == [
        date(2026, 12, 7),
        date(2026, 12, 21),
        date(2027, 1, 4),
        date(2027, 1, 18),
    ]


def test_biweekly_anchor_anywhere_in_its_week_picks_the_same_weeks() -> None:
    on_monday = Cadence(frequency="biweekly", weekdays=(1, 4), anchor=date(2026, 1, 5))
    on_sunday = Cadence(frequency="biweekly", weekdays=(1, 4), anchor=date(2026, 1, 11))

    start, end = date(2025, 11, 1), date(2026, 3, 1)
    assert occurrence_dates(on_monday, start, end) == occurrence_dates(on_sunday, start, end)
    assert occurrence_dates(on_monday, date(2025, 12, 22), date(2026, 1, 11)) == [
        date(2025, 12, 23),
        date(2025, 12, 26),
        date(2026, 1, 6),
        date(2026, 1, 9),
    ]


def test_biweekly_without_an_anchor_uses_the_default_anchor() -> None:
    explicit = Cadence(frequency="biweekly", anchor=date(2026, 1, 5))
    implicit = Cadence(frequency="biweekly", anchor=None)

    start, end = date(2026, 1, 1), date(2026, 6, 30)
    assert occurrence_dates(implicit, start, end) == occurrence_dates(explicit, start, end)


def test_monthly_first_monday_across_2026() -> None:
    cadence = Cadence(frequency="monthly", weekdays=(0,), monthly_week=1)

    assert [
        day.isoformat() for day in occurrence_dates(cadence, date(2026, 1, 1), date(2026, 12, 31))
    ] == [
        "2026-01-05",
        "2026-02-02",
        "2026-03-02",
        "2026-04-06",
        "2026-05-04",
        "2026-06-01",
        "2026-07-06",
        "2026-08-03",
        "2026-09-07",
        "2026-10-05",
        "2026-11-02",
        "2026-12-07",
    ]


def test_monthly_last_friday_across_2026() -> None:
    cadence = Cadence(frequency="monthly", weekdays=(4,), monthly_week=-1)

    assert [
        day.isoformat() for day in occurrence_dates(cadence, date(2026, 1, 1), date(2026, 12, 31))
    ] == [
        "2026-01-30",
        "2026-02-27",
        "2026-03-27",
        "2026-04-24",
        "2026-05-29",
        "2026-06-26",
        "2026-07-31",
        "2026-08-28",
        "2026-09-25",
        "2026-10-30",
        "2026-11-27",
        "2026-12-25",
    ]


def test_monthly_fourth_weekday_always_exists() -> None:
    cadence = Cadence(frequency="monthly", weekdays=(6,), monthly_week=4)

    days = occurrence_dates(cadence, date(2026, 1, 1), date(2027, 12, 31))

    assert len(days) == 24
    assert all(day.weekday() == 6 and 22 <= day.day <= 28 for day in days)


def test_skipped_dates_are_not_listed() -> None:
    cadence = Cadence(weekdays=(0,), skip_dates=frozenset({date(2026, 12, 28)}))

    assert occurrence_dates(cadence, date(2026, 12, 20), date(2027, 1, 10)) == [
        date(2026, 12, 21),
        date(2027, 1, 4),
    ]


def test_paused_cadence_has_no_occurrences() -> None:
    cadence = Cadence(weekdays=(0, 1, 2, 3, 4), paused=True)
    after = utc("2026-01-01T00:00")

    assert occurrence_dates(cadence, date(2026, 1, 1), date(2026, 12, 31)) == []
    assert due_occurrences(cadence, after=after, until=after + timedelta(days=30)) == []
    assert next_occurrence(cadence, after=after) is None


# --- Windows, next occurrence, closing and reminding -------------------------------------


def test_window_is_open_at_the_start_and_closed_at_the_end() -> None:
    cadence = Cadence(weekdays=(0,), timezone="UTC")

    assert send_instants(cadence, "2026-03-02T09:00", "2026-03-09T09:00") == ["2026-03-09T09:00Z"]


def test_due_occurrences_accepts_any_aware_datetime_and_returns_utc() -> None:
    cadence = Cadence(weekdays=(0,), timezone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")

    found = due_occurrences(
        cadence,
        after=datetime(2026, 3, 2, 0, 0, tzinfo=berlin),
        until=datetime(2026, 3, 2, 9, 0, tzinfo=berlin),
    )

    assert found == [Occurrence(date(2026, 3, 2), utc("2026-03-02T08:00"))]
    assert found[0].send_at.tzinfo is UTC


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_occurrences(Cadence(), after=datetime(2026, 3, 2), until=utc("2026-03-03T00:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_occurrence(Cadence(), after=datetime(2026, 3, 2))


def test_next_occurrence_is_strictly_after_the_given_instant() -> None:
    cadence = Cadence(weekdays=(0,), timezone="Europe/Berlin")

    at_send = next_occurrence(cadence, after=utc("2026-03-02T08:00"))
    just_before = next_occurrence(cadence, after=utc("2026-03-02T07:59"))

    assert at_send == Occurrence(date(2026, 3, 9), utc("2026-03-09T08:00"))
    assert just_before == Occurrence(date(2026, 3, 2), utc("2026-03-02T08:00"))


def test_next_occurrence_jumps_over_skipped_weeks() -> None:
    cadence = Cadence(weekdays=(0,), skip_dates=frozenset({date(2026, 12, 21), date(2026, 12, 28)}))

    found = next_occurrence(cadence, after=utc("2026-12-15T00:00"))

    assert found is not None
    assert found.day == date(2027, 1, 4)


def test_next_occurrence_gives_up_after_400_days() -> None:
    mondays = {date(2026, 1, 5) + timedelta(weeks=n) for n in range(60)}
    cadence = Cadence(weekdays=(0,), skip_dates=frozenset(mondays))

    assert next_occurrence(cadence, after=utc("2026-01-01T00:00")) is None


def test_next_occurrence_in_a_members_zone() -> None:
    cadence = Cadence(weekdays=(0,), timezone="Europe/Berlin", per_member_time=True)

    found = next_occurrence(cadence, after=utc("2026-03-01T00:00"), tz="Asia/Tokyo")

    assert found == Occurrence(date(2026, 3, 2), utc("2026-03-02T00:00"))


def test_closes_and_reminds_after_elapsed_time_not_wall_time() -> None:
    cadence = Cadence(answer_window=timedelta(hours=48), reminder_after=timedelta(hours=24))
    berlin = ZoneInfo("Europe/Berlin")
    # Saturday 09:00 CET, the day before spring-forward: 48 h later it is 10:00 CEST.
    sent = datetime(2026, 3, 28, 9, 0, tzinfo=berlin)

    assert closes_at(sent, cadence) == utc("2026-03-30T08:00")
    assert remind_at(sent, cadence) == utc("2026-03-29T08:00")
    assert closes_at(sent, cadence).tzinfo is UTC


def test_no_reminder_when_reminders_are_off() -> None:
    cadence = Cadence(reminder_after=None)

    assert remind_at(utc("2026-03-02T09:00"), cadence) is None


def test_stepping_the_clock_hourly_sends_each_pulse_exactly_once_across_dst() -> None:
    cadence = Cadence(weekdays=(0, 3), local_time=time(9, 30), timezone="Europe/Berlin")
    sent: list[Occurrence] = []
    with freeze_time("2026-03-20T00:00:00Z") as frozen:
        last_tick = datetime.now(UTC)
        for _ in range(24 * 21):
            frozen.tick(timedelta(hours=1))
            now = datetime.now(UTC)
            sent += due_occurrences(cadence, after=last_tick, until=now)
            last_tick = now

    assert [occurrence.day for occurrence in sent] == occurrence_dates(
        cadence, date(2026, 3, 20), date(2026, 4, 9)
    )
    assert {
        occurrence.send_at.astimezone(ZoneInfo("Europe/Berlin")).time() for occurrence in sent
    } == {time(9, 30)}


# --- Validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cadence",
    [
        Cadence(),
        Cadence(frequency="biweekly", weekdays=(1, 3), timezone="America/New_York"),
        Cadence(
            frequency="monthly", weekdays=(4,), monthly_week=-1, answer_window=timedelta(days=14)
        ),
        Cadence(weekdays=(0, 3), answer_window=timedelta(days=3), reminder_after=None),
        Cadence(weekdays=(0,), answer_window=timedelta(days=7), reminder_after=timedelta(days=6)),
        Cadence(per_member_time=True, timezone="Asia/Tokyo"),
    ],
)
def test_valid_cadences_pass_validation(cadence: Cadence) -> None:
    cadence.validate()


@pytest.mark.parametrize(
    ("cadence", "problem"),
    [
        (Cadence(timezone="Europe/Berlim"), "'Europe/Berlim' is not a known time zone"),
        (Cadence(timezone="../../etc/passwd"), "not a known time zone"),
        (Cadence(weekdays=()), "at least one day"),
        (Cadence(weekdays=(7,)), "0 \\(Monday\\) to 6 \\(Sunday\\)"),
        (Cadence(weekdays=(3, 0)), "sorted and unique"),
        (Cadence(weekdays=(0, 0)), "sorted and unique"),
        (Cadence(monthly_week=5), "week of the month"),
        (Cadence(monthly_week=0), "week of the month"),
        (Cadence(frequency="daily"), "'daily' is not a frequency"),  # type: ignore[arg-type]
        (Cadence(local_time=time(9, 0, tzinfo=UTC)), "wall-clock"),
        (Cadence(answer_window=timedelta(0)), "longer than zero"),
        (Cadence(answer_window=timedelta(days=15)), "maximum of 14 days"),
        (
            Cadence(weekdays=(0,), answer_window=timedelta(days=8)),
            "longer than the 7 days between two pulses",
        ),
        (
            Cadence(weekdays=(0, 1), answer_window=timedelta(hours=48)),
            "longer than the 1 day between two pulses",
        ),
        (
            Cadence(frequency="monthly", weekdays=(0, 1), answer_window=timedelta(hours=48)),
            "longer than the 1 day between two pulses",
        ),
        (
            Cadence(answer_window=timedelta(hours=24), reminder_after=timedelta(hours=24)),
            "reminder .* must come before the pulse closes",
        ),
        (Cadence(reminder_after=timedelta(0)), "reminder"),
    ],
)
def test_invalid_cadences_name_the_problem(cadence: Cadence, problem: str) -> None:
    with pytest.raises(CadenceError, match=problem):
        cadence.validate()


def test_cadence_error_is_a_value_error() -> None:
    assert issubclass(CadenceError, ValueError)


def test_unknown_time_zone_in_a_query_raises_cadence_error() -> None:
    with pytest.raises(CadenceError, match="not a known time zone"):
        next_occurrence(Cadence(), after=utc("2026-03-02T00:00"), tz="Nowhere/Special")


# --- Properties ---------------------------------------------------------------------------

ZONES = sorted(available_timezones() - {"localtime", "Factory"})

cadences = st.builds(
    Cadence,
    frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
    weekdays=st.sets(st.integers(0, 6), min_size=1).map(lambda days: tuple(sorted(days))),
    local_time=st.times(),
    timezone=st.sampled_from(ZONES),
    monthly_week=st.sampled_from([1, 2, 3, 4, -1]),
    anchor=st.dates(date(2000, 1, 1), date(2060, 1, 1)),
    skip_dates=st.frozensets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=20),
)
instants = st.datetimes(datetime(1971, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC))
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(cadence=cadences, after=instants, days=st.integers(1, 120))
def test_occurrences_are_strictly_increasing_and_inside_the_window(
    cadence: Cadence, after: datetime, days: int
) -> None:
    until = after + timedelta(days=days)
    found = due_occurrences(cadence, after=after, until=until)

    assert all(after < occurrence.send_at <= until for occurrence in found)
    assert all(occurrence.send_at.tzinfo is UTC for occurrence in found)
    for earlier, later in itertools.pairwise(found):
        assert earlier.send_at < later.send_at
        assert earlier.day < later.day
    assert all(occurrence.day not in cadence.skip_dates for occurrence in found)


@PROPERTY_SETTINGS
@given(cadence=cadences, after=instants)
# Found by hypothesis: a time carrying fold=1 on Dublin's spring-forward night (01:00 → 02:00).
@example(
    cadence=Cadence(weekdays=(0, 1, 2, 6), local_time=time(1, 0, fold=1), timezone="Europe/Dublin"),
    after=datetime(2000, 2, 1, tzinfo=UTC),
)
def test_send_time_is_the_local_time_except_in_a_gap(cadence: Cadence, after: datetime) -> None:
    zone = ZoneInfo(cadence.timezone)
    for occurrence in due_occurrences(cadence, after=after, until=after + timedelta(days=60)):
        wall = occurrence.send_at.astimezone(zone)
        # local_send_time ignores a time's fold (it reads wall clocks, as HH:MM does); so must
        # the oracle, or in a gap fold=1 yields the post-transition offset on both sides.
        wanted = datetime.combine(occurrence.day, cadence.local_time.replace(fold=0))
        if wall.replace(tzinfo=None) != wanted:
            # Only a wall time that did not exist may move, and by exactly the gap.
            before_gap = wanted.replace(tzinfo=zone).utcoffset()
            after_gap = wall.utcoffset()
            assert before_gap is not None
            assert after_gap is not None
            assert after_gap > before_gap
            assert wall.replace(tzinfo=None) - wanted == after_gap - before_gap


@PROPERTY_SETTINGS
@given(cadence=cadences, after=instants)
def test_next_occurrence_is_the_first_due_occurrence_within_400_days(
    cadence: Cadence, after: datetime
) -> None:
    found = due_occurrences(cadence, after=after, until=after + timedelta(days=400))

    assert next_occurrence(cadence, after=after) == (found[0] if found else None)


@PROPERTY_SETTINGS
@given(cadence=cadences, after=instants, first=st.integers(0, 2000), second=st.integers(0, 2000))
def test_consecutive_windows_neither_repeat_nor_miss_an_occurrence(
    cadence: Cadence, after: datetime, first: int, second: int
) -> None:
    middle = after + timedelta(hours=first)
    until = middle + timedelta(hours=second)

    whole = due_occurrences(cadence, after=after, until=until)
    split = due_occurrences(cadence, after=after, until=middle) + due_occurrences(
        cadence, after=middle, until=until
    )

    assert split == whole


@PROPERTY_SETTINGS
@given(
    cadence=cadences, start=st.dates(date(2024, 1, 1), date(2028, 12, 31)), days=st.integers(0, 400)
)
def test_occurrence_dates_honour_the_frequency_rule(
    cadence: Cadence, start: date, days: int
) -> None:
    end = start + timedelta(days=days)
    found = occurrence_dates(cadence, start, end)

    assert found == sorted(set(found))
    assert all(start <= day <= end and day.weekday() in cadence.weekdays for day in found)
    if cadence.frequency == "monthly" and cadence.monthly_week == -1:
        assert all((day + timedelta(days=7)).month != day.month for day in found)
    elif cadence.frequency == "monthly":
        assert all((day.day - 1) // 7 + 1 == cadence.monthly_week for day in found)
