"""Secrets never reach the logs, even from a library's DEBUG output."""

from __future__ import annotations

import logging
import sys

import pytest
from slack_sdk import WebClient

from bot.logs import RedactSecrets, configure_logging
from sandbox import SlackSandbox
from tests.conftest import BOT_TOKEN


def test_tokens_and_signatures_are_masked_in_any_record() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "auth %s sig %s",
        ("xoxb-123-456-abc", "v0=" + "ab" * 32),
        None,
    )
    RedactSecrets().filter(record)
    assert record.getMessage() == "auth [redacted] sig [redacted]"


def test_tokens_in_an_attached_traceback_are_masked_too() -> None:
    try:
        raise RuntimeError("refused xoxp-1-2-3-secret and xapp-1-A0-1-ff")
    except RuntimeError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "call failed", (), sys.exc_info()
        )
    RedactSecrets().filter(record)
    printed = logging.Formatter().format(record)
    assert "RuntimeError: refused [redacted] and [redacted]" in printed
    assert "secret" not in printed
    assert "A0-1-ff" not in printed


def test_slack_sdk_debug_output_does_not_leak_the_bot_token(
    sandbox: SlackSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    try:
        WebClient(token=BOT_TOKEN, base_url=sandbox.api_url).auth_test()
    finally:
        # configure_logging replaced pytest's own capture handlers; give them back.
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    err = capfd.readouterr().err
    assert "Authorization" in err or "auth.test" in err  # the SDK did log the request
    assert BOT_TOKEN not in err
