"""The digest's timeline of declared intent: each change an admin made to the priorities'
weights in the digest's span, with its reason, so a move of attention the strategy asked for
reads as such. Pure functions."""

from __future__ import annotations

from bot.i18n import _, day, percent
from pulses.reports import GroupDigest

MAX_CHANGES = 5
REASON_CHARS = 200


def _escaped(text: str) -> str:
    # Slack's mrkdwn needs these three escaped; an admin's reason is shown as they wrote it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def declared_changes_text(digest: GroupDigest) -> str | None:
    """One line per declared change (the latest few), or None when there was none."""
    if not digest.declared_changes:
        return None
    names = digest.latest.priority_names if digest.latest is not None else {}
    lines = [_("*Declared changes of priorities*")]
    for change in digest.declared_changes[-MAX_CHANGES:]:
        ranked = sorted(change.shares.items(), key=lambda item: (-item[1], item[0]))
        shares = ", ".join(
            f"{_escaped(names.get(str(pid), _('a retired priority')))} {percent(share)}"
            for pid, share in ranked
        )
        reason = f" — “{_escaped(change.reason[:REASON_CHARS])}”" if change.reason else ""
        lines.append(f"{day(change.day, 'date')}: {shares}{reason}")
    return "\n".join(lines)
