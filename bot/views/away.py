"""What `/coherence away`, `back` and `close` answer: ephemeral texts and the close confirmation."""

from __future__ import annotations

from datetime import date, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views.pulse import format_moment

CLOSE_ACTION = "pulse.close"
KEEP_OPEN_ACTION = "pulse.keep_open"


def _days(first: date, last: date) -> str:
    if first == last:
        return f"{first:%a %-d %b %Y}"
    return f"{first:%a %-d %b %Y} to {last:%a %-d %b %Y}"


def away_text(first: date, last: date) -> str:
    """The confirmation, to the member alone, of their time away as stored."""
    return (
        f":palm_tree: You're away {_days(first, last)} (your own dates). No pulse or reminder "
        "reaches you on those days, and you are not counted as invited, so your team's "
        "response rate does not suffer. Nobody is told who is away. "
        "Back early? `/coherence back`."
    )


def back_text(ended: int) -> str:
    if not ended:
        return "You had no time away set: pulses reach you as usual."
    return ":wave: Welcome back: pulses reach you again from today."


def close_confirmation(
    run_id: int, group_name: str, answered: int, invited: int, closes_at: datetime, zone: str
) -> tuple[str, list[Block]]:
    """The question an admin answers before a pulse is closed early."""
    text = f"Close the open pulse of #{group_name} now?"
    detail = (
        f"{answered} of {invited} have answered; it would close {format_moment(closes_at, zone)}. "
        "Answers sent after closing are refused, and the results are counted as they stand."
    )
    return text, [
        SectionBlock(text=MarkdownTextObject(text=f"*{text}*\n{detail}")),
        ActionsBlock(
            block_id=f"close-{run_id}",
            elements=[
                ButtonElement(
                    text="Close it now", action_id=CLOSE_ACTION, value=str(run_id), style="danger"
                ),
                ButtonElement(text="Keep it open", action_id=KEEP_OPEN_ACTION, value=str(run_id)),
            ],
        ),
        ContextBlock(elements=[MarkdownTextObject(text="Only you see this message.")]),
    ]


def no_open_pulse(group_name: str) -> str:
    return f"#{group_name} has no open pulse to close."


KEPT_OPEN = "Nothing changed: the pulse stays open until its usual time."
