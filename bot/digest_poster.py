"""The domain's DigestPoster, implemented with Slack's Web API and the digest views."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.views.chart import trend_chart_png
from bot.views.digest import blocks_as_dicts, digest_blocks, org_digest_blocks
from pulses.digests import RenderedDigest
from pulses.reports import GroupDigest, OrgDigest

logger = logging.getLogger(__name__)


class SlackDigestPoster:
    """Renders digests with `bot.views` and posts them; the chart goes in the message's thread."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def render_group_digest(self, digest: GroupDigest) -> RenderedDigest:
        text, blocks = digest_blocks(digest)
        chart = trend_chart_png(digest.history) if len(digest.history) > 1 else None
        day = digest.latest.occurrence_day.isoformat() if digest.latest else "none"
        return RenderedDigest(
            text=text,
            blocks=blocks_as_dicts(blocks),
            chart_png=chart,
            filename=f"coherence-{digest.group.name}-{day}.png",
        )

    def render_org_digest(self, digest: OrgDigest) -> RenderedDigest:
        text, blocks = org_digest_blocks(digest)
        return RenderedDigest(text=text, blocks=blocks_as_dicts(blocks))

    def post_digest(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        chart_png: bytes | None,
        filename: str,
    ) -> str:
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        ts = str(response["ts"])
        if chart_png is not None:
            try:
                self.client.files_upload_v2(
                    channel=channel,
                    content=chart_png,
                    filename=filename,
                    title="Coherence trend",
                    thread_ts=ts,
                )
            except (SlackApiError, SlackClientError, OSError):
                # The digest itself is posted; raising would make the caller post it again.
                logger.exception("Failed to upload the digest's trend chart")
        return ts
