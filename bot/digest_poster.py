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

METADATA_EVENT = "coherence_digest"


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
        *,
        marker: str | None = None,
    ) -> str:
        # The marker lets a restarted bot find out whether a post it lost track of got there.
        metadata = (
            {"event_type": METADATA_EVENT, "event_payload": {"marker": marker}}
            if marker is not None
            else None
        )
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, metadata=metadata
        )
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

    def find_posted(self, channel: str, marker: str) -> str | None:
        # Only the latest 100 messages, as for pulses (`SlackMessenger.find_delivered`): the
        # digest looked for is one a bot lost track of since its last tick.
        response = self.client.conversations_history(
            channel=channel, include_all_metadata=True, limit=100
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("marker") == marker:
                return str(message["ts"])
        return None
