"""Virtual people who type slash commands, click buttons and submit modals, sending the bot
exactly the signed requests Slack would send."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sandbox.blockkit import validate_message_blocks, validate_view
from sandbox.records import Ephemeral, Message, SandboxEvent, View
from sandbox.state import SandboxState
from sandbox.workspace import User

_monotonic = time.monotonic
# Slack gives up on an app that has not answered within three seconds.
ACK_TIMEOUT = 3.0
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def sign(signing_secret: str, timestamp: int, body: bytes) -> str:
    """Slack's v0 request signature over `v0:{timestamp}:{body}`."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SentRequest:
    body: bytes
    content_type: str
    headers: dict[str, str]


@dataclass
class BotResponse:
    status: int
    body: str
    json: dict[str, Any] | None
    elapsed: float = 0.0
    request: SentRequest | None = field(default=None, repr=False)

    @property
    def timed_out(self) -> bool:
        return self.elapsed > ACK_TIMEOUT


class VirtualUser:
    """One workspace member acting through Slack's client; get one with `sandbox.user(id)`."""

    def __init__(self, sandbox: SandboxState, user: User) -> None:
        self.sandbox = sandbox
        self.profile = user

    @property
    def id(self) -> str:
        return self.profile.id

    def set_status(self, emoji: str = "", text: str = "", *, expires: int = 0) -> None:
        """Set (or, with no arguments, clear) the status others see in Slack's client, e.g.
        `set_status(":palm_tree:", "Vacationing")`; `expires` in Unix seconds, 0 for never."""
        with self.sandbox.lock:
            self.profile.status_emoji = emoji
            self.profile.status_text = text
            self.profile.status_expiration = expires

    # -- slash commands ------------------------------------------------------------------------

    def run_command(self, command: str, text: str = "", *, channel: str) -> BotResponse:
        sandbox, ws = self.sandbox, self.sandbox.workspace
        channel_id = sandbox.lookup_channel_id(channel)
        fields = {
            "token": sandbox.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": channel_id,
            "channel_name": sandbox.channel_name(channel_id),
            "user_id": self.id,
            "user_name": self.profile.name,
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "true" if sandbox.org_wide else "false",
            **sandbox.enterprise_fields(),
            "response_url": sandbox.issue_response_url(self.id, channel_id),
            "trigger_id": sandbox.issue_trigger(self.id),
        }
        response = self.send_raw(urlencode(fields).encode(), _FORM)
        self._show_ack(response, command, channel_id)
        return response

    def _show_ack(self, response: BotResponse, command: str, channel: str) -> None:
        sandbox = self.sandbox
        with sandbox.lock:
            if response.timed_out or response.status != 200:
                # What Slack's client shows in place of the missing acknowledgement.
                reason = "operation_timeout" if response.timed_out else "dispatch_failed"
                text = f'{command} failed with the error "{reason}"'
                sandbox.add_ephemeral(channel, self.id, text, [], "ack")
            elif response.json is not None:
                text = str(response.json.get("text") or "")
                blocks = response.json.get("blocks") or []
                if validate_message_blocks(blocks) or not (text or blocks):
                    text = f'{command} failed with the error "invalid_blocks"'
                    blocks = []
                if response.json.get("response_type") == "in_channel":
                    sandbox.add_message(channel, text, blocks)
                else:
                    sandbox.add_ephemeral(channel, self.id, text, blocks, "ack")
            elif response.body.strip():
                sandbox.add_ephemeral(channel, self.id, response.body, [], "ack")
        sandbox.flush_events()

    # -- block actions -------------------------------------------------------------------------

    def click(
        self, message: Message | Ephemeral, action_id: str, *, value: str | None = None
    ) -> BotResponse:
        """Click a button (or pick `value` in a select/overflow) in a message."""
        sandbox = self.sandbox
        block, element = _find_element(message.blocks, action_id, value)
        is_ephemeral = isinstance(message, Ephemeral)
        payload = self._base_payload("block_actions")
        payload.update(
            {
                "container": {
                    "type": "message",
                    "message_ts": message.ts,
                    "channel_id": message.channel,
                    "is_ephemeral": is_ephemeral,
                },
                "channel": {"id": message.channel, "name": sandbox.channel_name(message.channel)},
                "state": {"values": {}},
                "response_url": sandbox.issue_response_url(
                    self.id, message.channel, message_ts=message.ts, is_ephemeral=is_ephemeral
                ),
                "actions": [self._action(block, element, value)],
            }
        )
        # Slack leaves the message out of payloads for ephemeral messages.
        if isinstance(message, Message):
            payload["message"] = sandbox.message_payload(message)
        return self._send_payload(payload)

    def click_in_view(
        self, view_id: str, action_id: str, *, value: str | None = None
    ) -> BotResponse:
        with self.sandbox.lock:
            view = self.sandbox.views.get(view_id)
        if view is None or not view.open:
            raise LookupError(f"no open view {view_id}")
        # Sent outside the lock: the bot answers by calling the sandbox from another thread.
        return self._click_view(view, action_id, value)

    def click_in_home(self, action_id: str, value: str | None = None) -> BotResponse:
        with self.sandbox.lock:
            view = next(
                (
                    v
                    for v in self.sandbox.views.values()
                    if v.user_id == self.id and v.type == "home"
                ),
                None,
            )
        if view is None:
            raise LookupError(f"no Home tab published for {self.id}")
        return self._click_view(view, action_id, value)

    def _click_view(self, view: View, action_id: str, value: str | None) -> BotResponse:
        block, element = _find_element(view.view.get("blocks", []), action_id, value)
        payload = self._base_payload("block_actions")
        payload.update(
            {
                "container": {"type": "view", "view_id": view.id},
                "view": self._view_with_state(view, {}),
                "actions": [self._action(block, element, value)],
                "state": {"values": _state_values(view.view.get("blocks", []), {}, strict=False)},
            }
        )
        return self._send_payload(payload)

    def _action(
        self, block: dict[str, Any], element: dict[str, Any], value: str | None
    ) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": element.get("action_id", ""),
            "block_id": block.get("block_id", ""),
            "type": element["type"],
            "action_ts": f"{self.sandbox.clock():.6f}",
        }
        if element["type"] == "button":
            action["text"] = element.get("text")
            if "value" in element:
                action["value"] = element["value"]
            if "style" in element:
                action["style"] = element["style"]
        else:
            action["selected_option"] = _find_option(element, value)
        return action

    # -- modals --------------------------------------------------------------------------------

    def submit(self, view_id: str, values: Mapping[str, object] | None = None) -> BotResponse:
        """Submit a modal; `values` maps block_id or action_id to plain Python values."""
        view, submitted = self._submitted(view_id, values)
        response = self._send_payload(self._submission_payload(submitted))
        self._apply_submission(view, submitted, response)
        return response

    def submission_body(self, view_id: str, values: Mapping[str, object] | None = None) -> bytes:
        """The form body `submit` would send, for `send_raw` to send (again) later, e.g. to
        fire many submissions at once; the modal stays as it is."""
        _, submitted = self._submitted(view_id, values)
        payload = self._submission_payload(submitted)
        return urlencode({"payload": json.dumps(payload)}).encode()

    def _submitted(
        self, view_id: str, values: Mapping[str, object] | None
    ) -> tuple[View, dict[str, Any]]:
        with self.sandbox.lock:
            view = self.sandbox.views.get(view_id)
            if view is None or not view.open or view.type != "modal":
                raise LookupError(f"no open modal {view_id}")
            return view, self._view_with_state(view, values or {}, strict=True)

    def _submission_payload(self, submitted: dict[str, Any]) -> dict[str, Any]:
        payload = self._base_payload("view_submission")
        payload.update({"view": submitted, "response_urls": []})
        return payload

    def _apply_submission(
        self, view: View, submitted: dict[str, Any], response: BotResponse
    ) -> None:
        sandbox = self.sandbox
        with sandbox.lock:
            view.view["state"] = submitted["state"]
            # Slack keeps the modal open (with a connection error) when the app fails or is late.
            if response.timed_out or response.status != 200:
                return
            body = response.json
            action = body.get("response_action") if body else None
            if not response.body.strip() or body is None or action is None:
                sandbox.close_view(view)
            elif action == "errors":
                view.errors = dict(body.get("errors") or {})
            elif action == "update" and not validate_view(body.get("view")):
                sandbox.replace_view(view, body["view"])
            elif action == "push" and not validate_view(body.get("view")):
                pushed_id = f"V{sandbox.next_serial():010d}"
                pushed = View(pushed_id, self.id, "modal", {})
                pushed.view = sandbox.view_object(body["view"], pushed_id, self.id, None)
                pushed.view["previous_view_id"] = view.id
                pushed.view["root_view_id"] = view.view.get("root_view_id", view.id)
                sandbox.views[pushed_id] = pushed
                sandbox.emit(SandboxEvent("view_opened", user=self.id, view=pushed.view))
            elif action == "clear":
                for other in sandbox.views.values():
                    if other.user_id == self.id and other.type == "modal":
                        sandbox.close_view(other)
        sandbox.flush_events()

    def _view_with_state(
        self, view: View, values: Mapping[str, object], *, strict: bool = False
    ) -> dict[str, Any]:
        submitted = copy.deepcopy(view.view)
        submitted["state"] = {
            "values": _state_values(submitted.get("blocks", []), values, strict=strict)
        }
        return submitted

    # -- events --------------------------------------------------------------------------------

    def open_home(self) -> BotResponse:
        sandbox = self.sandbox
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": self.id,
            "channel": sandbox.dm_channel(self.id),
            "tab": "home",
        }
        with sandbox.lock:
            if self.id in sandbox.home_tabs:
                event["view"] = copy.deepcopy(sandbox.home_tabs[self.id])
        return self.send_raw(json.dumps(sandbox.event_envelope(event)).encode(), _JSON)

    # -- raw transport -------------------------------------------------------------------------

    def send_raw(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> BotResponse:
        """POST `body` to the bot signed like Slack; override timestamp/signature to forge."""
        if self.sandbox.bot_url is None:
            raise RuntimeError("sandbox.bot_url is not set: where should Slack send requests?")
        ts = int(self.sandbox.clock()) if timestamp is None else timestamp
        sent_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(self.sandbox.signing_secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        request = urllib.request.Request(
            self.sandbox.bot_url, data=body, headers=sent_headers, method="POST"
        )
        started = _monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                status, raw, reply_type = reply.status, reply.read(), reply.headers
        except urllib.error.HTTPError as error:
            status, raw, reply_type = error.code, error.read(), error.headers
        elapsed = _monotonic() - started
        text = raw.decode("utf-8", errors="replace")
        parsed: dict[str, Any] | None = None
        if "json" in (reply_type.get("Content-Type") or "") or text.lstrip().startswith("{"):
            try:
                decoded = json.loads(text)
                parsed = decoded if isinstance(decoded, dict) else None
            except json.JSONDecodeError:
                parsed = None
        return BotResponse(
            status, text, parsed, elapsed, SentRequest(body, content_type, sent_headers)
        )

    def replay(
        self, last: BotResponse, *, retry_num: int | None = None, retry_reason: str = "http_timeout"
    ) -> BotResponse:
        """Send the same body again, freshly signed (a double click, or an event retry)."""
        if last.request is None:
            raise ValueError("this response has no recorded request to replay")
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.send_raw(last.request.body, last.request.content_type, headers=headers)

    def _base_payload(self, kind: str) -> dict[str, Any]:
        ws = self.sandbox.workspace
        return {
            "type": kind,
            "user": {
                "id": self.id,
                "username": self.profile.name,
                "name": self.profile.name,
                "team_id": ws.team_id,
            },
            "api_app_id": ws.app_id,
            "token": self.sandbox.verification_token,
            "trigger_id": self.sandbox.issue_trigger(self.id),
            "team": {
                "id": ws.team_id,
                "domain": ws.team_domain,
                **self.sandbox.enterprise_fields(),
            },
            "enterprise": self.sandbox.enterprise(),
            "is_enterprise_install": self.sandbox.org_wide,
        }

    def _send_payload(self, payload: dict[str, Any]) -> BotResponse:
        return self.send_raw(urlencode({"payload": json.dumps(payload)}).encode(), _FORM)


def _interactive_elements(
    blocks: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for block in blocks:
        if block.get("type") == "actions":
            found.extend((block, e) for e in block.get("elements", []))
        elif block.get("type") == "section" and "accessory" in block:
            found.append((block, block["accessory"]))
        elif block.get("type") == "input" and "element" in block:
            found.append((block, block["element"]))
    return found


def _find_element(
    blocks: list[dict[str, Any]], action_id: str, value: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    candidates = [
        (b, e) for b, e in _interactive_elements(blocks) if e.get("action_id") == action_id
    ]
    for block, element in candidates:
        if value is None or element.get("type") != "button" or element.get("value") == value:
            return block, element
    available = [e.get("action_id") for _, e in _interactive_elements(blocks)]
    raise LookupError(f"no element {action_id!r} (value={value!r}); available: {available}")


def _all_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _find_option(element: dict[str, Any], value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    options = _all_options(element)
    for option in options:
        if option.get("value") == str(value):
            return dict(option)
    raise ValueError(
        f"{value!r} is not an option of {element.get('action_id')!r}; "
        f"values: {[o.get('value') for o in options]}"
    )


# Which state key Slack fills for each element type, and where its initial value lives.
_SINGLE_KEYS = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "timepicker": ("selected_time", "initial_time"),
    "datepicker": ("selected_date", "initial_date"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
}
_OPTION_KEYS = {
    "static_select": False,
    "external_select": False,
    "radio_buttons": False,
    "multi_static_select": True,
    "multi_external_select": True,
    "checkboxes": True,
}


def _slack_value(kind: str, value: object) -> object:
    if isinstance(value, dt.datetime) and kind == "datetimepicker":
        return int(value.timestamp())
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if kind.endswith("_input") and value is not None:
        return str(value)
    return value


def _element_state(element: dict[str, Any], value: object, given: bool) -> dict[str, Any]:
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in _OPTION_KEYS:
        if _OPTION_KEYS[kind]:
            chosen = value if isinstance(value, list | tuple | set) else [value]
            state["selected_options"] = (
                [_find_option(element, v) for v in chosen]
                if given
                else element.get("initial_options", [])
            )
        else:
            state["selected_option"] = (
                _find_option(element, value) if given else element.get("initial_option")
            )
    elif kind in _SINGLE_KEYS:
        key, initial = _SINGLE_KEYS[kind]
        state[key] = _slack_value(kind, value) if given else element.get(initial)
    elif given:
        state["value"] = value
    return state


def _is_empty(state: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in state.items() if k != "type")


def _state_values(
    blocks: list[dict[str, Any]], values: Mapping[str, object], *, strict: bool
) -> dict[str, dict[str, Any]]:
    remaining = dict(values)
    state: dict[str, dict[str, Any]] = {}
    for index, block in enumerate(blocks):
        if block.get("type") != "input" or "element" not in block:
            continue
        element = block["element"]
        block_id = block.get("block_id") or f"input-{index}"
        action_id = element.get("action_id") or f"action-{index}"
        key = block_id if block_id in remaining else action_id
        given = key in remaining
        element_state = _element_state(element, remaining.pop(key, None), given)
        if strict and not block.get("optional") and _is_empty(element_state):
            # Slack's client refuses to submit until required inputs are filled in.
            raise ValueError(f"required input {block_id!r} has no value")
        state[block_id] = {action_id: element_state}
    if strict and remaining:
        raise KeyError(f"no input block or action_id {sorted(remaining)} in the view")
    return state
