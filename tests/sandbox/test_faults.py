"""Injected failures: 5xx, slowness, dropped connections and forced 429s."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox import SlackSandbox


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_503", 503)])
def test_server_errors(client: WebClient, sandbox: SlackSandbox, kind: str, status: int) -> None:
    sandbox.faults.inject("chat.postMessage", kind)  # type: ignore[arg-type]
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0EXEC", text="x")
    assert raised.value.response.status_code == status
    assert sandbox.messages() == []
    client.chat_postMessage(channel="C0EXEC", text="x")
    failed, ok = sandbox.calls_to("chat.postMessage")
    assert (failed.status, failed.fault, failed.args["channel"]) == (status, kind, "C0EXEC")
    assert (ok.status, ok.fault) == (200, None)


def test_ratelimited_fault_sends_retry_after(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.faults.inject("*", "ratelimited", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="U0ALICE")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


def test_slow_delays_then_answers(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.faults.inject("users.info", "slow", delay=0.3)
    started = time.monotonic()
    assert client.users_info(user="U0ALICE")["ok"]
    assert time.monotonic() - started >= 0.3
    assert [c.fault for c in sandbox.calls_to("users.info")] == ["slow"]


def test_drop_closes_the_connection(sandbox: SlackSandbox, client: WebClient) -> None:
    sandbox.faults.inject("auth.test", "drop")
    with pytest.raises(Exception) as raised:  # noqa: PT011 - urllib's exact type varies
        client.auth_test()
    assert not isinstance(raised.value, SlackApiError)
    assert client.auth_test()["ok"]
    assert [c.status for c in sandbox.calls_to("auth.test")] == [0, 200]


def test_drop_is_survived_by_slack_sdks_default_retry(sandbox: SlackSandbox) -> None:
    sandbox.faults.inject("auth.test", "drop")
    client = WebClient(token=sandbox.bot_token, base_url=sandbox.api_url)
    assert client.auth_test()["ok"]


def test_times_and_clear(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.faults.inject("users.info", "http_500", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.users_info(user="U0ALICE")
    assert client.users_info(user="U0ALICE")["ok"]
    sandbox.faults.inject("users.info", "http_500")
    sandbox.faults.clear()
    assert client.users_info(user="U0ALICE")["ok"]
