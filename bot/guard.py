"""Hostile and malformed requests are refused before any listener sees them: 401 or 400.

Two gates, both logging one short line without the body (which can hold answers):
`unreadable` runs in the WSGI layer on the raw request, before Bolt parses it;
`GuardedVerification` takes the place of Bolt's signature check, then checks the shape of
the fields listeners read, so they can index the payload without defending every access.
"""

from __future__ import annotations

import binascii
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from slack_bolt.context import BoltContext
from slack_bolt.middleware.request_verification import RequestVerification
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse

from bot.views.pulse import ANSWER_ACTION, SUBMIT_CALLBACK

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
MALFORMED = "Malformed request: nothing was changed."
INTERACTIONS = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
    }
)

Problem = tuple[int, str]


def unreadable(headers: Mapping[str, str], body: bytes) -> Problem | None:
    """(status, reason) for a request Bolt could not even parse, before the signature is
    checked: missing or non-numeric signing headers (401), a body that is not UTF-8, JSON
    or a form as its type says (400). `headers` are lower-cased names."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not timestamp.isascii() or not timestamp.isdigit() or not headers.get(SIGNATURE_HEADER):
        return 401, "missing or malformed signing headers"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "body is not UTF-8"
    try:
        payload = parse_slack_body(text, headers.get("content-type"))
    except (ValueError, RecursionError):
        return 400, "body is neither JSON nor a form as its type says"
    if not isinstance(payload, dict):
        return 400, "body is not an object"
    return None


# The last body parsed on each server thread: the WSGI layer reads a request's body (its team
# for the log context, its well-formedness), then Bolt's request reads it again; parsing an
# interaction's form (thousands of %-escapes) costs about a millisecond each time.
_LAST_PARSED = threading.local()


def parse_slack_body(text: str, content_type: str | None, *, keep: bool = True) -> object:
    """`_parse_slack_body`, read once per request on this thread: the next call with the same
    text reuses it; `keep=False` (the last reader) lets it go."""
    last = getattr(_LAST_PARSED, "body", None)
    if last is not None and last[1] == content_type and last[0] == text:
        parsed = last[2]
    else:
        parsed = _parse_slack_body(text, content_type)
    _LAST_PARSED.body = (text, content_type, parsed) if keep else None
    return parsed


def _parse_slack_body(text: str, content_type: str | None) -> object:
    """A request body as Slack meant it: JSON (events), a form with a JSON `payload` field
    (interactions), or a plain form (slash commands).

    Bolt's own parser looks for the *substring* "payload" and so reads a slash command whose
    text contains that word as an empty body; this looks for the form field.
    """
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        return json.loads(text)
    if text.startswith(_PAYLOAD_FIELD) and "&" not in text:
        return json.loads(_unquote_plus(text[len(_PAYLOAD_FIELD) :]))
    form = dict(parse_qsl(text, keep_blank_values=True))
    return json.loads(form["payload"]) if "payload" in form else form


_PAYLOAD_FIELD = "payload="


def _unquote_plus(value: str) -> str:
    """`urllib.parse.unquote_plus`, done in C for the text Slack sends.

    An interaction's form is one field holding its JSON with thousands of %-escapes, and the
    standard library decodes them one by one in Python: a quarter of the server's CPU in a burst
    of answers. Quoted-printable decoding (`binascii.a2b_qp`) is the same decoding with "="
    for "%", so it gives the same text whenever "%" is the only escape character in play: no
    "=" or line break in the value, no "%%", every "%" followed by two characters, and no
    escape that is not two hex digits (each leaves an "=" that no "%3D" accounts for).
    Anything else goes to the standard library.
    """
    if not value.isascii() or "=" in value or "\r" in value or "\n" in value:
        return unquote_plus(value)
    if "%%" in value or "%" in value[-2:]:
        return unquote_plus(value)
    decoded = binascii.a2b_qp(value.replace("+", " ").replace("%", "=").encode("ascii"))
    if decoded.count(b"=") != value.count("%3D") + value.count("%3d"):
        return unquote_plus(value)
    return decoded.decode("utf-8", errors="replace")


class SlackBodyRequest(BoltRequest):
    """Bolt's request with the body read by `parse_slack_body` (and its copies for lazy
    listeners likewise)."""

    def __init__(self, *, body: str, **rest: Any) -> None:
        # Bolt's parse skipped (an empty body), the body read once by parse_slack_body.
        super().__init__(body="", **rest)
        self.raw_body = body
        parsed = parse_slack_body(body, self.content_type, keep=False)
        self.body = parsed if isinstance(parsed, dict) else {}
        self.context = build_context(BoltContext(rest.get("context") or {}), self.body)

    def to_copyable(self) -> BoltRequest:
        copy = super().to_copyable()
        copy.body = self.body
        copy.context = build_context(copy.context, self.body)
        return copy


class GuardedVerification(RequestVerification):
    """Bolt's signature check, logging one line without the body (Bolt's own logs the whole
    body at INFO), followed by the payload's shape check."""

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse:
        if not self._can_skip(req.mode, req.body):
            timestamp = req.headers.get(TIMESTAMP_HEADER, [""])[0]
            signature = req.headers.get(SIGNATURE_HEADER, [""])[0]
            if not timestamp.isdigit() or not self.verifier.is_valid(
                req.raw_body, timestamp, signature
            ):
                logger.warning("Refused a request: invalid signature or stale timestamp")
                return self._build_error_response()
        problem = shape_problem(req.body)
        if problem is not None:
            logger.warning("Refused a signed request: %s", problem)
            return BoltResponse(status=400, body=MALFORMED)
        return next()


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """Why a verified payload is not one Slack sends (None if it is): the fields listeners
    read are present and of the type they expect."""
    if "command" in body:
        return _missing_strings(body, ("command", "text", "user_id", "team_id", "channel_id"))
    kind = body.get("type")
    if not isinstance(kind, str):
        return "no request type"
    # Bolt's own middleware reads these before any listener, assuming Slack's types.
    for key in ("event", "user", "team", "channel", "container", "enterprise", "view"):
        if key in body and not isinstance(body[key], dict | str | None):
            return f"{key} is of the wrong type"
    if "event" in body and not isinstance(body["event"], dict):
        return "event is not an object"
    authorizations = body.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(
        isinstance(a, dict) and not _ids_problem(a) for a in authorizations
    ):
        return "authorizations is not a list of objects with text ids"
    problem = _ids_problem(body)
    if problem:
        return problem
    if kind in INTERACTIONS:
        return _interaction_problem(kind, body)
    if kind == "url_verification":
        return _missing_strings(body, ("challenge",))
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event without a type"
        return _missing_strings(body, ("team_id",))
    if kind != "app_rate_limited":
        return f"unknown request type {kind[:40]!r}"
    return None


