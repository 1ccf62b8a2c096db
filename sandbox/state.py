"""The sandbox workspace's conversation state: messages, views, triggers and events.

Shared by the Web API (`sandbox.server`) and the virtual users (`sandbox.users`), so both
change one state under one lock and neither imports the other's internals.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self
from zoneinfo import ZoneInfo

from sandbox.records import Ephemeral, Message, RecordedCall, SandboxEvent, View
from sandbox.workspace import User, Workspace

# Captured once so freezegun (told to ignore this package) cannot bend the sandbox's clocks.
_monotonic = time.monotonic
_wallclock = time.time

# Slack lets a response_url be used five times (within 30 minutes; only uses are counted here).
_RESPONSE_URL_USES = 5


class SlackError(Exception):
    """A Slack-style `{"ok": false, "error": ...}` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class ResponseTarget:
    """Where a response_url posts, and how many uses it has left."""

    user: str
    channel: str
    message_ts: str | None
    is_ephemeral: bool
    uses_left: int = _RESPONSE_URL_USES


class SandboxState:
    """What Slack holds for one workspace and the bot, changed only under `lock`."""

    def __init__(self, workspace: Workspace, *, signing_secret: str) -> None:
        self.workspace = workspace
        self.signing_secret = signing_secret
        self.bot_url: str | None = None
        self.verification_token = "sandbox-verification-token"
        # Wall clock for timestamps sent to the bot; tests that freeze time point it at their
        # frozen clock so Bolt's five-minute signature window still accepts virtual users.
        self.clock: Callable[[], float] = _wallclock
        self.calls: list[RecordedCall] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_tabs: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._messages: list[Message] = []
        self._changed = threading.Condition(self.lock)
        self._subscribers: list[Callable[[SandboxEvent], None]] = []
        self._pending_events: list[SandboxEvent] = []
        self._dispatch_lock = threading.Lock()
        self._triggers: dict[str, tuple[str, float]] = {}
        self._response_urls: dict[str, ResponseTarget] = {}
        self._dms: dict[str, str] = {}
        self._serial = 0
        self._last_ts = 0.0
        self._address: str | None = None  # set while the HTTP server runs
        # Set by sandbox.multi while the app is installed org-wide in the workspace's org.
        self.org_installed = False

    @property
    def org_wide(self) -> bool:
        """Whether the app reaches this workspace through its Grid org's org-wide install."""
        return self.workspace.enterprise_id is not None and self.org_installed

    def enterprise(self) -> dict[str, str] | None:
        """Payloads' `enterprise` object: the workspace's Grid org, None outside Grid."""
        ws = self.workspace
        if ws.enterprise_id is None:
            return None
        return {"id": ws.enterprise_id, "name": ws.enterprise_name}

    def enterprise_fields(self) -> dict[str, str]:
        """`enterprise_id` and `enterprise_name` as commands and `team` objects carry them in
        a Grid workspace (absent outside Grid)."""
        org = self.enterprise()
        return {} if org is None else {"enterprise_id": org["id"], "enterprise_name": org["name"]}

    def event_envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Events API envelope around `event`, as Slack signs and sends it to the app.

        With an org-wide install the installation it is for is the org's: its authorization
        names the enterprise and no team (the workspace is the envelope's team_id).
        """
        ws = self.workspace
        now = self.clock()
        return {
            "token": self.verification_token,
            "team_id": ws.team_id,
            "enterprise_id": ws.enterprise_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": ws.enterprise_id,
            "api_app_id": ws.app_id,
            "event": {"event_ts": f"{now:.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{self.next_serial():010d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": ws.enterprise_id,
                    "team_id": None if self.org_wide else ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.org_wide,
                }
            ],
            "is_ext_shared_channel": False,
        }

    @property
    def base_url(self) -> str:
        if self._address is None:
            raise RuntimeError("SlackSandbox is not started")
        return self._address

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def messages(self, channel: str | None = None) -> list[Message]:
        """Messages in post order; `channel` may be a channel id, `#name` or a user's id (DM)."""
        with self.lock:
            if channel is None:
                return list(self._messages)
            wanted = self.lookup_channel_id(channel)
            return [m for m in self._messages if m.channel == wanted]

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def dm_channel(self, user_id: str) -> str:
        """The stable id of the bot's DM with this user (what conversations.open returns)."""
        with self.lock:
            if user_id not in self._dms:
                self._dms[user_id] = "D" + user_id[1:]
            return self._dms[user_id]

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 30.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                recent = ", ".join(c.method for c in self.calls[-10:]) or "none"
                raise TimeoutError(
                    f"sandbox condition not met within {timeout}s; "
                    f"{len(self.calls)} calls so far, last: {recent}; "
                    f"{len(self._messages)} messages, {len(self.ephemerals)} ephemerals, "
                    f"{len(self.views)} views"
                )

    def subscribe(self, callback: Callable[[SandboxEvent], None]) -> None:
        with self.lock:
            self._subscribers.append(callback)

    def record(
        self,
        method: str,
        args: dict[str, Any],
        response: dict[str, Any],
        status: int,
        *,
        fault: str | None = None,
    ) -> None:
        with self._changed:
            call = RecordedCall(method, args, response, status, _monotonic(), fault)
            self.calls.append(call)
            self._changed.notify_all()
        self.flush_events()

    def flush_events(self) -> None:
        """Deliver pending events to subscribers outside the state lock, in order."""
        with self._dispatch_lock:
            with self.lock:
                events, self._pending_events = self._pending_events, []
                subscribers = list(self._subscribers)
            for event in events:
                for callback in subscribers:
                    callback(event)

    def emit(self, event: SandboxEvent) -> None:
        with self._changed:
            self._pending_events.append(event)
            self._changed.notify_all()

    def next_serial(self) -> int:
        with self.lock:
            self._serial += 1
            return self._serial

    def next_ts(self) -> str:
        with self.lock:
            # Slack's ts doubles as a message id, so it must never repeat within a channel.
            self._last_ts = max(self.clock(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def issue_trigger(self, user_id: str) -> str:
        with self.lock:
            trigger_id = f"{self.next_serial()}.{self.workspace.team_id}.{secrets.token_hex(8)}"
            self._triggers[trigger_id] = (user_id, _monotonic())
            return trigger_id

    def issue_response_url(
        self,
        user_id: str,
        channel: str,
        *,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        with self.lock:
            token = secrets.token_hex(12)
            self._response_urls[token] = ResponseTarget(user_id, channel, message_ts, is_ephemeral)
            return f"{self.base_url}/response/{token}"

    def add_message(
        self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> Message:
        message = Message(
            channel, self.next_ts(), self.workspace.bot_user_id, text, blocks, thread_ts
        )
        self._messages.append(message)
        self.emit(SandboxEvent("message", channel, message.user, text, blocks, ts=message.ts))
        return message

    def add_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]], source: Any
    ) -> Ephemeral:
        ephemeral = Ephemeral(channel, user, text, blocks, source, self.next_ts())
        self.ephemerals.append(ephemeral)
        self.emit(SandboxEvent("ephemeral", channel, user, text, blocks, ts=ephemeral.ts))
        return ephemeral

    def close_view(self, view: View) -> None:
        if view.open:
            view.open = False
            self.emit(SandboxEvent("view_closed", user=view.user_id, view=view.view))

    def replace_view(self, view: View, new: dict[str, Any]) -> None:
        view.view = self.view_object(new, view.id, view.user_id, external_id=None)
        view.type = str(new.get("type"))
        view.errors = {}
        self.emit(SandboxEvent("view_updated", user=view.user_id, view=view.view))

    def message_payload(self, message: Message) -> dict[str, Any]:
        """The message object Slack embeds in API answers and interaction payloads."""
        payload: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "user": message.user,
            "ts": message.ts,
            "bot_id": self.workspace.bot_id,
            "app_id": self.workspace.app_id,
            "team": self.workspace.team_id,
            "blocks": message.blocks,
        }
        if message.thread_ts:
            payload["thread_ts"] = message.thread_ts
        if message.updated:
            payload["edited"] = {"user": message.user, "ts": message.ts}
        return payload

    def user_payload(self, user: User) -> dict[str, Any]:
        zone = ZoneInfo(user.tz)
        now = datetime.fromtimestamp(_wallclock(), zone)
        offset = now.utcoffset()
        return {
            "id": user.id,
            "team_id": self.workspace.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name or user.name,
            "tz": user.tz,
            "tz_label": now.tzname() or user.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": user.is_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 0,
            "profile": {
                "real_name": user.real_name or user.name,
                "real_name_normalized": user.real_name or user.name,
                "display_name": user.name,
                "display_name_normalized": user.name,
                "team": self.workspace.team_id,
                "status_emoji": user.status_emoji,
                "status_text": user.status_text,
                "status_expiration": user.status_expiration,
            },
        }

    def channel_name(self, channel_id: str) -> str:
        channel = self.workspace.channel(channel_id)
        return channel.name if channel is not None else "directmessage"

    def channel_members(self, channel_id: str) -> list[str]:
        channel = self.workspace.channel(channel_id)
        if channel is not None:
            return self.workspace.channel_members(channel)
        user_id = self.dm_user(channel_id)
        return [user_id, self.workspace.bot_user_id] if user_id else []

    def lookup_channel_id(self, channel: str) -> str:
        if channel.startswith("#"):
            found = self.workspace.channel_by_name(channel)
            if found is None:
                raise SlackError("channel_not_found")
            return found.id
        if channel[:1] in ("U", "W"):
            return self.dm_channel(channel)
        return channel

    def dm_user(self, channel_id: str) -> str | None:
        return next((u for u, d in self._dms.items() if d == channel_id), None)

    def view_object(
        self, view: dict[str, Any], view_id: str, user_id: str, external_id: Any
    ) -> dict[str, Any]:
        ws = self.workspace
        return {
            "id": view_id,
            "team_id": ws.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.clock())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": ws.app_id,
            "external_id": external_id or "",
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }
