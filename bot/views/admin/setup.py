"""The setup modal: make a channel a leadership group, or edit its settings. Pure functions."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Final

from slack_sdk.models.blocks import (
    Block,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.i18n import N_, _, speaking
from bot.views.admin.inputs import (
    MAX_HOURS,
    State,
    checked,
    hours_text,
    hours_value,
    metadata,
    number_value,
    option,
    selected,
    state,
    text_value,
    time_value,
)
from bot.views.fields import (
    VALUE,
    checkbox_field,
    number_field,
    radio_field,
    select_field,
    text_field,
)
from pulses.audit import InvalidChange
from pulses.cadence import FREQUENCIES, Frequency
from pulses.settings import (
    ANSWER_WINDOW,
    DELIVERY_MODE,
    DIGEST_CHANNEL,
    DIGEST_TIME,
    DIGEST_WEEKDAY,
    FREQUENCY,
    LANGUAGE,
    LANGUAGES,
    LAYER,
    LOCAL_TIME,
    MAX_LAYER_LENGTH,
    MONTHLY_WEEK,
    PER_MEMBER_TIME,
    REMINDER,
    THRESHOLD,
    TIMEZONE,
    WEEKDAYS,
    GroupSettings,
)

SETUP_CALLBACK = "admin.setup"
# Marked for the catalogue; the modal translates them.
_WEEKDAYS: Final = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
_FREQUENCY_LABELS: Final[dict[str, str]] = {
    "weekly": N_("Weekly"),
    "biweekly": N_("Every other week"),
    "monthly": N_("Monthly"),
}
_MONTHLY_LABELS: Final[dict[int, str]] = {
    1: N_("First week"),
    2: N_("Second week"),
    3: N_("Third week"),
    4: N_("Fourth week"),
    -1: N_("Last week"),
}
_DIGEST_AFTER_CLOSE = "after_close"
_PER_MEMBER = "per_member"


def setup_modal(
    settings: GroupSettings, *, channel_id: str, channel_name: str, existing: bool
) -> View:
    """Make a channel a leadership group, or edit its settings, with every field prefilled;
    in the group's language."""
    with speaking(settings.language):
        return _setup_modal(settings, channel_id, channel_name, existing)


def _setup_modal(
    settings: GroupSettings, channel_id: str, channel_name: str, existing: bool
) -> View:
    weekday_options = [option(str(i), _(name)) for i, name in enumerate(_WEEKDAYS)]
    frequency_options = [option(f, _(_FREQUENCY_LABELS[f])) for f in FREQUENCIES]
    monthly_options = [option(str(w), _(label)) for w, label in _MONTHLY_LABELS.items()]
    mode_options = [
        option("channel", _("One message in the channel")),
        option("dm", _("A direct message to each member")),
    ]
    language_options = [option(code, name) for code, name in LANGUAGES.items()]
    per_member = option(_PER_MEMBER, _("Send at each member's own local time"))
    digest_day_options = [option(_DIGEST_AFTER_CLOSE, _("The day after the pulse closes"))] + [
        option(str(i), _(name)) for i, name in enumerate(_WEEKDAYS)
    ]
    digest_day = (
        _DIGEST_AFTER_CLOSE if settings.digest_weekday is None else str(settings.digest_weekday)
    )
    name = f"#{channel_name}" if channel_name else _("this channel")
    intro = (
        _("Settings of the leadership group {name}. Changes apply to the next pulse at once.")
        if existing
        else _("Make {name} a leadership group: its members get the coherence pulse.")
    ).format(name=name)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        text_field(
            LAYER,
            _("Layer"),
            max_length=MAX_LAYER_LENGTH,
            initial=settings.layer or None,
            optional=True,
            hint=_("e.g. Executive team or Directors; the organisation view compares layers."),
        ),
        radio_field(
            DELIVERY_MODE,
            _("Deliver the pulse as"),
            mode_options,
            initial=next(o for o in mode_options if o.value == settings.delivery_mode),
        ),
        _select(FREQUENCY, _("How often"), frequency_options, settings.frequency),
        checkbox_field(
            WEEKDAYS,
            _("On"),
            weekday_options,
            initial=[weekday_options[day] for day in settings.weekdays] or None,
            hint=_("A monthly pulse takes one day, in the week chosen below."),
        ),
        _select(
            MONTHLY_WEEK,
            _("Week of the month (monthly only)"),
            monthly_options,
            str(settings.monthly_week),
        ),
        _time_input(LOCAL_TIME, _("At"), settings.local_time),
        text_field(
            TIMEZONE,
            _("Time zone"),
            max_length=64,
            initial=settings.timezone,
            hint=_("An IANA name such as Europe/Berlin or America/New_York."),
        ),
        checkbox_field(
            PER_MEMBER_TIME,
            _("Members' local time"),
            [per_member],
            initial=[per_member] if settings.per_member_time else None,
            optional=True,
            hint=_("Then the time zone above is used only for members without one."),
        ),
        _hours_input(
            ANSWER_WINDOW,
            _("Answer window (hours)"),
            _("How long leaders can answer; at most the time between two pulses."),
            settings.answer_window,
        ),
        _hours_input(
            REMINDER,
            _("Remind after (hours)"),
            _("One reminder to those who haven't answered; leave empty for none."),
            settings.reminder_after,
            optional=True,
        ),
        _select(DIGEST_WEEKDAY, _("Post the digest on"), digest_day_options, digest_day),
        _time_input(DIGEST_TIME, _("Digest time"), settings.digest_time),
        InputBlock(
            block_id=DIGEST_CHANNEL,
            label=_("Digest channel"),
            optional=True,
            hint=_("Leave empty to post the digest in the group's own channel."),
            element=ConversationSelectElement(
                action_id=VALUE,
                initial_conversation=settings.digest_channel_id,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        number_field(
            THRESHOLD,
            _("Anonymity threshold"),
            min_value=3,
            max_value=100,
            initial=str(settings.anonymity_threshold),
            hint=_("No figure is shown for a pulse with fewer answers than this (at least 3)."),
        ),
        _select(
            LANGUAGE,
            _("Language of pulses, reminders and digests"),
            language_options,
            settings.language,
        ),
    ]
    return View(
        type="modal",
        callback_id=SETUP_CALLBACK,
        private_metadata=metadata(channel_id=channel_id, channel_name=channel_name),
        title=PlainTextObject(text=_("Coherence setup")),
        submit=PlainTextObject(text=_("Save")),
        close=PlainTextObject(text=_("Cancel")),
        blocks=blocks,
    )


def _select(block_id: str, label: str, options: list[Option], initial: str) -> InputBlock:
    chosen = next((o for o in options if o.value == initial), options[0])
    return select_field(block_id, label, options, initial=chosen)


def _time_input(block_id: str, label: str, initial: time) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        element=TimePickerElement(action_id=VALUE, initial_time=initial.strftime("%H:%M")),
    )


