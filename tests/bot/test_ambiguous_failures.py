"""A post whose outcome Slack never told us is looked up by its marker, never posted twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy.engine import Engine

from bot.app import IdempotentConnectionErrorRetryHandler, IdempotentServerErrorRetryHandler
from bot.messenger import UnknownOutcome
from bot.views.message import SlackDigest
from pulses.digests import send_due_digests
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import session_scope
from tests.bot.pulse_helpers import at, dm_count, invitations, make_group, messenger_for, run_tick
from tests.bot.test_exactly_once import big_workspace
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, sandbox_settings
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

BIG = "C0BIG"
BERLIN = "Europe/Berlin"
NINE = at("2026-11-30 09:00", BERLIN)
MEMBERS = 100
GROUP_CHANNELS = [f"C0TEAM{n}" for n in range(6)]


def _ambiguous_faults(slack: SlackSandbox) -> None:
    """About one chat.postMessage in five reaches Slack, then answers 503 or drops the line."""
    slack.faults.inject("chat.postMessage", "http_503_after", times=10_000, probability=0.1)
    slack.faults.inject("chat.postMessage", "drop_after", times=10_000, probability=0.11)


def _sandbox(workspace: Workspace) -> Iterator[SlackSandbox]:
    slack = SlackSandbox(
        workspace, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, rate_limits=RateLimits.off()
    )
    slack.start()
    yield slack
    slack.stop()


@pytest.fixture
def hundred() -> Iterator[SlackSandbox]:
    yield from _sandbox(big_workspace(MEMBERS))


@pytest.fixture
def teams() -> Iterator[SlackSandbox]:
    workspace = Workspace()
    workspace.add_user("U0LEAD0001", "lead", "Lead", BERLIN)
    for channel in GROUP_CHANNELS:
        workspace.add_channel(channel, channel.lower(), ["U0LEAD0001"])
    yield from _sandbox(workspace)


def test_every_member_gets_exactly_one_pulse_when_a_fifth_of_posts_end_ambiguously(
    hundred: SlackSandbox, migrated_url: str, engine: Engine
) -> None:
    make_group(
        engine, channel=BIG, delivery_mode="dm", timezone=BERLIN, created_at=NINE - timedelta(1)
    )
    _ambiguous_faults(hundred)
    messenger = messenger_for(sandbox_settings(hundred, migrated_url))
    for minutes in (0, 5, 30):
        run_tick(engine, messenger, NINE + timedelta(minutes=minutes))

    faulted = [c for c in hundred.calls_to("chat.postMessage") if c.fault]
    assert len(faulted) >= 10  # the faults did happen
    counts = [dm_count(hundred, f"U{n:05d}") for n in range(MEMBERS)]
    assert counts.count(1) == MEMBERS, f"two: {counts.count(2)}, none: {counts.count(0)}"
    assert {i.status for i in invitations(engine)} == {"sent"}


def test_every_group_gets_exactly_one_digest_when_a_fifth_of_posts_end_ambiguously(
    teams: SlackSandbox, migrated_url: str, engine: Engine
) -> None:
    closed = datetime(2026, 3, 4, 10, tzinfo=UTC)
    with session_scope(engine) as session:
        org = seed_org(session)
        for channel in GROUP_CHANNELS:
            group = seed_group(session, org, channel_id=channel, name=channel.lower())
            seed_run(
                session,
                org,
                group,
                date(2026, 3, 2),
                [Seeded(uniform(4), "Hiring")] * 6,
                closes_at=closed,
            )
    _ambiguous_faults(teams)
    messenger = messenger_for(sandbox_settings(teams, migrated_url))
    due = datetime(2026, 3, 5, 9, tzinfo=UTC)
    for minutes in (0, 1, 30, 60):
        send_due_digests(engine=engine, messenger=messenger, now=due + timedelta(minutes=minutes))

    for channel in GROUP_CHANNELS:
        top_level = [m for m in teams.messages(channel) if m.thread_ts is None]
        assert len(top_level) == 1, channel


def test_a_post_that_reached_slack_before_a_503_is_found_not_reposted(
    sandbox: SlackSandbox, migrated_url: str
) -> None:
    sandbox.faults.inject("chat.postMessage", "http_503_after")
    messenger = messenger_for(sandbox_settings(sandbox, migrated_url))
    ts = messenger.post_digest(SlackDigest("digest", []), channel="C0EXEC", marker="digest:1")
    assert [m.ts for m in sandbox.messages("C0EXEC")] == [ts]
    assert [c.status for c in sandbox.calls_to("chat.postMessage")] == [200]


def test_a_post_without_a_marker_is_not_repeated_on_an_unknown_outcome(
    sandbox: SlackSandbox, migrated_url: str
) -> None:
    sandbox.faults.inject("chat.postMessage", "drop_after")
    messenger = messenger_for(sandbox_settings(sandbox, migrated_url))
    with pytest.raises(UnknownOutcome):
        messenger.post_digest(SlackDigest("digest", []), channel="C0EXEC", marker=None)
    assert len(sandbox.messages("C0EXEC")) == 1


def test_a_marker_whose_lookup_failed_is_looked_up_before_the_next_post(
    sandbox: SlackSandbox, migrated_url: str
) -> None:
    sandbox.faults.inject("chat.postMessage", "http_503_after")
    sandbox.faults.inject("conversations.history", "http_500", times=4)
    messenger = messenger_for(sandbox_settings(sandbox, migrated_url))
    digest = SlackDigest("digest", [])
    with pytest.raises(UnknownOutcome):
        messenger.post_digest(digest, channel="C0EXEC", marker="digest:2")
    # The next tick's attempt asks Slack first, finds the message and posts nothing.
    messenger.post_digest(digest, channel="C0EXEC", marker="digest:2")
    assert len(sandbox.messages("C0EXEC")) == 1


@pytest.mark.parametrize(
    ("method", "retried"),
    [
        ("chat.postMessage", False),
        ("chat.postEphemeral", False),
        ("files.completeUploadExternal", False),
        ("conversations.history", True),
        ("chat.update", True),
    ],
)
def test_the_client_retries_5xx_and_dropped_connections_only_of_safe_calls(
    method: str, retried: bool
) -> None:
    request = HttpRequest(
        method="POST", url=f"https://slack.com/api/{method}", headers={}, body_params={}
    )
    error = ConnectionResetError()
    response = HttpResponse(status_code=503, headers={})
    assert (
        IdempotentServerErrorRetryHandler().can_retry(
            state=RetryState(), request=request, response=response
        )
        is retried
    )
    assert (
        IdempotentConnectionErrorRetryHandler().can_retry(
            state=RetryState(), request=request, error=error
        )
        is retried
    )
