"""Block Kit for admins: the setup, priorities and questions modals, and replies. Pure functions.

Block ids are the domain's field names (`pulses.admin`), so a problem the domain finds is
shown inline next to the input it is about (`response_action: errors`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Final

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.views.pulse import format_moment
from pulses import admin
from pulses.admin import (
    Change,
    GroupSettings,
    InvalidChange,
    NewPriority,
    PriorityEdits,
    PriorityRow,
    QuestionEdits,
)
from pulses.cadence import FREQUENCIES, Frequency
from storage.models import LeadershipGroup, Priority, Question

SETUP_CALLBACK = "admin.setup"
PRIORITIES_CALLBACK = "admin.priorities"
QUESTIONS_CALLBACK = "admin.questions"
# Every input's action_id is "value": the block id alone names the field.
VALUE = "value"

ADMINS_ONLY = (
    ":lock: Only workspace admins (and the people named in COHERENCE_ADMIN_IDS) can change "
    "Coherence's setup. Nothing was changed. Ask an admin if something should be different."
)
ADMIN_CHECK_FAILED = (
    ":warning: I couldn't check your admin rights with Slack just now, so nothing was changed. "
    "Please try again in a minute."
)
NOT_A_GROUP = (
    "This channel is not a leadership group yet, so there is nothing to change here. "
    "An admin can make it one with `/coherence setup` in this channel."
)
NOT_IN_A_CHANNEL = (
    "Run `/coherence setup` in the leadership channel you want to set up (not in a direct message)."
)

_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FREQUENCY_LABELS: Final[dict[str, str]] = {
    "weekly": "Weekly",
    "biweekly": "Every other week",
    "monthly": "Monthly",
}
_MONTHLY_LABELS: Final[dict[int, str]] = {
    1: "First week",
    2: "Second week",
    3: "Third week",
    4: "Fourth week",
    -1: "Last week",
}
_DIGEST_AFTER_CLOSE = "after_close"
_PER_MEMBER = "per_member"
_GROUP_ONLY = "group"
_ALL_GROUPS = "all"


def _option(value: str, label: str) -> Option:
    return Option(value=value, label=label[:75])


def _hours_value(duration: timedelta | None) -> str | None:
    if duration is None:
        return None
    hours = duration.total_seconds() / 3600
    return str(int(hours)) if hours == int(hours) else f"{hours:g}"


def _metadata(**values: object) -> str:
    return json.dumps(values)


def metadata_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """A modal's private_metadata as a dict ({} when missing or not JSON)."""
    try:
        loaded = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


# --- setup ----------------------------------------------------------------------------------


