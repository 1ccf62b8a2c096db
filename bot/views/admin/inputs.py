"""Reading and building the admin modals' inputs: every input's action_id is `VALUE`, so the
block id alone names the field (the domain's field name, where a problem is then shown)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any, Final

from slack_sdk.models.blocks import Option

from bot.i18n import _
from bot.views.fields import VALUE
from pulses.cadence import MAX_ANSWER_WINDOW
from pulses.settings import MIN_HOURS

# A modal's state: block id → action id → the input's value.
State = Mapping[str, Mapping[str, Any]]
# The answer window and the reminder: at most two weeks.
MAX_HOURS: Final = int(MAX_ANSWER_WINDOW.total_seconds() // 3600)


def option(value: str, label: str) -> Option:
    return Option(value=value, label=label[:75])


def hours_text(duration: timedelta | None) -> str | None:
    if duration is None:
        return None
    hours = duration.total_seconds() / 3600
    return str(int(hours)) if hours == int(hours) else f"{hours:g}"


def metadata(**values: object) -> str:
    return json.dumps(values)


def metadata_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """A modal's private_metadata as a dict ({} when missing or not JSON)."""
    try:
        loaded = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def state(values: State, block_id: str) -> dict[str, Any]:
    found = (values.get(block_id) or {}).get(VALUE)
    return dict(found) if isinstance(found, Mapping) else {}


def selected(values: State, block_id: str) -> str | None:
    chosen = state(values, block_id).get("selected_option") or {}
    value = chosen.get("value") if isinstance(chosen, Mapping) else None
    return str(value) if value is not None else None


def checked(values: State, block_id: str) -> list[str]:
    options = state(values, block_id).get("selected_options") or []
    return [str(o.get("value")) for o in options if isinstance(o, Mapping)]


def text_value(values: State, block_id: str) -> str:
    value = state(values, block_id).get("value")
    return str(value).strip() if value is not None else ""


def time_value(values: State, block_id: str, problems: dict[str, str]) -> time:
    raw = str(state(values, block_id).get("selected_time") or "")
    try:
        hour, minute = (int(part) for part in raw.split(":"))
        return time(hour, minute)
    except ValueError:
        problems[block_id] = _("Pick a time.")
        return time(9, 0)


def number_value(
    values: State,
    block_id: str,
    problems: dict[str, str],
    *,
    required: bool,
) -> float | None:
    raw = text_value(values, block_id)
    if not raw:
        if required:
            problems[block_id] = _("Enter a number.")
        return None
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        problems[block_id] = _("'{text}' is not a number.").format(text=raw[:20])
        return None
    return number


def hours_value(
    values: State,
    block_id: str,
    problems: dict[str, str],
    *,
    required: bool,
) -> timedelta | None:
    number = number_value(values, block_id, problems, required=required)
    if number is None:
        return None
    if not MIN_HOURS <= number <= MAX_HOURS:
        problems[block_id] = _("Enter a number of hours from {least} to {most} (14 days).").format(
            least=MIN_HOURS, most=MAX_HOURS
        )
        return None
    return timedelta(minutes=round(number * 60))
