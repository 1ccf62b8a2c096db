"""One place where failures become a message the person can act on."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

GENERIC_FAILURE = (
    "Sorry, something went wrong on our side and nothing was changed. Please try again in a minute."
)


def handle_error(error: Exception, body: dict[str, Any], logger: Logger) -> BoltResponse:
    # The body can hold answers; log the kind of request, never its content.
    kind = body.get("type") or body.get("command")
    if isinstance(error, BoltUnhandledRequestError):
        logger.warning("No listener for a %s request", kind)
        return BoltResponse(status=404, body="")
    if isinstance(error, SlackApiError):
        # Slack's refusal (an expired trigger, a user who left) is its own explanation.
        logger.warning("Slack refused a call while handling %s: %s", kind, _code(error))
    else:
        logger.exception("Unhandled error in %s", kind)
    if body.get("command"):
        return BoltResponse(status=200, body=GENERIC_FAILURE)
    return BoltResponse(status=500, body="")


def _code(error: SlackApiError) -> str:
    code = error.response.get("error") if isinstance(error.response.data, dict) else None
    return str(code or f"HTTP {error.response.status_code}")


def register(app: App) -> None:
    app.error(handle_error)
