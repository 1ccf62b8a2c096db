"""What a pulse message shows for a run: its progress counts, never who answered."""

from __future__ import annotations

from sqlmodel import Session, col, select

from pulses.away import away_count
from pulses.claims import ClaimColumns, claim_row
from pulses.ports import PulseNotice
from pulses.ticks import Tick
from storage.db import read_scope, session_scope
from storage.models import Invitation, LeadershipGroup, PulseRun
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
        away=away_count(session, run.id),
        language=group.language,
    )


def claim_with_notice(
    tick: Tick,
    table: type[PulseRun] | type[Invitation],
    row_id: int | None,
    columns: ClaimColumns,
    run_id: int,
    **also: object,
) -> PulseNotice | None:
    """Claim one send for this worker and read what its message shows, in one transaction;
    None when another process holds it, it is no longer pending, or its workspace has had
    its share of this round (`FairShares`: it is claimed in a later round of the tick)."""
    workspace_id = _workspace_of(tick, run_id)
    send = (f"{table.__tablename__}.{columns.state}", row_id or 0)
    if not tick.shares.has_turn(workspace_id, send):
        return None
    with session_scope(tick.engine) as session:
        if not claim_row(session, table, row_id, columns, tick.worker, **also):
            return None
        run = session.get(PulseRun, run_id)
        assert run is not None
        notice = notice_for(session=session, run=run)
    tick.shares.took(workspace_id, send)
    return notice


def _workspace_of(tick: Tick, run_id: int) -> int:
    known = tick.shares.workspaces.get(run_id)
    if known is not None:
        return known
    with read_scope(tick.engine) as session:
        workspace_id = session.exec(
            select(LeadershipGroup.workspace_id)
            .join(PulseRun, col(PulseRun.group_id) == LeadershipGroup.id)
            .where(PulseRun.id == run_id)
        ).one()
    tick.shares.workspaces[run_id] = workspace_id
    return workspace_id
