"""What is due, delivered exactly once: runs, invitations, reminders and closes.

The database is the source of truth. Every send is *claimed* by a conditional UPDATE before
anything reaches Slack, so two processes (or a restarted one) never send the same thing twice.
The caller passes the current time; nothing here reads the clock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pulses.cadence import Cadence, due_occurrences, local_send_time, send_timezone
from pulses.groups import active_priorities, cadence_of, grace_period
from pulses.ports import DeliveryError, Member, Messenger, PulseNotice
from pulses.questions import current_questions
from storage.db import session_scope
from storage.models import Answer, Invitation, LeadershipGroup, PulseRun
from storage.queries import run_progress

logger = logging.getLogger(__name__)

# The first zone in which any calendar date begins (UTC+14): in per-member mode a run is
# created once its date has started somewhere, and each member's send waits for their 09:00.
EARLIEST_ZONE = "Pacific/Kiritimati"
# How far back a tick looks for occurrences it has not claimed yet (a bot down for a week).
LOOKBACK = timedelta(days=8)
# From the first place a date begins (UTC+14) to the last (UTC-12): a per-member run's sends
# spread over this much time after the run is created.
ZONE_SPREAD = timedelta(hours=26)
LAST_ZONE = "Etc/GMT+12"
# A claim older than this whose owner cannot be shown to be dead is taken over. It must
# outlast one send, 429 waits included (the client retries Retry-After up to 10 times).
STALE_CLAIM = timedelta(minutes=20)
MAX_ATTEMPTS = 5


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Worker:
    """Who holds a claim: host, process and a per-start nonce (pids are reused).

    Setting `stop_requested` (on SIGTERM) ends a fan-out between two sends, so a platform
    restart leaves no claim in flight for the next process to wait out.
    """

    id: str
    stop_requested: threading.Event = field(
        default_factory=threading.Event, compare=False, repr=False
    )
    # Claims are stamped with real time, not the tick's `now`: whether a claim is stale is a
    # question about a live process, and a slow tick must not make its fresh claims look old.
    clock: Callable[[], datetime] = field(default=_wall_clock, compare=False, repr=False)

    @classmethod
    def for_this_process(cls) -> Worker:
        return cls(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")


@dataclass
class TickReport:
    created: int = 0
    missed: int = 0
    started: int = 0
    sent: int = 0
    failed: int = 0
    reminded: int = 0
    closed: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


def tick(
    *, engine: Engine, messenger: Messenger, now: datetime, worker: Worker | None = None
) -> TickReport:
    """Do everything that is due at `now`. Safe to run concurrently and after a crash."""
    worker = worker or Worker.for_this_process()
    report = TickReport()
    schedule_due_runs(engine=engine, now=now, report=report)
    start_pending_runs(engine=engine, messenger=messenger, now=now, report=report)
    recover_abandoned_claims(
        engine=engine, messenger=messenger, now=now, report=report, worker=worker
    )
    deliver_channel_posts(engine=engine, messenger=messenger, now=now, worker=worker, report=report)
    deliver_direct_messages(
        engine=engine, messenger=messenger, now=now, worker=worker, report=report
    )
    send_reminders(engine=engine, messenger=messenger, now=now, worker=worker, report=report)
    if not worker.stop_requested.is_set():
        close_expired_runs(engine=engine, messenger=messenger, now=now, report=report)
    return report


# --- runs -------------------------------------------------------------------------------


def per_member(group: LeadershipGroup) -> bool:
    """Whether each member is sent the pulse at their own local time (DMs only: a channel
    message goes out once, at the group's time)."""
    return group.per_member_time and group.delivery_mode == "dm"


def schedule_starts(group: LeadershipGroup) -> datetime:
    """Since when the group's current schedule applies."""
    return max(group.created_at, group.schedule_starts_at or group.created_at)


def schedule_due_runs(*, engine: Engine, now: datetime, report: TickReport) -> None:
    """Claim a run for every occurrence now due; one too late for the grace window is missed."""
    with session_scope(engine) as session:
        groups = session.exec(
            select(LeadershipGroup).where(
                col(LeadershipGroup.active).is_(True), col(LeadershipGroup.paused).is_(False)
            )
        ).all()
        plans = [(group, cadence_of(session=session, group=group)) for group in groups]
    for group, cadence in plans:
        try:
            _schedule_group(engine, group, cadence, now, report)
        except Exception as error:
            # One group's bad data must not stop every other group's pulses.
            logger.exception("Could not schedule group %s", group.id)
            report.errors.append(f"group {group.id}: {type(error).__name__}")


def _schedule_group(
    engine: Engine, group: LeadershipGroup, cadence: Cadence, now: datetime, report: TickReport
) -> None:
    start = schedule_starts(group)
    if per_member(group):
        # A day's run opens when the day begins somewhere; it belongs to the schedule as long
        # as someone's send time on that day comes after the schedule started.
        occurrences = [
            occurrence
            for occurrence in due_occurrences(
                cadence,
                after=max(start - ZONE_SPREAD, now - LOOKBACK),
                until=now,
                tz=EARLIEST_ZONE,
            )
            if local_send_time(occurrence.day, cadence.local_time, LAST_ZONE) > start
        ]
    else:
        occurrences = due_occurrences(
            cadence, after=max(start, now - LOOKBACK), until=now, tz=group.timezone
        )
    for occurrence in occurrences:
        scheduled_at = local_send_time(occurrence.day, cadence.local_time, group.timezone)
        late = now - occurrence.send_at > grace_period(group)
        missed = late and not per_member(group)
        if _claim_run(engine, group, occurrence.day, scheduled_at, missed, cadence.answer_window):
            report.created += 1
            report.missed += int(missed)


def claim_run_now(*, engine: Engine, group_id: int, now: datetime) -> bool:
    """Claim today's occurrence (group time zone) to send at `now`; False if one exists.

    Sharing the scheduled run's key means a pulse sent by hand in the morning is not followed
    by the scheduled one the same day.
    """
    with session_scope(engine) as session:
        group = session.get(LeadershipGroup, group_id)
        if group is None:
            return False
        cadence = cadence_of(session=session, group=group)
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    return _claim_run(engine, group, today, now, False, cadence.answer_window, manual=True)


def _claim_run(
    engine: Engine,
    group: LeadershipGroup,
    day: date,
    scheduled_at: datetime,
    missed: bool,
    window: timedelta,
    *,
    manual: bool = False,
) -> bool:
    assert group.id is not None
    try:
        with session_scope(engine) as session:
            questions = current_questions(session=session, workspace_id=group.workspace_id)
            priorities = active_priorities(session=session, group=group)
            session.add(
                PulseRun(
                    group_id=group.id,
                    occurrence_day=day,
                    scheduled_at=scheduled_at,
                    status="missed" if missed else "pending",
                    delivery_mode=group.delivery_mode,
                    manual=manual,
                    channel_id=group.channel_id,
                    closes_at=scheduled_at + window,
                    question_ids=",".join(str(q.id) for q in questions),
                    priority_ids=",".join(str(p.id) for p in priorities),
                    anonymity_threshold=group.anonymity_threshold,
                )
            )
    except IntegrityError:
        # Another tick or process claimed this occurrence first: exactly what the key is for.
        return False
    return True


def start_pending_runs(
    *, engine: Engine, messenger: Messenger, now: datetime, report: TickReport
) -> None:
    """Invite the channel's members of every claimed run; idempotent if two processes race."""
    with session_scope(engine) as session:
        pending = session.exec(
            select(PulseRun, LeadershipGroup)
            .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
            .where(PulseRun.status == "pending")
        ).all()
    for run, group in pending:
        try:
            members = messenger.channel_members(group.channel_id)
        except DeliveryError as error:
            if error.permanent:
                _fail_run(engine, run, error.reason)
                report.failed += 1
            else:
                report.errors.append(f"run {run.id}: {error.reason}")
            continue
        try:
            _open_run(engine, run, group, members, now)
        except Exception as error:
            logger.exception("Could not open run %s", run.id)
            report.errors.append(f"run {run.id}: {type(error).__name__}")
            continue
        report.started += 1


def _open_run(
    engine: Engine, run: PulseRun, group: LeadershipGroup, members: Sequence[Member], now: datetime
) -> None:
    assert run.id is not None
    with session_scope(engine) as session:
        cadence = cadence_of(session=session, group=group)
        # `pulse now` goes to everyone at once; a scheduled per-member run at each one's time.
        personal = per_member(group) and not run.manual
        start = schedule_starts(group)
        rows: list[dict[str, Any]] = []
        for member in members:
            # An unknown or missing zone falls back to the group's.
            zone = send_timezone(cadence, member.timezone) if per_member(group) else group.timezone
            send_at = (
                local_send_time(run.occurrence_day, cadence.local_time, zone)
                if personal
                else run.scheduled_at
            )
            if personal and send_at <= start:
                continue  # their send time on this day came before the schedule started
            remind_at = send_at + cadence.reminder_after if cadence.reminder_after else None
            rows.append(
                {
                    "run_id": run.id,
                    "user_id": member.user_id,
                    "timezone": zone,
                    "send_at": send_at,
                    "remind_at": remind_at,
                    "status": "pending",
                    "attempts": 0,
                    "reminder_state": "pending",
                }
            )
        if rows:
            session.execute(_insert_ignoring_duplicates(session, rows))
        last_send = max((row["send_at"] for row in rows), default=run.scheduled_at)
        assert isinstance(last_send, datetime)
        session.execute(
            update(PulseRun)
            .where(col(PulseRun.id) == run.id, col(PulseRun.status) == "pending")
            .values(status="open", opened_at=now, closes_at=last_send + cadence.answer_window)
        )


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> Executable:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(Invitation).values(rows).on_conflict_do_nothing()


def _fail_run(engine: Engine, run: PulseRun, reason: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(PulseRun)
            .where(col(PulseRun.id) == run.id, col(PulseRun.status) == "pending")
            .values(status="failed", failure_reason=reason)
        )


# --- claims ------------------------------------------------------------------------------


def claim_is_abandoned(claimed_by: str | None, claimed_at: datetime | None, now: datetime) -> bool:
    """A claim whose process is known dead, or that is older than STALE_CLAIM."""
    if claimed_by is None or claimed_at is None:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit() and not _process_alive(int(pid_text)):
        return True
    return now - claimed_at > STALE_CLAIM


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_abandoned_claims(
    *,
    engine: Engine,
    messenger: Messenger,
    now: datetime,
    report: TickReport,
    worker: Worker | None = None,
) -> None:
    """Settle sends whose claimant died: delivered if Slack has the message, else retried.

    When Slack cannot be asked (rate limit, outage), the claim is left for the next tick:
    resending on uncertainty is how a leader gets the pulse twice.
    """
    wall = (worker or Worker.for_this_process()).clock()
    with session_scope(engine) as session:
        invitations = session.exec(select(Invitation).where(Invitation.status == "sending")).all()
        runs = session.exec(select(PulseRun).where(PulseRun.channel_post_state == "posting")).all()
    for invitation in invitations:
        if not claim_is_abandoned(invitation.claimed_by, invitation.claimed_at, wall):
            continue
        try:
            found = messenger.find_delivered(
                invitation.user_id, marker=_invitation_marker(invitation)
            )
        except DeliveryError as error:
            report.errors.append(f"recovering invitation {invitation.id}: {error.reason}")
            continue
        values: dict[str, object] = (
            {"status": "sent", "dm_channel_id": found[0], "message_ts": found[1], "sent_at": now}
            if found
            else {"status": "pending", "claimed_by": None, "claimed_at": None}
        )
        with session_scope(engine) as session:
            result = session.execute(
                update(Invitation)
                .where(
                    col(Invitation.id) == invitation.id,
                    col(Invitation.status) == "sending",
                    col(Invitation.claimed_by) == invitation.claimed_by,
                )
                .values(**values)
            )
        report.recovered += _rowcount(result)
    for run in runs:
        if not claim_is_abandoned(run.channel_post_claimed_by, run.channel_post_claimed_at, wall):
            continue
        assert run.channel_id is not None
        try:
            found = messenger.find_delivered(run.channel_id, marker=_run_marker(run))
        except DeliveryError as error:
            report.errors.append(f"recovering run {run.id}: {error.reason}")
            continue
        with session_scope(engine) as session:
            result = session.execute(
                update(PulseRun)
                .where(
                    col(PulseRun.id) == run.id,
                    col(PulseRun.channel_post_state) == "posting",
                    col(PulseRun.channel_post_claimed_by) == run.channel_post_claimed_by,
                )
                .values(
                    channel_post_state="pending",
                    channel_post_claimed_by=None,
                    channel_post_claimed_at=None,
                )
            )
            if found and _rowcount(result):
                _mark_channel_posted(session, run, found[1], now)
        report.recovered += _rowcount(result)


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) else 0


