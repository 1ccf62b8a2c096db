"""Block Kit for the pulse: the channel/DM message, the answer modal, reminders. Pure functions."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.views.fields import radio_field, select_field, text_field
from pulses.answers import OTHER, SHARE_STEPS, PulseForm, share_field
from pulses.away import away_text
from pulses.ports import PulseNotice
from pulses.questions import FOCUS, FRICTION, LIKERT_LABELS
from storage.models import Answer, Question

ANSWER_ACTION = "pulse.answer"
SUBMIT_CALLBACK = "pulse.submit"
SCORE_ACTION = "score"
FOCUS_ACTION = "focus"
SHARE_ACTION = "share"
FOCUS_OTHER_BLOCK = "focus_other"
FRICTION_ACTION = "friction"


def format_moment(moment: datetime, timezone: str) -> str:
    """`Wed 27 Nov, 09:00 CET` in the given zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %-d %b, %H:%M} {local.tzname()}"


def pulse_message(notice: PulseNotice, *, in_dm: bool = False) -> tuple[str, list[Block]]:
    """The channel or DM message carrying the Answer button, with progress counts only.

    A DM is not refreshed as others answer, so it shows when the pulse closes, not a count.
    """
    closes = format_moment(notice.closes_at, notice.timezone)
    if notice.closed:
        text = f"This week's coherence pulse for {notice.group_name} has closed."
        status = f"Closed · {notice.answered} of {notice.invited} answered{away_text(notice.away)}"
        blocks: list[Block] = [
            SectionBlock(text=MarkdownTextObject(text=f"*{text}*")),
            ContextBlock(elements=[MarkdownTextObject(text=status)]),
        ]
        return text, blocks
    text = f"Time for this week's coherence pulse for {notice.group_name} (under a minute)."
    blocks = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{text}*\nFive quick statements, one question about focus, one about "
                "friction. Answers are anonymous: only team-level figures are ever shown."
            )
        ),
        ActionsBlock(
            block_id=f"pulse-{notice.run_id}",
            elements=[
                ButtonElement(
                    text="Answer",
                    action_id=ANSWER_ACTION,
                    value=str(notice.run_id),
                    style="primary",
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Closes {closes}"
                    if in_dm
                    else f"{notice.answered} of {notice.invited} answered"
                    f"{away_text(notice.away)} · closes {closes}"
                )
            ]
        ),
    ]
    return text, blocks


def answered_message(notice: PulseNotice) -> tuple[str, list[Block]]:
    """A member's DM once they have answered: confirmation, and the way to change it."""
    closes = format_moment(notice.closes_at, notice.timezone)
    text = f"Thanks, your answer to this week's coherence pulse for {notice.group_name} is in."
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f":white_check_mark: {text}")),
        ActionsBlock(
            block_id=f"pulse-{notice.run_id}",
            elements=[
                ButtonElement(
                    text="Change answer", action_id=ANSWER_ACTION, value=str(notice.run_id)
                )
            ],
        ),
        ContextBlock(elements=[MarkdownTextObject(text=f"You can change it until {closes}.")]),
    ]
    return text, blocks


def reminder_text(notice: PulseNotice) -> str:
    closes = format_moment(notice.closes_at, notice.timezone)
    return (
        f"Reminder: this week's coherence pulse for {notice.group_name} closes {closes}. "
        "It takes under a minute."
    )


def pulse_modal(
    form: PulseForm,
    *,
    group_name: str,
    previous: Answer | None = None,
    previous_scores: dict[int, int] | None = None,
    previous_shares: dict[str, int] | None = None,
) -> View:
    """The answer modal: Likert items, focus, the pressure item, friction; prefilled when
    changing an answer."""
    assert form.run.id is not None
    scores = previous_scores or {}
    blocks: list[Block] = []
    options = [Option(value=str(v), label=f"{v} · {label}") for v, label in LIKERT_LABELS.items()]
    for question in form.likert:
        blocks.append(_rating(question, options, scores))
    if form.asks_shares:
        blocks += _share_blocks(form, previous_shares or {})
    elif form.focus is not None:
        focus_options = [Option(value=str(p.id), label=p.name[:75]) for p in form.priorities]
        focus_options.append(Option(value=OTHER, label="Something else"))
        chosen = next(iter(previous_shares or {}), None)
        blocks.append(
            select_field(
                FOCUS,
                form.focus.text,
                focus_options,
                action_id=FOCUS_ACTION,
                initial=next((o for o in focus_options if o.value == chosen), None),
                placeholder="Choose a priority",
            )
        )
    if form.focus is not None:
        blocks.append(
            text_field(
                FOCUS_OTHER_BLOCK,
                "If something else: what was it?",
                action_id=FOCUS_OTHER_BLOCK,
                max_length=200,
                initial=(previous.focus_other if previous else None) or None,
                optional=True,
            )
        )
    if form.pressure is not None:
        blocks.append(_rating(form.pressure, options, scores))
    if form.friction is not None:
        blocks.append(
            text_field(
                FRICTION,
                form.friction.text,
                action_id=FRICTION_ACTION,
                max_length=1000,
                initial=(previous.friction if previous else None) or None,
                multiline=True,
                optional=True,
                hint="Optional. Shown without your name, only when enough people answered.",
            )
        )
    return View(
        type="modal",
        callback_id=SUBMIT_CALLBACK,
        private_metadata=json.dumps({"run_id": form.run.id}),
        title=PlainTextObject(text="Coherence pulse"),
        submit=PlainTextObject(text="Update" if previous else "Submit"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def _rating(question: Question, options: list[Option], scores: dict[int, int]) -> Block:
    """A 1–5 item (a statement, or the pressure item), its block named by the question id."""
    assert question.id is not None
    initial = next((o for o in options if o.value == str(scores.get(question.id))), None)
    return radio_field(
        str(question.id), question.text[:2000], options, action_id=SCORE_ACTION, initial=initial
    )


def _share_blocks(form: PulseForm, previous: dict[str, int]) -> list[Block]:
    """The attention question: a share select for each priority and for something else."""
    assert form.focus is not None
    options = [Option(value=str(step), label=f"{step}%") for step in SHARE_STEPS]
    blocks: list[Block] = [
        SectionBlock(
            block_id=FOCUS,
            text=MarkdownTextObject(
                text=f"*{form.focus.text[:2900]}*\nIn steps of 10%, together 100%."
            ),
        )
    ]
    labels = [(str(p.id), p.name[:75]) for p in form.priorities] + [(OTHER, "Something else")]
    for key, label in labels:
        chosen = str(previous.get(key, 0))
        blocks.append(
            select_field(
                share_field(key),
                label,
                options,
                action_id=SHARE_ACTION,
                initial=next(o for o in options if o.value == chosen),
            )
        )
    return blocks


def notice_modal(title: str, message: str, *, close: str = "OK") -> View:
    """A one-message modal, e.g. "this pulse closed at …"."""
    return View(
        type="modal",
        title=PlainTextObject(text=title[:24]),
        close=PlainTextObject(text=close),
        blocks=[SectionBlock(text=MarkdownTextObject(text=message))],
    )


def closed_message(closed_at: datetime, timezone: str) -> str:
    return (
        f"This pulse closed at {format_moment(closed_at, timezone)}, so your answer was not "
        "recorded. The next one will come on schedule."
    )
