"""Query functions shared by the domain's modules."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import Answer, Invitation


def run_progress(*, session: Session, run_id: int) -> tuple[int, int]:
    """(answered, invited) for a run; members whose delivery failed are not counted invited."""
    invited = session.exec(
        select(func.count())
        .select_from(Invitation)
        .where(Invitation.run_id == run_id, col(Invitation.status) != "failed")
    ).one()
    answered = session.exec(
        select(func.count()).select_from(Answer).where(Answer.run_id == run_id)
    ).one()
    return int(answered), int(invited)
