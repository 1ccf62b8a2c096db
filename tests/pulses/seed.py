"""Seeding leadership groups, pulse runs and answers straight into a migrated database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from pulses.dimensions import dimension_keys
from pulses.focus import OTHER
from pulses.intent import intent_in_force
from pulses.pseudonyms import unlink_answers
from pulses.questions import current_questions, seed_default_questions
from storage.models import (
    Answer,
    AnswerFocus,
    AnswerScore,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
    Workspace,
)

DIMENSIONS = dimension_keys()


@dataclass(frozen=True)
class Seeded:
    """One leader's answer set: scores by dimension key, and focus either as one choice (a
    priority name or OTHER: the share 1.0 on it) or as ``shares`` of attention by priority
    name or OTHER (multiples of 0.1 summing to 1)."""

    scores: Mapping[str, int]
    focus: str | None = None
    other: str | None = None
    friction: str | None = None
    shares: Mapping[str, float] | None = None

    def tenths(self) -> dict[str, int]:
        """The focus as tenths of attention by priority name or OTHER."""
        if self.shares is not None:
            tenths = {name: round(share * 10) for name, share in self.shares.items()}
            assert sum(tenths.values()) == 10, self.shares
            return {name: t for name, t in tenths.items() if t > 0}
        return {self.focus: 10} if self.focus is not None else {}


def uniform(score: int) -> dict[str, int]:
    return dict.fromkeys(DIMENSIONS, score)


@dataclass
class Org:
    """A seeded workspace: its id, questions by key and priorities by name."""

    workspace_id: int
    questions: dict[str, Question]
    priorities: dict[str, Priority] = field(default_factory=dict)

    def priority_key(self, name: str) -> str:
        return OTHER if name == OTHER else str(self.priorities[name].id)


def seed_org(
    session: Session,
    *,
    team_id: str = "T0SANDBOX",
    priorities: Sequence[str] = ("Enterprise expansion", "Billing revamp", "Hiring"),
    weights: Sequence[float | None] | None = None,
) -> Org:
    workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
    if workspace is None:
        workspace = Workspace(team_id=team_id, name="Sandbox")
        session.add(workspace)
        session.flush()
    assert workspace.id is not None
    seed_default_questions(session=session, workspace_id=workspace.id)
    questions = {q.key: q for q in current_questions(session=session, workspace_id=workspace.id)}
    org = Org(workspace_id=workspace.id, questions=questions)
    for position, name in enumerate(priorities):
        weight = weights[position] if weights else None
        priority = Priority(workspace_id=workspace.id, name=name, weight=weight, position=position)
        session.add(priority)
        org.priorities[name] = priority
    session.flush()
    return org


def seed_group(
    session: Session,
    org: Org,
    *,
    channel_id: str = "C0EXEC",
    name: str = "exec-team",
    layer: str | None = None,
    threshold: int = 5,
    timezone: str = "UTC",
    digest_weekday: int | None = None,
    digest_time: str = "09:00",
    digest_channel_id: str | None = None,
) -> LeadershipGroup:
    group = LeadershipGroup(
        workspace_id=org.workspace_id,
        channel_id=channel_id,
        channel_name=name,
        layer=layer,
        anonymity_threshold=threshold,
        timezone=timezone,
        digest_weekday=digest_weekday,
        digest_time=digest_time,
        digest_channel_id=digest_channel_id,
    )
    session.add(group)
    session.flush()
    return group


def seed_run(
    session: Session,
    org: Org,
    group: LeadershipGroup,
    day: date,
    answers: Sequence[Seeded],
    *,
    invited: int | None = None,
    status: str = "closed",
    questions: Mapping[str, Question] | None = None,
    closes_at: datetime | None = None,
) -> PulseRun:
    """A run on ``day`` with the given answers; invited defaults to the number of answers."""
    asked = dict(questions or org.questions)
    scheduled = datetime.combine(day, time(9), tzinfo=UTC)
    closing = closes_at or scheduled + timedelta(hours=48)
    run = PulseRun(
        group_id=group.id or 0,
        occurrence_day=day,
        scheduled_at=scheduled,
        status=status,
        closes_at=closing,
        closed_at=closing if status == "closed" else None,
        question_ids=",".join(str(q.id) for q in asked.values()),
        priority_ids=",".join(str(p.id) for p in org.priorities.values()),
        intent_version_id=intent_in_force(session=session, group=group, now=scheduled).id,
        anonymity_threshold=group.anonymity_threshold,
        channel_id=group.channel_id,
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    total = len(answers) if invited is None else invited
    collecting = status in ("open", "pending")
    for index in range(total):
        session.add(
            Invitation(
                run_id=run.id,
                user_id=f"U{index:05d}",
                send_at=scheduled,
                status="sent",
                # Only a run still collecting answers knows who answered it.
                answered=collecting and index < len(answers),
            )
        )
    session.flush()
    for seeded in answers:
        tenths = seeded.tenths()
        answer = Answer(
            run_id=run.id,
            focus_other=(seeded.other or "something") if OTHER in tenths else None,
            friction=seeded.friction,
        )
        session.add(answer)
        session.flush()
        assert answer.id is not None
        session.add_all(
            AnswerFocus(
                answer_id=answer.id,
                run_id=run.id,
                priority_id=None if name == OTHER else org.priorities[name].id,
                tenths=share,
            )
            for name, share in tenths.items()
        )
        for key, score in seeded.scores.items():
            question = asked[key]
            assert question.id is not None
            session.add(
                AnswerScore(
                    answer_id=answer.id, run_id=run.id, question_id=question.id, score=score
                )
            )
    session.flush()
    if status == "closed":
        # As a real close leaves it: the answers unlinked and the run's figures packed.
        unlink_answers(session, run.id)
    return run


def weekly(start: date, count: int) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(count)]