def _invitation_marker(invitation: Invitation) -> str:
    return f"invitation:{invitation.id}"


def _run_marker(run: PulseRun) -> str:
    return f"run:{run.id}"


# --- delivery ----------------------------------------------------------------------------


def notice_for(*, session: Session, run: PulseRun) -> PulseNotice:
    """The pulse message's content for a run: progress counts only, never names."""
    group = session.get(LeadershipGroup, run.group_id)
    assert group is not None
    assert run.id is not None
    answered, invited = run_progress(session=session, run_id=run.id)
    return PulseNotice(
        run_id=run.id,
        group_name=group.channel_name or group.channel_id,
        channel_id=group.channel_id,
        closes_at=run.closes_at,
        timezone=group.timezone,
        answered=answered,
        invited=invited,
        closed=run.status == "closed",
    )


def deliver_channel_posts(
    *, engine: Engine, messenger: Messenger, now: datetime, worker: Worker, report: TickReport
) -> None:
    """Post the one channel message of every open channel-mode run not posted yet."""
    with session_scope(engine) as session:
        runs = session.exec(
            select(PulseRun).where(
                PulseRun.status == "open",
                PulseRun.delivery_mode == "channel",
                PulseRun.channel_post_state == "pending",
            )
        ).all()
    for run in runs:
        if worker.stop_requested.is_set():
            return
        with session_scope(engine) as session:
            claimed = session.execute(
                update(PulseRun)
                .where(col(PulseRun.id) == run.id, col(PulseRun.channel_post_state) == "pending")
                .values(
                    channel_post_state="posting",
                    channel_post_claimed_by=worker.id,
                    channel_post_claimed_at=worker.clock(),
                )
            )
            if not _rowcount(claimed):
                continue
            notice = notice_for(session=session, run=run)
        try:
            ts = messenger.post_channel_pulse(notice, marker=_run_marker(run))
        except DeliveryError as error:
            with session_scope(engine) as session:
                if error.permanent:
                    _fail_channel_post(session, run, error.reason)
                    report.failed += 1
                else:
                    session.execute(
                        update(PulseRun)
                        .where(col(PulseRun.id) == run.id)
                        .values(channel_post_state="pending", channel_post_claimed_by=None)
                    )
                    report.errors.append(f"run {run.id}: {error.reason}")
            continue
        with session_scope(engine) as session:
            _mark_channel_posted(session, run, ts, now)
        report.sent += 1


