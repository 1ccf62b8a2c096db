"""The weekly digest goes out at the group's local digest time, exactly once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.digest_poster import SlackDigestPoster
from pulses.digests import RenderedDigest, digest_due_at, send_due_digests
from pulses.reports import GroupDigest, OrgDigest
from sandbox import SlackSandbox
from storage.db import session_scope
from storage.models import DigestDelivery, LeadershipGroup, PulseRun
from tests.conftest import BOT_TOKEN
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

# Wednesday 4 March 2026, 11:00 in Berlin (CET, UTC+1).
CLOSED = datetime(2026, 3, 4, 10, tzinfo=UTC)


@dataclass
class RecordingPoster:
    """Renders like the bot does and records every post instead of calling Slack."""

    posts: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def render_group_digest(self, digest: GroupDigest) -> RenderedDigest:
        return SlackDigestPoster(WebClient()).render_group_digest(digest)

    def render_org_digest(self, digest: OrgDigest) -> RenderedDigest:
        return SlackDigestPoster(WebClient()).render_org_digest(digest)

    def post_digest(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        chart_png: bytes | None,
        filename: str,
    ) -> str:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("Slack is unreachable")
            self.posts.append((channel, text))
            return f"{len(self.posts)}.000"


def _seed(engine: Engine, **group_settings: Any) -> int:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, timezone="Europe/Berlin", **group_settings)
        answers = [Seeded(uniform(4), "Hiring")] * 6
        seed_run(session, org, group, date(2026, 3, 2), answers, closes_at=CLOSED)
        assert group.id is not None
        return group.id


def test_by_default_the_digest_is_due_the_day_after_closing_at_local_digest_time(
    engine: Engine,
) -> None:
    _seed(engine, digest_time="09:00")
    poster = RecordingPoster()
    # Thursday 09:00 in Berlin is 08:00 UTC.
    due = datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert send_due_digests(engine=engine, poster=poster, now=due - timedelta(minutes=1)) == 0
    assert send_due_digests(engine=engine, poster=poster, now=due) == 1
    assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
    assert "exec-team" in poster.posts[0][1]


def test_a_configured_weekday_and_channel_are_used(engine: Engine) -> None:
    _seed(engine, digest_weekday=0, digest_time="08:30", digest_channel_id="C0DIGEST")
    poster = RecordingPoster()
    # The Monday after Wednesday's close, 08:30 CET = 07:30 UTC.
    due = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)
    assert (
        send_due_digests(engine=engine, poster=poster, now=datetime(2026, 3, 5, 9, tzinfo=UTC)) == 0
    )
    assert send_due_digests(engine=engine, poster=poster, now=due - timedelta(seconds=1)) == 0
    assert send_due_digests(engine=engine, poster=poster, now=due) == 1
    assert [channel for channel, _ in poster.posts] == ["C0DIGEST"]


def test_the_digest_time_keeps_the_wall_clock_across_dst(engine: Engine) -> None:
    group_id = _seed(engine)
    with session_scope(engine) as session:
        group = session.get(LeadershipGroup, group_id)
        run = session.exec(select(PulseRun)).one()
        assert group is not None
        # Closed Saturday 28 March (CET); Sunday 29 March is the first day of CEST (UTC+2).
        run.closed_at = datetime(2026, 3, 28, 12, tzinfo=UTC)
        assert digest_due_at(group, run) == datetime(2026, 3, 29, 7, tzinfo=UTC)
        group.digest_weekday = 5  # Saturday: closed at 13:00, after 09:00, so next Saturday
        assert digest_due_at(group, run) == datetime(2026, 4, 4, 7, tzinfo=UTC)


def test_the_digest_is_posted_once_even_when_sent_twice(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster()
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert send_due_digests(engine=engine, poster=poster, now=now) == 1
    assert send_due_digests(engine=engine, poster=poster, now=now + timedelta(hours=1)) == 0
    assert len(poster.posts) == 1
    with session_scope(engine) as session:
        delivery = session.exec(select(DigestDelivery)).one()
    assert (delivery.status, delivery.ts, delivery.channel) == ("posted", "1.000", "C0EXEC")


def test_the_digest_is_posted_once_from_concurrent_threads(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster()
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    start = threading.Barrier(6)
    results: list[int] = []

    def tick() -> None:
        start.wait()
        results.append(send_due_digests(engine=engine, poster=poster, now=now))

    threads = [threading.Thread(target=tick) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [0, 0, 0, 0, 0, 1]
    assert len(poster.posts) == 1


def test_a_failed_post_is_retried_on_the_next_tick(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster(fail_next=1)
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert send_due_digests(engine=engine, poster=poster, now=now) == 0
    assert send_due_digests(engine=engine, poster=poster, now=now + timedelta(minutes=1)) == 1
    assert send_due_digests(engine=engine, poster=poster, now=now + timedelta(minutes=2)) == 0
    assert len(poster.posts) == 1


def test_a_digest_long_overdue_is_not_posted(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster()
    assert send_due_digests(engine=engine, poster=poster, now=CLOSED + timedelta(days=30)) == 0


@pytest.mark.parametrize("ticks", [1, 2])
def test_the_org_digest_goes_to_the_admin_channel_once_a_week(engine: Engine, ticks: int) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        workspace_id = session.exec(select(LeadershipGroup.workspace_id)).one()
    poster = RecordingPoster()
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    for tick in range(ticks):
        send_due_digests(
            engine=engine,
            poster=poster,
            now=now + timedelta(minutes=tick),
            org_channels={workspace_id: "C0ADMIN"},
        )
    assert [channel for channel, _ in poster.posts] == ["C0EXEC", "C0ADMIN"]


def test_the_digest_reaches_slack_with_its_chart_in_the_thread(
    engine: Engine, sandbox: SlackSandbox
) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        group = seed_group(session, org, timezone="Europe/Berlin")
        for week in range(3):
            answers = [Seeded(uniform(3 + week % 2), "Hiring")] * 6
            seed_run(
                session,
                org,
                group,
                date(2026, 2, 16) + timedelta(weeks=week),
                answers,
                closes_at=CLOSED - timedelta(weeks=2 - week),
            )
    poster = SlackDigestPoster(WebClient(token=BOT_TOKEN, base_url=sandbox.api_url))
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert send_due_digests(engine=engine, poster=poster, now=now) == 1
    assert send_due_digests(engine=engine, poster=poster, now=now) == 0
    top_level = [m for m in sandbox.messages("C0EXEC") if m.thread_ts is None]
    assert len(top_level) == 1
    assert "Coherence digest" in top_level[0].text
    assert [(f.thread_ts, f.name[-4:]) for f in sandbox.files] == [(top_level[0].ts, ".png")]


def test_digest_now_takes_the_runs_claim_so_the_scheduled_digest_does_not_follow(
    engine: Engine,
) -> None:
    from pulses.digests import post_digest_now

    group_id = _seed(engine)
    poster = RecordingPoster()
    assert post_digest_now(engine=engine, poster=poster, group_id=group_id, now=CLOSED) is True
    assert (
        send_due_digests(engine=engine, poster=poster, now=datetime(2026, 3, 5, 12, tzinfo=UTC))
        == 0
    )
    assert len(poster.posts) == 1
    # Asked for again, on purpose, it is posted again.
    assert post_digest_now(engine=engine, poster=poster, group_id=group_id, now=CLOSED) is True
    assert len(poster.posts) == 2


def test_digest_now_without_a_closed_run_posts_nothing(engine: Engine) -> None:
    from pulses.digests import post_digest_now
    from tests.pulses.seed import seed_group, seed_org

    with session_scope(engine) as session:
        group = seed_group(session, seed_org(session))
        assert group.id is not None
        group_id = group.id
    poster = RecordingPoster()
    assert post_digest_now(engine=engine, poster=poster, group_id=group_id, now=CLOSED) is False
    assert poster.posts == []
