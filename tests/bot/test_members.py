"""Who is in a group, at Slack's real limits: a large channel is read from the directory
(users.list, a page per 200 people) rather than one users.info per member."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.messenger import LOOKUP_ONE_BY_ONE, SlackMessenger
from sandbox import RateLimits, SlackSandbox, Workspace

TOKEN = "xoxb-members"
PEOPLE = 450


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    workspace = Workspace()
    ids = [
        workspace.add_user(
            f"U{n:05d}", f"p{n}", f"P{n}", "Asia/Tokyo", deleted=n == 3, is_bot=n == 7
        ).id
        for n in range(PEOPLE)
    ]
    workspace.add_channel("C0BIG", "everyone", ids)
    workspace.add_channel("C0SMALL", "few", ids[:5])
    # Slack's real tiers: 450 users.info calls would wait minutes; users.list is Tier 2.
    with SlackSandbox(
        workspace, bot_token=TOKEN, signing_secret="s", rate_limits=RateLimits()
    ) as running:
        yield running


def _messenger(slack: SlackSandbox) -> SlackMessenger:
    return SlackMessenger(WebClient(token=TOKEN, base_url=slack.api_url), posts_per_minute=0)


def test_a_large_channel_is_resolved_from_directory_pages_without_users_info(
    slack: SlackSandbox,
) -> None:
    members = _messenger(slack).channel_members("C0BIG")
    # 450 people and the bot user: three pages of 200.
    assert len(slack.calls_to("users.list")) == 3
    assert slack.calls_to("users.info") == []
    ids = [m.user_id for m in members]
    assert len(ids) == PEOPLE - 2
    assert "U00003" not in ids
    assert "U00007" not in ids
    assert {m.timezone for m in members} == {"Asia/Tokyo"}


def test_the_directory_is_read_once_for_later_channels(slack: SlackSandbox) -> None:
    messenger = _messenger(slack)
    messenger.channel_members("C0BIG")
    messenger.channel_members("C0BIG")
    messenger.channel_members("C0SMALL")
    assert len(slack.calls_to("users.list")) == 3
    assert slack.calls_to("users.info") == []


def test_a_few_unknown_members_are_looked_up_one_by_one(slack: SlackSandbox) -> None:
    assert LOOKUP_ONE_BY_ONE >= 5
    members = _messenger(slack).channel_members("C0SMALL")
    assert [m.user_id for m in members] == ["U00000", "U00001", "U00002", "U00004"]
    # Five people and the bot user, which Slack lists among the channel's members.
    assert len(slack.calls_to("users.info")) == 6
    assert slack.calls_to("users.list") == []
