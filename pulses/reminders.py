"""Reminding, once, each member who was sent the pulse and has not answered by their time."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import update
from sqlmodel import col

from pulses.claims import REMINDER
from pulses.delivery import due_invitations
from pulses.notices import claim_with_notice
from pulses.ports import DeliveryError
from pulses.ticks import Tick
from storage.db import session_scope
from storage.models import Invitation, PulseRun


def send_reminders(tick: Tick) -> None:
    """Remind, once, each delivered member who has not answered by their reminder time; a
    member away today is not reminded."""
    now = tick.now
    due = due_invitations(
        tick,
        col(PulseRun.closes_at) > now,
        col(Invitation.status) == "sent",
        col(Invitation.reminder_state) == "pending",
        col(Invitation.remind_at).is_not(None),
        col(Invitation.remind_at) <= now,
        col(Invitation.answered).is_(False),
    )
    for invitation, run, _, away in due:
        if tick.stopping:
            return
        if away:
            _set_reminder_state(tick, invitation, "away")
            continue
        notice = claim_with_notice(tick, Invitation, invitation.id, REMINDER, invitation.run_id)
        if notice is None:
            continue
        try:
            # Only this member sees the reminder (a DM, or ephemeral): in their own zone.
            tick.messenger.remind(
                invitation.user_id,
                replace(notice, timezone=invitation.timezone),
                in_channel=run.delivery_mode == "channel",
            )
        except DeliveryError as error:
            # A reminder carries no marker to look up: one that may have gone out is not sent
            # again (a missing nudge is better than a second one).
            retry = not (error.permanent or error.ambiguous)
            _set_reminder_state(tick, invitation, "pending" if retry else "failed")
            tick.report.errors.append(f"reminder {invitation.id}: {error.reason}")
            continue
        _set_reminder_state(tick, invitation, "sent", reminded_at=now)
        tick.report.reminded += 1


def _set_reminder_state(tick: Tick, invitation: Invitation, state: str, **values: object) -> None:
    with session_scope(tick.engine) as session:
        session.execute(
            update(Invitation)
            .where(col(Invitation.id) == invitation.id)
            .values(reminder_state=state, **values)
        )
