"""Answering a pulse: the Answer button opens the modal; submitting records the answer."""

from __future__ import annotations

import json
from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import _, known_locale, run_language, speaking
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
    closed_modal,
    pulse_modal,
    refusal_modal,
)
from bot.views.pulse import ANSWER_LOCKED as ANSWER_LOCKED
from bot.views.pulse import NOT_FOUND as NOT_FOUND
from bot.views.pulse import NOT_INVITED as NOT_INVITED
from bot.views.pulse import NOT_STORED as NOT_STORED
from pulses.answers import (
    AnswerInput,
    AnswerLocked,
    InvalidAnswer,
    NotInvited,
    PulseClosed,
    PulseNotFound,
    answer_sheet,
    share_field,
)
from pulses.pseudonyms import pseudonym_key
from pulses.questions import FOCUS, FRICTION
from pulses.recording import AnswerUnit, Submission
from pulses.refresh import after_answer
from storage.db import session_scope

SHARE_PREFIX = share_field("")
# Slack shows its own error 3 seconds after a submission: an answer kept waiting by the database
# is refused inline before that (at most twice this), so the member can submit it again.
STORE_WAIT_SECONDS = 1.25


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
        view = refusal_modal(NOT_FOUND, None)
    except PulseClosed as closed:
        language = _run_language(services, run_id)
        view = closed_modal(closed.closed_at, closed.timezone, language)
    except NotInvited:
        view = refusal_modal(NOT_INVITED, _run_language(services, run_id))
    except AnswerLocked:
        view = refusal_modal(ANSWER_LOCKED, _run_language(services, run_id))
    else:
        view = pulse_modal(
            sheet.form,
            group_name=sheet.group_name,
            previous=sheet.previous,
            previous_scores=sheet.previous_scores,
            previous_shares=sheet.previous_shares,
            language=sheet.language,
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


def submit_pulse(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext, logger: Logger
) -> None:
    """Record the answer (through the writer, with the answers that arrive with it), or show
    in the modal why not; then hand the message updates to the refresher, so the ack never
    waits on Slack."""
    services = services_of(context)
    run_id = _run_id(view)
    language = _modal_language(view)
    user_id = body["user"]["id"]
    try:
        # Inside the modal's language: a refused field is explained in it.
        submission = Submission(
            run_id=run_id,
            user_id=user_id,
            answer=parse_submission(view["state"]["values"]),
            now=services.clock(),
            key=_pseudonym_key(services),
        )
        with speaking(language):
            recorded = services.answers.run(AnswerUnit(submission), wait_seconds=STORE_WAIT_SECONDS)
    except InvalidAnswer as invalid:
        ack(response_action="errors", errors=invalid.problems)
        return
    except PulseClosed as closed:
        ack(
            response_action="update",
            view=closed_modal(closed.closed_at, closed.timezone, language),
        )
        return
    except NotInvited:
        ack(response_action="update", view=refusal_modal(NOT_INVITED, language))
        return
    except AnswerLocked:
        ack(response_action="update", view=refusal_modal(ANSWER_LOCKED, language))
        return
    except SQLAlchemyError:
        logger.exception("Could not store an answer; the modal asks to submit it again")
        ack(response_action="errors", errors=_not_stored(view, language))
        return
    ack()
    count_answer()
    after_answer(
        services.refresher,
        engine=services.engine,
        messenger=services.messenger,
        run_id=run_id,
        user_id=user_id,
        delivery_mode=recorded.delivery_mode,
    )


def store_in_request_thread(
    ack: Ack, body: dict[str, Any], context: BoltContext, logger: Logger
) -> BoltResponse | None:
    """Listener middleware that records and acknowledges an answer on the request's own
    thread, returning the ack as the response (Bolt then runs nothing else for it).

    Bolt would hand the listener to its executor and poll for the ack every 10 ms: in a burst
    of answers every waiting request then wakes a hundred times a second for the
    interpreter's lock, and answers queue behind the executor's few threads. An answer's ack
    waits only for the writer to commit it, so running it here costs nothing else.
    """
    submit_pulse(ack=ack, body=body, view=body["view"], context=context, logger=logger)
    return ack.response


def _not_stored(view: dict[str, Any], language: str) -> dict[str, str]:
    """The inline error on the modal's first input: nothing was stored."""
    first = next(iter(view["state"]["values"]), None)
    with speaking(language):
        return {first: _(NOT_STORED)} if first else {}


def _run_language(services: Services, run_id: int) -> str:
    return run_language(services.engine, run_id)


def _modal_language(view: dict[str, Any]) -> str:
    """The language the modal was written in (its metadata; a known one, else English)."""
    language = json.loads(view["private_metadata"]).get("language")
    return known_locale(language if isinstance(language, str) else None)


def _pseudonym_key(services: Services) -> bytes:
    secret = services.settings.coherence_pseudonym_key
    return pseudonym_key(secret.get_secret_value() if secret else None)


def _run_id(view: dict[str, Any]) -> int:
    return int(json.loads(view["private_metadata"])["run_id"])


def register(app: App) -> None:
    app.action(ANSWER_ACTION)(open_pulse_modal)
    app.view(SUBMIT_CALLBACK, middleware=[store_in_request_thread])(submit_pulse)
