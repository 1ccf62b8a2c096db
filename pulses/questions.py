"""The default question set (one statement per dimension, then focus and friction) and the
versions a workspace currently asks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from pulses import dimensions
from storage.models import Question

FOCUS = "focus"
FRICTION = "friction"


@dataclass(frozen=True)
class DefaultQuestion:
    key: str
    kind: str
    text: str


def default_questions() -> tuple[DefaultQuestion, ...]:
    """A new workspace's questions: each dimension's statement, then focus and friction.

    Read from the registry at call time, so a dimension added there is asked at once.
    """
    return (
        *(DefaultQuestion(d.key, "likert", d.statement) for d in dimensions.DIMENSIONS),
        DefaultQuestion(
            FOCUS, "focus", "Which priority took most of your leadership attention this week?"
        ),
        DefaultQuestion(FRICTION, "friction", "Where did you feel friction this week?"),
    )


LIKERT_LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neutral",
    4: "Agree",
    5: "Strongly agree",
}


def seed_default_questions(*, session: Session, workspace_id: int) -> None:
    """Give a new workspace version 1 of every default question (idempotent)."""
    existing = session.exec(select(Question.key).where(Question.workspace_id == workspace_id)).all()
    for position, question in enumerate(default_questions()):
        if question.key not in existing:
            session.add(
                Question(
                    workspace_id=workspace_id,
                    key=question.key,
                    kind=question.kind,
                    text=question.text,
                    position=position,
                )
            )
    session.flush()


def current_questions(*, session: Session, workspace_id: int) -> list[Question]:
    """The latest active version of each question, in display order."""
    rows = session.exec(
        select(Question)
        .where(Question.workspace_id == workspace_id, col(Question.active).is_(True))
        .order_by(col(Question.key), col(Question.version).desc())
    ).all()
    latest: dict[str, Question] = {}
    for question in rows:
        latest.setdefault(question.key, question)
    return sorted(latest.values(), key=lambda q: (q.position, q.key))
