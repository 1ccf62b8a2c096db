"""Recording a leader's answers: validated, replaced on resubmission, refused after closing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pulses.questions import FOCUS, FRICTION, LIKERT_LABELS
from storage.models import Answer, AnswerScore, Invitation, Priority, PulseRun, Question

OTHER = "other"
FOCUS_OTHER_MAX = 200
FRICTION_MAX = 1000


@dataclass(frozen=True)
class PulseForm:
    """The questions and priorities one run asks, in order."""

    run: PulseRun
    likert: list[Question]
    focus: Question | None
    friction: Question | None
    priorities: list[Priority]


@dataclass(frozen=True)
class AnswerInput:
    """What a person submitted, before validation. Scores keyed by question id."""

    scores: dict[int, int | None]
    focus: str | None  # a priority id as text, or OTHER
    focus_other: str | None
    friction: str | None


@dataclass
class InvalidAnswer(Exception):
    """Field-level problems, keyed by question id or "focus_other", shown inline in the modal."""

    problems: dict[str, str] = field(default_factory=dict)


class PulseClosed(Exception):
    """The run's window has ended; nothing was stored."""

    def __init__(self, closed_at: datetime) -> None:
        super().__init__(f"closed at {closed_at.isoformat()}")
        self.closed_at = closed_at


class NotInvited(Exception):
    """The person was not a member of the group when this pulse was sent."""


def pulse_form(*, session: Session, run: PulseRun) -> PulseForm:
    """The exact question versions and priorities the run was created with."""
    question_ids = [int(q) for q in run.question_ids.split(",") if q]
    priority_ids = [int(p) for p in run.priority_ids.split(",") if p]
    questions = session.exec(select(Question).where(col(Question.id).in_(question_ids))).all()
    by_kind: dict[str, list[Question]] = {}
    for question in sorted(questions, key=lambda q: (q.position, q.key)):
        by_kind.setdefault(question.kind, []).append(question)
    priorities = session.exec(select(Priority).where(col(Priority.id).in_(priority_ids))).all()
    return PulseForm(
        run=run,
        likert=by_kind.get("likert", []),
        focus=next(iter(by_kind.get(FOCUS, [])), None),
        friction=next(iter(by_kind.get(FRICTION, [])), None),
        priorities=sorted(priorities, key=lambda p: (p.position, p.id or 0)),
    )


def validate(form: PulseForm, submitted: AnswerInput) -> None:
    """Raise InvalidAnswer naming each field that is missing or out of range."""
    problems: dict[str, str] = {}
    for question in form.likert:
        assert question.id is not None
        score = submitted.scores.get(question.id)
        if score is None:
            problems[str(question.id)] = "Please pick one answer."
        elif score not in LIKERT_LABELS:
            problems[str(question.id)] = "Answers go from 1 to 5."
    if form.focus is not None:
        allowed = {str(p.id) for p in form.priorities} | {OTHER}
        if submitted.focus not in allowed:
            problems[FOCUS] = "Please pick the priority that took most of your attention."
        elif submitted.focus == OTHER and not (submitted.focus_other or "").strip():
            problems["focus_other"] = "You picked “something else”: say briefly what it was."
    if len((submitted.focus_other or "").strip()) > FOCUS_OTHER_MAX:
        problems["focus_other"] = f"Please keep this under {FOCUS_OTHER_MAX} characters."
    if len((submitted.friction or "").strip()) > FRICTION_MAX:
        problems[FRICTION] = f"Please keep this under {FRICTION_MAX} characters."
    if problems:
        raise InvalidAnswer(problems)


def ensure_open(run: PulseRun, now: datetime) -> None:
    """Raise PulseClosed unless answers are still accepted."""
    if run.status not in ("open", "pending") or now >= run.closes_at:
        # The announced close time, not when a tick happened to process it.
        raise PulseClosed(run.closes_at)


def record_answer(
    *, session: Session, run_id: int, user_id: str, submitted: AnswerInput, now: datetime
) -> Answer:
    """Store or replace `user_id`'s answer set for the run; one per person per run."""
    run = session.get(PulseRun, run_id)
    if run is None:
        raise NotInvited
    ensure_open(run, now)
    invited = session.exec(
        select(Invitation).where(Invitation.run_id == run_id, Invitation.user_id == user_id)
    ).first()
    if invited is None:
        raise NotInvited
    form = pulse_form(session=session, run=run)
    validate(form, submitted)
    focus_id = int(submitted.focus) if submitted.focus not in (None, OTHER) else None
    values: dict[str, Any] = {
        "focus_priority_id": focus_id,
        "focus_other": (submitted.focus_other or "").strip() or None
        if submitted.focus == OTHER
        else None,
        "friction": (submitted.friction or "").strip() or None,
        "updated_at": now,
    }
    answer = session.exec(
        select(Answer).where(Answer.run_id == run_id, Answer.user_id == user_id)
    ).first()
    if answer is None:
        try:
            with session.begin_nested():
                answer = Answer(run_id=run_id, user_id=user_id, submitted_at=now, **values)
                session.add(answer)
        except IntegrityError:
            # The same submission arrived twice at once: the other copy created the row.
            answer = session.exec(
                select(Answer).where(Answer.run_id == run_id, Answer.user_id == user_id)
            ).one()
    for key, value in values.items():
        setattr(answer, key, value)
    session.add(answer)
    session.flush()
    assert answer.id is not None
    session.execute(delete(AnswerScore).where(col(AnswerScore.answer_id) == answer.id))
    for question in form.likert:
        assert question.id is not None
        score = submitted.scores[question.id]
        assert score is not None
        session.add(
            AnswerScore(answer_id=answer.id, run_id=run_id, question_id=question.id, score=score)
        )
    session.flush()
    return answer
