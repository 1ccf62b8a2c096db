"""The answer window and the reminder are bounded on the server as the setup modal bounds
them: at least an hour, at most 14 days, whole minutes, whatever path sets them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from pulses import settings as group_settings
from pulses.audit import InvalidChange
from pulses.settings import ANSWER_WINDOW, REMINDER, GroupSettings

BERLIN = "Europe/Berlin"
WEEKLY = GroupSettings(timezone=BERLIN)


@pytest.mark.parametrize(
    ("change", "field_name", "words"),
    [
        ({"answer_window": timedelta(minutes=30)}, ANSWER_WINDOW, "at least 1 hour, got 0.5 h"),
        ({"answer_window": timedelta(seconds=1)}, ANSWER_WINDOW, "at least 1 hour"),
        ({"answer_window": timedelta(0)}, ANSWER_WINDOW, "at least 1 hour, got 0 h"),
        ({"answer_window": -timedelta(hours=2)}, ANSWER_WINDOW, "at least 1 hour"),
        ({"answer_window": timedelta(days=14, minutes=1)}, ANSWER_WINDOW, "14 days"),
        ({"reminder_after": timedelta(minutes=59)}, REMINDER, "at least 1 hour"),
        ({"reminder_after": timedelta(0)}, REMINDER, "at least 1 hour"),
        (
            {"answer_window": timedelta(hours=2, seconds=30)},
            ANSWER_WINDOW,
            "whole number of minutes",
        ),
        ({"reminder_after": timedelta(hours=2, seconds=1)}, REMINDER, "whole number of minutes"),
    ],
)
def test_out_of_range_hours_are_refused_on_their_field(
    change: dict[str, object], field_name: str, words: str
) -> None:
    settings = replace(WEEKLY, **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidChange) as raised:
        group_settings.validate_settings(settings)
    assert words in raised.value.problems[field_name]


@pytest.mark.parametrize(
    ("window", "reminder"),
    [
        (timedelta(hours=1), None),
        (timedelta(hours=2), timedelta(hours=1)),
        (timedelta(hours=1, minutes=30), timedelta(hours=1, minutes=1)),
        (timedelta(days=7), timedelta(days=6, hours=23)),
    ],
)
def test_the_bounds_themselves_are_accepted(window: timedelta, reminder: timedelta | None) -> None:
    group_settings.validate_settings(replace(WEEKLY, answer_window=window, reminder_after=reminder))


def test_the_longest_window_fits_a_monthly_pulse() -> None:
    monthly = replace(
        WEEKLY, frequency="monthly", answer_window=timedelta(days=14), reminder_after=None
    )
    group_settings.validate_settings(monthly)
