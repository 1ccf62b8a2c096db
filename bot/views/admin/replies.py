"""What admins are told: refusals, what a change did, the next send. Pure functions."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.views import View

from bot.i18n import N_, _
from bot.views.pulse import format_moment, notice_modal
from pulses.audit import Change, InvalidChange

# The refusals are marked here and translated where they are sent: `_(ADMINS_ONLY)` in the
# language of the channel's group.
ADMINS_ONLY = N_(
    ":lock: Only workspace admins (and the people named in COHERENCE_ADMIN_IDS) can change "
    "Coherence's setup. Nothing was changed. Ask an admin if something should be different."
)
ADMIN_CHECK_FAILED = N_(
    ":warning: I couldn't check your admin rights with Slack just now, so nothing was changed. "
    "Please try again in a minute."
)
NOT_A_GROUP = N_(
    "This channel is not a leadership group yet, so there is nothing to change here. "
    "An admin can make it one with `/coherence setup` in this channel."
)
NOT_IN_A_CHANNEL = N_(
    "Run `/coherence setup` in the leadership channel you want to set up (not in a direct message)."
)


def next_send_text(
    next_send: datetime | None, *, timezone: str, paused: bool, per_member: bool
) -> str:
    """`Next pulse: Thu 3 Dec, 09:30 CET (your time).` or why there is none."""
    if paused:
        return _("No pulse is scheduled while the group is paused (`/coherence resume`).")
    if next_send is None:
        return _("No pulse is scheduled in the next 400 days.")
    moment = format_moment(next_send, timezone)
    if per_member:
        return _(
            "Next pulse: {moment} (your time) for members in the group's fallback zone; "
            "everyone else gets it at the same hour in their own zone."
        ).format(moment=moment)
    return _("Next pulse: {moment} (your time).").format(moment=moment)


def change_text(change: Change, *, extra: str | None = None) -> str:
    """What a change did, for the admin who made it."""
    head = _(":white_check_mark: Done — ") if change.changed else _("Nothing to change — ")
    text = head + "; ".join(change.lines) + "."
    if extra:
        text += "\n" + extra
    return text


def problems_text(problem: InvalidChange, usage: str | None = None) -> str:
    """A refused change: what is wrong, and the form that works."""
    text = ":warning: " + problem.message
    if usage:
        text += "\n" + _("Usage: {usage}").format(usage=usage)
    return text


def notice_view(title: str, text: str) -> View:
    """A one-message modal shown in place of a submitted one (a section holds 3,000 characters)."""
    return notice_modal(title, text[:3000], close=_("Close"))
