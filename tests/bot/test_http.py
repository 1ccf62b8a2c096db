"""The bot's HTTP surface, driven by signed requests from the sandbox's virtual users."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt import BoltContext
from slack_sdk.errors import SlackApiError

from bot.app import build_client
from sandbox import SlackSandbox
from tests.conftest import RunningBot, sandbox_settings

EXEC = "C0EXEC"


def _record_dispatches(bot: RunningBot) -> list[str]:
    """Middleware that runs only after Bolt has verified the request's signature."""
    seen: list[str] = []

    def spy(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
        seen.append(str(body.get("command") or body.get("type")))
        next()

    bot.app.use(spy)
    return seen


def _alice(sandbox: SlackSandbox) -> str:
    return sandbox.workspace.channels[EXEC].members[0]


def test_signed_help_gets_an_ephemeral_reply_listing_every_subcommand(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    response = sandbox.user(_alice(sandbox)).run_command("/coherence", "help", channel=EXEC)
    assert response.status == 200
    [reply] = [e for e in sandbox.ephemerals if e.user == _alice(sandbox)]
    for subcommand in ("trend", "setup", "priorities", "questions", "cadence", "pause", "resume"):
        assert subcommand in reply.text
    assert sandbox.messages(EXEC) == []  # ephemeral: nothing posted to the channel


def test_a_command_whose_text_contains_the_word_payload_is_still_a_command(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    # Bolt's body parser looks for the substring "payload" and would read this as empty.
    response = sandbox.user(_alice(sandbox)).run_command("/coherence", "payload", channel=EXEC)
    assert response.status == 200
    [reply] = [e for e in sandbox.ephemerals if e.user == _alice(sandbox)]
    assert "'payload'" in reply.text


def test_a_forged_signature_is_refused_and_no_listener_runs(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    seen = _record_dispatches(bot)
    user = sandbox.user(_alice(sandbox))
    body = b"command=%2Fcoherence&text=help&user_id=U1&channel_id=C0EXEC"
    response = user.send_raw(body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    assert response.status == 401
    assert seen == []
    assert sandbox.ephemerals == []


def test_a_timestamp_older_than_five_minutes_is_refused(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    seen = _record_dispatches(bot)
    user = sandbox.user(_alice(sandbox))
    body = b"command=%2Fcoherence&text=help&user_id=U1&channel_id=C0EXEC"
    # Correctly signed, but replayed six minutes later.
    response = user.send_raw(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 360
    )
    assert response.status == 401
    assert seen == []


def test_a_valid_request_does_reach_the_listeners(bot: RunningBot, sandbox: SlackSandbox) -> None:
    seen = _record_dispatches(bot)
    sandbox.user(_alice(sandbox)).run_command("/coherence", "help", channel=EXEC)
    assert seen == ["/coherence"]


def test_health_check_answers_ok(bot: RunningBot) -> None:
    with urllib.request.urlopen(bot.server.url + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert response.read() == b"ok\n"


def test_socket_mode_request_gets_the_same_reply_as_http(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse

    http = sandbox.user(_alice(sandbox)).run_command("/coherence", "help", channel=EXEC)

    class Connection:
        """Stands in for the WebSocket: keeps what the handler sends back to Slack."""

        def __init__(self) -> None:
            self.sent: list[SocketModeResponse] = []
            self.logger = bot.app.logger

        def send_socket_mode_response(self, response: SocketModeResponse) -> None:
            self.sent.append(response)

    handler = SocketModeHandler(bot.app, app_token="xapp-1-sandbox")
    connection = Connection()
    payload = {
        "command": "/coherence",
        "text": "help",
        "user_id": _alice(sandbox),
        "channel_id": EXEC,
        "team_id": sandbox.workspace.team_id,
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": "1.2.3",
    }
    request = SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=payload)
    handler.handle(connection, request)  # type: ignore[arg-type]
    [sent] = connection.sent
    assert sent.envelope_id == "env-1"
    assert sent.payload is not None
    # Bolt acknowledges a text reply as a plain body over HTTP and as {"text": …} over Socket Mode.
    assert sent.payload["text"] == http.body
    assert "/coherence trend" in http.body


def test_client_waits_retry_after_on_429_and_then_succeeds(
    sandbox: SlackSandbox, migrated_url: str
) -> None:
    client = build_client(sandbox_settings(sandbox, migrated_url))
    sandbox.faults.inject("chat.postMessage", "ratelimited", times=1, retry_after=1)
    started = time.monotonic()
    response = client.chat_postMessage(channel=EXEC, text="after the storm")
    assert response["ok"] is True
    assert time.monotonic() - started >= 1.0
    attempts = sandbox.calls_to("chat.postMessage")
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert [m.text for m in sandbox.messages(EXEC)] == ["after the storm"]


def test_an_oversized_message_is_refused_with_invalid_blocks(
    sandbox: SlackSandbox, migrated_url: str
) -> None:
    client = build_client(sandbox_settings(sandbox, migrated_url))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(51)
    ]
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=EXEC, text="too long", blocks=json.dumps(blocks))
    assert refused.value.response["error"] == "invalid_blocks"
    assert sandbox.messages(EXEC) == []
