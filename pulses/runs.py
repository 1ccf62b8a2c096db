"""A pulse run's life: scheduled for each due occurrence, opened to its members, closed.

A run is claimed by its unique (group, occurrence day) key, so two ticks or processes never
create the same run twice; opening and closing are conditional UPDATEs on its status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Executable, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pulses.audit import Change, audited, unchanged
from pulses.away import away_days, count_away, has_away_status, local_day
from pulses.cadence import (
    Cadence,
    due_occurrences,
    is_known_timezone,
    local_send_time,
    send_timezone,
)
from pulses.claims import (
    LOOKBACK,
    RUN_START,
    claim_run_start,
    release_run_start,
    rows_changed,
)
from pulses.groups import active_priorities, cadence_of, cadences_of, grace_period
from pulses.i18n import _, day, weekday
from pulses.intent import intent_in_force
from pulses.notices import notice_for
from pulses.ports import DeliveryError, Member
from pulses.pseudonyms import unlink_answers
from pulses.questions import current_questions
from pulses.ticks import Tick
from storage.db import dialect_insert, session_scope
from storage.models import Invitation, LeadershipGroup, PulseRun
from storage.queries import claimed_occurrences

logger = logging.getLogger(__name__)

# The first zone in which any calendar date begins (UTC+14): in per-member mode a run is
# created once its date has started somewhere, and each member's send waits for their 09:00.
EARLIEST_ZONE = "Pacific/Kiritimati"
# From the first place a date begins (UTC+14) to the last (UTC-12): a per-member run's sends
# spread over this much time after the run is created.
ZONE_SPREAD = timedelta(hours=26)
LAST_ZONE = "Etc/GMT+12"


def per_member(group: LeadershipGroup) -> bool:
    """Whether each member is sent the pulse at their own local time (DMs only: a channel
    message goes out once, at the group's time)."""
    return group.per_member_time and group.delivery_mode == "dm"


def schedule_starts(group: LeadershipGroup) -> datetime:
    """Since when the group's current schedule applies."""
    return max(group.created_at, group.schedule_starts_at or group.created_at)


def schedule_due_runs(tick: Tick) -> None:
    """Claim a run for every occurrence now due; one too late for the grace window is missed."""
    with session_scope(tick.engine) as session:
        groups = session.exec(
            select(LeadershipGroup).where(
                col(LeadershipGroup.active).is_(True), col(LeadershipGroup.paused).is_(False)
            )
        ).all()
        plans = list(zip(groups, cadences_of(session=session, groups=groups), strict=True))
        # What is claimed already is not claimed again: the unique key would refuse it, but
        # only after three reads and an insert, per group, on every tick of LOOKBACK's days.
        claimed = claimed_occurrences(
            session=session, since=(tick.now - LOOKBACK - ZONE_SPREAD).date()
        )
    for group, cadence in plans:
        try:
            _schedule_group(tick, group, cadence, claimed)
        except Exception as error:
            # One group's bad data must not stop every other group's pulses.
            logger.exception("Could not schedule group %s", group.id)
            tick.report.errors.append(f"group {group.id}: {type(error).__name__}")


def _schedule_group(
    tick: Tick, group: LeadershipGroup, cadence: Cadence, claimed: set[tuple[int, date]]
) -> None:
    now = tick.now
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
        if (group.id, occurrence.day) in claimed:
            continue
        scheduled_at = local_send_time(occurrence.day, cadence.local_time, group.timezone)
        late = now - occurrence.send_at > grace_period(group)
        missed = late and not per_member(group)
        if claim_run(
            tick.engine, group, occurrence.day, scheduled_at, missed, cadence.answer_window
        ):
            tick.report.created += 1
            tick.report.missed += int(missed)


def claim_run(
    engine: Engine,
    group: LeadershipGroup,
    day: date,
    scheduled_at: datetime,
    missed: bool,
    window: timedelta,
    *,
    manual: bool = False,
) -> bool:
    """Create the group's run of `day`; False if another tick or process created it first.

    The run records the questions, priorities and declared intent version in force now, so
    later edits change only the runs after them.
    """
    assert group.id is not None
    try:
        with session_scope(engine) as session:
            questions = current_questions(session=session, workspace_id=group.workspace_id)
            priorities = active_priorities(session=session, group=group)
            intent = intent_in_force(session=session, group=group, now=scheduled_at)
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
                    intent_version_id=intent.id,
                    anonymity_threshold=group.anonymity_threshold,
                )
            )
    except IntegrityError:
        # Another tick or process claimed this occurrence first: exactly what the key is for.
        return False
    return True


def start_pending_runs(tick: Tick) -> None:
    """Invite the channel's members of every claimed run; idempotent if two processes race."""
    with session_scope(tick.engine) as session:
        pending = session.exec(
            select(PulseRun, LeadershipGroup)
            .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
            .where(PulseRun.status == "pending")
        ).all()
    for run, group in pending:
        assert run.id is not None
        # One replica looks up a run's members (Slack's quota is the workspace's); the others
        # move on to the next run, then to sending.
        if not claim_run_start(tick.engine, run.id, tick.worker):
            continue
        try:
            members = tick.messenger.channel_members(group.channel_id)
        except DeliveryError as error:
            if error.permanent:
                _fail_run(tick.engine, run, error.reason)
                tick.report.failed += 1
            else:
                release_run_start(tick.engine, run.id, tick.worker)
                tick.report.errors.append(f"run {run.id}: {error.reason}")
            continue
        try:
            _open_run(tick.engine, run, group, members, tick.now)
        except Exception as error:
            logger.exception("Could not open run %s", run.id)
            release_run_start(tick.engine, run.id, tick.worker)
            tick.report.errors.append(f"run {run.id}: {type(error).__name__}")
            continue
        tick.report.started += 1