def _mark_channel_posted(session: Session, run: PulseRun, ts: str, now: datetime) -> None:
    session.execute(
        update(PulseRun)
        .where(col(PulseRun.id) == run.id)
        .values(channel_post_state="posted", channel_message_ts=ts)
    )
    session.execute(
        update(Invitation)
        .where(col(Invitation.run_id) == run.id, col(Invitation.status) == "pending")
        .values(status="sent", sent_at=now, dm_channel_id=run.channel_id, message_ts=ts)
    )


def _fail_channel_post(session: Session, run: PulseRun, reason: str) -> None:
    session.execute(
        update(PulseRun)
        .where(col(PulseRun.id) == run.id)
        .values(channel_post_state="failed", failure_reason=reason)
    )
    session.execute(
        update(Invitation)
        .where(col(Invitation.run_id) == run.id, col(Invitation.status) == "pending")
        .values(status="failed", failure_reason=reason)
    )


def deliver_direct_messages(
    *, engine: Engine, messenger: Messenger, now: datetime, worker: Worker, report: TickReport
) -> None:
    """DM every invitation whose send time has come, each claimed before it is sent."""
    with session_scope(engine) as session:
        due = session.exec(
            select(Invitation, LeadershipGroup)
            .join(PulseRun, col(PulseRun.id) == Invitation.run_id)
            .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
            .where(
                PulseRun.status == "open",
                PulseRun.delivery_mode == "dm",
                Invitation.status == "pending",
                col(Invitation.send_at) <= now,
            )
            .order_by(col(Invitation.send_at), col(Invitation.id))
        ).all()
    for invitation, group in due:
        if worker.stop_requested.is_set():
            return
        if invitation.next_attempt_at is not None and invitation.next_attempt_at > now:
            continue
        if now - invitation.send_at > grace_period(group):
            _settle(
                engine,
                invitation,
                expected=("pending", None),
                status="missed",
                failure_reason="the bot was offline",
            )
            report.missed += 1
            continue
        _deliver_one(engine, messenger, invitation, now, worker, report)


