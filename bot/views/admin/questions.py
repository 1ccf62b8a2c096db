"""The questions modal: each wording editable (a new version when changed), one statement to add."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    Block,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import N_, _, speaking
from bot.views.admin.inputs import State, text_value
from bot.views.fields import text_field
from pulses.questions import (
    MAX_QUESTION_TEXT,
    QUESTION_NEW_KEY,
    QUESTION_NEW_TEXT,
    QuestionEdits,
    question_field,
)
from storage.models import Question

QUESTIONS_CALLBACK = "admin.questions"


def questions_modal(
    questions: Sequence[Question], versions: Mapping[str, int], language: str | None = None
) -> View:
    """The current question set, each wording editable, plus one new statement to add; the
    questions are the workspace's own words, the rest in ``language``."""
    with speaking(language):
        return _questions_modal(questions, versions)


def _questions_modal(questions: Sequence[Question], versions: Mapping[str, int]) -> View:
    intro = _(
        "Editing a wording creates a new version; past answers keep the version they answered, "
        "and trends mark the run where the wording changed."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    for question in questions:
        kind_words = {
            "likert": N_("statement, rated 1–5"),
            "focus": N_("focus"),
            "attention": N_("focus, shares of attention"),
            "pressure": N_("pressure, rated 1–5; context, never in the index"),
            "friction": N_("friction"),
        }.get(question.kind)
        blocks.append(
            text_field(
                question_field(question.key),
                f"{question.key} ({_(kind_words) if kind_words else question.kind})"[:2000],
                max_length=MAX_QUESTION_TEXT,
                initial=question.text,
                multiline=True,
                hint=_("Version {version} of {count}").format(
                    version=question.version, count=versions.get(question.key, 1)
                ),
            )
        )
    blocks += [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text=_("Add a statement"))),
        text_field(
            QUESTION_NEW_KEY,
            _("Dimension"),
            max_length=32,
            optional=True,
            hint=_("A short key for what it measures, e.g. customer_focus."),
        ),
        text_field(
            QUESTION_NEW_TEXT,
            _("Statement"),
            max_length=MAX_QUESTION_TEXT,
            multiline=True,
            optional=True,
            hint=_("Leaders rate it from 1 (strongly disagree) to 5 (strongly agree)."),
        ),
    ]
    return View(
        type="modal",
        callback_id=QUESTIONS_CALLBACK,
        title=PlainTextObject(text=_("Pulse questions")),
        submit=PlainTextObject(text=_("Save")),
        close=PlainTextObject(text=_("Cancel")),
        blocks=blocks,
    )


def parse_questions(values: State) -> QuestionEdits:
    """The questions modal's state as edits (the domain validates them)."""
    prefix = question_field("")
    texts = {
        block_id.removeprefix(prefix): text_value(values, block_id)
        for block_id in values
        if block_id.startswith(prefix) and block_id not in (QUESTION_NEW_KEY, QUESTION_NEW_TEXT)
    }
    return QuestionEdits(
        texts=texts,
        new_key=text_value(values, QUESTION_NEW_KEY) or None,
        new_text=text_value(values, QUESTION_NEW_TEXT) or None,
    )
