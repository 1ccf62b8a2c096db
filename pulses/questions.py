"""The questions a pulse asks: the default set (one statement per dimension, then focus, the
pressure item and friction), the versions a workspace asks now, and editing them, where every
new wording is a new version."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pulses import dimensions
from pulses.audit import Change, InvalidChange, Words, audited, unchanged, words
from pulses.i18n import N_, _
from storage.models import Question
from storage.queries import PRESSURE_KIND

FOCUS = "focus"
FRICTION = "friction"
# The focus question's kinds: one choice (version 1, still readable), or shares of attention.
SINGLE_CHOICE = "focus"
ATTENTION = "attention"
FOCUS_KINDS: Final = (SINGLE_CHOICE, ATTENTION)
# The pressure item: context for the index, never part of it. Its own kind (and key), so the
# index, rwg(j) and every dimension figure, which read only "likert" items, cannot take it in.
PRESSURE = PRESSURE_KIND
PRESSURE_TEXT: Final = (
    "This week, my area was under heavy pressure: tight deadlines, escalations or "
    "competing demands."
)
MAX_QUESTION_TEXT: Final = 500
# A pulse should take a leader under a minute: a handful of statements, not a survey.
MAX_LIKERT_ITEMS: Final = 10
_QUESTION_KEY = re.compile(r"[a-z][a-z0-9_]{1,31}")


@dataclass(frozen=True)
class DefaultQuestion:
    key: str
    kind: str
    text: str


def default_questions() -> tuple[DefaultQuestion, ...]:
    """A new workspace's questions: each dimension's statement, then focus, pressure and
    friction.

    Read from the registry at call time, so a dimension added there is asked at once.
    """
    return (
        *(DefaultQuestion(d.key, "likert", d.statement) for d in dimensions.DIMENSIONS),
        DefaultQuestion(
            FOCUS,
            ATTENTION,
            "What share of your leadership attention went to each priority this week?",
        ),
        DefaultQuestion(PRESSURE, PRESSURE, PRESSURE_TEXT),
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


QUESTION_NEW_KEY = "question_new_key"
QUESTION_NEW_TEXT = "question_new_text"


def question_field(key: str) -> str:
    return f"question_{key}"


@dataclass(frozen=True)
class QuestionEdits:
    """New wording by question key, and optionally a new Likert item with its dimension key."""

    texts: Mapping[str, str] = field(default_factory=dict)
    new_key: str | None = None
    new_text: str | None = None


def apply_questions(
    *, session: Session, workspace_id: int, edits: QuestionEdits, user_id: str, now: datetime
) -> Change:
    """Every changed wording becomes a new version; a version is never rewritten.

    Runs record the exact question ids they asked, so a trend can say where wording changed.
    """
    current = {q.key: q for q in current_questions(session=session, workspace_id=workspace_id)}
    problems: dict[str, str] = {}
    changed: dict[str, str] = {}
    for key, text in edits.texts.items():
        question = current.get(key)
        if question is None:
            continue
        wording = " ".join(text.split())
        if not wording:
            problems[question_field(key)] = _("A question needs some wording.")
        elif len(wording) > MAX_QUESTION_TEXT:
            problems[question_field(key)] = _too_long()
        elif wording != question.text:
            changed[key] = wording
    new_key = (edits.new_key or "").strip().lower()
    new_text = " ".join((edits.new_text or "").split())
    if new_key or new_text:
        if not new_key:
            problems[QUESTION_NEW_KEY] = _("Name the dimension this statement measures.")
        elif not _QUESTION_KEY.fullmatch(new_key):
            problems[QUESTION_NEW_KEY] = _(
                "Use 2–32 lowercase letters, digits or _, starting with a letter "
                "(e.g. customer_focus)."
            )
        elif new_key in (FOCUS, FRICTION, PRESSURE) or _key_exists(session, workspace_id, new_key):
            problems[QUESTION_NEW_KEY] = _(
                "'{key}' exists already; edit its wording above instead."
            ).format(key=new_key)
        elif sum(1 for q in current.values() if q.kind == "likert") >= MAX_LIKERT_ITEMS:
            problems[QUESTION_NEW_KEY] = _(
                "A pulse has at most {n} statements, so it stays under a minute."
            ).format(n=MAX_LIKERT_ITEMS)
        if not new_text:
            problems[QUESTION_NEW_TEXT] = _("Write the statement leaders will rate from 1 to 5.")
        elif len(new_text) > MAX_QUESTION_TEXT:
            problems[QUESTION_NEW_TEXT] = _too_long()
    if problems:
        raise InvalidChange(problems)
    lines: list[Words] = []
    for key, wording in changed.items():
        question = current[key]
        version = _latest_version(session, workspace_id, key) + 1
        session.add(
            Question(
                workspace_id=workspace_id,
                key=key,
                kind=question.kind,
                text=wording,
                version=version,
                position=question.position,
                created_at=now,
            )
        )
        line = N_("new wording for '{key}' (version {version}): \"{wording}\"")
        lines.append(words(line, key=key, version=str(version), wording=wording))
    if new_key:
        position = max((q.position for q in current.values()), default=-1) + 1
        session.add(
            Question(
                workspace_id=workspace_id,
                key=new_key,
                kind="likert",
                text=new_text,
                version=1,
                position=position,
                created_at=now,
            )
        )
        lines.append(words(N_("added statement '{key}': \"{text}\""), key=new_key, text=new_text))
    if not lines:
        return unchanged(None)
    try:
        session.flush()
    except IntegrityError:
        # Another admin saved a version of the same question at the same moment.
        field = question_field(next(iter(changed))) if changed else QUESTION_NEW_KEY
        raise InvalidChange(
            {
                field: _(
                    "Someone else changed the questions just now. Close this and run "
                    "/coherence questions again to see their change."
                )
            }
        ) from None
    return audited(session, workspace_id, None, user_id, lambda: [write() for write in lines], now)


def _too_long() -> str:
    return _("Keep it under {n} characters.").format(n=MAX_QUESTION_TEXT + 1)


def _key_exists(session: Session, workspace_id: int, key: str) -> bool:
    found = session.exec(
        select(Question.id).where(Question.workspace_id == workspace_id, Question.key == key)
    ).first()
    return found is not None


def _latest_version(session: Session, workspace_id: int, key: str) -> int:
    latest = session.exec(
        select(func.max(Question.version)).where(
            Question.workspace_id == workspace_id, Question.key == key
        )
    ).one()
    return int(latest or 0)


def question_versions(*, session: Session, workspace_id: int) -> dict[str, list[Question]]:
    """Every version of every question, oldest first, by key."""
    versions: dict[str, list[Question]] = {}
    for question in session.exec(
        select(Question)
        .where(Question.workspace_id == workspace_id)
        .order_by(col(Question.key), col(Question.version))
    ):
        versions.setdefault(question.key, []).append(question)
    return versions
