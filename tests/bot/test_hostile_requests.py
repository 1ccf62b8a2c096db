"""5,000 hostile requests through the real HTTP server: never a 5xx, a traceback or a body in
the log, even at DEBUG."""

from __future__ import annotations

import copy
import http.client
import io
import json
import logging
import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from bot.logs import configure_logging
from bot.views.pulse import ANSWER_ACTION, SUBMIT_CALLBACK
from sandbox.users import sign
from tests.conftest import SIGNING_SECRET, RunningBot

REQUESTS = 5_000
CANARY = "CANARY7f3a"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
WRONG = [None, 0, -1, 1.5, True, "", "abc", "١٢", [], {}, [1, 2], {"id": None}, "x" * 300]


def _templates() -> list[dict[str, Any]]:
    user = {"id": "U0ALICE", "team_id": "T0SANDBOX", "name": CANARY}
    team = {"id": "T0SANDBOX", "domain": "sandbox"}
    view = {
        "id": "V1",
        "type": "modal",
        "callback_id": SUBMIT_CALLBACK,
        "private_metadata": json.dumps({"run_id": 999_999}),
        "state": {"values": {"1": {"score": {"selected_option": {"value": "4"}}}}},
    }
    return [
        {"type": "block_actions", "user": user, "team": team, "trigger_id": "1.2.3",
         "actions": [{"action_id": ANSWER_ACTION, "block_id": "b", "value": "999999",
                      "type": "button"}], "container": {"type": "message"}},
        {"type": "view_submission", "user": user, "team": team, "view": view},
        {"type": "view_closed", "user": user, "team": team, "view": view},
        {"type": "event_callback", "team_id": "T0SANDBOX",
         "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
         "authorizations": [{"team_id": "T0SANDBOX", "is_bot": True}]},
    ]  # fmt: skip


def _mutate(rng: random.Random, node: Any, depth: int = 0) -> Any:
    """Delete a key, or replace one node with a value of the wrong type."""
    if isinstance(node, dict) and node and depth < 5:
        key = rng.choice(list(node))
        roll = rng.random()
        if roll < 0.25:
            del node[key]
        elif roll < 0.6:
            node[key] = copy.deepcopy(rng.choice(WRONG))
        else:
            node[key] = _mutate(rng, node[key], depth + 1)
        return node
    if isinstance(node, list) and node and depth < 5:
        if rng.random() < 0.3:
            return []
        node[0] = _mutate(rng, node[0], depth + 1)
        return node
    return copy.deepcopy(rng.choice(WRONG))


def _case(rng: random.Random, n: int) -> tuple[bytes, dict[str, str | bytes]]:
    """One hostile request: body and headers."""
    now = int(time.time())
    kind = rng.randrange(6)
    payload = copy.deepcopy(rng.choice(_templates()))
    payload["canary"] = f"{CANARY}-{n}"
    for _ in range(rng.randint(1, 3)):
        payload = _mutate(rng, payload)
    if kind == 0:  # a slash command with fields missing or garbled
        fields = {"command": "/coherence", "text": f"help {CANARY}", "user_id": "U0ALICE",
                  "team_id": "T0SANDBOX", "channel_id": "C0EXEC", "trigger_id": "1.2"}  # fmt: skip
        for key in rng.sample(list(fields), rng.randint(1, 3)):
            del fields[key]
        body, content_type = urlencode(fields).encode(), FORM
    elif kind == 1:  # not JSON, not a form, not UTF-8
        body = rng.choice(
            [
                rng.randbytes(rng.randint(1, 200)) + CANARY.encode(),
                f'{{"type": "block_actions", "x": "{CANARY}"'.encode(),
                f"payload={CANARY}{{".encode(),
                b"[" * 5000 + CANARY.encode(),
                f'["{CANARY}"]'.encode(),
                f"payload=%5B%22{CANARY}%22%5D".encode(),
                b"\xff\xfe" + CANARY.encode(),
            ]
        )
        content_type = rng.choice([FORM, JSON, "text/plain"])
    elif payload.get("type") == "event_callback" if isinstance(payload, dict) else False:
        body, content_type = json.dumps(payload).encode(), JSON
    else:
        body, content_type = urlencode({"payload": json.dumps(payload)}).encode(), FORM
    headers: dict[str, str | bytes] = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": sign(SIGNING_SECRET, now, body),
    }
    if kind == 2:  # bad, stale or missing signing headers
        broken = rng.choice(
            ["abc", "", "1e9", "-5", " 12", "١٢٣".encode(), str(now - 600), "missing"]
        )
        if broken == "missing":
            del headers[rng.choice(["X-Slack-Request-Timestamp", "X-Slack-Signature"])]
        else:
            headers["X-Slack-Request-Timestamp"] = broken
    elif kind == 3:  # a wrong signing secret
        headers["X-Slack-Signature"] = sign("not-the-secret", now, body)
    return body, headers


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    configure_logging(logging.getLevelName(saved_level))
    root.handlers[:] = saved_handlers


def test_five_thousand_hostile_requests_get_4xx_and_leave_no_body_or_traceback_in_the_log(
    bot: RunningBot, debug_log: io.StringIO
) -> None:
    rng = random.Random(20260310)
    url = urlsplit(bot.server.events_url)
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    statuses: dict[int, int] = {}
    for n in range(REQUESTS):
        body, headers = _case(rng, n)
        connection.request("POST", url.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status < 500, (n, body[:300], headers)
        if response.getheader("Connection") == "close":
            connection.close()
    connection.close()

    log = debug_log.getvalue()
    assert "Traceback" not in log
    assert CANARY not in log
    assert statuses.get(401, 0) > REQUESTS // 4
    assert statuses.get(400, 0) > REQUESTS // 4


def test_a_wrong_signing_secret_logs_one_short_line_without_the_body(
    bot: RunningBot, debug_log: io.StringIO
) -> None:
    url = urlsplit(bot.server.events_url)
    assert url.hostname is not None
    body = urlencode({"payload": json.dumps({"type": "view_submission", "x": CANARY})}).encode()
    now = int(time.time())
    before = debug_log.getvalue().count("\n")
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request(
        "POST",
        url.path,
        body=body,
        headers={
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": str(now),
            "X-Slack-Signature": sign("rotated-secret", now, body),
        },
    )
    assert connection.getresponse().status == 401
    connection.close()
    lines = debug_log.getvalue().splitlines()[before:]
    refused = [line for line in lines if "Refused" in line]
    assert len(refused) == 1
    assert len(refused[0]) < 200
    assert CANARY not in debug_log.getvalue()
