"""What a pulse message shows for a run: its progress counts, never who answered."""

from __future__ import annotations

from sqlmodel import Session

from pulses.ports import PulseNotice
from storage.models import LeadershipGroup, PulseRun
from storage.queries import run_progress


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