def _deliver_one(
    engine: Engine,
    messenger: Messenger,
    invitation: Invitation,
    now: datetime,
    worker: Worker,
    report: TickReport,
) -> None:
    with session_scope(engine) as session:
        claimed = session.execute(
            update(Invitation)
            .where(col(Invitation.id) == invitation.id, col(Invitation.status) == "pending")
            .values(
                status="sending",
                claimed_by=worker.id,
                claimed_at=worker.clock(),
                attempts=col(Invitation.attempts) + 1,
            )
        )
        if not _rowcount(claimed):
            return
        run = session.get(PulseRun, invitation.run_id)
        assert run is not None
        notice = notice_for(session=session, run=run)
    attempts = invitation.attempts + 1
    owned = ("sending", worker.id)
    try:
        channel, ts = messenger.send_dm_pulse(
            invitation.user_id, notice, marker=_invitation_marker(invitation)
        )
    except DeliveryError as error:
        if error.permanent or attempts >= MAX_ATTEMPTS:
            reason = (
                error.reason
                if error.permanent
                else f"gave up after {attempts} tries: {error.reason}"
            )
            _settle(engine, invitation, owned, status="failed", failure_reason=reason)
            report.failed += 1
        else:
            # Exponential backoff between ticks; the client already retried within this one.
            _settle(
                engine,
                invitation,
                owned,
                status="pending",
                claimed_by=None,
                next_attempt_at=now + timedelta(minutes=2**attempts),
                failure_reason=error.reason,
            )
            report.errors.append(f"invitation {invitation.id}: {error.reason}")
        return
    except BaseException:
        _settle(engine, invitation, owned, status="pending", claimed_by=None)
        raise
    _settle(
        engine,
        invitation,
        owned,
        status="sent",
        dm_channel_id=channel,
        message_ts=ts,
        sent_at=now,
        failure_reason=None,
    )
    report.sent += 1


