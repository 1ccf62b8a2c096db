"""What the sandbox remembers: every call, and the state those calls left in Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class RecordedCall:
    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int
    at: float
    # Set when the call met an injected fault; status 0 means the connection was dropped.
    fault: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    updated: int = 0
    file_ids: list[str] = field(default_factory=list)
    # Slack message metadata (event_type + event_payload), shown by conversations.history
    # when asked with include_all_metadata.
    metadata: dict[str, Any] | None = None


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    source: Literal["api", "response_url", "ack"]
    ts: str = ""


@dataclass
class View:
    id: str
    user_id: str
    type: str
    view: dict[str, Any]
    open: bool = True
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return str(self.view.get("hash", ""))


@dataclass
class UploadedFile:
    id: str
    name: str
    title: str
    content: bytes
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class SandboxEvent:
    """Something a person in the workspace would see; handed to `subscribe` callbacks."""

    kind: Literal[
        "message",
        "message_updated",
        "message_deleted",
        "ephemeral",
        "view_opened",
        "view_updated",
        "view_closed",
        "home_published",
        "file_uploaded",
    ]
    channel: str | None = None
    user: str | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    view: dict[str, Any] | None = None
    ts: str | None = None
    file_name: str | None = None
