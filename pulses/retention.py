"""What is kept, and for how long: old friction comments go, and a workspace can go entirely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from pulses.claims import rows_changed
from storage.models import (
    Answer,
    AnswerScore,
    ConfigChange,
    DigestDelivery,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
    RunFigures,
    SkipDate,
    Workspace,
)

# About six months: long enough to compare a half-year's digests, short enough that a
# comment written in a bad week does not sit in the database for ever.
FRICTION_RETENTION_WEEKS = 26


def forget_old_friction(
    *, session: Session, now: datetime, weeks: int = FRICTION_RETENTION_WEEKS
) -> int:
    """Blank the friction comments of runs that closed more than `weeks` ago; how many.

    Scores and focus stay, so every digest's figures are unchanged. An answer has no time of
    its own, so a comment is as old as its run's end.
    """
    expired = select(PulseRun.id).where(
        col(PulseRun.status) == "closed", col(PulseRun.closes_at) < now - timedelta(weeks=weeks)
    )
    forgotten = session.execute(
        update(Answer)
        .where(col(Answer.run_id).in_(expired), col(Answer.friction).is_not(None))
        .values(friction=None)
    )
    return rows_changed(forgotten)


@dataclass(frozen=True)
class Purged:
    """What `purge_workspace` deleted: how many groups and runs (answers went with them)."""

    groups: int
    runs: int


def purge_workspace(*, session: Session, team_id: str) -> Purged | None:
    """Delete every row of the workspace `team_id`; None if Coherence has none.

    Children go before their parents, so the foreign keys hold at every step.
    """
    workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
    if workspace is None or workspace.id is None:
        return None
    group_ids = list(
        session.exec(select(LeadershipGroup.id).where(LeadershipGroup.workspace_id == workspace.id))
    )
    run_ids = list(session.exec(select(PulseRun.id).where(col(PulseRun.group_id).in_(group_ids))))
    for statement in (
        delete(AnswerScore).where(col(AnswerScore.run_id).in_(run_ids)),
        delete(RunFigures).where(col(RunFigures.run_id).in_(run_ids)),
        delete(Answer).where(col(Answer.run_id).in_(run_ids)),
        delete(Invitation).where(col(Invitation.run_id).in_(run_ids)),
        delete(DigestDelivery).where(
            or_(
                col(DigestDelivery.workspace_id) == workspace.id,
                col(DigestDelivery.run_id).in_(run_ids),
            )
        ),
        delete(PulseRun).where(col(PulseRun.id).in_(run_ids)),
        delete(SkipDate).where(col(SkipDate.group_id).in_(group_ids)),
        delete(Priority).where(col(Priority.workspace_id) == workspace.id),
        delete(Question).where(col(Question.workspace_id) == workspace.id),
        delete(ConfigChange).where(col(ConfigChange.workspace_id) == workspace.id),
        delete(LeadershipGroup).where(col(LeadershipGroup.id).in_(group_ids)),
        delete(Workspace).where(col(Workspace.id) == workspace.id),
    ):
        session.execute(statement)
    return Purged(groups=len(group_ids), runs=len(run_ids))