def _settle(
    engine: Engine,
    invitation: Invitation,
    expected: tuple[str, str | None],
    **values: object,
) -> None:
    """Record an outcome only if the row is still as `expected` (status, claim owner): a
    claim taken over by another process is that process's to settle."""
    status, owner = expected
    conditions = [col(Invitation.id) == invitation.id, col(Invitation.status) == status]
    if owner is not None:
        conditions.append(col(Invitation.claimed_by) == owner)
    with session_scope(engine) as session:
        session.execute(update(Invitation).where(*conditions).values(**values))


# --- reminders and closing ---------------------------------------------------------------


def send_reminders(
    *, engine: Engine, messenger: Messenger, now: datetime, worker: Worker, report: TickReport
) -> None:
    """Remind, once, each delivered member who has not answered by their reminder time."""
    with session_scope(engine) as session:
        answered = select(Answer.user_id).where(Answer.run_id == Invitation.run_id)
        due = session.exec(
            select(Invitation, PulseRun)
            .join(PulseRun, col(PulseRun.id) == Invitation.run_id)
            .where(
                PulseRun.status == "open",
                col(PulseRun.closes_at) > now,
                Invitation.status == "sent",
                Invitation.reminder_state == "pending",
                col(Invitation.remind_at).is_not(None),
                col(Invitation.remind_at) <= now,
                col(Invitation.user_id).not_in(answered),
            )
        ).all()
    for invitation, run in due:
        if worker.stop_requested.is_set():
            return
        with session_scope(engine) as session:
            # A reminder is claimed and never retried after a crash: a missing nudge is
            # better than a second one.
            claimed = session.execute(
                update(Invitation)
                .where(
                    col(Invitation.id) == invitation.id, col(Invitation.reminder_state) == "pending"
                )
                .values(reminder_state="sending", claimed_by=worker.id)
            )
            if not _rowcount(claimed):
                continue
            notice = notice_for(session=session, run=run)
        try:
            messenger.remind(invitation.user_id, notice, in_channel=run.delivery_mode == "channel")
        except DeliveryError as error:
            state = "failed" if error.permanent else "pending"
            with session_scope(engine) as session:
                session.execute(
                    update(Invitation)
                    .where(col(Invitation.id) == invitation.id)
                    .values(reminder_state=state)
                )
            report.errors.append(f"reminder {invitation.id}: {error.reason}")
            continue
        with session_scope(engine) as session:
            session.execute(
                update(Invitation)
                .where(col(Invitation.id) == invitation.id)
                .values(reminder_state="sent", reminded_at=now)
            )
        report.reminded += 1


