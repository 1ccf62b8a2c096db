"""Fixtures: a running sandbox with the demo workspace, a WebClient aimed at it, a fake bot."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from sandbox import RateLimits, SlackSandbox, Workspace

BOT_TOKEN = "xoxb-sandbox-token"
SIGNING_SECRET = "sandbox-signing-secret"


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox(
        Workspace.demo(),
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        rate_limits=RateLimits.off(),
    ) as running:
        yield running


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    # No retry handlers: each test sees exactly what one HTTP exchange produced.
    return WebClient(token=BOT_TOKEN, base_url=sandbox.api_url, retry_handlers=[])


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    content_type: str
    valid_signature: bool
    form: dict[str, str]
    json: dict[str, Any] | None


Reply = tuple[int, str, str]  # status, content type, body


@dataclass
class FakeBot:
    """Stands in for the Bolt app: verifies Slack's signature and answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    reply: Callable[[Received], Reply] = lambda _: (200, "text/plain", "")

    @property
    def last(self) -> Received:
        return self.received[-1]

    @property
    def last_payload(self) -> dict[str, Any]:
        """The interaction payload (form field) or event envelope (JSON body)."""
        if self.last.json is not None:
            return self.last.json
        return dict(json.loads(self.last.form["payload"]))


@pytest.fixture
def fake_bot(sandbox: SlackSandbox) -> Iterator[FakeBot]:
    bot = FakeBot()
    verifier = SignatureVerifier(SIGNING_SECRET)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type") or ""
            is_json = content_type.startswith("application/json")
            received = Received(
                headers=dict(self.headers.items()),
                body=body,
                content_type=content_type,
                valid_signature=verifier.is_valid_request(body, dict(self.headers.items())),
                form={} if is_json else dict(parse_qsl(body.decode())),
                json=json.loads(body) if is_json else None,
            )
            bot.received.append(received)
            if not received.valid_signature:
                status, reply_type, reply = 401, "text/plain", "invalid signature"
            else:
                status, reply_type, reply = bot.reply(received)
            data = reply.encode()
            self.send_response(status)
            self.send_header("Content-Type", reply_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    bot.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    sandbox.bot_url = bot.url
    yield bot
    server.shutdown()
    server.server_close()