def _hours_input(
    block_id: str, label: str, hint: str, initial: timedelta | None, *, optional: bool = False
) -> InputBlock:
    return number_field(
        block_id,
        label,
        min_value=1,
        max_value=MAX_HOURS,
        initial=hours_text(initial),
        decimal=True,
        optional=optional,
        hint=hint,
    )


def parse_setup(values: State) -> GroupSettings:
    """The setup modal's state as settings; raises InvalidChange for unreadable inputs."""
    problems: dict[str, str] = {}
    frequency_value = selected(values, FREQUENCY) or "weekly"
    frequency: Frequency = "weekly"
    for known in FREQUENCIES:
        if known == frequency_value:
            frequency = known
    weekdays = tuple(sorted({int(v) for v in checked(values, WEEKDAYS) if v.isdigit()}))
    monthly = selected(values, MONTHLY_WEEK) or "1"
    window = hours_value(values, ANSWER_WINDOW, problems, required=True)
    reminder = hours_value(values, REMINDER, problems, required=False)
    threshold = number_value(values, THRESHOLD, problems, required=True)
    if threshold is not None and threshold != int(threshold):
        problems[THRESHOLD] = _("Enter a whole number of answers.")
    digest_day = selected(values, DIGEST_WEEKDAY)
    digest_channel = state(values, DIGEST_CHANNEL).get("selected_conversation")
    settings = GroupSettings(
        layer=text_value(values, LAYER) or None,
        delivery_mode=selected(values, DELIVERY_MODE) or "channel",
        frequency=frequency,
        weekdays=weekdays,
        monthly_week=int(monthly) if monthly.lstrip("-").isdigit() else 1,
        local_time=time_value(values, LOCAL_TIME, problems),
        timezone=text_value(values, TIMEZONE),
        per_member_time=_PER_MEMBER in checked(values, PER_MEMBER_TIME),
        answer_window=window or timedelta(hours=48),
        reminder_after=reminder,
        digest_weekday=(
            int(digest_day) if digest_day is not None and digest_day.isdigit() else None
        ),
        digest_time=time_value(values, DIGEST_TIME, problems),
        digest_channel_id=str(digest_channel) if digest_channel else None,
        anonymity_threshold=int(threshold) if threshold is not None else 0,
        language=selected(values, LANGUAGE) or "en",
    )
    if problems:
        raise InvalidChange(problems)
    return settings
