"""Claims shared between replicas: leases renewed by a living owner and taken over within a
minute of its death, claims that skip a row another replica holds, and sends shared out
between workspaces in rounds."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from pulses.claims import (
    DM_SEND,
    LEASE,
    RUN_START,
    claim_row,
    claim_run_start,
    keep_leases,
    renew_leases,
)
from pulses.dispatch import claim_run_now, tick
from pulses.groups import create_group, ensure_workspace
from pulses.ports import DeliveryError, Member, PulseNotice
from pulses.ticks import ROUND_SHARE, Worker
from storage.db import make_engine, session_scope
from storage.models import Invitation, PulseRun
from tests.pulses.test_dispatch import LONG_AGO, T0, FakeMessenger, invitations, runs, wall

OTHER_HOST = "elsewhere:1:a"  # a replica on another machine: only its lease says it lives


@dataclass
class ChannelsMessenger(FakeMessenger):
    """Members by channel, so each workspace's group has its own people."""

    by_channel: dict[str, list[Member]] = field(default_factory=dict)
    failing_posts: bool = False

    def channel_members(self, channel_id: str) -> list[Member]:
        return list(self.by_channel[channel_id])

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        if self.failing_posts:
            self.posts.append((marker, None))
            raise DeliveryError("service_unavailable", permanent=False)
        return super().post_channel_pulse(notice, marker=marker)


def group_in(engine: Engine, team_id: str, channel: str, delivery_mode: str = "dm") -> int:
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id=team_id)
        assert workspace.id is not None
        group = create_group(
            session=session,
            workspace_id=workspace.id,
            channel_id=channel,
            delivery_mode=delivery_mode,
            created_at=LONG_AGO,
        )
        assert group.id is not None
        return group.id


def people(prefix: str, count: int) -> list[Member]:
    return [Member(f"{prefix}{n:03d}", "UTC") for n in range(count)]


def opened_but_unsent(engine: Engine, messenger: FakeMessenger, group_id: int) -> None:
    """The run opened and its invitations written, nothing sent: a tick asked to stop."""
    assert claim_run_now(engine=engine, group_id=group_id, now=T0)
    stopped = Worker("hostA:1:a")
    stopped.stop_requested.set()
    tick(engine=engine, messenger=messenger, now=T0, worker=stopped)
    assert {i.status for i in invitations(engine)} == {"pending"}


def test_a_big_workspaces_fan_out_does_not_hold_up_another_workspaces_pulse(
    engine: Engine,
) -> None:
    big, small = people("UBIG", 40), people("USMALL", 3)
    messenger = ChannelsMessenger([], by_channel={"CBIG": big, "CSMALL": small})
    for group_id in (group_in(engine, "TBIG", "CBIG"), group_in(engine, "TSMALL", "CSMALL")):
        assert claim_run_now(engine=engine, group_id=group_id, now=T0)

    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("hostA:1:a"))

    order = [user for user, _ in messenger.sent]
    assert Counter(order) == {m.user_id: 1 for m in big + small}
    # The big workspace's invitations come first in the due order, but each round it takes
    # only its share and the small workspace gets its turn: the two alternate.
    assert max(order.index(m.user_id) for m in small) < len(small) * (ROUND_SHARE + 1)


def test_a_send_that_fails_goes_back_for_the_next_tick_not_the_next_round(
    engine: Engine,
) -> None:
    messenger = ChannelsMessenger([], failing_posts=True)
    groups = ROUND_SHARE + 2  # more than a round's share in one workspace
    for n in range(groups):
        messenger.by_channel[f"C{n}"] = people(f"U{n}", 1)
        assert claim_run_now(
            engine=engine, group_id=group_in(engine, "T1", f"C{n}", "channel"), now=T0
        )

    report = tick(engine=engine, messenger=messenger, now=T0, worker=Worker("hostA:1:a"))

    # Every channel message was tried once this tick, whatever the rounds: Slack is not
    # hammered while it is down.
    assert Counter(m for m, _ in messenger.posts) == {f"run:{n + 1}": 1 for n in range(groups)}
    assert len(report.errors) == groups


def test_a_lease_renewed_by_its_living_owner_is_never_taken_over(engine: Engine) -> None:
    messenger = ChannelsMessenger([], by_channel={"C1": people("U", 1)})
    opened_but_unsent(engine, messenger, group_in(engine, "T1", "C1"))
    # A replica on another machine claimed the DM and is mid-send (a long 429 wait).
    claimed = T0 + timedelta(hours=1)
    with session_scope(engine) as session:
        session.execute(
            update(Invitation).values(status="sending", claimed_by=OTHER_HOST, claimed_at=claimed)
        )

    def tick_at(moment: datetime) -> None:
        tick(engine=engine, messenger=messenger, now=T0, worker=Worker("b:2:b", clock=wall(moment)))

    tick_at(claimed + LEASE - timedelta(seconds=1))
    assert renew_leases(engine, Worker(OTHER_HOST, clock=wall(claimed + LEASE))) == 1
    # Past the first lease, but renewed: the owner still has it.
    tick_at(claimed + 2 * LEASE - timedelta(seconds=1))
    assert messenger.sent == []
    assert [(i.status, i.claimed_by) for i in invitations(engine)] == [("sending", OTHER_HOST)]

    # The owner went silent for a whole lease: taken over, looked up (not in Slack), sent once.
    tick_at(claimed + 2 * LEASE)
    assert messenger.sent == [("U000", "invitation:1")]
    assert [i.status for i in invitations(engine)] == ["sent"]


