"""Block Kit for the pulse: the channel/DM message, the answer modal, reminders. Pure functions."""

from __future__ import annotations

import json
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import N_, _, speaking
from bot.i18n import moment as local_moment
from bot.views.fields import button, radio_field, select_field, text_field
from pulses.answers import OTHER, SHARE_STEPS, PulseForm, share_field
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


# The answer scale's words (pulses.questions.LIKERT_LABELS), marked here to be translated.
SCALE_WORDS = (
    N_("Strongly disagree"),
    N_("Disagree"),
    N_("Neutral"),
    N_("Agree"),
    N_("Strongly agree"),
)


def format_moment(moment: datetime, timezone: str) -> str:
    """`Wed 27 Nov, 09:00 CET` in the given zone, in the language being spoken."""
    return local_moment(moment, timezone)


def progress_text(answered: int, invited: int, away: int) -> str:
    """`5 of 8 answered · 1 away`."""
    return _("{answered} of {invited} answered").format(
        answered=answered, invited=invited
    ) + away_words(away)


def away_words(away: int) -> str:
    """The response rate's suffix, " · 1 away", in the language being spoken; empty when
    nobody was away."""
    return _(" · {n} away").format(n=away) if away else ""


def pulse_message(notice: PulseNotice, *, in_dm: bool = False) -> tuple[str, list[Block]]:
    """The channel or DM message carrying the Answer button, with progress counts only.

    A DM is not refreshed as others answer, so it shows when the pulse closes, not a count.
    """
    with speaking(notice.language):
        return _pulse_message(notice, in_dm=in_dm)


def _pulse_message(notice: PulseNotice, *, in_dm: bool) -> tuple[str, list[Block]]:
    closes = format_moment(notice.closes_at, notice.timezone)
    if notice.closed:
        text = _("This week's coherence pulse for {group} has closed.").format(
            group=notice.group_name
        )
        status = _("Closed · {progress}").format(
            progress=progress_text(notice.answered, notice.invited, notice.away)
        )
        blocks: list[Block] = [
            SectionBlock(text=MarkdownTextObject(text=f"*{text}*")),
            ContextBlock(elements=[MarkdownTextObject(text=status)]),
        ]
        return text, blocks
    text = _("Time for this week's coherence pulse for {group} (under a minute).").format(
        group=notice.group_name
    )
    about = _(
        "Five quick statements, one question about focus, one about friction. Answers are "
        "anonymous: only team-level figures are ever shown."
    )
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=f"*{text}*\n{about}")),
        ActionsBlock(
            block_id=f"pulse-{notice.run_id}",
            elements=[button(_("Answer"), ANSWER_ACTION, notice.run_id, style="primary")],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=_("Closes {moment}").format(moment=closes)
                    if in_dm
                    else _("{progress} · closes {moment}").format(
                        progress=progress_text(notice.answered, notice.invited, notice.away),
                        moment=closes,
                    )
                )
            ]
        ),
    ]
    return text, blocks


def answered_message(notice: PulseNotice) -> tuple[str, list[Block]]:
    """A member's DM once they have answered: confirmation, and the way to change it."""
    with speaking(notice.language):
        return _answered_message(notice)


def _answered_message(notice: PulseNotice) -> tuple[str, list[Block]]:
    closes = format_moment(notice.closes_at, notice.timezone)
    text = _("Thanks, your answer to this week's coherence pulse for {group} is in.").format(
        group=notice.group_name
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f":white_check_mark: {text}")),
        ActionsBlock(
            block_id=f"pulse-{notice.run_id}",
            elements=[button(_("Change answer"), ANSWER_ACTION, notice.run_id)],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=_("You can change it until {moment}.").format(moment=closes)
                )
            ]
        ),
    ]
    return text, blocks


def reminder_text(notice: PulseNotice) -> str:
    with speaking(notice.language):
        return _(
            "Reminder: this week's coherence pulse for {group} closes {moment}. "
            "It takes under a minute."
        ).format(group=notice.group_name, moment=format_moment(notice.closes_at, notice.timezone))


