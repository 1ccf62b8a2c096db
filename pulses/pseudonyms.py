"""Answers unlinkable at rest: a keyed pseudonym while a run is open, nothing once it closes.

While a run is open, an answer carries HMAC-SHA256(key, workspace, run, user) so that a
resubmission finds and replaces it. Without the key the pseudonym names nobody; with the key
(the operator) it can be recomputed for each invited member, which is why the close erases
it, together with the invitations' "answered" flags, and re-inserts the run's answers and
scores in random order so that their ids say nothing about who answered first. The run's
figures (`storage.figures`) are packed in that same order.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from storage.figures import figures_of, store_figures
from storage.models import (
    Answer,
    AnswerFocus,
    AnswerScore,
    Invitation,
    LeadershipGroup,
    PulseRun,
    Workspace,
)

logger = logging.getLogger(__name__)

KEY_VARIABLE = "COHERENCE_PSEUDONYM_KEY"

# Without a configured key (the sandbox, tests, one-off tools) answers are keyed for the life
# of this process: a resubmission after a restart cannot find its earlier answer, and is
# refused rather than counted twice. `coherence serve` requires a configured key.
_PROCESS_KEY = secrets.token_bytes(32)
_SHUFFLE = random.SystemRandom()


def pseudonym_key(configured: str | None) -> bytes:
    """The configured key, or this process's random one when none is set."""
    if configured and configured.strip():
        return configured.strip().encode()
    return _PROCESS_KEY


def pseudonym(key: bytes, *, team_id: str, run_id: int, user_id: str) -> str:
    """The answer's tag for `user_id` in this workspace's run (64 hex characters)."""
    message = "\x1f".join((team_id, str(run_id), user_id)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonym_in_run(session: Session, run: PulseRun, *, user_id: str, key: bytes) -> str:
    """`user_id`'s pseudonym in `run`, keyed by the run's workspace."""
    assert run.id is not None
    team_id = session.exec(
        select(Workspace.team_id)
        .join(LeadershipGroup, col(LeadershipGroup.workspace_id) == Workspace.id)
        .where(LeadershipGroup.id == run.group_id)
    ).one()
    return pseudonym(key, team_id=team_id, run_id=run.id, user_id=user_id)


def unlink_answers(session: Session, run_id: int) -> None:
    """Erase every trace linking the run's answers to people; part of the close's transaction.

    Pseudonyms and "answered" flags go, and the answers, scores and shares of attention are
    re-inserted in random order, so neither an id nor the physical row order follows the order
    people answered in.
    """
    answers = list(
        session.exec(
            select(Answer.id, Answer.focus_other, Answer.friction).where(Answer.run_id == run_id)
        )
    )
    scores_of: dict[int, list[tuple[int, int]]] = {}
    for answer_id, question_id, score in session.exec(
        select(AnswerScore.answer_id, AnswerScore.question_id, AnswerScore.score).where(
            AnswerScore.run_id == run_id
        )
    ):
        scores_of.setdefault(answer_id, []).append((question_id, score))
    shares_of: dict[int, list[tuple[int | None, int]]] = {}
    for answer_id, priority_id, tenths in session.exec(
        select(AnswerFocus.answer_id, AnswerFocus.priority_id, AnswerFocus.tenths).where(
            AnswerFocus.run_id == run_id
        )
    ):
        shares_of.setdefault(answer_id, []).append((priority_id, tenths))
    session.execute(delete(AnswerFocus).where(col(AnswerFocus.run_id) == run_id))
    session.execute(delete(AnswerScore).where(col(AnswerScore.run_id) == run_id))
    session.execute(delete(Answer).where(col(Answer.run_id) == run_id))
    _SHUFFLE.shuffle(answers)
    for old_id, focus_other, friction in answers:
        new = Answer(run_id=run_id, focus_other=focus_other, friction=friction)
        session.add(new)
        session.flush()
        assert new.id is not None
        assert old_id is not None
        session.add_all(
            AnswerScore(answer_id=new.id, run_id=run_id, question_id=question_id, score=score)
            for question_id, score in scores_of.get(old_id, [])
        )
        session.add_all(
            AnswerFocus(answer_id=new.id, run_id=run_id, priority_id=priority_id, tenths=tenths)
            for priority_id, tenths in shares_of.get(old_id, [])
        )
    session.execute(
        update(Invitation).where(col(Invitation.run_id) == run_id).values(answered=False)
    )
    session.flush()
    # What every report will read of the run, packed once in the same random order.
    figures = figures_of(
        (scores_of.get(old_id or 0, []), shares_of.get(old_id or 0, [])) for old_id, _, _ in answers
    )
    store_figures(session.connection(), run_id, figures)