def test_a_silent_owners_dm_found_in_slack_is_recorded_not_resent(engine: Engine) -> None:
    messenger = ChannelsMessenger([], by_channel={"C1": people("U", 1)})
    opened_but_unsent(engine, messenger, group_in(engine, "T1", "C1"))
    messenger.delivered[("U000", "invitation:1")] = "7.0"  # it reached Slack, then the owner died
    claimed = T0 + timedelta(hours=1)
    with session_scope(engine) as session:
        session.execute(
            update(Invitation).values(status="sending", claimed_by=OTHER_HOST, claimed_at=claimed)
        )

    later = Worker("b:2:b", clock=wall(claimed + LEASE))
    report = tick(engine=engine, messenger=messenger, now=T0, worker=later)

    assert report.recovered == 1
    assert messenger.sent == []
    assert [(i.status, i.message_ts) for i in invitations(engine)] == [("sent", "7.0")]


@dataclass
class BeatingClock:
    """A claimant's clock that says when the heartbeat has renewed `beats` times."""

    start: datetime
    beats: int
    calls: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls > self.beats:
            self.done.set()
        return self.start + timedelta(seconds=self.calls)


def test_the_heartbeat_renews_the_claims_while_the_owner_works(engine: Engine) -> None:
    messenger = ChannelsMessenger([], by_channel={"C1": people("U", 2)})
    opened_but_unsent(engine, messenger, group_in(engine, "T1", "C1"))
    clock = BeatingClock(T0, beats=2)
    owner = Worker("hostA:1:a", clock=clock)
    with session_scope(engine) as session:
        session.execute(
            update(Invitation)
            .where(col(Invitation.user_id) == "U000")
            .values(status="sending", claimed_by=owner.id, claimed_at=T0)
        )

    with keep_leases(engine, owner, every=timedelta(milliseconds=5)):
        assert clock.done.wait(10)

    renewed = {i.user_id: i.claimed_at for i in invitations(engine)}
    assert renewed["U000"] is not None
    assert renewed["U000"] > T0
    assert renewed["U001"] is None  # not this owner's claim


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_on_postgres_a_row_another_replica_is_claiming_is_skipped_without_waiting(
    postgres_engine: Engine,
) -> None:
    engine = postgres_engine
    messenger = ChannelsMessenger([], by_channel={"C1": people("U", 1)})
    opened_but_unsent(engine, messenger, group_in(engine, "T1", "C1"))
    [invitation] = invitations(engine)

    with engine.connect() as other_replica:
        other_replica.execute(
            text("SELECT id FROM invitations WHERE id = :id FOR UPDATE"), {"id": invitation.id}
        )
        with session_scope(engine) as session:
            # Were the claim to queue behind the other replica, this would fail after 2 s.
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert not claim_row(session, Invitation, invitation.id, DM_SEND, Worker("b:2:b"))
        other_replica.rollback()

    with session_scope(engine) as session:
        assert claim_row(session, Invitation, invitation.id, DM_SEND, Worker("b:2:b"))
    assert [(i.status, i.claimed_by) for i in invitations(engine)] == [("sending", "b:2:b")]


# A run's start: its members looked up and its invitations written by one replica only.


@dataclass
class LookupCounter(ChannelsMessenger):
    """Counts the member look-ups (what spends the workspace's Slack quota); `gate` holds the
    first one until it is set, `busy` says it has begun, `slack_down` fails them."""

    lookups: int = 0
    gate: threading.Event | None = None
    busy: threading.Event = field(default_factory=threading.Event)
    slack_down: bool = False

    def channel_members(self, channel_id: str) -> list[Member]:
        self.lookups += 1
        if self.slack_down:
            raise DeliveryError("ratelimited", permanent=False)
        self.busy.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never let the look-up finish"
        return super().channel_members(channel_id)


def pending_run(engine: Engine, members: int = 3) -> tuple[int, dict[str, list[Member]]]:
    """A group's run claimed to send now and not started yet, and who is in its channel."""
    group_id = group_in(engine, "T1", "C1")
    assert claim_run_now(engine=engine, group_id=group_id, now=T0)
    [run] = runs(engine)
    assert run.id is not None
    assert run.status == "pending"
    return run.id, {"C1": people("U", members)}


def start_claimed_by(engine: Engine, run_id: int, owner: str, at: datetime) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(PulseRun)
            .where(col(PulseRun.id) == run_id)
            .values(
                channel_post_state=RUN_START.taken,
                channel_post_claimed_by=owner,
                channel_post_claimed_at=at,
            )
        )


