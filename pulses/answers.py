"""Answering a pulse: what the modal shows, what an answer must be (validated, refused after
closing), and the messages refreshed once it is in. Storing it: `pulses.recording`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pulses.i18n import _
from pulses.notices import notice_for
from pulses.ports import Messenger
from pulses.pseudonyms import pseudonym_in_run
from pulses.questions import ATTENTION, FOCUS, FOCUS_KINDS, FRICTION, LIKERT_LABELS, PRESSURE
from storage.db import read_scope
from storage.models import (
    Answer,
    AnswerFocus,
    AnswerScore,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
)

OTHER = "other"
FOCUS_OTHER_MAX = 200
FRICTION_MAX = 1000
# Shares of attention are given in steps of 10%, stored in tenths.
SHARE_STEPS = tuple(range(0, 101, 10))


def share_field(key: str) -> str:
    """The field of the share given to a priority key (its id as text, or OTHER)."""
    return f"share_{key}"


@dataclass(frozen=True)
class PulseForm:
    """The questions and priorities one run asks, in order.

    ``focus`` is the focus question's version: kind "focus" asks for one choice, kind
    "attention" for a share of attention on each priority and on something else.
    ``pressure`` is the pressure item (1–5, context, never part of the index); None for runs
    sent before it was asked.
    """

    run: PulseRun
    likert: list[Question]
    focus: Question | None
    friction: Question | None
    priorities: list[Priority]
    pressure: Question | None = None

    @property
    def rated(self) -> list[Question]:
        """The questions answered on the 1–5 scale: the statements, then the pressure item."""
        return self.likert + ([self.pressure] if self.pressure is not None else [])

    @property
    def asks_shares(self) -> bool:
        return self.focus is not None and self.focus.kind == ATTENTION

    @property
    def focus_keys(self) -> list[str]:
        """The keys a focus answer may name: each priority's id as text, then OTHER."""
        return [str(p.id) for p in self.priorities] + [OTHER]


@dataclass(frozen=True)
class AnswerInput:
    """What a person submitted, before validation. Scores (the statements' and the pressure
    item's) keyed by question id.

    ``focus`` answers the single-choice question; ``shares`` the attention question: a
    percentage (0, 10, … 100) by priority key, a key left out counting as 0.
    """

    scores: dict[int, int | None]
    focus: str | None  # a priority id as text, or OTHER
    focus_other: str | None
    friction: str | None
    shares: Mapping[str, int | None] = field(default_factory=dict)


@dataclass
class InvalidAnswer(Exception):
    """Field-level problems, keyed by question id or "focus_other", shown inline in the modal."""

    problems: dict[str, str] = field(default_factory=dict)


class PulseClosed(Exception):
    """The run's window has ended; nothing was stored. `timezone` is the reader's: their
    invitation's zone, or the group's for someone not invited."""

    def __init__(self, closed_at: datetime, timezone: str) -> None:
        super().__init__(f"closed at {closed_at.isoformat()}")
        self.closed_at = closed_at
        self.timezone = timezone


class NotInvited(Exception):
    """The person was not a member of the group when this pulse was sent."""


class PulseNotFound(Exception):
    """The run, or its group, no longer exists."""


class AnswerLocked(Exception):
    """The member answered already, under a pseudonym this key cannot find any more.

    That happens when the pseudonym key changed (or was not set and the process restarted),
    or when the answer came from before answers were pseudonymised: the earlier answer cannot
    be replaced, and adding a second would count the member twice.
    """


@dataclass(frozen=True)
class AnswerSheet:
    """What the answer modal shows one member: the run's form, prefilled with their answer."""

    form: PulseForm
    group_name: str
    previous: Answer | None
    previous_scores: dict[int, int]
    # The earlier answer's shares in percent by priority key; a single choice is 100.
    previous_shares: dict[str, int] = field(default_factory=dict)
    # The group's language: the modal speaks it.
    language: str = "en"


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
        focus=next((q for kind in FOCUS_KINDS for q in by_kind.get(kind, [])), None),
        friction=next(iter(by_kind.get(FRICTION, [])), None),
        priorities=sorted(priorities, key=lambda p: (p.position, p.id or 0)),
        pressure=next(iter(by_kind.get(PRESSURE, [])), None),
    )


def validate(form: PulseForm, submitted: AnswerInput) -> None:
    """Raise InvalidAnswer naming each field that is missing or out of range."""
    problems: dict[str, str] = {}
    for question in form.rated:
        assert question.id is not None
        score = submitted.scores.get(question.id)
        if score is None:
            problems[str(question.id)] = _("Please pick one answer.")
        elif score not in LIKERT_LABELS:
            problems[str(question.id)] = _("Answers go from 1 to 5.")
    if form.asks_shares:
        problems |= _share_problems(form, submitted)
    elif form.focus is not None:
        if submitted.focus not in form.focus_keys:
            problems[FOCUS] = _("Please pick the priority that took most of your attention.")
        elif submitted.focus == OTHER and not (submitted.focus_other or "").strip():
            problems["focus_other"] = _("You picked “something else”: say briefly what it was.")
    if len((submitted.focus_other or "").strip()) > FOCUS_OTHER_MAX:
        problems["focus_other"] = _("Please keep this under {n} characters.").format(
            n=FOCUS_OTHER_MAX
        )
    if len((submitted.friction or "").strip()) > FRICTION_MAX:
        problems[FRICTION] = _("Please keep this under {n} characters.").format(n=FRICTION_MAX)
    if problems:
        raise InvalidAnswer(problems)