def _open_run(
    engine: Engine, run: PulseRun, group: LeadershipGroup, members: Sequence[Member], now: datetime
) -> None:
    assert run.id is not None
    with session_scope(engine) as session:
        cadence = cadence_of(session=session, group=group)
        # `pulse now` goes to everyone at once; a scheduled per-member run at each one's time.
        personal = per_member(group) and not run.manual
        start = schedule_starts(group)
        away = away_days(
            session,
            [(group.workspace_id, member.user_id) for member in members],
            since=run.occurrence_day - timedelta(days=1),
        )
        away_members = 0
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
            # What the member reads (and their time away) is in their own zone, whatever zone
            # the group sends in.
            own_zone = (
                member.timezone
                if member.timezone and is_known_timezone(member.timezone)
                else group.timezone
            )
            day = local_day(send_at, own_zone)
            if has_away_status(
                member.status_emoji, member.status_expiration, send_at
            ) or away.covers(group.workspace_id, member.user_id, day):
                away_members += 1
                continue
            remind_at = send_at + cadence.reminder_after if cadence.reminder_after else None
            rows.append(
                {
                    "run_id": run.id,
                    "user_id": member.user_id,
                    "timezone": own_zone,
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
        opened = session.execute(
            update(PulseRun)
            .where(col(PulseRun.id) == run.id, col(PulseRun.status) == "pending")
            .values(
                status="open",
                opened_at=now,
                closes_at=last_send + cadence.answer_window,
                **RUN_START.released,  # the columns are the channel message's from now on
            )
        )
        if rows_changed(opened):
            # Only the process that opened the run counts who was away, so a race counts once.
            count_away(session, run.id, away_members)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> Executable:
    insert = dialect_insert(session.get_bind().dialect.name, Invitation)
    statement: Executable = insert.values(rows).on_conflict_do_nothing()
    return statement


def _fail_run(engine: Engine, run: PulseRun, reason: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(PulseRun)
            .where(col(PulseRun.id) == run.id, col(PulseRun.status) == "pending")
            .values(status="failed", failure_reason=reason, **RUN_START.released)
        )


def close_expired_runs(tick: Tick) -> None:
    """Close every run whose window has ended, unlink its answers from the people who gave
    them, and mark its channel message closed."""
    now = tick.now
    with session_scope(tick.engine) as session:
        expired = session.exec(
            select(PulseRun).where(
                col(PulseRun.status).in_(("open", "pending")), col(PulseRun.closes_at) <= now
            )
        ).all()
    for run in expired:
        assert run.id is not None
        with session_scope(tick.engine) as session:
            closed = session.execute(
                update(PulseRun)
                .where(col(PulseRun.id) == run.id, col(PulseRun.status).in_(("open", "pending")))
                .values(status="closed", closed_at=now)
            )
            if not rows_changed(closed):
                continue
            session.execute(
                update(Invitation)
                .where(col(Invitation.run_id) == run.id, col(Invitation.status) == "pending")
                .values(status="missed", failure_reason="the pulse closed before it was sent")
            )
            # In the closing transaction: once the run is closed, no answer can be linked.
            unlink_answers(session, run.id)
            run.status = "closed"
            notice = notice_for(session=session, run=run)
        tick.report.closed += 1
        if run.delivery_mode == "channel" and run.channel_message_ts:
            try:
                tick.messenger.update_channel_pulse(notice, ts=run.channel_message_ts)
            except DeliveryError as error:
                tick.report.errors.append(f"closing run {run.id}: {error.reason}")


def close_early(
    *, session: Session, group: LeadershipGroup, run_id: int, user_id: str, now: datetime
) -> Change:
    """An admin ends the run's answer window now (audited); the next tick closes it as any
    expired run is closed, and answers from now on are refused as late.

    ``run_id`` is the run the admin was asked to confirm: a different one open by then is
    left alone.
    """
    assert group.id is not None
    name = f"#{group.channel_name or group.channel_id}"
    ended = session.execute(
        update(PulseRun)
        .where(
            col(PulseRun.id) == run_id,
            col(PulseRun.group_id) == group.id,
            col(PulseRun.status).in_(("open", "pending")),
            col(PulseRun.closes_at) > now,
        )
        .values(closes_at=now)
    )
    if not rows_changed(ended):
        return unchanged(group.id, _("the pulse of {name} is not open any more").format(name=name))
    run = session.get(PulseRun, run_id)
    assert run is not None
    when = run.occurrence_day

    def lines() -> list[str]:
        of_day = f"{weekday(when.weekday())} {day(when, 'date')}"
        return [_("closed the pulse of {name} of {day} early").format(name=name, day=of_day)]

    return audited(session, group.workspace_id, group.id, user_id, lines, now)
