"""Block Kit for the App Home: open pulses for everyone, the groups and changes for admins.

Pure functions. A Home tab holds at most 100 blocks, so long lists end in "…and N more".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.i18n import _, day, ngettext, speaking
from bot.views.admin.replies import next_send_text
from bot.views.commitments import home_blocks as commitment_home_blocks
from bot.views.digest import index_text, percent, suppressed_text
from bot.views.fields import button
from bot.views.pulse import ANSWER_ACTION, format_moment
from pulses.commitments import CommitmentView
from pulses.overview import DeliveryProblem, GroupOverview, OpenPulse
from storage.models import ConfigChange

MAX_HOME_BLOCKS: Final = 100
MAX_OPEN_PULSES: Final = 10
_SECTION_TEXT = 3000


def _section(text: str) -> SectionBlock:
    if len(text) > _SECTION_TEXT:
        text = text[: _SECTION_TEXT - 1] + "…"
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:_SECTION_TEXT])])


def problem_text(problem: DeliveryProblem, group_name: str) -> str:
    """A recorded delivery failure in words a person can act on."""
    channel = f"#{group_name}"
    reason = problem.reason
    members = max(problem.count, 1)
    when = _(" ({day})").format(day=day(problem.day, "weekday")) if problem.day else ""
    whole_run = {
        "not_in_channel": _(
            "Not in {channel} — invite @Coherence to the channel (`/invite @Coherence`)."
        ),
        "channel_not_found": _(
            "Can't see {channel} — if it is private, invite @Coherence to it; if it was "
            "deleted, run `/coherence setup` in the channel that replaced it."
        ),
        "is_archived": _("{channel} is archived — unarchive it or set up another channel."),
        "restricted_action": _(
            "Coherence may not post in {channel} — let apps post there in the channel settings."
        ),
        "missing_scope": _("Coherence lacks a Slack permission — reinstall it from its manifest."),
        "invalid_auth": _("Coherence's Slack token no longer works — reinstall the app."),
        "not_authed": _("Coherence's Slack token no longer works — reinstall the app."),
        "team_access_not_granted": _("Coherence has no access to this workspace — reinstall it."),
        "missed": _(
            "The pulse{day} was not sent: Coherence was offline past its send window — "
            "check that the bot is running."
        ),
    }
    if reason in whole_run:
        return whole_run[reason].format(channel=channel, day=when)
    deactivated = ngettext(
        "{n} member's account is deactivated — remove them from {channel}.",
        "{n} members' accounts are deactivated — remove them from {channel}.",
        members,
    )
    per_member = {
        "user_disabled": deactivated,
        "account_inactive": deactivated,
        "user_not_found": ngettext(
            "{n} member is no longer in the workspace — remove them from {channel}.",
            "{n} members are no longer in the workspace — remove them from {channel}.",
            members,
        ),
        "cannot_dm_bot": ngettext(
            "{n} member is a bot and can't get a direct message.",
            "{n} members are bots and can't get a direct message.",
            members,
        ),
        "user_not_in_channel": ngettext(
            "{n} member has left {channel} since the pulse was sent.",
            "{n} members have left {channel} since the pulse was sent.",
            members,
        ),
        "the bot was offline": ngettext(
            "{n} member's pulse went unsent because Coherence was offline — check that the "
            "bot is running.",
            "{n} members' pulses went unsent because Coherence was offline — check that the "
            "bot is running.",
            members,
        ),
        "the pulse closed before it was sent": ngettext(
            "{n} member's pulse was not sent before the pulse closed — check that the bot is "
            "running.",
            "{n} members' pulses were not sent before the pulse closed — check that the bot is "
            "running.",
            members,
        ),
    }
    if reason in per_member:
        return per_member[reason].format(n=members, channel=channel)
    if reason.startswith("gave up after"):
        return ngettext(
            "{n} pulse could not be delivered{day} after several tries (Slack: {error}) — "
            "they go out with the next pulse.",
            "{n} pulses could not be delivered{day} after several tries (Slack: {error}) — "
            "they go out with the next pulse.",
            members,
        ).format(n=members, day=when, error=reason.split(": ")[-1])
    return ngettext(
        "{n} pulse was not delivered{day}: Slack answered `{error}`.",
        "{n} pulses were not delivered{day}: Slack answered `{error}`.",
        members,
    ).format(n=members, day=when, error=reason[:80])


def _open_pulse_blocks(pulses: Sequence[OpenPulse], timezone: str) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_("Your open pulses")))]
    if not pulses:
        blocks.append(
            _context(_("Nothing waiting for you. The next pulse will arrive on schedule."))
        )
        return blocks
    for pulse in pulses[:MAX_OPEN_PULSES]:
        closes = format_moment(pulse.closes_at, timezone)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=_("*#{group}* · closes {moment}").format(
                        group=pulse.group_name, moment=closes
                    )
                ),
                accessory=button(_("Answer"), ANSWER_ACTION, pulse.run_id, style="primary"),
            )
        )
    if len(pulses) > MAX_OPEN_PULSES:
        blocks.append(_context(_("…and {n} more.").format(n=len(pulses) - MAX_OPEN_PULSES)))
    return blocks


def _group_text(group: GroupOverview, timezone: str) -> str:
    title = f"*#{group.name}*" + (f" · {group.layer}" if group.layer else "")
    if group.paused:
        title += " · :double_vertical_bar: " + _("paused")
    lines = [
        title,
        _("Cadence: {cadence}").format(cadence=group.cadence),
        next_send_text(
            group.next_send,
            timezone=timezone,
            paused=group.paused,
            per_member=group.per_member_time,
        ),
    ]
    if group.open_run is not None:
        lines.append(
            _("Open now: {answered} of {invited} answered, closes {moment}").format(
                answered=group.open_run.answered,
                invited=group.open_run.invited,
                moment=format_moment(group.open_run.closes_at, timezone),
            )
        )
    latest = group.latest
    if latest is None:
        lines.append(_("Last pulse: none closed yet."))
    elif latest.shown is None:
        lines.append(
            _("Last pulse ({day}): {hidden}").format(
                day=day(latest.occurrence_day, "date"), hidden=suppressed_text(latest.threshold)
            )
        )
    else:
        lines.append(
            _("Last pulse ({day}): response rate {rate} · coherence index {index}").format(
                day=day(latest.occurrence_day, "date"),
                rate=percent(latest.shown.response_rate),
                index=index_text(latest.shown.coherence_index),
            )
        )
    return "\n".join(lines)


def _group_blocks(group: GroupOverview, timezone: str) -> list[Block]:
    blocks: list[Block] = [_section(_group_text(group, timezone))]
    if group.problems:
        words = "\n".join(f":warning: {problem_text(p, group.name)}" for p in group.problems)
        blocks.append(_context(words))
    return blocks


def _change_lines(changes: Sequence[ConfigChange], timezone: str) -> str:
    return "\n".join(
        f"• {format_moment(change.created_at, timezone)} — <@{change.user_id}>: {change.summary}"
        for change in changes
    )


def home_view(
    timezone: str,
    pulses: Sequence[OpenPulse],
    overview: Sequence[GroupOverview] | None = None,
    changes: Sequence[ConfigChange] = (),
    commitments: Sequence[CommitmentView] = (),
    language: str | None = None,
) -> View:
    """The Home tab; ``overview`` (and the open ``commitments``) is given only for admins.
    Times are in the viewer's zone; the words in ``language``."""
    with speaking(language):
        return _home_view(timezone, pulses, overview, changes, commitments)