def _share_problems(form: PulseForm, submitted: AnswerInput) -> dict[str, str]:
    """Each share a step of 10% from 0 to 100, together 100%, something else named if given."""
    problems: dict[str, str] = {}
    total = 0
    for key in form.focus_keys:
        share = submitted.shares.get(key) or 0
        if share not in SHARE_STEPS:
            problems[share_field(key)] = _("Pick a share from 0% to 100%, in steps of 10%.")
        total += share
    if problems:
        return problems
    if total != 100:
        problems[share_field(OTHER)] = (
            _("Your shares add up to {total}%: together they need to make 100%.")
        ).format(total=total)
    elif (submitted.shares.get(OTHER) or 0) and not (submitted.focus_other or "").strip():
        problems["focus_other"] = _("You gave a share to something else: say briefly what it was.")
    return problems


def focus_tenths(form: PulseForm, submitted: AnswerInput) -> dict[int | None, int]:
    """A validated focus answer as tenths of attention by priority id (None: something else);
    a single choice is the whole attention, 10 tenths, on the chosen key."""
    if form.focus is None:
        return {}
    if form.asks_shares:
        percent = {key: submitted.shares.get(key) or 0 for key in form.focus_keys}
    else:
        percent = {str(submitted.focus): 100}
    return {
        (None if key == OTHER else int(key)): share // 10
        for key, share in percent.items()
        if share > 0
    }


def _ensure_open(
    session: Session, run: PulseRun, now: datetime, invitation: Invitation | None
) -> None:
    """Raise PulseClosed unless answers are still accepted."""
    if run.status not in ("open", "pending") or now >= run.closes_at:
        group = session.get(LeadershipGroup, run.group_id)
        zone = invitation.timezone if invitation else group.timezone if group else "UTC"
        # The announced close time, not when a tick happened to process it.
        raise PulseClosed(run.closes_at, zone)


def _invitation(session: Session, run_id: int, user_id: str) -> Invitation | None:
    return session.exec(
        select(Invitation).where(Invitation.run_id == run_id, Invitation.user_id == user_id)
    ).first()


def _answer(session: Session, run_id: int, tag: str) -> Answer | None:
    return session.exec(
        select(Answer).where(Answer.run_id == run_id, Answer.pseudonym == tag)
    ).first()


def _own_answer(
    session: Session, run: PulseRun, invitation: Invitation, key: bytes
) -> tuple[str, Answer | None]:
    """The member's pseudonym and earlier answer; AnswerLocked if the answer is beyond reach."""
    tag = pseudonym_in_run(session, run, user_id=invitation.user_id, key=key)
    answer = _answer(session, invitation.run_id, tag)
    if answer is None and invitation.answered:
        raise AnswerLocked
    return tag, answer


def answer_sheet(
    *, session: Session, run_id: int, user_id: str, now: datetime, key: bytes
) -> AnswerSheet:
    """The modal's content for `user_id`; raises PulseNotFound, PulseClosed, NotInvited or
    AnswerLocked."""
    run = session.get(PulseRun, run_id)
    group = session.get(LeadershipGroup, run.group_id) if run else None
    if run is None or group is None:
        raise PulseNotFound
    invitation = _invitation(session, run_id, user_id)
    _ensure_open(session, run, now, invitation)
    if invitation is None:
        raise NotInvited
    _, previous = _own_answer(session, run, invitation, key)
    scores: dict[int, int] = {}
    shares: dict[str, int] = {}
    if previous is not None:
        scores = {
            s.question_id: s.score
            for s in session.exec(select(AnswerScore).where(AnswerScore.answer_id == previous.id))
        }
        shares = {
            OTHER if f.priority_id is None else str(f.priority_id): f.tenths * 10
            for f in session.exec(select(AnswerFocus).where(AnswerFocus.answer_id == previous.id))
        }
    return AnswerSheet(
        form=pulse_form(session=session, run=run),
        group_name=group.channel_name,
        previous=previous,
        previous_scores=scores,
        previous_shares=shares,
        language=group.language,
    )


def confirm_dm_answer(*, engine: Engine, messenger: Messenger, run_id: int, user_id: str) -> None:
    """In DM mode, show the member that their answer is in (in their own time zone)."""
    with read_scope(engine) as session:
        run = session.get(PulseRun, run_id)
        if run is None or run.delivery_mode != "dm" or run.status != "open":
            return
        invitation = _invitation(session, run_id, user_id)
        if invitation is None or not invitation.dm_channel_id or not invitation.message_ts:
            return
        notice = replace(notice_for(session=session, run=run), timezone=invitation.timezone)
        channel, ts = invitation.dm_channel_id, invitation.message_ts
    messenger.confirm_answer(notice, channel=channel, ts=ts)


# Answers arriving together each refresh the counter; without ordering, an older count can
# reach Slack last and stick. Counting and updating under a per-run lock keeps the latest.
_PROGRESS_LOCKS = [threading.Lock() for _ in range(64)]


def refresh_channel_progress(*, engine: Engine, messenger: Messenger, run_id: int) -> None:
    """Update a channel pulse's "n of m answered" after an answer arrives."""
    with _PROGRESS_LOCKS[run_id % len(_PROGRESS_LOCKS)]:
        # Only reads: it never queues for the write lock behind the answers it counts.
        with read_scope(engine) as session:
            run = session.get(PulseRun, run_id)
            if run is None or run.delivery_mode != "channel" or not run.channel_message_ts:
                return
            if run.status != "open":
                return  # the close already drew the final state
            notice = notice_for(session=session, run=run)
            ts = run.channel_message_ts
        messenger.update_channel_pulse(notice, ts=ts)
