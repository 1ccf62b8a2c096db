"""A digest as Slack's message: its fallback text, its blocks and its chart, drawn together.

These run in the drawing process (`bot.drawer`): laying out a digest's blocks and drawing its
chart are most of the CPU a digest costs after its compute, and there they are done on the
other core while the serving process computes and posts. The digest is handed over pickled,
the message handed back the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.views.digest import blocks_as_dicts, digest_blocks, org_digest_blocks
from bot.views.heatmap import organisation_heatmap
from pulses.organisation import OrgDigest
from pulses.reports import GroupDigest


@dataclass(frozen=True)
class SlackDigest:
    """A digest drawn for Slack: fallback text, Block Kit dicts and the optional trend chart."""

    text: str
    blocks: list[dict[str, object]]
    chart_png: bytes | None = None
    filename: str = "coherence-trend.png"
    # The workspace it is posted in, when one process serves several (bot/workspaces.py).
    team_id: str | None = None
    title: str = "Coherence trend"


def group_digest_message(digest: GroupDigest) -> SlackDigest:
    """The group digest's message, with its trend chart when it has two runs or more."""
    text, blocks = digest_blocks(digest)
    chart = None
    if len(digest.history) > 1:
        # matplotlib is most of a process's memory: loaded where charts are drawn only.
        from bot.views.chart import trend_chart_png

        chart = trend_chart_png(
            digest.history,
            committed=digest.follow_up.committed_runs,
            language=digest.group.language,
        )
    day = digest.latest.occurrence_day.isoformat() if digest.latest else "none"
    return SlackDigest(
        text=text,
        blocks=blocks_as_dicts(blocks),
        chart_png=chart,
        filename=f"coherence-{digest.group.name}-{day}.png",
    )


def org_digest_message(digest: OrgDigest) -> SlackDigest:
    """The organisation digest's message, with its heatmap."""
    text, blocks = org_digest_blocks(digest)
    png, filename, title = organisation_heatmap(digest)
    return SlackDigest(
        text=text, blocks=blocks_as_dicts(blocks), chart_png=png, filename=filename, title=title
    )
