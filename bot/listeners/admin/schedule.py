"""The text forms that change when a group's pulses go out: cadence, pause, resume, skip.

Each answers with what changed and the next send, or with the problem and the usage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt import Ack, BoltContext
from sqlmodel import Session

from bot.i18n import N_, SOURCE_LOCALE, _, speaking
from bot.listeners.admin.access import Caller, caller_of
from bot.listeners.commands import group_id_of, parsed_as
from bot.services import Services, services_of
from bot.views.admin.replies import change_text, next_send_text, problems_text
from pulses import schedule
from pulses.audit import Change, InvalidChange
from pulses.commands import USAGE, Skip
from pulses.schedule import CadenceChange
from storage.db import session_scope
from storage.models import LeadershipGroup

# What a text form does to the channel's group: (session, group, now, user id, context).
GroupChange = Callable[[Session, LeadershipGroup, datetime, str, BoltContext], Change]


def next_send_line(services: Services, group_id: int, caller: Caller) -> str:
    """When the group's next pulse goes out, in the caller's time, or why none is due."""
    with session_scope(services.engine) as session:
        group = session.get(LeadershipGroup, group_id)
        if group is None:
            return ""
        upcoming = schedule.next_send(session=session, group=group, now=services.clock())
        return next_send_text(
            upcoming,
            timezone=caller.timezone,
            paused=group.paused,
            per_member=group.per_member_time,
        )


def group_change(
    apply: GroupChange, usage: str, note: str | None = None
) -> Callable[[Ack, BoltContext], None]:
    """A listener that applies one change to the channel's group and answers with what
    changed and the next send (or the problem and the usage, with ``note``, changing
    nothing), in the group's language."""

    def change_group(ack: Ack, context: BoltContext) -> None:
        services = services_of(context)
        caller = caller_of(context)
        group_id = group_id_of(context)
        language = SOURCE_LOCALE  # until the group is read
        try:
            with session_scope(services.engine) as session:
                group = session.get(LeadershipGroup, group_id)
                assert group is not None
                language = group.language
                with speaking(language):
                    change = apply(session, group, services.clock(), caller.user_id, context)
        except InvalidChange as invalid:
            with speaking(language):
                ack(text=problems_text(invalid, f"{usage} {_(note)}" if note else usage))
            return
        with speaking(language):
            ack(text=change_text(change, extra=next_send_line(services, group_id, caller)))

    return change_group


change_cadence = group_change(
    lambda session, group, now, user_id, context: schedule.change_cadence(
        session=session,
        group=group,
        change=parsed_as(context, CadenceChange),
        user_id=user_id,
        now=now,
    ),
    USAGE["cadence"],
    N_("(the answer window and reminder are in `/coherence setup`)"),
)
pause = group_change(
    lambda session, group, now, user_id, context: schedule.pause(
        session=session, group=group, user_id=user_id, now=now
    ),
    USAGE["pause"],
)
resume = group_change(
    lambda session, group, now, user_id, context: schedule.resume(
        session=session, group=group, user_id=user_id, now=now
    ),
    USAGE["resume"],
)
skip = group_change(
    lambda session, group, now, user_id, context: schedule.skip(
        session=session, group=group, day=parsed_as(context, Skip).day, user_id=user_id, now=now
    ),
    USAGE["skip"],
)
