"""The weekly digest goes out at the group's local digest time, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import freezegun
import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.messenger import SlackMessenger
from bot.views.message import SlackDigest
from pulses.digest_batches import DigestBatch
from pulses.digests import digest_due_at, send_due_digests
from pulses.organisation import OrgDigest
from pulses.ports import RenderedDigest
from pulses.reports import GroupDigest
from sandbox import SlackSandbox
from storage.db import session_scope
from storage.models import DigestDelivery, LeadershipGroup, PulseRun
from tests.conftest import BOT_TOKEN
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

# Wednesday 4 March 2026, 11:00 in Berlin (CET, UTC+1).
CLOSED = datetime(2026, 3, 4, 10, tzinfo=UTC)


class Killed(BaseException):
    """The process dies: nothing after it runs, not even the ``except Exception`` handlers."""


@dataclass
class RecordingPoster:
    """Renders like the bot does and records every post instead of calling Slack.

    ``fail_next`` posts raise before reaching Slack (``failures``, ``kills``: the next posts to
    a channel raise or kill the process), ``die_after_next`` posts reach Slack and then kill
    the process, ``fail_render`` renders raise, and lookups raise while ``find_fails``.
    """

    posts: list[tuple[str, str]] = field(default_factory=list)
    markers: dict[tuple[str, str], str] = field(default_factory=dict)
    lookups: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    die_after_next: int = 0
    fail_render: int = 0
    find_fails: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def render_digest(self, digest: GroupDigest | OrgDigest) -> RenderedDigest:
        if self.fail_render and isinstance(digest, GroupDigest):
            self.fail_render -= 1
            raise MemoryError("rendering failed")
        return SlackMessenger(WebClient()).render_digest(digest)

    def render_digests(
        self, batch: DigestBatch
    ) -> Iterator[tuple[int, RenderedDigest | Exception]]:
        for group_id, digest in batch.compute():
            if isinstance(digest, Exception):
                yield group_id, digest
                continue
            try:
                yield group_id, self.render_digest(digest)
            except Exception as error:
                yield group_id, error

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        assert isinstance(digest, SlackDigest)
        text = digest.text
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("Slack is unreachable")
            if self.failures.get(channel):
                self.failures[channel] -= 1
                raise ConnectionError("Slack answered 500")
            if self.kills.get(channel):
                self.kills[channel] -= 1
                raise Killed
            self.posts.append((channel, text))
            ts = f"{len(self.posts)}.000"
            if marker is not None:
                self.markers[(channel, marker)] = ts
            if self.die_after_next:
                self.die_after_next -= 1
                raise Killed
            return ts

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        with self.lock:
            self.lookups.append((destination, marker))
            if self.find_fails:
                raise ConnectionError("Slack is unreachable")
            ts = self.markers.get((destination, marker))
            return (destination, ts) if ts is not None else None


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
    assert send_due_digests(engine=engine, messenger=poster, now=due - timedelta(minutes=1)) == 0
    assert send_due_digests(engine=engine, messenger=poster, now=due) == 1
    assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
    assert "exec-team" in poster.posts[0][1]


def test_a_configured_weekday_and_channel_are_used(engine: Engine) -> None:
    _seed(engine, digest_weekday=0, digest_time="08:30", digest_channel_id="C0DIGEST")
    poster = RecordingPoster()
    # The Monday after Wednesday's close, 08:30 CET = 07:30 UTC.
    due = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)
    assert (
        send_due_digests(engine=engine, messenger=poster, now=datetime(2026, 3, 5, 9, tzinfo=UTC))
        == 0
    )
    assert send_due_digests(engine=engine, messenger=poster, now=due - timedelta(seconds=1)) == 0
    assert send_due_digests(engine=engine, messenger=poster, now=due) == 1
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
    assert send_due_digests(engine=engine, messenger=poster, now=now) == 1
    assert send_due_digests(engine=engine, messenger=poster, now=now + timedelta(hours=1)) == 0
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
        results.append(send_due_digests(engine=engine, messenger=poster, now=now))

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
    assert send_due_digests(engine=engine, messenger=poster, now=now) == 0
    assert send_due_digests(engine=engine, messenger=poster, now=now + timedelta(minutes=1)) == 1
    assert send_due_digests(engine=engine, messenger=poster, now=now + timedelta(minutes=2)) == 0
    assert len(poster.posts) == 1


def test_a_digest_long_overdue_is_not_posted(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster()
    assert send_due_digests(engine=engine, messenger=poster, now=CLOSED + timedelta(days=30)) == 0


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
            messenger=poster,
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
    poster = SlackMessenger(WebClient(token=BOT_TOKEN, base_url=sandbox.api_url))
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert send_due_digests(engine=engine, messenger=poster, now=now) == 1
    assert send_due_digests(engine=engine, messenger=poster, now=now) == 0
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
    assert post_digest_now(engine=engine, messenger=poster, group_id=group_id, now=CLOSED) is True
    assert (
        send_due_digests(engine=engine, messenger=poster, now=datetime(2026, 3, 5, 12, tzinfo=UTC))
        == 0
    )
    assert len(poster.posts) == 1
    # Asked for again, on purpose, it is posted again.
    assert post_digest_now(engine=engine, messenger=poster, group_id=group_id, now=CLOSED) is True
    assert len(poster.posts) == 2


def test_digest_now_without_a_closed_run_posts_nothing(engine: Engine) -> None:
    from pulses.digests import post_digest_now
    from tests.pulses.seed import seed_group, seed_org

    with session_scope(engine) as session:
        group = seed_group(session, seed_org(session))
        assert group.id is not None
        group_id = group.id
    poster = RecordingPoster()
    assert post_digest_now(engine=engine, messenger=poster, group_id=group_id, now=CLOSED) is False
    assert poster.posts == []


# --- claims that never settled ----------------------------------------------------------------

DUE = datetime(2026, 3, 5, 12, tzinfo=UTC)


def _deliveries(engine: Engine) -> list[tuple[str | None, str, int, str | None]]:
    with session_scope(engine) as session:
        rows = session.exec(select(DigestDelivery).order_by(col(DigestDelivery.id))).all()
        return [(row.period, row.status, row.attempts, row.ts) for row in rows]


def _leave_claim_posting(engine: Engine, *, claimed_at: datetime) -> int:
    """A claim a dead process left behind: its digest did not reach Slack."""
    with session_scope(engine) as session:
        run = session.exec(select(PulseRun)).one()
        group = session.get(LeadershipGroup, run.group_id)
        assert group is not None
        row = DigestDelivery(
            workspace_id=group.workspace_id,
            group_id=group.id,
            run_id=run.id,
            channel=group.channel_id,
            claimed_at=claimed_at,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_a_failed_render_leaves_no_claim_and_the_next_tick_posts(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster(fail_render=1)
    assert send_due_digests(engine=engine, messenger=poster, now=DUE) == 0
    assert _deliveries(engine) == []
    assert send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(hours=1)) == 1
    assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
    assert _deliveries(engine) == [(None, "posted", 1, "1.000")]


def test_a_claim_left_posting_is_taken_over_once_stale_after_asking_slack(
    engine: Engine,
) -> None:
    _seed(engine)
    wall = datetime.now(UTC)
    delivery_id = _leave_claim_posting(engine, claimed_at=wall - timedelta(minutes=19))
    poster = RecordingPoster()
    # Nineteen minutes old: its process may still be posting it.
    assert send_due_digests(engine=engine, messenger=poster, now=DUE) == 0
    assert (poster.posts, poster.lookups) == ([], [])
    with session_scope(engine) as session:
        row = session.get(DigestDelivery, delivery_id)
        assert row is not None
        row.claimed_at = wall - timedelta(minutes=21)
    assert send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(hours=1)) == 1
    assert poster.lookups == [("C0EXEC", f"digest:{delivery_id}")]
    assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
    assert poster.markers == {("C0EXEC", f"digest:{delivery_id}"): "1.000"}
    assert _deliveries(engine) == [(None, "posted", 2, "1.000")]
    assert send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(hours=2)) == 0
    assert len(poster.posts) == 1


def test_a_digest_that_reached_slack_before_its_process_died_is_not_posted_again(
    engine: Engine,
) -> None:
    _seed(engine)
    poster = RecordingPoster(die_after_next=1)
    with freezegun.freeze_time(DUE, tick=True), pytest.raises(Killed):
        send_due_digests(engine=engine, messenger=poster, now=DUE)
    assert _deliveries(engine) == [(None, "posting", 1, None)]
    with freezegun.freeze_time(DUE + timedelta(minutes=30)):
        assert (
            send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(minutes=30)) == 0
        )
    assert len(poster.posts) == 1
    assert _deliveries(engine) == [(None, "posted", 1, "1.000")]


def test_a_stale_claim_is_left_alone_while_slack_cannot_be_asked(engine: Engine) -> None:
    _seed(engine)
    _leave_claim_posting(engine, claimed_at=datetime.now(UTC) - timedelta(hours=1))
    poster = RecordingPoster(find_fails=True)
    for tick in range(3):
        assert (
            send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(hours=tick)) == 0
        )
    assert len(poster.lookups) == 3
    assert poster.posts == []
    assert _deliveries(engine) == [(None, "posting", 1, None)]
    poster.find_fails = False
    assert send_due_digests(engine=engine, messenger=poster, now=DUE + timedelta(hours=4)) == 1
    assert _deliveries(engine) == [(None, "posted", 2, "1.000")]


def test_a_claim_is_stamped_with_the_wall_clock_not_the_ticks_start(engine: Engine) -> None:
    _seed(engine)
    poster = RecordingPoster(die_after_next=1)
    claimed = DUE + timedelta(minutes=30)
    # A tick that started at DUE reaches this digest half an hour later, and dies posting it.
    with freezegun.freeze_time(claimed), pytest.raises(Killed):
        send_due_digests(engine=engine, messenger=poster, now=DUE)
    with session_scope(engine) as session:
        stamped = session.exec(select(DigestDelivery)).one().claimed_at
    assert stamped.replace(tzinfo=stamped.tzinfo or UTC) == claimed
    # A minute later the claim is fresh: nobody asks Slack, nobody posts it again.
    with freezegun.freeze_time(claimed + timedelta(minutes=1)):
        send_due_digests(engine=engine, messenger=poster, now=claimed + timedelta(minutes=1))
    assert poster.lookups == []
    assert len(poster.posts) == 1


def test_a_failed_org_digest_is_retried_without_another_group_digest(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        workspace_id = session.exec(select(LeadershipGroup.workspace_id)).one()
    poster = RecordingPoster(failures={"C0ADMIN": 1})
    channels = {workspace_id: "C0ADMIN"}
    assert send_due_digests(engine=engine, messenger=poster, now=DUE, org_channels=channels) == 1
    assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
    # No group digest is due any more; the org digest goes out on the next tick all the same,
    # and only once.
    for hour in range(1, 48):
        now = DUE + timedelta(hours=hour)
        send_due_digests(engine=engine, messenger=poster, now=now, org_channels=channels)
    assert [channel for channel, _ in poster.posts] == ["C0EXEC", "C0ADMIN"]
    assert [(p, s, a) for p, s, a, _ in _deliveries(engine)] == [
        (None, "posted", 1),
        ("org:2026-W10", "posted", 2),
    ]


def test_a_stale_org_digest_is_taken_over_on_a_later_tick(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        workspace_id = session.exec(select(LeadershipGroup.workspace_id)).one()
    poster = RecordingPoster(kills={"C0ADMIN": 1})
    channels = {workspace_id: "C0ADMIN"}
    with freezegun.freeze_time(DUE), pytest.raises(Killed):
        send_due_digests(engine=engine, messenger=poster, now=DUE, org_channels=channels)
    for minutes in (5, 25, 60):
        now = DUE + timedelta(minutes=minutes)
        with freezegun.freeze_time(now):
            send_due_digests(engine=engine, messenger=poster, now=now, org_channels=channels)
        if minutes == 5:  # still fresh: its process may be posting it
            assert [channel for channel, _ in poster.posts] == ["C0EXEC"]
            assert poster.lookups == []
    assert [channel for channel, _ in poster.posts] == ["C0EXEC", "C0ADMIN"]
    assert [(p, s, a) for p, s, a, _ in _deliveries(engine)] == [
        (None, "posted", 1),
        ("org:2026-W10", "posted", 2),
    ]


def test_slack_messenger_finds_a_digest_by_its_marker(sandbox: SlackSandbox) -> None:
    poster = SlackMessenger(WebClient(token=BOT_TOKEN, base_url=sandbox.api_url))
    ts = poster.post_digest(SlackDigest("digest", []), channel="C0EXEC", marker="digest:7")
    poster.post_digest(SlackDigest("another message", []), channel="C0EXEC", marker=None)
    assert poster.find_delivered("C0EXEC", marker="digest:7") == ("C0EXEC", ts)
    assert poster.find_delivered("C0EXEC", marker="digest:8") is None
