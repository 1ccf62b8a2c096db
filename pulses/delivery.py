"""Delivering a run's pulse: the channel message or each member's DM, claimed before it is sent.

A claim that never settled (its process died mid-send) is recovered: Slack is asked, by the
marker the message carries, whether the send got through, and the row is settled or retried.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, col, select

from pulses.away import away_days, count_away, local_day
from pulses.claims import (
    CHANNEL_POST,
    DM_SEND,
    is_abandoned,
    marker,
    rows_changed,
    settle_claim,
)
from pulses.groups import grace_period
from pulses.notices import claim_with_notice
from pulses.ports import DeliveryError
from pulses.ticks import Tick
from storage.db import session_scope
from storage.models import Invitation, LeadershipGroup, PulseRun

# A DM that keeps failing transiently is given up after this many tries.
MAX_ATTEMPTS = 5


class Due(NamedTuple):
    """An invitation due for a send or a reminder, with its run and group."""

    invitation: Invitation
    run: PulseRun
    group: LeadershipGroup
    away: bool  # its member is away today


def deliver_channel_posts(tick: Tick) -> None:
    """Post the one channel message of every open channel-mode run not posted yet."""
    with session_scope(tick.engine) as session:
        runs = session.exec(
            select(PulseRun).where(
                PulseRun.status == "open",
                PulseRun.delivery_mode == "channel",
                PulseRun.channel_post_state == "pending",
            )
        ).all()
    for run in runs:
        if tick.stopping:
            return
        assert run.id is not None
        notice = claim_with_notice(tick, PulseRun, run.id, CHANNEL_POST, run.id)
        if notice is None:
            continue
        try:
            ts = tick.messenger.post_channel_pulse(notice, marker=marker("run", run.id))
        except DeliveryError as error:
            with session_scope(tick.engine) as session:
                if error.permanent:
                    _fail_channel_post(session, run, error.reason)
                    tick.report.failed += 1
                elif error.ambiguous:
                    # Maybe posted: left "posting" without an owner, so the next recovery
                    # (in whichever process) looks it up by its marker before any repost.
                    session.execute(
                        update(PulseRun)
                        .where(col(PulseRun.id) == run.id)
                        .values(channel_post_claimed_by=None)
                    )
                    tick.report.errors.append(f"run {run.id}: {error.reason}")
                else:
                    session.execute(
                        update(PulseRun)
                        .where(col(PulseRun.id) == run.id)
                        .values(channel_post_state="pending", channel_post_claimed_by=None)
                    )
                    tick.report.errors.append(f"run {run.id}: {error.reason}")
            continue
        with session_scope(tick.engine) as session:
            _mark_channel_posted(session, run, ts, tick.now)
        tick.report.sent += 1


def _mark_channel_posted(session: Session, run: PulseRun, ts: str, now: datetime) -> None:
    _settle_channel_post(
        session,
        run,
        {"channel_post_state": "posted", "channel_message_ts": ts},
        {"status": "sent", "sent_at": now, "dm_channel_id": run.channel_id, "message_ts": ts},
    )


def _fail_channel_post(session: Session, run: PulseRun, reason: str) -> None:
    _settle_channel_post(
        session,
        run,
        {"channel_post_state": "failed", "failure_reason": reason},
        {"status": "failed", "failure_reason": reason},
    )


def _settle_channel_post(
    session: Session, run: PulseRun, post: dict[str, object], invitations: dict[str, object]
) -> None:
    """The channel message's outcome, on the run and on each of its invitations still pending
    (in channel mode the one message is every member's invitation)."""
    session.execute(update(PulseRun).where(col(PulseRun.id) == run.id).values(**post))
    session.execute(
        update(Invitation)
        .where(col(Invitation.run_id) == run.id, col(Invitation.status) == "pending")
        .values(**invitations)
    )


def due_invitations(tick: Tick, *conditions: ColumnElement[bool]) -> list[Due]:
    """The invitations of open runs meeting ``conditions``, earliest send first, each with its
    group and whether its member is away today (time away, in their own dates)."""
    with session_scope(tick.engine) as session:
        rows = session.exec(
            select(Invitation, PulseRun, LeadershipGroup)
            .join(PulseRun, col(PulseRun.id) == Invitation.run_id)
            .join(LeadershipGroup, col(LeadershipGroup.id) == PulseRun.group_id)
            .where(
                PulseRun.status == "open",
                # Spelled out so the database looks up the open runs' invitations by
                # (status, run_id), never every invitation in that state since the first run.
                col(Invitation.run_id).in_(
                    select(PulseRun.id).where(col(PulseRun.status) == "open")
                ),
                *conditions,
            )
            .order_by(col(Invitation.send_at), col(Invitation.id))
        ).all()
        members = [(group.workspace_id, invitation.user_id) for invitation, _, group in rows]
        away = away_days(session, members, since=tick.now.date() - timedelta(days=1))
    return [
        Due(
            invitation,
            run,
            group,
            away.covers(
                group.workspace_id,
                invitation.user_id,
                local_day(tick.now, invitation.timezone),
            ),
        )
        for invitation, run, group in rows
    ]


def deliver_direct_messages(tick: Tick) -> None:
    """DM every invitation whose send time has come, each claimed before it is sent; a member
    away today is passed over (and no longer counted as invited)."""
    now = tick.now
    due = due_invitations(
        tick,
        col(PulseRun.delivery_mode) == "dm",
        col(Invitation.status) == "pending",
        col(Invitation.send_at) <= now,
    )
    for invitation, _, group, away in due:
        if tick.stopping:
            return
        if invitation.next_attempt_at is not None and invitation.next_attempt_at > now:
            continue
        if away:
            _pass_over(tick, invitation)
            continue
        if now - invitation.send_at > grace_period(group):
            _settle(
                tick,
                invitation,
                expected=("pending", None),
                status="missed",
                failure_reason="the bot was offline",
            )
            tick.report.missed += 1
            continue
        _deliver_one(tick, invitation)


def _pass_over(tick: Tick, invitation: Invitation) -> None:
    """Withdraw a pending invitation whose member is away: not sent, not counted as invited,
    only added to the run's count of members away."""
    with session_scope(tick.engine) as session:
        withdrawn = session.execute(
            delete(Invitation).where(
                col(Invitation.id) == invitation.id,
                col(Invitation.status) == "pending",
                col(Invitation.claimed_by).is_(None),
            )
        )
        if rows_changed(withdrawn):
            count_away(session, invitation.run_id, 1)


def _deliver_one(tick: Tick, invitation: Invitation) -> None:
    tried = col(Invitation.attempts) + 1
    notice = claim_with_notice(
        tick, Invitation, invitation.id, DM_SEND, invitation.run_id, attempts=tried
    )
    if notice is None:
        return
    # The DM is read by this member alone: its times are in their own zone.
    notice = replace(notice, timezone=invitation.timezone)
    attempts = invitation.attempts + 1
    owned = ("sending", tick.worker.id)
    try:
        channel, ts = tick.messenger.send_dm_pulse(
            invitation.user_id, notice, marker=marker("invitation", invitation.id)
        )
    except DeliveryError as error:
        if error.ambiguous and not error.permanent:
            # Maybe delivered: left "sending" without an owner, so the next recovery (in
            # whichever process) looks it up by its marker before it is sent again.
            _settle(tick, invitation, owned, claimed_by=None, failure_reason=error.reason)
            tick.report.errors.append(f"invitation {invitation.id}: {error.reason}")
            return
        if error.permanent or attempts >= MAX_ATTEMPTS:
            reason = (
                error.reason
                if error.permanent
                else f"gave up after {attempts} tries: {error.reason}"
            )
            _settle(tick, invitation, owned, status="failed", failure_reason=reason)
            tick.report.failed += 1
        else:
            # Exponential backoff between ticks; the client already retried within this one.
            _settle(
                tick,
                invitation,
                owned,
                status="pending",
                claimed_by=None,
                next_attempt_at=tick.now + timedelta(minutes=2**attempts),
                failure_reason=error.reason,
            )
            tick.report.errors.append(f"invitation {invitation.id}: {error.reason}")
        return
    except BaseException:
        _settle(tick, invitation, owned, status="pending", claimed_by=None)
        raise
    _settle(
        tick,
        invitation,
        owned,
        status="sent",
        dm_channel_id=channel,
        message_ts=ts,
        sent_at=tick.now,
        failure_reason=None,
    )
    tick.report.sent += 1


def _settle(
    tick: Tick, invitation: Invitation, expected: tuple[str, str | None], **values: object
) -> None:
    """Record an outcome only if the row is still as `expected` (status, claim owner): a
    claim taken over by another process is that process's to settle."""
    status, owner = expected
    conditions = [col(Invitation.id) == invitation.id, col(Invitation.status) == status]
    if owner is not None:
        conditions.append(col(Invitation.claimed_by) == owner)
    with session_scope(tick.engine) as session:
        session.execute(update(Invitation).where(*conditions).values(**values))


def recover_abandoned_claims(tick: Tick) -> None:
    """Settle sends whose claimant died: delivered if Slack has the message, else retried.

    When Slack cannot be asked (rate limit, outage), the claim is left for the next tick:
    resending on uncertainty is how a leader gets the pulse twice.
    """
    wall = tick.worker.clock()
    with session_scope(tick.engine) as session:
        invitations = session.exec(select(Invitation).where(Invitation.status == "sending")).all()
        runs = session.exec(select(PulseRun).where(PulseRun.channel_post_state == "posting")).all()
    for invitation in invitations:
        if not is_abandoned(invitation.claimed_by, invitation.claimed_at, wall):
            continue
        try:
            found = tick.messenger.find_delivered(
                invitation.user_id, marker=marker("invitation", invitation.id)
            )
        except DeliveryError as error:
            tick.report.errors.append(f"recovering invitation {invitation.id}: {error.reason}")
            continue
        values: dict[str, object] = (
            {
                "status": "sent",
                "dm_channel_id": found[0],
                "message_ts": found[1],
                "sent_at": tick.now,
            }
            if found
            else DM_SEND.released
        )
        with session_scope(tick.engine) as session:
            settled = settle_claim(
                session, Invitation, invitation.id, DM_SEND, invitation.claimed_by, **values
            )
        tick.report.recovered += int(settled)
    for run in runs:
        if not is_abandoned(run.channel_post_claimed_by, run.channel_post_claimed_at, wall):
            continue
        assert run.channel_id is not None
        try:
            found = tick.messenger.find_delivered(run.channel_id, marker=marker("run", run.id))
        except DeliveryError as error:
            tick.report.errors.append(f"recovering run {run.id}: {error.reason}")
            continue
        owner = run.channel_post_claimed_by
        with session_scope(tick.engine) as session:
            settled = settle_claim(
                session, PulseRun, run.id, CHANNEL_POST, owner, **CHANNEL_POST.released
            )
            if found and settled:
                _mark_channel_posted(session, run, found[1], tick.now)
        tick.report.recovered += int(settled)
