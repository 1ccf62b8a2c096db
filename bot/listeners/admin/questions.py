"""`/coherence questions`: the question set modal; every changed wording becomes a new version."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.i18n import _, speaking, workspace_language
from bot.listeners.admin.access import caller_of, workspace_session
from bot.services import services_of
from bot.views.admin.questions import parse_questions, questions_modal
from bot.views.admin.replies import change_text, notice_view
from pulses.audit import InvalidChange
from pulses.questions import apply_questions, current_questions, question_versions
from storage.db import session_scope


def open_questions(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    with workspace_session(context) as (session, workspace_id):
        questions = current_questions(session=session, workspace_id=workspace_id)
        versions = question_versions(session=session, workspace_id=workspace_id)
        counts = {key: len(rows) for key, rows in versions.items()}
        language = workspace_language(session, workspace_id)
    view = questions_modal(questions, counts, language)
    client.views_open(trigger_id=command["trigger_id"], view=view)


def submit_questions(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    with workspace_session(context) as (session, workspace_id):
        # As the modal was written: the language the workspace's groups share.
        language = workspace_language(session, workspace_id)
    with speaking(language):
        try:
            with session_scope(services.engine) as session:
                change = apply_questions(
                    session=session,
                    workspace_id=workspace_id,
                    edits=parse_questions(view["state"]["values"]),
                    user_id=caller_of(context).user_id,
                    now=services.clock(),
                )
        except InvalidChange as invalid:
            ack(response_action="errors", errors=invalid.problems)
            return
        extra = (
            _(
                "Pulses from now on ask the new wording; digests and trends mark the run "
                "where it changed."
            )
            if change.changed
            else None
        )
        text = change_text(change, extra=extra)
        ack(response_action="update", view=notice_view(_("Questions"), text))
