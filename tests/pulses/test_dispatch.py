"""Dispatch rules that need precise control of failures and timing: a Messenger fake.

The sandbox tests (tests/bot) cover the same code through real HTTP; here the fake lets a
test fail Slack exactly when a rule matters (a lookup during recovery, a send mid-tick).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from pulses import schedule
from pulses.claims import STALE_CLAIM
from pulses.dispatch import claim_run_now, tick
from pulses.groups import cadence_of, cadences_of, create_group, ensure_workspace
from pulses.ports import DeliveryError, Member, PulseNotice
from pulses.schedule import CadenceChange
from pulses.ticks import Worker
from storage.db import session_scope
from storage.models import Invitation, LeadershipGroup, PulseRun, SkipDate
from tests.pulses.test_reports import counting_queries

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeMessenger:
    """Records what would reach Slack; `find_fails` makes the recovery lookup fail."""

    members: list[Member]
    sent: list[tuple[str, str]] = field(default_factory=list)
    posts: list[tuple[str, datetime | None]] = field(default_factory=list)
    delivered: dict[tuple[str, str], str] = field(default_factory=dict)
    find_fails: bool = False
    # Slack stores the next DM, then its answer is lost (a 503 after storing).
    lose_next_answer: bool = False
    during_send: Callable[[], None] | None = None
    clock: Callable[[], datetime | None] = lambda: None

    def channel_members(self, channel_id: str) -> list[Member]:
        return list(self.members)

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        self.posts.append((marker, self.clock()))
        return f"{len(self.posts)}.0"

    def update_channel_pulse(self, notice: PulseNotice, *, ts: str) -> None:
        pass

    def send_dm_pulse(self, user_id: str, notice: PulseNotice, *, marker: str) -> tuple[str, str]:
        if self.during_send is not None:
            interrupt, self.during_send = self.during_send, None
            interrupt()
        self.sent.append((user_id, marker))
        self.delivered[(user_id, marker)] = "1.0"
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise DeliveryError("http_503", permanent=False, ambiguous=True)
        return "D" + user_id, "1.0"

    def confirm_answer(self, notice: PulseNotice, *, channel: str, ts: str) -> None:
        pass

    def remind(self, user_id: str, notice: PulseNotice, *, in_channel: bool) -> None:
        pass

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        if self.find_fails:
            raise DeliveryError("ratelimited", permanent=False)
        ts = self.delivered.get((destination, marker))
        return ("D" + destination, ts) if ts else None


def make_group(engine: Engine, **settings: Any) -> int:
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id="T1")
        assert workspace.id is not None
        settings.setdefault("created_at", LONG_AGO)
        group = create_group(
            session=session, workspace_id=workspace.id, channel_id="C1", **settings
        )
        assert group.id is not None
        return group.id


def invitations(engine: Engine) -> list[Invitation]:
    with session_scope(engine) as session:
        return list(session.exec(select(Invitation).order_by(col(Invitation.id))).all())


def runs(engine: Engine) -> list[PulseRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(PulseRun).order_by(col(PulseRun.id))).all())


def wall(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def test_a_failed_lookup_during_recovery_leaves_the_claim_instead_of_resending(
    engine: Engine,
) -> None:
    group_id = make_group(engine, delivery_mode="dm")
    messenger = FakeMessenger([Member("U1", "UTC")])
    assert claim_run_now(engine=engine, group_id=group_id, now=T0)
    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("hostA:1:a"))
    # Process A died after Slack took the DM but before recording it.
    with session_scope(engine) as session:
        session.execute(
            update(Invitation).values(
                status="sending", claimed_by="hostA:1:a", claimed_at=T0 - STALE_CLAIM * 2
            )
        )
    messenger.find_fails = True  # Slack's history is rate-limited right now
    later = Worker("hostB:2:b", clock=wall(T0 + timedelta(minutes=1)))
    tick(engine=engine, messenger=messenger, now=T0 + timedelta(minutes=1), worker=later)
    assert Counter(user for user, _ in messenger.sent) == {"U1": 1}
    assert [i.status for i in invitations(engine)] == ["sending"]

    messenger.find_fails = False  # the next tick can ask, and finds the DM
    report = tick(engine=engine, messenger=messenger, now=T0 + timedelta(minutes=2), worker=later)
    assert report.recovered == 1
    assert Counter(user for user, _ in messenger.sent) == {"U1": 1}
    assert [i.status for i in invitations(engine)] == ["sent"]


def test_a_dm_whose_outcome_is_unknown_is_looked_up_by_any_process_before_a_resend(
    engine: Engine,
) -> None:
    group_id = make_group(engine, delivery_mode="dm")
    messenger = FakeMessenger([Member("U1", "UTC")], lose_next_answer=True, find_fails=True)
    assert claim_run_now(engine=engine, group_id=group_id, now=T0)
    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("hostA:1:a"))
    # Slack has the DM but process A never learned it: the send is left for a lookup, owned
    # by nobody, instead of being put back to be sent again.
    [invitation] = invitations(engine)
    assert (invitation.status, invitation.claimed_by) == ("sending", None)
    other = Worker("hostB:2:b", clock=wall(T0 + timedelta(minutes=1)))
    tick(engine=engine, messenger=messenger, now=T0 + timedelta(minutes=1), worker=other)
    assert [i.status for i in invitations(engine)] == ["sending"]  # Slack can't be asked yet
    messenger.find_fails = False
    report = tick(engine=engine, messenger=messenger, now=T0 + timedelta(minutes=2), worker=other)
    assert report.recovered == 1
    assert Counter(user for user, _ in messenger.sent) == {"U1": 1}
    assert [i.status for i in invitations(engine)] == ["sent"]


def test_claims_made_late_in_a_slow_tick_are_not_taken_for_stale(engine: Engine) -> None:
    group_id = make_group(engine, delivery_mode="dm")
    messenger = FakeMessenger([Member("U1", "UTC"), Member("U2", "UTC")])
    assert claim_run_now(engine=engine, group_id=group_id, now=T0)
    # Process A's tick began at T0 but only claims at T0 + 11 min (slow lookups, 429 waits);
    # while its DM is in flight, process B ticks at that same real time.
    real = T0 + timedelta(minutes=11)
    messenger.during_send = lambda: tick(
        engine=engine,
        messenger=messenger,
        now=real,
        worker=Worker("hostB:2:b", clock=wall(real)),
    )
    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("hostA:1:a", clock=wall(real)))
    assert Counter(user for user, _ in messenger.sent) == {"U1": 1, "U2": 1}


def test_per_member_cadence_changed_late_on_monday_still_sends_tuesday(engine: Engine) -> None:
    group_id = make_group(engine, delivery_mode="dm", timezone="America/New_York")
    messenger = FakeMessenger(
        [Member("U_NY", "America/New_York"), Member("U_BER", "Europe/Berlin")]
    )
    changed_at = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)  # Monday 17:00 in New York
    with session_scope(engine) as session:
        group = session.get(LeadershipGroup, group_id)
        assert group is not None
        schedule.change_cadence(
            session=session,
            group=group,
            change=CadenceChange("weekly", (1,), time(9, 0), None, True, None),
            user_id="UADMIN",
            now=changed_at,
        )
    moment = changed_at
    while moment < datetime(2026, 6, 3, 12, 0, tzinfo=UTC):
        tick(engine=engine, messenger=messenger, now=moment)
        moment += timedelta(minutes=30)
    assert [r.occurrence_day.isoformat() for r in runs(engine)] == ["2026-06-02"]
    # Both 09:00s on Tuesday come after the change, so both members are asked.
    assert sorted(user for user, _ in messenger.sent) == ["U_BER", "U_NY"]


def test_members_whose_send_time_passed_before_the_schedule_started_are_not_asked(
    engine: Engine,
) -> None:
    started = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)  # Tuesday: after 09:00 Berlin, before NY's
    group_id = make_group(
        engine,
        delivery_mode="dm",
        per_member_time=True,
        timezone="America/New_York",
        weekdays="1",
        created_at=started,
    )
    messenger = FakeMessenger(
        [Member("U_NY", "America/New_York"), Member("U_BER", "Europe/Berlin")]
    )
    tick(engine=engine, messenger=messenger, now=datetime(2026, 6, 2, 14, 0, tzinfo=UTC))
    assert [i.user_id for i in invitations(engine)] == ["U_NY"]
    assert group_id


def test_an_unknown_member_time_zone_falls_back_and_other_groups_carry_on(
    engine: Engine,
) -> None:
    dm_group = make_group(engine, delivery_mode="dm", per_member_time=True)
    with session_scope(engine) as session:
        other = create_group(
            session=session, workspace_id=1, channel_id="C2", channel_name="o", created_at=LONG_AGO
        )
        assert other.id is not None
        other_group = other.id
    messenger = FakeMessenger([Member("U1", "UTC"), Member("U2", "America/Not_A_Zone")])
    assert claim_run_now(engine=engine, group_id=dm_group, now=T0)
    assert claim_run_now(engine=engine, group_id=other_group, now=T0)
    tick(engine=engine, messenger=messenger, now=T0)
    assert sorted(user for user, _ in messenger.sent) == ["U1", "U2"]
    assert len(messenger.posts) == 1  # the unrelated channel group's pulse went out too
    zones = {i.user_id: i.timezone for i in invitations(engine)}
    assert zones["U2"] == "UTC"  # the group's zone stands in for one Slack gave but we lack


def test_per_member_time_does_not_move_a_channel_message(engine: Engine) -> None:
    make_group(
        engine,
        delivery_mode="channel",
        per_member_time=True,
        timezone="Europe/Berlin",
        weekdays="1",
    )
    moment = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    messenger = FakeMessenger([Member("U_BER", "Europe/Berlin")])
    messenger.clock = lambda: moment
    while moment < datetime(2026, 6, 2, 12, 0, tzinfo=UTC):
        tick(engine=engine, messenger=messenger, now=moment)
        moment += timedelta(minutes=15)
    # One message in the channel at the group's 09:00 (07:00 UTC in summer), not at 09:00
    # in the first time zone on Earth.
    assert [when for _, when in messenger.posts] == [datetime(2026, 6, 2, 7, 0, tzinfo=UTC)]


def test_pulse_now_in_per_member_mode_goes_to_everyone_at_once(engine: Engine) -> None:
    now = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # Monday 16:00 in Los Angeles
    group_id = make_group(
        engine,
        delivery_mode="dm",
        per_member_time=True,
        timezone="America/Los_Angeles",
        weekdays="2",
        created_at=now - timedelta(hours=1),
    )
    messenger = FakeMessenger(
        [
            Member("U_LA", "America/Los_Angeles"),
            Member("U_KIR", "Pacific/Kiritimati"),
            Member("U_HNL", "Pacific/Honolulu"),
        ]
    )
    assert claim_run_now(engine=engine, group_id=group_id, now=now)
    tick(engine=engine, messenger=messenger, now=now)
    assert sorted(user for user, _ in messenger.sent) == ["U_HNL", "U_KIR", "U_LA"]
    assert {i.status for i in invitations(engine)} == {"sent"}


def test_a_tick_does_not_claim_again_what_an_earlier_tick_claimed(engine: Engine) -> None:
    """The unique key would refuse a second claim anyway, but only after its reads and insert,
    for every group on every tick of the eight days an occurrence stays in view."""
    make_group(engine, delivery_mode="channel", timezone="UTC", local_time="09:00")
    messenger = FakeMessenger([Member("U1", "UTC")])
    tick(engine=engine, messenger=messenger, now=T0, worker=Worker("a:1:a", clock=wall(T0)))
    claimed = [run.occurrence_day for run in runs(engine)]
    assert T0.date() in claimed

    inserts: list[str] = []

    def count_run_inserts(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PULSE_RUNS"):
            inserts.append(statement)

    later = T0 + timedelta(days=2)
    event.listen(engine, "before_cursor_execute", count_run_inserts)
    try:
        worker = Worker("a:1:a", clock=wall(later))
        tick(engine=engine, messenger=messenger, now=later, worker=worker)
    finally:
        event.remove(engine, "before_cursor_execute", count_run_inserts)
    assert inserts == []
    assert [run.occurrence_day for run in runs(engine)] == claimed


def test_each_groups_cadence_has_its_own_skip_dates_read_in_one_query(engine: Engine) -> None:
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id="T1")
        assert workspace.id is not None
        groups = [
            create_group(
                session=session,
                workspace_id=workspace.id,
                channel_id=f"C{n}",
                created_at=T0,
                local_time=f"0{n}:30",
            )
            for n in range(3)
        ]
        session.add(SkipDate(group_id=groups[0].id, day=date(2026, 12, 28)))
        session.add(SkipDate(group_id=groups[2].id, day=date(2027, 1, 4)))
        session.add(SkipDate(group_id=groups[2].id, day=date(2027, 1, 11)))
        session.flush()
        with counting_queries(engine) as statements:
            together = cadences_of(session=session, groups=groups)
        alone = [cadence_of(session=session, group=group) for group in groups]
    assert len(statements) == 1
    assert together == alone
    assert [c.skip_dates for c in together] == [
        {date(2026, 12, 28)},
        set(),
        {date(2027, 1, 4), date(2027, 1, 11)},
    ]
    assert [c.local_time for c in together] == [time(n, 30) for n in range(3)]


def test_the_ticks_reads_of_invitations_look_up_the_open_runs_rows_only(engine: Engine) -> None:
    """SQLite without statistics (as a deployment runs it) would otherwise walk every
    invitation ever sent in the state asked for: all of them, for reminders."""
    make_group(engine, delivery_mode="dm")
    reads: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM invitations JOIN pulse_runs" in statement:
            reads.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        tick(engine=engine, messenger=FakeMessenger(members=[]), now=T0, worker=Worker("a:1:a"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(reads) == 2  # the DMs due, the reminders due
    with engine.connect() as connection:
        for statement, parameters in reads:
            explained = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " / ".join(row[3] for row in explained)
            assert "ix_invitations_status_run_id (status=? AND run_id=?)" in plan, plan
            assert "SCAN invitations" not in plan, plan
