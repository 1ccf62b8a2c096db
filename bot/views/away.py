"""What `/coherence away`, `back` and `close` answer: ephemeral texts and the close confirmation."""

from __future__ import annotations

from datetime import date, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.i18n import N_, _, day
from bot.views.fields import button
from bot.views.pulse import format_moment

CLOSE_ACTION = "pulse.close"
KEEP_OPEN_ACTION = "pulse.keep_open"


def _days(first: date, last: date) -> str:
    if first == last:
        return day(first)
    return _("{first} to {last}").format(first=day(first), last=day(last))


def away_text(first: date, last: date) -> str:
    """The confirmation, to the member alone, of their time away as stored."""
    return _(
        ":palm_tree: You're away {days} (your own dates). No pulse or reminder reaches you on "
        "those days, and you are not counted as invited, so your team's response rate does not "
        "suffer. Nobody is told who is away. Back early? `/coherence back`."
    ).format(days=_days(first, last))


def back_text(ended: int) -> str:
    if not ended:
        return _("You had no time away set: pulses reach you as usual.")
    return _(":wave: Welcome back: pulses reach you again from today.")


def close_confirmation(
    run_id: int, group_name: str, answered: int, invited: int, closes_at: datetime, zone: str
) -> tuple[str, list[Block]]:
    """The question an admin answers before a pulse is closed early."""
    text = _("Close the open pulse of #{group} now?").format(group=group_name)
    detail = _(
        "{answered} of {invited} have answered; it would close {moment}. Answers sent after "
        "closing are refused, and the results are counted as they stand."
    ).format(answered=answered, invited=invited, moment=format_moment(closes_at, zone))
    return text, [
        SectionBlock(text=MarkdownTextObject(text=f"*{text}*\n{detail}")),
        ActionsBlock(
            block_id=f"close-{run_id}",
            elements=[
                button(_("Close it now"), CLOSE_ACTION, run_id, style="danger"),
                button(_("Keep it open"), KEEP_OPEN_ACTION, run_id),
            ],
        ),
        ContextBlock(elements=[MarkdownTextObject(text=_("Only you see this message."))]),
    ]


def no_open_pulse(group_name: str) -> str:
    return _("#{group} has no open pulse to close.").format(group=group_name)


# Marked here, translated where it is sent (in the language of the channel's group).
KEPT_OPEN = N_("Nothing changed: the pulse stays open until its usual time.")
NO_LONGER_EXISTS = N_("That pulse no longer exists.")