def pulse_modal(
    form: PulseForm,
    *,
    group_name: str,
    previous: Answer | None = None,
    previous_scores: dict[int, int] | None = None,
    previous_shares: dict[str, int] | None = None,
    language: str | None = None,
) -> View:
    """The answer modal: Likert items, focus, the pressure item, friction; prefilled when
    changing an answer. The questions are the workspace's own words, shown as written."""
    with speaking(language) as spoken:
        return _pulse_modal(form, previous, previous_scores, previous_shares, spoken.locale)


def _pulse_modal(
    form: PulseForm,
    previous: Answer | None,
    previous_scores: dict[int, int] | None,
    previous_shares: dict[str, int] | None,
    language: str,
) -> View:
    assert form.run.id is not None
    scores = previous_scores or {}
    blocks: list[Block] = []
    options = [
        Option(value=str(v), label=f"{v} · {_(label)}") for v, label in LIKERT_LABELS.items()
    ]
    for question in form.likert:
        blocks.append(_rating(question, options, scores))
    if form.asks_shares:
        blocks += _share_blocks(form, previous_shares or {})
    elif form.focus is not None:
        focus_options = [Option(value=str(p.id), label=p.name[:75]) for p in form.priorities]
        focus_options.append(Option(value=OTHER, label=_("Something else")))
        chosen = next(iter(previous_shares or {}), None)
        blocks.append(
            select_field(
                FOCUS,
                form.focus.text,
                focus_options,
                action_id=FOCUS_ACTION,
                initial=next((o for o in focus_options if o.value == chosen), None),
                placeholder=_("Choose a priority"),
            )
        )
    if form.focus is not None:
        blocks.append(
            text_field(
                FOCUS_OTHER_BLOCK,
                _("If something else: what was it?"),
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
                hint=_("Optional. Shown without your name, only when enough people answered."),
            )
        )
    return View(
        type="modal",
        callback_id=SUBMIT_CALLBACK,
        # The submission's refusals speak the modal's language without reading the group.
        private_metadata=json.dumps({"run_id": form.run.id, "language": language}),
        title=PlainTextObject(text=_("Coherence pulse")),
        submit=PlainTextObject(text=_("Update") if previous else _("Submit")),
        close=PlainTextObject(text=_("Cancel")),
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
                text=f"*{form.focus.text[:2900]}*\n" + _("In steps of 10%, together 100%.")
            ),
        )
    ]
    labels = [(str(p.id), p.name[:75]) for p in form.priorities] + [(OTHER, _("Something else"))]
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


# Why a member cannot answer a pulse: the modal's title and its message.
NOT_FOUND = (N_("Pulse not found"), N_("This pulse no longer exists."))
NOT_INVITED = (
    N_("Not in this pulse"),
    N_(
        "This pulse went to the members of the group when it was sent, and you were not one of "
        "them. You will get the next one."
    ),
)
ANSWER_LOCKED = (
    N_("Answer received"),
    N_(
        "Your answer to this pulse is in, and it can no longer be changed: answers are kept "
        "apart from who gave them, and the link to yours is gone. You can answer the next one."
    ),
)
# Shown in the modal when the answer could not be stored: the member still has it and can
# submit again.
NOT_STORED = N_("Your answer could not be saved just now. Please submit it again.")


def refusal_modal(refusal: tuple[str, str], language: str | None) -> View:
    """One of the refusals above, in the group's language."""
    with speaking(language):
        title, message = refusal
        return notice_modal(_(title), _(message), close=_("OK"))


def closed_modal(closed_at: datetime, timezone: str, language: str | None) -> View:
    """The pulse closed before the member answered: when, in their zone and language."""
    with speaking(language):
        return notice_modal(_("Pulse closed"), closed_message(closed_at, timezone), close=_("OK"))


def closed_message(closed_at: datetime, timezone: str) -> str:
    return _(
        "This pulse closed at {moment}, so your answer was not recorded. The next one will "
        "come on schedule."
    ).format(moment=format_moment(closed_at, timezone))