def close_expired_runs(
    *, engine: Engine, messenger: Messenger, now: datetime, report: TickReport
) -> None:
    """Close every run whose window has ended and mark its channel message closed."""
    with session_scope(engine) as session:
        expired = session.exec(
            select(PulseRun).where(
                col(PulseRun.status).in_(("open", "pending")), col(PulseRun.closes_at) <= now
            )
        ).all()
    for run in expired:
        with session_scope(engine) as session:
            closed = session.execute(
                update(PulseRun)
                .where(col(PulseRun.id) == run.id, col(PulseRun.status).in_(("open", "pending")))
                .values(status="closed", closed_at=now)
            )
            if not _rowcount(closed):
                continue
            session.execute(
                update(Invitation)
                .where(col(Invitation.run_id) == run.id, col(Invitation.status) == "pending")
                .values(status="missed", failure_reason="the pulse closed before it was sent")
            )
            run.status = "closed"
            notice = notice_for(session=session, run=run)
        report.closed += 1
        if run.delivery_mode == "channel" and run.channel_message_ts:
            try:
                messenger.update_channel_pulse(notice, ts=run.channel_message_ts)
            except DeliveryError as error:
                report.errors.append(f"closing run {run.id}: {error.reason}")


def confirm_dm_answer(*, engine: Engine, messenger: Messenger, run_id: int, user_id: str) -> None:
    """In DM mode, show the member that their answer is in (in their own time zone)."""
    with session_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        if run is None or run.delivery_mode != "dm" or run.status != "open":
            return
        invitation = session.exec(
            select(Invitation).where(Invitation.run_id == run_id, Invitation.user_id == user_id)
        ).first()
        if invitation is None or not invitation.dm_channel_id or not invitation.message_ts:
            return
        notice = replace(notice_for(session=session, run=run), timezone=invitation.timezone)
        channel, ts = invitation.dm_channel_id, invitation.message_ts
    messenger.confirm_answer(notice, channel=channel, ts=ts)


# Answers arriving together each refresh the counter; without ordering, an older count can
# reach Slack last and stick. Counting and updating under a per-run lock keeps the latest.
_PROGRESS_LOCKS = [threading.Lock() for _ in range(64)]


def refresh_channel_progress(*, engine: Engine, messenger: Messenger, run_id: int) -> None:
    """Update a channel pulse's "n of m answered" after an answer arrives."""
    with _PROGRESS_LOCKS[run_id % len(_PROGRESS_LOCKS)]:
        with session_scope(engine) as session:
            run = session.get(PulseRun, run_id)
            if run is None or run.delivery_mode != "channel" or not run.channel_message_ts:
                return
            if run.status != "open":
                return  # the close already drew the final state
            notice = notice_for(session=session, run=run)
            ts = run.channel_message_ts
        messenger.update_channel_pulse(notice, ts=ts)
