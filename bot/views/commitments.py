"""Block Kit for commitments: the follow-up and "Commit" button under a digest, the modal that
records one, a commitment marked done, and the admins' list on the App Home. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.i18n import _, day, speaking
from bot.views.fields import button
from pulses.commitments import MAX_TEXT, CommitmentView
from pulses.reports import GroupDigest

COMMIT_ACTION: Final = "commitment_new"
DONE_ACTION: Final = "commitment_done"
COMMIT_CALLBACK: Final = "commitment_submit"
TEXT_BLOCK: Final = "text"
OWNER_BLOCK: Final = "owner"
TEXT_ACTION: Final = "commitment_text"
OWNER_ACTION: Final = "commitment_owner"
# A digest lists this many commitments as sections with a button; the rest are counted.
MAX_IN_DIGEST: Final = 8
MAX_ON_HOME: Final = 15


def not_allowed_text(group_name: str) -> str:
    """Said, only to them, to someone outside the group's channel who is not an admin."""
    return _(
        ":lock: Only members of #{group} (and Coherence admins) can record the group's "
        "commitments or mark them done, so nothing was changed."
    ).format(group=_escape(group_name[:80]))


def check_failed_text(group_name: str) -> str:
    return _(
        ":warning: I couldn't check with Slack whether you are in #{group} just now, so nothing "
        "was changed. Please try again in a minute."
    ).format(group=_escape(group_name[:80]))


def commitment_block_id(commitment_id: int) -> str:
    return f"commitment-{commitment_id}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _what(commitment: CommitmentView) -> str:
    return f"“{_escape(commitment.text)}” — " + _("owner {user}").format(
        user=f"<@{commitment.owner_id}>"
    )


def done_text(commitment: CommitmentView) -> str:
    assert commitment.done_at is not None
    when = day(commitment.done_at.date(), "date")
    done = (
        _("done by {user} on {day}").format(user=f"<@{commitment.done_by}>", day=when)
        if commitment.done_by
        else _("done on {day}").format(day=when)
    )
    return f":white_check_mark: {_what(commitment)} · {done}"


def commitment_block(commitment: CommitmentView) -> SectionBlock:
    """One commitment: done, or with the button that marks it done."""
    block_id = commitment_block_id(commitment.commitment_id)
    if commitment.done:
        return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=done_text(commitment)))
    return SectionBlock(
        block_id=block_id,
        text=MarkdownTextObject(
            text=f"• {_what(commitment)} · "
            + _("from the {day} digest").format(day=day(commitment.run_day, "date"))
        ),
        accessory=button(_("Done"), DONE_ACTION, commitment.commitment_id),
    )


def follow_up_blocks(digest: GroupDigest) -> list[Block]:
    """Under a digest: last week's commitments (was each done?) and the "Commit" button."""
    latest = digest.latest
    if latest is None:
        return []
    blocks: list[Block] = []
    review = digest.follow_up.to_review
    if review:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=_("*Last week's commitments* — was each one done?"))
            )
        )
        blocks += [commitment_block(c) for c in review[:MAX_IN_DIGEST]]
        if len(review) > MAX_IN_DIGEST:
            rest = len(review) - MAX_IN_DIGEST
            blocks.append(_context(_("… and {n} more open commitments").format(n=rest)))
    blocks.append(ActionsBlock(elements=[button(_("Commit"), COMMIT_ACTION, latest.run_id)]))
    blocks.append(
        _context(
            _(
                "What will the team do about this? Record it with an owner; the next digest "
                "asks whether it was done."
            )
        )
    )
    return blocks


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def commitment_modal(
    *,
    run_id: int,
    user_id: str,
    channel: str | None,
    ts: str | None,
    group_name: str,
    language: str | None = None,
) -> View:
    """The modal "Commit" opens, in the group's language; the owner starts as the person who
    clicked."""
    with speaking(language):
        return _commitment_modal(run_id, user_id, channel, ts, group_name)


def _commitment_modal(
    run_id: int, user_id: str, channel: str | None, ts: str | None, group_name: str
) -> View:
    return View(
        type="modal",
        callback_id=COMMIT_CALLBACK,
        title=_("Commit"),
        submit=_("Record"),
        close=_("Cancel"),
        private_metadata=json.dumps({"run_id": run_id, "channel": channel, "ts": ts}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=_(
                        "What will *#{group}* do about this digest? Team-level: it is shown "
                        "with the group's digests, never with anyone's answers."
                    ).format(group=_escape(group_name[:80]))
                )
            ),
            InputBlock(
                block_id=TEXT_BLOCK,
                label=_("What the team will do"),
                element=PlainTextInputElement(
                    action_id=TEXT_ACTION, multiline=True, max_length=MAX_TEXT
                ),
            ),
            InputBlock(
                block_id=OWNER_BLOCK,
                label=_("Owner"),
                element=UserSelectElement(action_id=OWNER_ACTION, initial_user=user_id),
            ),
        ],
    )


def recorded_text(commitment: CommitmentView, by: str) -> str:
    """Said in the digest's thread once a commitment is recorded."""
    return _(
        ":pushpin: {user} recorded a commitment: {what}. The next digest asks whether it was done."
    ).format(user=f"<@{by}>", what=_what(commitment))


def home_blocks(commitments: Sequence[CommitmentView]) -> list[Block]:
    """The admins' list of open commitments on the App Home, oldest first."""
    if not commitments:
        return [_context(_("No open commitments: none recorded, or every one is done."))]
    lines = [
        f"• *#{_escape(c.group_name[:80])}* · {_what(c)} · "
        + _("since the {day} digest").format(day=day(c.run_day, "date"))
        for c in commitments[:MAX_ON_HOME]
    ]
    if len(commitments) > MAX_ON_HOME:
        lines.append(_("…and {n} more.").format(n=len(commitments) - MAX_ON_HOME))
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000]))]
