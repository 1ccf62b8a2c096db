"""One place where failures become a message the person can act on."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

GENERIC_FAILURE = (
    "Sorry, something went wrong on our side and nothing was changed. Please try again in a minute."
)


def handle_error(error: Exception, body: dict[str, Any], logger: Logger) -> BoltResponse:
    # The body can hold answers; log the kind of request, never its content.
    if isinstance(error, BoltUnhandledRequestError):
        logger.warning("No listener for a %s request", body.get("type") or "command")
        return BoltResponse(status=404, body="")
    logger.exception("Unhandled error in %s", body.get("type") or body.get("command"))
    if body.get("command"):
        return BoltResponse(status=200, body=GENERIC_FAILURE)
    return BoltResponse(status=500, body="")


def register(app: App) -> None:
    app.error(handle_error)
