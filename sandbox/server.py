"""A local HTTP stand-in for the Slack Web API that records calls and enforces Slack's rules."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qsl, urlsplit

from sandbox.blockkit import validate_message_blocks, validate_message_text, validate_view
from sandbox.faults import AFTER_ACTING, Fault, Faults
from sandbox.ratelimits import RateLimiter, RateLimits
from sandbox.records import (
    Message,
    SandboxEvent,
    UploadedFile,
    View,
)
from sandbox.state import SandboxState, SlackError
from sandbox.users import VirtualUser
from sandbox.workspace import Channel, Workspace

# Captured once so freezegun (told to ignore this package) cannot bend the sandbox's clocks.
_monotonic = time.monotonic
_wallclock_seconds = time.time
_sleep = time.sleep

_JSON_FIELDS = ("blocks", "view", "files", "attachments", "metadata")


@dataclass
class _PendingUpload:
    name: str
    length: int
    content: bytes | None = None


class ServedInBackground:
    """A sandbox behind `serve`'s server on a background thread; `with` starts and stops it."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _stop_serving(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SlackSandbox(SandboxState, ServedInBackground):
    """Serve `/api/<method>`, `/upload/<file_id>` and `/response/<token>` on 127.0.0.1."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        bot_token: str,
        signing_secret: str,
        rate_limits: RateLimits | None = None,
    ) -> None:
        super().__init__(workspace, signing_secret=signing_secret)
        self.bot_token = bot_token
        # Tokens an OAuth install issued (sandbox.multi): each with its expiry (wall-clock
        # seconds; None: never), and those revoked by an uninstall.
        self.issued_tokens: dict[str, float | None] = {}
        self.revoked_tokens: set[str] = set()
        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        self.faults = Faults()
        self.trigger_ttl = 3.0
        self.files: list[UploadedFile] = []
        self._limiter = RateLimiter(self.rate_limits)
        self._uploads: dict[str, _PendingUpload] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "conversations.members": self._conversations_members,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._server, self._thread, self._address = serve(self)

    def stop(self) -> None:
        self._address = None
        self._stop_serving()

    # -- virtual users -----------------------------------------------------------------------

    def user(self, user_id: str) -> VirtualUser:
        found = self.workspace.user(user_id)
        if found is None:
            raise KeyError(f"no user {user_id} in the sandbox workspace")
        return VirtualUser(self, found)

    # -- request entry points (called by the HTTP handler) ------------------------------------

    def handle_api(
        self,
        method: str,
        args: dict[str, Any],
        authorization: str | None,
        *,
        fault: str | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        token = args.pop("token", None)
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        status, headers = 200, {}
        handler = self._methods.get(method)
        if handler is None:
            response: dict[str, Any] = {"ok": False, "error": "unknown_method"}
        elif not token:
            response = {"ok": False, "error": "not_authed"}
        elif (refused := self.token_error(token)) is not None:
            response = {"ok": False, "error": refused}
        else:
            with self.lock:
                wait = self._limiter.check(method, self._rate_key_channel(method, args))
                if wait is not None:
                    status, headers = 429, {"Retry-After": str(wait)}
                    response = {"ok": False, "error": "ratelimited"}
                else:
                    try:
                        response = {"ok": True, **handler(args)}
                    except SlackError as error:
                        response = {"ok": False, "error": error.error, **error.extra}
        self.record(method, args, response, status, fault=fault)
        return status, response, headers

    def token_error(self, token: str) -> str | None:
        """Why Slack refuses `token` for this workspace's API, or None when it accepts it."""
        with self.lock:
            if token in self.revoked_tokens:
                return "token_revoked"
            if token == self.bot_token:
                return None
            if token not in self.issued_tokens:
                return "invalid_auth"
            expires = self.issued_tokens[token]
            return "token_expired" if expires is not None and self.clock() >= expires else None

    def knows_token(self, token: str) -> bool:
        with self.lock:
            return token == self.bot_token or token in self.issued_tokens

    def handle_page(self, path: str, query: str) -> tuple[int, dict[str, str], bytes] | None:
        """A browser page besides the API (none here; sandbox.multi serves OAuth's)."""
        return None

    def handle_upload(
        self, file_id: str, content: bytes, *, fault: str | None = None
    ) -> tuple[int, str]:
        with self.lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                status, body = 404, "file_not_found"
            else:
                pending.content = content
                status, body = 200, f"OK - {len(content)}"
        args = {"file_id": file_id, "length": len(content)}
        self.record("upload", args, {"body": body}, status, fault=fault)
        return status, body

    def handle_response_url(
        self, token: str, payload: dict[str, Any], *, fault: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            status, response = self._apply_response_url(token, payload)
        self.record("response_url", payload, response, status, fault=fault)
        return status, response

    # -- API methods ---------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        ws = self.workspace
        return {
            "url": f"https://{ws.team_domain}.slack.com/",
            "team": ws.team_domain,
            "user": ws.bot_name.lower(),
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable_channel(args.get("channel"))
        text, blocks = self._message_content(args, require=True)
        thread_ts = args.get("thread_ts") or None
        message = self.add_message(channel, text, blocks, thread_ts)
        metadata = args.get("metadata")
        if isinstance(metadata, str) and metadata:
            metadata = json.loads(metadata)
        if isinstance(metadata, dict):
            message.metadata = metadata
        return {"channel": channel, "ts": message.ts, "message": self.message_payload(message)}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args.get("channel"))
        limit = max(1, min(int(args.get("limit") or 100), 999))
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        newest_first = sorted(
            (m for m in self._messages if m.channel == channel and not m.thread_ts),
            key=lambda m: float(m.ts),
            reverse=True,
        )
        page = []
        for message in newest_first[:limit]:
            payload = self.message_payload(message)
            if with_metadata and message.metadata is not None:
                payload["metadata"] = message.metadata
            page.append(payload)
        return {"messages": page, "has_more": len(newest_first) > limit}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.lookup_channel_id(str(args.get("channel", "")))
        message = self._find_message(channel, str(args.get("ts", "")))
        if message is None:
            raise SlackError("message_not_found")
        _, blocks = self._message_content(args, require=False)
        self._update_message(message, args.get("text"), blocks if "blocks" in args else None)
        return {
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": self.message_payload(message),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable_channel(args.get("channel"))
        user_id = str(args.get("user", ""))
        user = self.workspace.user(user_id)
        if user is None:
            raise SlackError("user_not_found")
        if user_id not in self.channel_members(channel):
            raise SlackError("user_not_in_channel")
        text, blocks = self._message_content(args, require=True)
        ephemeral = self.add_ephemeral(channel, user_id, text, blocks, "api")
        return {"message_ts": ephemeral.ts}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_supported", detail="the sandbox opens one-to-one DMs only")
        user = self.workspace.user(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.deleted:
            raise SlackError("user_disabled")
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        already_open = user.id in self._dms
        channel_id = self.dm_channel(user.id)
        channel: dict[str, Any] = {"id": channel_id}
        if str(args.get("return_im", "")).lower() in ("1", "true"):
            channel.update({"is_im": True, "user": user.id, "created": 0, "is_open": True})
        return {"no_op": already_open, "already_open": already_open, "channel": channel}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._visible_channel(args.get("channel"))
        members = self.channel_members(channel_id)
        limit = _int_arg(args.get("limit"), 100)
        limit = min(max(limit, 1), 1000)
        start = 0
        cursor = args.get("cursor")
        if cursor:
            try:
                after = base64.b64decode(str(cursor), validate=True).decode()
                start = members.index(after.removeprefix("user:"))
            except (ValueError, binascii.Error, UnicodeDecodeError) as error:
                raise SlackError("invalid_cursor") from error
        page = members[start : start + limit]
        rest = members[start + limit : start + limit + 1]
        next_cursor = base64.b64encode(f"user:{rest[0]}".encode()).decode() if rest else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._visible_channel(args.get("channel"))
        channel = self.workspace.channel(channel_id)
        if channel is None:
            return {
                "channel": {
                    "id": channel_id,
                    "is_im": True,
                    "user": self.dm_user(channel_id),
                    "created": 0,
                    "is_open": True,
                }
            }
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "is_archived": False,
            "is_general": False,
            "is_member": channel.bot_is_member,
            "created": 0,
        }
        if str(args.get("include_num_members", "")).lower() in ("1", "true"):
            info["num_members"] = len(self.workspace.channel_members(channel))
        return {"channel": info}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.workspace.user(str(args.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": self.user_payload(user)}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # Slack pages the workspace's people (the bot user too) by cursor; it suggests pages
        # of at most 200 and refuses more than 1,000.
        users = list(self.workspace.users.values())
        limit = min(max(_int_arg(args.get("limit"), 0) or 1000, 1), 1000)
        start = 0
        cursor = args.get("cursor")
        if cursor:
            try:
                after = base64.b64decode(str(cursor), validate=True).decode()
                start = [u.id for u in users].index(after.removeprefix("user:"))
            except (ValueError, binascii.Error, UnicodeDecodeError) as error:
                raise SlackError("invalid_cursor") from error
        page = users[start : start + limit]
        rest = users[start + limit : start + limit + 1]
        next_cursor = base64.b64encode(f"user:{rest[0].id}".encode()).decode() if rest else ""
        return {
            "members": [self.user_payload(user) for user in page],
            "cache_ts": int(_wallclock_seconds()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = str(args.get("trigger_id", ""))
        issued = self._triggers.get(trigger_id)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        user_id, issued_at = issued
        if _monotonic() - issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        view = self._checked_view(args.get("view"))
        del self._triggers[trigger_id]
        view_id = f"V{self.next_serial():010d}"
        stored = View(view_id, user_id, str(view["type"]), {})
        stored.view = self.view_object(view, view_id, user_id, view.get("external_id"))
        self.views[view_id] = stored
        self.emit(SandboxEvent("view_opened", user=user_id, view=stored.view))
        return {"view": stored.view}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments")
        found = self.views.get(str(view_id)) if view_id else self._view_by_external(external_id)
        if found is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != found.hash:
            raise SlackError("hash_conflict")
        view = self._checked_view(args.get("view"))
        found.view = self.view_object(
            view, found.id, found.user_id, view.get("external_id", found.view.get("external_id"))
        )
        found.type = str(view["type"])
        if found.type == "home":
            self.home_tabs[found.user_id] = found.view
        self.emit(SandboxEvent("view_updated", user=found.user_id, view=found.view))
        return {"view": found.view}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user_id", ""))
        user = self.workspace.user(user_id)
        if user is None:
            raise SlackError("user_not_found")
        view = self._checked_view(args.get("view"))
        if view["type"] != "home":
            raise SlackError("invalid_arguments", errors=["views.publish takes a home view"])
        existing = next(
            (v for v in self.views.values() if v.user_id == user_id and v.type == "home"), None
        )
        if existing is not None and args.get("hash") and args["hash"] != existing.hash:
            raise SlackError("hash_conflict")
        view_id = existing.id if existing is not None else f"V{self.next_serial():010d}"
        stored = View(view_id, user_id, "home", self.view_object(view, view_id, user_id, None))
        self.views[view_id] = stored
        self.home_tabs[user_id] = stored.view
        self.emit(SandboxEvent("home_published", user=user_id, view=stored.view))
        return {"view": stored.view}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        length = _int_arg(args.get("length"), -1)
        if not filename or length < 0:
            raise SlackError("invalid_arguments")
        file_id = f"F{self.next_serial():010d}"
        self._uploads[file_id] = _PendingUpload(str(filename), length)
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        channel = self._postable_channel(args.get("channel_id")) if args.get("channel_id") else None
        uploaded: list[UploadedFile] = []
        for item in items:
            pending = self._uploads.get(str(item.get("id"))) if isinstance(item, dict) else None
            if pending is None or pending.content is None:
                raise SlackError("file_not_found")
            if len(pending.content) != pending.length:
                raise SlackError("file_upload_size_mismatch")
            uploaded.append(
                UploadedFile(
                    id=str(item["id"]),
                    name=pending.name,
                    title=str(item.get("title") or pending.name),
                    content=pending.content,
                    channel=channel,
                    initial_comment=args.get("initial_comment"),
                    thread_ts=args.get("thread_ts") or None,
                )
            )
        for index, file in enumerate(uploaded):
            del self._uploads[file.id]
            self.files.append(file)
            # One share carries the comment once, however many files it has.
            self.emit(
                SandboxEvent(
                    "file_uploaded",
                    channel,
                    self.workspace.bot_user_id,
                    (file.initial_comment or "") if index == 0 else "",
                    file_name=file.name,
                )
            )
        if channel is not None:
            # Sharing files posts one message carrying them, as Slack shows it in the channel.
            message = Message(
                channel,
                self.next_ts(),
                self.workspace.bot_user_id,
                str(args.get("initial_comment") or ""),
                [],
                args.get("thread_ts") or None,
                file_ids=[f.id for f in uploaded],
            )
            self._messages.append(message)
        return {
            "files": [
                {
                    "id": f.id,
                    "name": f.name,
                    "title": f.title,
                    "size": len(f.content),
                    "user": self.workspace.bot_user_id,
                    "channels": [channel] if channel else [],
                }
                for f in uploaded
            ]
        }

    # -- internals -----------------------------------------------------------------------------

    def _rate_key_channel(self, method: str, args: dict[str, Any]) -> str | None:
        if method != "chat.postMessage":
            return None
        try:
            return self.lookup_channel_id(str(args.get("channel", "")))
        except SlackError:
            return None

    def _visible_channel(self, raw: Any) -> str:
        """A channel the bot can see: public ones, private ones it is in, its own DMs."""
        channel_id = self.lookup_channel_id(str(raw or ""))
        channel = self.workspace.channel(channel_id)
        if channel is None:
            if self.dm_user(channel_id) is None:
                raise SlackError("channel_not_found")
            return channel_id
        if channel.is_private and not channel.bot_is_member:
            # Slack hides private channels from non-members entirely.
            raise SlackError("channel_not_found")
        return channel_id

    def _postable_channel(self, raw: Any) -> str:
        raw = str(raw or "")
        if raw[:1] in ("U", "W"):
            user = self.workspace.user(raw)
            if user is None:
                raise SlackError("channel_not_found")
            if user.deleted:
                raise SlackError("user_disabled")
            if user.is_bot:
                raise SlackError("cannot_dm_bot")
        channel_id = self._visible_channel(raw)
        channel: Channel | None = self.workspace.channel(channel_id)
        if channel is not None and not channel.bot_is_member:
            raise SlackError("not_in_channel")
        return channel_id

    def _message_content(
        self, args: dict[str, Any], *, require: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        text = args.get("text")
        blocks = args.get("blocks")
        if require and not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if validate_message_text(text):
            raise SlackError("msg_too_long")
        if blocks is not None:
            errors = validate_message_blocks(blocks)
            if errors:
                raise _invalid_blocks(errors)
        return str(text or ""), list(blocks or [])

    def _find_message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def _update_message(
        self, message: Message, text: Any, blocks: list[dict[str, Any]] | None
    ) -> None:
        if text is not None:
            message.text = str(text)
        # Slack keeps a message's blocks when an update omits them; [] removes them.
        if blocks is not None:
            message.blocks = blocks
        message.updated += 1
        self.emit(
            SandboxEvent(
                "message_updated",
                message.channel,
                message.user,
                message.text,
                message.blocks,
                ts=message.ts,
            )
        )

    def _checked_view(self, view: Any) -> dict[str, Any]:
        errors = validate_view(view)
        if errors:
            raise _invalid_blocks(errors)
        assert isinstance(view, dict)
        return view

    def _view_by_external(self, external_id: Any) -> View | None:
        return next(
            (v for v in self.views.values() if v.view.get("external_id") == external_id), None
        )

    def _apply_response_url(
        self, token: str, payload: dict[str, Any], *, fault: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        target = self._response_urls.get(token)
        if target is None or target.uses_left <= 0:
            return 404, {"ok": False, "error": "expired_url" if target else "invalid_url"}
        try:
            text, blocks = self._message_content(payload, require=False)
        except SlackError as error:
            return 400, {"ok": False, "error": error.error, **error.extra}
        target.uses_left -= 1
        original = (
            self._find_message(target.channel, target.message_ts) if target.message_ts else None
        )
        if _truthy(payload.get("delete_original")):
            if original is not None:
                self._messages.remove(original)
                self.emit(
                    SandboxEvent("message_deleted", original.channel, original.user, ts=original.ts)
                )
            return 200, {"ok": True}
        if _truthy(payload.get("replace_original")):
            if original is not None:
                self._update_message(original, payload.get("text"), blocks)
                return 200, {"ok": True}
            if target.is_ephemeral:
                old = next((e for e in self.ephemerals if e.ts == target.message_ts), None)
                if old is not None:
                    self.ephemerals.remove(old)
        if payload.get("response_type") == "in_channel":
            self.add_message(target.channel, text, blocks, payload.get("thread_ts"))
        else:
            self.add_ephemeral(target.channel, target.user, text, blocks, "response_url")
        return 200, {"ok": True}


def _invalid_blocks(errors: list[str]) -> SlackError:
    return SlackError(
        "invalid_blocks",
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
    )


def _int_arg(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def parse_args(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query string and body the way Slack reads them, decoding JSON-valued fields."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.startswith("application/json"):
            decoded = json.loads(body.decode("utf-8"))
            if isinstance(decoded, dict):
                args.update(decoded)
        else:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # Undecodable JSON stays a string, so validation reports it as Slack would.
            with contextlib.suppress(json.JSONDecodeError):
                args[key] = json.loads(value)
    return args


class Served(Protocol):
    """What the HTTP handler serves: one workspace (SlackSandbox) or several (sandbox.multi)."""

    faults: Faults

    def handle_api(
        self, method: str, args: dict[str, Any], authorization: str | None, *, fault: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]: ...

    def handle_upload(
        self, file_id: str, content: bytes, *, fault: str | None
    ) -> tuple[int, str]: ...

    def handle_response_url(
        self, token: str, payload: dict[str, Any], *, fault: str | None
    ) -> tuple[int, dict[str, Any]]: ...

    def handle_page(self, path: str, query: str) -> tuple[int, dict[str, str], bytes] | None: ...

    def record(
        self,
        method: str,
        args: dict[str, Any],
        response: dict[str, Any],
        status: int,
        *,
        fault: str | None = None,
    ) -> None: ...


def serve(served: Served) -> tuple[ThreadingHTTPServer, threading.Thread, str]:
    """An HTTP server on a free loopback port for `served`, running on a daemon thread."""
    handler = type("_BoundHandler", (_Handler,), {"sandbox": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    sandbox: Served

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test run should not be drowned in access logs

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type") or ""
        if url.path.startswith("/api/"):
            name = url.path.removeprefix("/api/")
        elif url.path.startswith("/upload/"):
            name = "upload"
        elif url.path.startswith("/response/"):
            name, content_type = "response_url", "application/json"
        elif (page := self.sandbox.handle_page(url.path, url.query)) is not None:
            self._send(page[0], page[2], "text/html; charset=utf-8", page[1])
            return
        else:
            self._send(404, b"not found", "text/plain")
            return
        if name == "upload":
            args: dict[str, Any] = {"file_id": url.path.removeprefix("/upload/")}
        else:
            try:
                args = parse_args(url.query if name != "response_url" else "", body, content_type)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._send_json(
                    200 if name != "response_url" else 400, {"ok": False, "error": "invalid_json"}
                )
                return
        fault = self.sandbox.faults.take(name)
        if fault is not None and fault.kind != "slow" and fault.kind not in AFTER_ACTING:
            self._inject(name, args, fault)
            return
        if fault is not None and fault.kind == "slow":
            _sleep(fault.delay)
        kind = fault.kind if fault is not None else None
        if name == "upload":
            status, text = self.sandbox.handle_upload(args["file_id"], body, fault=kind)
            self._send(status, text.encode(), "text/plain")
        elif name == "response_url":
            token = url.path.removeprefix("/response/")
            status, response = self.sandbox.handle_response_url(token, args, fault=kind)
            self._send_json(status, response)
        else:
            status, response, headers = self.sandbox.handle_api(
                name, args, self.headers.get("Authorization"), fault=kind
            )
            if fault is not None and fault.kind == "slow_response":
                _sleep(fault.delay)
            # Slack has acted (the call is recorded as it went); the caller only learns that
            # something went wrong.
            if fault is not None and fault.kind == "drop_after":
                self.close_connection = True
                return
            if fault is not None and fault.kind == "http_503_after":
                self._send_json(503, {"ok": False, "error": "service_unavailable"})
                return
            self._send_json(status, response, headers)

    def _inject(self, name: str, args: dict[str, Any], fault: Fault) -> None:
        recorded = {k: v for k, v in args.items() if k != "token"}
        if fault.delay:
            _sleep(fault.delay)
        if fault.kind == "drop":
            self.sandbox.record(name, recorded, {}, 0, fault=fault.kind)
            # No status line at all: the client sees the connection close mid-request.
            self.close_connection = True
            return
        if fault.kind == "ratelimited":
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers = {"Retry-After": str(fault.retry_after)}
        elif fault.kind == "http_500":
            status, body, headers = 500, {"ok": False, "error": "fatal_error"}, {}
        else:
            status, body, headers = 503, {"ok": False, "error": "service_unavailable"}, {}
        self.sandbox.record(name, recorded, body, status, fault=fault.kind)
        self._send_json(status, body, headers)

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