def _interaction_problem(kind: str, body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "interaction without a user"
    team = body.get("team")
    if team is not None and not (isinstance(team, dict) and isinstance(team.get("id"), str)):
        return "team is not an object with an id"
    if "view" in body or kind in ("view_submission", "view_closed"):
        problem = _view_problem(body.get("view"), submitted=kind == "view_submission")
        if problem:
            return problem
    if kind == "block_actions":
        return _actions_problem(body)
    return None


def _view_problem(view: object, *, submitted: bool) -> str | None:
    if not isinstance(view, dict):
        return "view is missing or not an object"
    problem = _missing_strings(view, ("id", "callback_id")) or _optional_strings(
        view, ("private_metadata",)
    )
    if problem:
        return f"view: {problem}"
    # A submitted view always carries its state; other payloads may leave it out.
    state = view.get("state", None if submitted else {})
    values = state.get("values", None if submitted else {}) if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
        isinstance(actions, dict) and all(isinstance(a, dict) for a in actions.values())
        for actions in values.values()
    ):
        return "view state is not a map of blocks to actions"
    if view["callback_id"] == SUBMIT_CALLBACK and _run_id(view.get("private_metadata")) is None:
        return "pulse view without a run id"
    return None


def _actions_problem(body: Mapping[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block_actions without actions"
    for action in actions:
        if not isinstance(action, dict):
            return "an action is not an object"
        problem = _missing_strings(action, ("action_id",)) or _optional_strings(
            action, ("value", "block_id")
        )
        if problem:
            return f"action: {problem}"
        if action["action_id"] == ANSWER_ACTION and not _is_id(action.get("value")):
            return "answer button without a run id"
    return _missing_strings(body, ("trigger_id",))


def _run_id(metadata: object) -> int | None:
    if not isinstance(metadata, str):
        return None
    try:
        loaded = json.loads(metadata)
    except (ValueError, RecursionError):
        return None
    run_id = loaded.get("run_id") if isinstance(loaded, dict) else None
    return run_id if isinstance(run_id, int) and not isinstance(run_id, bool) else None


def _ids_problem(mapping: Mapping[str, Any]) -> str | None:
    """Bolt reads the team, enterprise and user from these into its context."""
    for key in ("team_id", "enterprise_id", "user_id", "api_app_id"):
        if mapping.get(key) is not None and not isinstance(mapping[key], str):
            return f"{key} is not text"
    return None


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _missing_strings(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    missing = [key for key in keys if not isinstance(mapping.get(key), str)]
    return f"{', '.join(missing)} missing or not text" if missing else None


def _optional_strings(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    wrong = [key for key in keys if key in mapping and not isinstance(mapping[key], str)]
    return f"{', '.join(wrong)} not text" if wrong else None
