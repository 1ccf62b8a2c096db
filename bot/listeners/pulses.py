"""Answering a pulse: the Answer button opens the modal; submitting records the answer."""

from __future__ import annotations

import json
from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import select

from bot.services import services_of
from bot.views.pulse import (
    ANSWER_ACTION,
    FOCUS_ACTION,
    FOCUS_OTHER_BLOCK,
    FRICTION_ACTION,
    SCORE_ACTION,
    SUBMIT_CALLBACK,
    closed_message,
    notice_modal,
    pulse_modal,
)
from pulses.answers import (
    AnswerInput,
    InvalidAnswer,
    NotInvited,
    PulseClosed,
    ensure_open,
    pulse_form,
    record_answer,
)
from pulses.dispatch import confirm_dm_answer, refresh_channel_progress
from pulses.questions import FOCUS, FRICTION
from storage.db import session_scope
from storage.models import Answer, AnswerScore, Invitation, LeadershipGroup, PulseRun

NOT_INVITED = (
    "This pulse went to the members of the group when it was sent, and you were not one of "
    "them. You will get the next one."
)


def open_pulse_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, logger: Logger
) -> None:
    # The trigger_id expires three seconds after the click: acknowledge, then open at once.
    ack()
    services = services_of(context)
    user_id = body["user"]["id"]
    run_id = int(body["actions"][0]["value"])
    now = services.clock()
    with session_scope(services.engine) as session:
        run = session.get(PulseRun, run_id)
        group = session.get(LeadershipGroup, run.group_id) if run else None
        if run is None or group is None:
            view = notice_modal("Pulse not found", "This pulse no longer exists.")
        else:
            invitation = session.exec(
                select(Invitation).where(Invitation.run_id == run_id, Invitation.user_id == user_id)
            ).first()
            try:
                ensure_open(run, now)
            except PulseClosed as closed:
                view = notice_modal(
                    "Pulse closed", closed_message(closed.closed_at, group.timezone)
                )
            else:
                if invitation is None:
                    view = notice_modal("Not in this pulse", NOT_INVITED)
                else:
                    previous = session.exec(
                        select(Answer).where(Answer.run_id == run_id, Answer.user_id == user_id)
                    ).first()
                    scores = (
                        {
                            s.question_id: s.score
                            for s in session.exec(
                                select(AnswerScore).where(AnswerScore.answer_id == previous.id)
                            )
                        }
                        if previous
                        else {}
                    )
                    view = pulse_modal(
                        pulse_form(session=session, run=run),
                        group_name=group.channel_name,
                        previous=previous,
                        previous_scores=scores,
                    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def parse_submission(state: dict[str, dict[str, dict[str, Any]]]) -> AnswerInput:
    """The modal's state.values as an AnswerInput (validation happens in the domain)."""
    scores: dict[int, int | None] = {}
    for block_id, actions in state.items():
        if block_id.isdigit() and SCORE_ACTION in actions:
            option = actions[SCORE_ACTION].get("selected_option") or {}
            value = option.get("value")
            scores[int(block_id)] = int(value) if value and value.isdigit() else None
    focus = ((state.get(FOCUS, {}).get(FOCUS_ACTION) or {}).get("selected_option") or {}).get(
        "value"
    )
    focus_other = (state.get(FOCUS_OTHER_BLOCK, {}).get(FOCUS_OTHER_BLOCK) or {}).get("value")
    friction = (state.get(FRICTION, {}).get(FRICTION_ACTION) or {}).get("value")
    return AnswerInput(scores=scores, focus=focus, focus_other=focus_other, friction=friction)


def submit_pulse(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, logger: Logger
) -> None:
    services = services_of(context)
    user_id = body["user"]["id"]
    run_id = int(json.loads(view["private_metadata"])["run_id"])
    submitted = parse_submission(view["state"]["values"])
    now = services.clock()
    try:
        with session_scope(services.engine) as session:
            record_answer(
                session=session, run_id=run_id, user_id=user_id, submitted=submitted, now=now
            )
    except InvalidAnswer as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    except PulseClosed as closed:
        with session_scope(services.engine) as session:
            run = session.get(PulseRun, run_id)
            group = session.get(LeadershipGroup, run.group_id) if run else None
            zone = group.timezone if group else "UTC"
        message = closed_message(closed.closed_at, zone)
        ack(response_action="update", view=notice_modal("Pulse closed", message))
        return
    except NotInvited:
        ack(response_action="update", view=notice_modal("Not in this pulse", NOT_INVITED))
        return
    ack()
    # After the acknowledgement: updating messages may wait on Slack's rate limits.
    try:
        refresh_channel_progress(
            engine=services.engine, messenger=services.messenger, run_id=run_id
        )
        confirm_dm_answer(
            engine=services.engine, messenger=services.messenger, run_id=run_id, user_id=user_id
        )
    except Exception:
        logger.exception("Could not update the pulse message after an answer")


def register(app: App) -> None:
    app.action(ANSWER_ACTION)(open_pulse_modal)
    app.view(SUBMIT_CALLBACK)(submit_pulse)