def _home_view(
    timezone: str,
    pulses: Sequence[OpenPulse],
    overview: Sequence[GroupOverview] | None,
    changes: Sequence[ConfigChange],
    commitments: Sequence[CommitmentView],
) -> View:
    top: list[Block] = _open_pulse_blocks(pulses, timezone)
    bottom: list[Block] = []
    groups: list[list[Block]] = []
    if overview is None:
        bottom.append(
            _context(_("Admins see every leadership group's schedule and problems here."))
        )
    else:
        top += [DividerBlock(), HeaderBlock(text=PlainTextObject(text=_("Leadership groups")))]
        if not overview:
            top.append(
                _section(
                    _(
                        "No leadership group yet. Run `/coherence setup` in a leadership channel "
                        "to make it one."
                    )
                )
            )
        groups = [_group_blocks(group, timezone) for group in overview]
        bottom += [DividerBlock(), HeaderBlock(text=PlainTextObject(text=_("Open commitments")))]
        bottom += commitment_home_blocks(commitments)
        bottom += [DividerBlock(), HeaderBlock(text=PlainTextObject(text=_("Recent changes")))]
        bottom.append(
            _section(_change_lines(changes, timezone))
            if changes
            else _context(_("No configuration changes yet."))
        )
    # One block kept for "…and N more groups".
    room = MAX_HOME_BLOCKS - len(top) - len(bottom) - 1
    shown: list[Block] = []
    count = 0
    for blocks in groups:
        if len(shown) + len(blocks) > room:
            break
        shown += blocks
        count += 1
    if count < len(groups):
        shown.append(_context(_("…and {n} more groups.").format(n=len(groups) - count)))
    return View(type="home", blocks=top + shown + bottom)
