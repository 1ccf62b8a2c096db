"""Answering a pulse: the Answer button opens the modal; submitting records the answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.metrics import count_answer
from bot.services import Services, services_of
from bot.views.pulse import (
    ANSWER_ACTION,
    FOCUS_ACTION,
    FOCUS_OTHER_BLOCK,
    FRICTION_ACTION,
    SCORE_ACTION,
    SHARE_ACTION,
    SUBMIT_CALLBACK,
    closed_message,
    notice_modal,
    pulse_modal,
)
from pulses.answers import (
    AnswerInput,
    AnswerLocked,
    InvalidAnswer,
    NotInvited,
    PulseClosed,
    PulseNotFound,
    answer_sheet,
    confirm_dm_answer,
    record_answer,
    refresh_channel_progress,
    share_field,
)
from pulses.pseudonyms import pseudonym_key
from pulses.questions import FOCUS, FRICTION
from storage.db import session_scope

NOT_INVITED = (
    "This pulse went to the members of the group when it was sent, and you were not one of "
    "them. You will get the next one."
)
ANSWER_LOCKED = (
    "Your answer to this pulse is in, and it can no longer be changed: answers are kept "
    "apart from who gave them, and the link to yours is gone. You can answer the next one."
)
SUBMISSION_KEY = "pulse_submission"
SHARE_PREFIX = share_field("")
# Slack gives the acknowledgement three seconds; the lazy listener waits a little longer.
OUTCOME_WAIT_SECONDS = 10.0


def open_pulse_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, logger: Logger
) -> None:
    # The trigger_id expires three seconds after the click: acknowledge, then open at once.
    ack()
    services = services_of(context)
    user_id = body["user"]["id"]
    run_id = int(body["actions"][0]["value"])
    try:
        with session_scope(services.engine) as session:
            sheet = answer_sheet(
                session=session,
                run_id=run_id,
                user_id=user_id,
                now=services.clock(),
                key=_pseudonym_key(services),
            )
    except PulseNotFound:
        view = notice_modal("Pulse not found", "This pulse no longer exists.")
    except PulseClosed as closed:
        view = notice_modal("Pulse closed", closed_message(closed.closed_at, closed.timezone))
    except NotInvited:
        view = notice_modal("Not in this pulse", NOT_INVITED)
    except AnswerLocked:
        view = notice_modal("Answer received", ANSWER_LOCKED)
    else:
        view = pulse_modal(
            sheet.form,
            group_name=sheet.group_name,
            previous=sheet.previous,
            previous_scores=sheet.previous_scores,
            previous_shares=sheet.previous_shares,
        )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def parse_submission(state: dict[str, dict[str, dict[str, Any]]]) -> AnswerInput:
    """The modal's state.values as an AnswerInput (validation happens in the domain)."""
    scores: dict[int, int | None] = {}
    shares: dict[str, int | None] = {}
    for block_id, actions in state.items():
        if block_id.isdigit() and SCORE_ACTION in actions:
            option = actions[SCORE_ACTION].get("selected_option") or {}
            value = option.get("value")
            scores[int(block_id)] = int(value) if value and value.isdigit() else None
        elif block_id.startswith(SHARE_PREFIX) and SHARE_ACTION in actions:
            option = actions[SHARE_ACTION].get("selected_option") or {}
            value = option.get("value")
            shares[block_id.removeprefix(SHARE_PREFIX)] = (
                int(value) if value and value.isdigit() else None
            )
    focus = ((state.get(FOCUS, {}).get(FOCUS_ACTION) or {}).get("selected_option") or {}).get(
        "value"
    )
    focus_other = (state.get(FOCUS_OTHER_BLOCK, {}).get(FOCUS_OTHER_BLOCK) or {}).get("value")
    friction = (state.get(FRICTION, {}).get(FRICTION_ACTION) or {}).get("value")
    return AnswerInput(
        scores=scores, focus=focus, focus_other=focus_other, friction=friction, shares=shares
    )


class Submission:
    """Whether this submission's answer was recorded, told by the ack listener to the lazy one.

    Bolt starts a lazy listener as soon as it starts the ack listener, each with its own copy
    of the request; this object is the same in both copies, so the lazy listener waits for the
    outcome instead of racing the recording.
    """

    def __init__(self) -> None:
        self._recorded = False
        self._settled = threading.Event()

    def __deepcopy__(self, memo: dict[int, object]) -> Submission:
        return self

    def settle(self, *, recorded: bool) -> None:
        self._recorded = recorded
        self._settled.set()

    def recorded(self, timeout: float) -> bool:
        """True once the answer is stored; False if it was refused or never settled."""
        return self._settled.wait(timeout) and self._recorded


def track_submission(context: BoltContext, next: Callable[[], None]) -> None:
    # Set before Bolt copies the request for the lazy listener.
    context[SUBMISSION_KEY] = Submission()
    next()


def _submission(context: BoltContext) -> Submission:
    submission = context[SUBMISSION_KEY]
    assert isinstance(submission, Submission)
    return submission


def submit_pulse(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """Record the answer, or show in the modal why not; `show_answer_received` does the rest."""
    recorded = False
    try:
        recorded = _record_submission(ack, body, view, context)
    finally:
        _submission(context).settle(recorded=recorded)


def _record_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> bool:
    services = services_of(context)
    try:
        with session_scope(services.engine) as session:
            record_answer(
                session=session,
                run_id=_run_id(view),
                user_id=body["user"]["id"],
                submitted=parse_submission(view["state"]["values"]),
                now=services.clock(),
                key=_pseudonym_key(services),
            )
    except InvalidAnswer as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return False
    except PulseClosed as closed:
        message = closed_message(closed.closed_at, closed.timezone)
        ack(response_action="update", view=notice_modal("Pulse closed", message))
        return False
    except NotInvited:
        ack(response_action="update", view=notice_modal("Not in this pulse", NOT_INVITED))
        return False
    except AnswerLocked:
        ack(response_action="update", view=notice_modal("Answer received", ANSWER_LOCKED))
        return False
    ack()
    count_answer()
    return True


def show_answer_received(
    body: dict[str, Any], view: dict[str, Any], context: BoltContext, logger: Logger
) -> None:
    """After the acknowledgement, once the answer is in: the channel message's progress and,
    in DM mode, the member's confirmation (updating messages may wait on rate limits)."""
    if not _submission(context).recorded(OUTCOME_WAIT_SECONDS):
        return
    services = services_of(context)
    run_id = _run_id(view)
    try:
        refresh_channel_progress(
            engine=services.engine, messenger=services.messenger, run_id=run_id
        )
        confirm_dm_answer(
            engine=services.engine,
            messenger=services.messenger,
            run_id=run_id,
            user_id=body["user"]["id"],
        )
    except Exception:
        logger.exception("Could not update the pulse message after an answer")


def _pseudonym_key(services: Services) -> bytes:
    secret = services.settings.coherence_pseudonym_key
    return pseudonym_key(secret.get_secret_value() if secret else None)


def _run_id(view: dict[str, Any]) -> int:
    return int(json.loads(view["private_metadata"])["run_id"])


def register(app: App) -> None:
    app.action(ANSWER_ACTION)(open_pulse_modal)
    app.view(SUBMIT_CALLBACK, middleware=[track_submission])(
        ack=submit_pulse, lazy=[show_answer_received]
    )
