"""Slack's 429s: per-channel posting, per-method tiers, and switching them off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox import RateLimits, SlackSandbox, Workspace
from sandbox.ratelimits import SLACK_TIERS
from tests.sandbox.conftest import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def limited() -> Iterator[SlackSandbox]:
    limits = RateLimits(tiers={"users.info": 3}, burst=2)
    with SlackSandbox(
        Workspace.demo(), bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, rate_limits=limits
    ) as running:
        yield running


def _client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=sandbox.api_url, retry_handlers=[])


def test_slacks_tiers_are_the_defaults() -> None:
    tiers = RateLimits().tiers
    assert tiers["conversations.open"] == 50
    assert tiers["users.info"] == tiers["conversations.members"] == tiers["views.open"] == 100
    assert (
        RateLimits(tiers={"users.info": 3}).tiers["conversations.open"]
        == SLACK_TIERS["conversations.open"]
    )


def test_posting_faster_than_once_a_second_in_a_channel_gets_429(limited: SlackSandbox) -> None:
    client = _client(limited)
    client.chat_postMessage(channel="C0EXEC", text="1")
    client.chat_postMessage(channel="C0EXEC", text="2")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0EXEC", text="3")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert int(raised.value.response.headers["Retry-After"]) >= 1
    # Another channel has its own allowance.
    client.chat_postMessage(channel="C0DIRS", text="elsewhere")
    assert [m.text for m in limited.messages("C0EXEC")] == ["1", "2"]
    assert limited.calls_to("chat.postMessage")[2].status == 429


def test_exceeding_a_tier_gets_429_with_retry_after(limited: SlackSandbox) -> None:
    client = _client(limited)
    for _ in range(3):
        client.users_info(user="U0ALICE")
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="U0ALICE")
    assert raised.value.response.status_code == 429
    assert 1 <= int(raised.value.response.headers["Retry-After"]) <= 60


def test_rate_limits_off_never_answers_429(client: WebClient) -> None:
    for n in range(20):
        client.chat_postMessage(channel="C0EXEC", text=str(n))