def run_start_claim(engine: Engine, run_id: int) -> tuple[str, str, str | None]:
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        assert run is not None
        return run.status, run.channel_post_state, run.channel_post_claimed_by


def test_two_replicas_on_one_pending_run_look_its_members_up_once(engine: Engine) -> None:
    run_id, channels = pending_run(engine)
    first = LookupCounter([], by_channel=channels, gate=threading.Event())
    second = LookupCounter([], by_channel=channels)
    replica_a = threading.Thread(
        target=tick,
        kwargs={"engine": engine, "messenger": first, "now": T0, "worker": Worker("a:1:a")},
    )
    replica_a.start()
    try:
        assert first.busy.wait(10)  # replica A holds the run's start, mid look-up
        assert run_start_claim(engine, run_id) == ("pending", RUN_START.taken, "a:1:a")

        report = tick(engine=engine, messenger=second, now=T0, worker=Worker("b:2:b"))

        # B moved on without asking Slack who is in the channel: A is doing it.
        assert second.lookups == 0
        assert (report.started, second.sent) == (0, [])
    finally:
        assert first.gate is not None
        first.gate.set()
        replica_a.join(10)

    assert first.lookups == 1
    assert Counter(user for user, _ in first.sent) == {m.user_id: 1 for m in channels["C1"]}
    # Opened: the columns are free again for a channel message.
    assert run_start_claim(engine, run_id) == ("open", "pending", None)


def test_a_run_start_whose_owner_went_silent_is_taken_over_after_one_lease(
    engine: Engine,
) -> None:
    run_id, channels = pending_run(engine)
    claimed = T0 + timedelta(hours=1)
    start_claimed_by(engine, run_id, OTHER_HOST, claimed)  # then its replica died mid look-up
    messenger = LookupCounter([], by_channel=channels)

    def tick_at(moment: datetime) -> None:
        tick(engine=engine, messenger=messenger, now=T0, worker=Worker("b:2:b", clock=wall(moment)))

    tick_at(claimed + LEASE - timedelta(seconds=1))
    assert messenger.lookups == 0
    assert run_start_claim(engine, run_id) == ("pending", RUN_START.taken, OTHER_HOST)
    # The heartbeat of a living owner keeps it: renewed once, still its own a lease later.
    assert renew_leases(engine, Worker(OTHER_HOST, clock=wall(claimed + LEASE))) == 1
    tick_at(claimed + 2 * LEASE - timedelta(seconds=1))
    assert messenger.lookups == 0

    # A whole lease without a beat: taken over (within a minute of the last one), started and
    # sent once.
    tick_at(claimed + 2 * LEASE)
    assert messenger.lookups == 1
    assert Counter(user for user, _ in messenger.sent) == {m.user_id: 1 for m in channels["C1"]}
    assert run_start_claim(engine, run_id) == ("open", "pending", None)


def test_a_run_start_held_by_a_dead_process_of_this_host_is_taken_over_at_once(
    engine: Engine,
) -> None:
    run_id, channels = pending_run(engine)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a replica on this machine, SIGKILLed while it held the start
    start_claimed_by(engine, run_id, f"{socket.gethostname()}:{gone.pid}:dead", T0)
    messenger = LookupCounter([], by_channel=channels)

    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("b:2:b", clock=wall(T0)))

    assert messenger.lookups == 1
    assert len(messenger.sent) == len(channels["C1"])


def test_a_run_start_slack_refused_for_now_is_handed_back_for_any_replica(
    engine: Engine,
) -> None:
    run_id, channels = pending_run(engine)
    refused = LookupCounter([], by_channel=channels, slack_down=True)

    report = tick(engine=engine, messenger=refused, now=T0, worker=Worker("a:1:a"))

    assert report.errors == [f"run {run_id}: ratelimited"]
    # Not held until the lease runs out: the next replica's tick starts it.
    assert run_start_claim(engine, run_id) == ("pending", "pending", None)
    other = LookupCounter([], by_channel=channels)
    tick(engine=engine, messenger=other, now=T0, worker=Worker("b:2:b"))
    assert (other.lookups, len(other.sent)) == (1, len(channels["C1"]))


def test_on_postgres_a_run_start_another_replica_is_claiming_is_skipped_without_waiting(
    postgres_engine: Engine,
) -> None:
    engine = postgres_engine
    run_id, _ = pending_run(engine)

    with engine.connect() as other_replica:
        other_replica.execute(
            text("SELECT id FROM pulse_runs WHERE id = :id FOR UPDATE"), {"id": run_id}
        )
        with ThreadPoolExecutor(1) as pool:
            # Were the claim to queue behind the other replica, this would time out.
            assert not pool.submit(claim_run_start, engine, run_id, Worker("b:2:b")).result(10)
        other_replica.rollback()

    assert claim_run_start(engine, run_id, Worker("b:2:b"))
    assert not claim_run_start(engine, run_id, Worker("c:3:c"))  # held, and b is alive
    assert run_start_claim(engine, run_id) == ("pending", RUN_START.taken, "b:2:b")