def setup_modal(
    settings: GroupSettings, *, channel_id: str, channel_name: str, existing: bool
) -> View:
    """Make a channel a leadership group, or edit its settings, with every field prefilled."""
    weekday_options = [_option(str(i), name) for i, name in enumerate(_WEEKDAYS)]
    frequency_options = [_option(f, _FREQUENCY_LABELS[f]) for f in FREQUENCIES]
    monthly_options = [_option(str(w), label) for w, label in _MONTHLY_LABELS.items()]
    mode_options = [
        _option("channel", "One message in the channel"),
        _option("dm", "A direct message to each member"),
    ]
    per_member = _option(_PER_MEMBER, "Send at each member's own local time")
    digest_day_options = [_option(_DIGEST_AFTER_CLOSE, "The day after the pulse closes")] + [
        _option(str(i), name) for i, name in enumerate(_WEEKDAYS)
    ]
    digest_day = (
        _DIGEST_AFTER_CLOSE if settings.digest_weekday is None else str(settings.digest_weekday)
    )
    name = f"#{channel_name}" if channel_name else "this channel"
    intro = (
        f"Settings of the leadership group {name}. Changes apply to the next pulse at once."
        if existing
        else f"Make {name} a leadership group: its members get the coherence pulse."
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        InputBlock(
            block_id=admin.LAYER,
            label="Layer",
            optional=True,
            hint="e.g. Executive team or Directors; the organisation view compares layers.",
            element=PlainTextInputElement(
                action_id=VALUE,
                max_length=admin.MAX_LAYER_LENGTH,
                initial_value=settings.layer or None,
            ),
        ),
        InputBlock(
            block_id=admin.DELIVERY_MODE,
            label="Deliver the pulse as",
            element=RadioButtonsElement(
                action_id=VALUE,
                options=mode_options,
                initial_option=next(o for o in mode_options if o.value == settings.delivery_mode),
            ),
        ),
        InputBlock(
            block_id=admin.FREQUENCY,
            label="How often",
            element=StaticSelectElement(
                action_id=VALUE,
                options=frequency_options,
                initial_option=next(o for o in frequency_options if o.value == settings.frequency),
            ),
        ),
        InputBlock(
            block_id=admin.WEEKDAYS,
            label="On",
            hint="A monthly pulse takes one day, in the week chosen below.",
            element=CheckboxesElement(
                action_id=VALUE,
                options=weekday_options,
                initial_options=[weekday_options[day] for day in settings.weekdays] or None,
            ),
        ),
        InputBlock(
            block_id=admin.MONTHLY_WEEK,
            label="Week of the month (monthly only)",
            element=StaticSelectElement(
                action_id=VALUE,
                options=monthly_options,
                initial_option=next(
                    (o for o in monthly_options if o.value == str(settings.monthly_week)),
                    monthly_options[0],
                ),
            ),
        ),
        InputBlock(
            block_id=admin.LOCAL_TIME,
            label="At",
            element=TimePickerElement(
                action_id=VALUE, initial_time=settings.local_time.strftime("%H:%M")
            ),
        ),
        InputBlock(
            block_id=admin.TIMEZONE,
            label="Time zone",
            hint="An IANA name such as Europe/Berlin or America/New_York.",
            element=PlainTextInputElement(
                action_id=VALUE, max_length=64, initial_value=settings.timezone
            ),
        ),
        InputBlock(
            block_id=admin.PER_MEMBER_TIME,
            label="Members' local time",
            optional=True,
            hint="Then the time zone above is used only for members without one.",
            element=CheckboxesElement(
                action_id=VALUE,
                options=[per_member],
                initial_options=[per_member] if settings.per_member_time else None,
            ),
        ),
        InputBlock(
            block_id=admin.ANSWER_WINDOW,
            label="Answer window (hours)",
            hint="How long leaders can answer; at most the time between two pulses.",
            element=NumberInputElement(
                action_id=VALUE,
                is_decimal_allowed=True,
                min_value=1,
                max_value=336,
                initial_value=_hours_value(settings.answer_window),
            ),
        ),
        InputBlock(
            block_id=admin.REMINDER,
            label="Remind after (hours)",
            optional=True,
            hint="One reminder to those who haven't answered; leave empty for none.",
            element=NumberInputElement(
                action_id=VALUE,
                is_decimal_allowed=True,
                min_value=1,
                max_value=336,
                initial_value=_hours_value(settings.reminder_after),
            ),
        ),
        InputBlock(
            block_id=admin.DIGEST_WEEKDAY,
            label="Post the digest on",
            element=StaticSelectElement(
                action_id=VALUE,
                options=digest_day_options,
                initial_option=next(o for o in digest_day_options if o.value == digest_day),
            ),
        ),
        InputBlock(
            block_id=admin.DIGEST_TIME,
            label="Digest time",
            element=TimePickerElement(
                action_id=VALUE, initial_time=settings.digest_time.strftime("%H:%M")
            ),
        ),
        InputBlock(
            block_id=admin.DIGEST_CHANNEL,
            label="Digest channel",
            optional=True,
            hint="Leave empty to post the digest in the group's own channel.",
            element=ConversationSelectElement(
                action_id=VALUE,
                initial_conversation=settings.digest_channel_id,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        InputBlock(
            block_id=admin.THRESHOLD,
            label="Anonymity threshold",
            hint="No figure is shown for a pulse with fewer answers than this (at least 3).",
            element=NumberInputElement(
                action_id=VALUE,
                min_value=3,
                max_value=100,
                initial_value=str(settings.anonymity_threshold),
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=SETUP_CALLBACK,
        private_metadata=_metadata(channel_id=channel_id, channel_name=channel_name),
        title=PlainTextObject(text="Coherence setup"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def _state(values: Mapping[str, Mapping[str, Any]], block_id: str) -> dict[str, Any]:
    found = (values.get(block_id) or {}).get(VALUE)
    return dict(found) if isinstance(found, Mapping) else {}


def _selected(values: Mapping[str, Mapping[str, Any]], block_id: str) -> str | None:
    option = _state(values, block_id).get("selected_option") or {}
    value = option.get("value") if isinstance(option, Mapping) else None
    return str(value) if value is not None else None


def _checked(values: Mapping[str, Mapping[str, Any]], block_id: str) -> list[str]:
    options = _state(values, block_id).get("selected_options") or []
    return [str(o.get("value")) for o in options if isinstance(o, Mapping)]


def _text(values: Mapping[str, Mapping[str, Any]], block_id: str) -> str:
    value = _state(values, block_id).get("value")
    return str(value).strip() if value is not None else ""


def _time(values: Mapping[str, Mapping[str, Any]], block_id: str, problems: dict[str, str]) -> time:
    raw = str(_state(values, block_id).get("selected_time") or "")
    try:
        hour, minute = (int(part) for part in raw.split(":"))
        return time(hour, minute)
    except ValueError:
        problems[block_id] = "Pick a time."
        return time(9, 0)


def _number(
    values: Mapping[str, Mapping[str, Any]],
    block_id: str,
    problems: dict[str, str],
    *,
    required: bool,
) -> float | None:
    raw = _text(values, block_id)
    if not raw:
        if required:
            problems[block_id] = "Enter a number."
        return None
    try:
        number = float(raw)
    except ValueError:
        problems[block_id] = f"'{raw[:20]}' is not a number."
        return None
    if not math.isfinite(number):
        problems[block_id] = f"'{raw[:20]}' is not a number."
        return None
    return number


def _hours(
    values: Mapping[str, Mapping[str, Any]],
    block_id: str,
    problems: dict[str, str],
    *,
    required: bool,
) -> timedelta | None:
    number = _number(values, block_id, problems, required=required)
    if number is None:
        return None
    if not 0 < number <= 14 * 24:
        problems[block_id] = "Enter a number of hours from 1 to 336 (14 days)."
        return None
    return timedelta(minutes=round(number * 60))


def parse_setup(values: Mapping[str, Mapping[str, Any]]) -> GroupSettings:
    """The setup modal's state as settings; raises InvalidChange for unreadable inputs."""
    problems: dict[str, str] = {}
    frequency_value = _selected(values, admin.FREQUENCY) or "weekly"
    frequency: Frequency = "weekly"
    for known in FREQUENCIES:
        if known == frequency_value:
            frequency = known
    weekdays = tuple(sorted({int(v) for v in _checked(values, admin.WEEKDAYS) if v.isdigit()}))
    monthly = _selected(values, admin.MONTHLY_WEEK) or "1"
    window = _hours(values, admin.ANSWER_WINDOW, problems, required=True)
    reminder = _hours(values, admin.REMINDER, problems, required=False)
    threshold = _number(values, admin.THRESHOLD, problems, required=True)
    if threshold is not None and threshold != int(threshold):
        problems[admin.THRESHOLD] = "Enter a whole number of answers."
    digest_day = _selected(values, admin.DIGEST_WEEKDAY)
    digest_channel = _state(values, admin.DIGEST_CHANNEL).get("selected_conversation")
    settings = GroupSettings(
        layer=_text(values, admin.LAYER) or None,
        delivery_mode=_selected(values, admin.DELIVERY_MODE) or "channel",
        frequency=frequency,
        weekdays=weekdays,
        monthly_week=int(monthly) if monthly.lstrip("-").isdigit() else 1,
        local_time=_time(values, admin.LOCAL_TIME, problems),
        timezone=_text(values, admin.TIMEZONE),
        per_member_time=_PER_MEMBER in _checked(values, admin.PER_MEMBER_TIME),
        answer_window=window or timedelta(hours=48),
        reminder_after=reminder,
        digest_weekday=(
            int(digest_day) if digest_day is not None and digest_day.isdigit() else None
        ),
        digest_time=_time(values, admin.DIGEST_TIME, problems),
        digest_channel_id=str(digest_channel) if digest_channel else None,
        anonymity_threshold=int(threshold) if threshold is not None else 0,
    )
    if problems:
        raise InvalidChange(problems)
    return settings


# --- priorities -----------------------------------------------------------------------------


def priorities_modal(
    priorities: Sequence[Priority], *, group: LeadershipGroup | None, channel_id: str
) -> View:
    """Rename, weight, order and retire the declared priorities, and add one."""
    group_name = f"#{group.channel_name or group.channel_id}" if group else None
    intro = (
        "The declared strategic priorities leaders choose from in the focus question. "
        "Retiring one removes it from new pulses; past digests keep it."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    if not priorities:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="No priorities declared yet.")])
        )
    for index, priority in enumerate(priorities, start=1):
        assert priority.id is not None
        scope = f" (only {group_name})" if priority.group_id is not None and group_name else ""
        blocks += [
            InputBlock(
                block_id=admin.priority_name_field(priority.id),
                label=f"Priority {index}{scope}"[:2000],
                element=PlainTextInputElement(
                    action_id=VALUE,
                    max_length=admin.MAX_PRIORITY_NAME,
                    initial_value=priority.name,
                ),
            ),
            InputBlock(
                block_id=admin.priority_weight_field(priority.id),
                label="Weight",
                optional=True,
                hint="Its intended share of attention; empty for equal weights.",
                element=NumberInputElement(
                    action_id=VALUE,
                    is_decimal_allowed=True,
                    min_value=0,
                    max_value=admin.MAX_PRIORITY_WEIGHT,
                    initial_value=f"{priority.weight:g}" if priority.weight is not None else None,
                ),
            ),
            InputBlock(
                block_id=admin.priority_order_field(priority.id),
                label="Order",
                element=NumberInputElement(
                    action_id=VALUE, min_value=1, max_value=100, initial_value=str(index)
                ),
            ),
        ]
    if priorities:
        retire_options = [_option(str(p.id), p.name) for p in priorities if p.id is not None]
        blocks.append(
            InputBlock(
                block_id=admin.PRIORITY_RETIRE,
                label="Retire",
                optional=True,
                hint="Retired priorities leave new pulses; past runs and digests keep them.",
                element=_multi_select(retire_options),
            )
        )
    blocks += [
        DividerBlock(),
        InputBlock(
            block_id=admin.PRIORITY_NEW_NAME,
            label="Add a priority",
            optional=True,
            element=PlainTextInputElement(action_id=VALUE, max_length=admin.MAX_PRIORITY_NAME),
        ),
        InputBlock(
            block_id=admin.PRIORITY_NEW_WEIGHT,
            label="Its weight",
            optional=True,
            element=NumberInputElement(
                action_id=VALUE,
                is_decimal_allowed=True,
                min_value=0,
                max_value=admin.MAX_PRIORITY_WEIGHT,
            ),
        ),
    ]
    if group_name:
        scopes = [
            _option(_ALL_GROUPS, "Every leadership group"),
            _option(_GROUP_ONLY, f"Only {group_name}"),
        ]
        blocks.append(
            InputBlock(
                block_id=admin.PRIORITY_NEW_SCOPE,
                label="For",
                element=RadioButtonsElement(
                    action_id=VALUE, options=scopes, initial_option=scopes[0]
                ),
            )
        )
    return View(
        type="modal",
        callback_id=PRIORITIES_CALLBACK,
        private_metadata=_metadata(channel_id=channel_id),
        title=PlainTextObject(text="Declared priorities"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def _multi_select(options: list[Option]) -> StaticMultiSelectElement:
    return StaticMultiSelectElement(
        action_id=VALUE, placeholder="Choose priorities to retire", options=options
    )


def parse_priorities(
    values: Mapping[str, Mapping[str, Any]], priority_ids: Sequence[int]
) -> PriorityEdits:
    """The priorities modal's state as edits; raises InvalidChange for unreadable numbers."""
    problems: dict[str, str] = {}
    retired = {int(v) for v in _checked(values, admin.PRIORITY_RETIRE) if v.isdigit()}
    rows: list[PriorityRow] = []
    for priority_id in priority_ids:
        name_field = admin.priority_name_field(priority_id)
        if name_field not in values:
            continue
        weight = _number(values, admin.priority_weight_field(priority_id), problems, required=False)
        order = _number(values, admin.priority_order_field(priority_id), problems, required=False)
        rows.append(
            PriorityRow(
                priority_id=priority_id,
                name=_text(values, name_field),
                weight=weight,
                order=order if order is not None else float(len(rows) + 1),
                retire=priority_id in retired,
            )
        )
    new_name = _text(values, admin.PRIORITY_NEW_NAME)
    new_weight = _number(values, admin.PRIORITY_NEW_WEIGHT, problems, required=False)
    new = None
    if new_name or new_weight is not None:
        new = NewPriority(
            name=new_name,
            weight=new_weight,
            group_only=_selected(values, admin.PRIORITY_NEW_SCOPE) == _GROUP_ONLY,
        )
    if problems:
        raise InvalidChange(problems)
    return PriorityEdits(rows=tuple(rows), new=new)


# --- questions ------------------------------------------------------------------------------


def questions_modal(questions: Sequence[Question], versions: Mapping[str, int]) -> View:
    """The current question set, each wording editable, plus one new statement to add."""
    intro = (
        "Editing a wording creates a new version; past answers keep the version they answered, "
        "and trends mark the run where the wording changed."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    for question in questions:
        kind = {"likert": "statement, rated 1–5", "focus": "focus", "friction": "friction"}.get(
            question.kind, question.kind
        )
        blocks.append(
            InputBlock(
                block_id=admin.question_field(question.key),
                label=f"{question.key} ({kind})"[:2000],
                hint=f"Version {question.version} of {versions.get(question.key, 1)}",
                element=PlainTextInputElement(
                    action_id=VALUE,
                    multiline=True,
                    max_length=admin.MAX_QUESTION_TEXT,
                    initial_value=question.text,
                ),
            )
        )
    blocks += [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Add a statement")),
        InputBlock(
            block_id=admin.QUESTION_NEW_KEY,
            label="Dimension",
            optional=True,
            hint="A short key for what it measures, e.g. customer_focus.",
            element=PlainTextInputElement(action_id=VALUE, max_length=32),
        ),
        InputBlock(
            block_id=admin.QUESTION_NEW_TEXT,
            label="Statement",
            optional=True,
            hint="Leaders rate it from 1 (strongly disagree) to 5 (strongly agree).",
            element=PlainTextInputElement(
                action_id=VALUE, multiline=True, max_length=admin.MAX_QUESTION_TEXT
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=QUESTIONS_CALLBACK,
        title=PlainTextObject(text="Pulse questions"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def parse_questions(values: Mapping[str, Mapping[str, Any]]) -> QuestionEdits:
    """The questions modal's state as edits (the domain validates them)."""
    prefix = admin.question_field("")
    texts = {
        block_id.removeprefix(prefix): _text(values, block_id)
        for block_id in values
        if block_id.startswith(prefix)
        and block_id not in (admin.QUESTION_NEW_KEY, admin.QUESTION_NEW_TEXT)
    }
    return QuestionEdits(
        texts=texts,
        new_key=_text(values, admin.QUESTION_NEW_KEY) or None,
        new_text=_text(values, admin.QUESTION_NEW_TEXT) or None,
    )


# --- replies --------------------------------------------------------------------------------


def next_send_text(
    next_send: datetime | None, *, timezone: str, paused: bool, per_member: bool
) -> str:
    """`Next pulse: Thu 3 Dec, 09:30 CET (your time).` or why there is none."""
    if paused:
        return "No pulse is scheduled while the group is paused (`/coherence resume`)."
    if next_send is None:
        return "No pulse is scheduled in the next 400 days."
    moment = format_moment(next_send, timezone)
    if per_member:
        return (
            f"Next pulse: {moment} (your time) for members in the group's fallback zone; "
            "everyone else gets it at the same hour in their own zone."
        )
    return f"Next pulse: {moment} (your time)."


def change_text(change: Change, *, extra: str | None = None) -> str:
    """What a change did, for the admin who made it."""
    head = ":white_check_mark: Done — " if change.changed else "Nothing to change — "
    text = head + "; ".join(change.lines) + "."
    if extra:
        text += "\n" + extra
    return text


def problems_text(problem: InvalidChange, usage: str | None = None) -> str:
    """A refused change: what is wrong, and the form that works."""
    text = ":warning: " + problem.message
    if usage:
        text += f"\nUsage: {usage}"
    return text


def notice_view(title: str, text: str) -> View:
    """A one-message modal shown in place of a submitted one."""
    return View(
        type="modal",
        title=PlainTextObject(text=title[:24]),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=text[:3000]))],
    )
