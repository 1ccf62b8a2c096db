"""Slack's Block Kit limits: the pure validators, and refusals through the API."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox import SlackSandbox
from sandbox.blockkit import validate_message_blocks, validate_view


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str = "Answer", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, **extra}


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Pulse"},
        "blocks": blocks,
        **extra,
    }


VALID_MESSAGE = [
    {"type": "header", "text": {"type": "plain_text", "text": "Weekly pulse"}},
    section("How aligned are we?", block_id="q1"),
    {"type": "divider"},
    {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{n}*"} for n in range(10)],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "closes Friday"}]},
    {
        "type": "actions",
        "block_id": "answer",
        "elements": [
            button(action_id="answer", value="run-1", style="primary"),
            {
                "type": "static_select",
                "action_id": "snooze",
                "options": [
                    {"text": {"type": "plain_text", "text": f"{h}h"}, "value": str(h)}
                    for h in (1, 4)
                ],
            },
        ],
    },
    {"type": "image", "image_url": "https://example.com/x.png", "alt_text": "chart"},
]


def test_a_valid_message_passes() -> None:
    assert validate_message_blocks(VALID_MESSAGE) == []


@pytest.mark.parametrize(
    ("blocks", "fragment"),
    [
        ([{"type": "divider"}] * 51, "must be less than 51 items [json-pointer:/blocks]"),
        ([section("x" * 3001)], "/blocks/0/text/text"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
            "/blocks/0/fields/0/text",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}],
            "/blocks/0/fields",
        ),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "/blocks/0/text"),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
            "/blocks/0/elements",
        ),
        ([{"type": "actions", "elements": [button()] * 26}], "must be less than 26 items"),
        ([{"type": "actions", "elements": [button("x" * 76)]}], "/blocks/0/elements/0/text/text"),
        ([{"type": "actions", "elements": [button(value="x" * 2001)]}], "/elements/0/value"),
        ([{"type": "actions", "elements": [button(action_id="a" * 256)]}], "/action_id"),
        ([section("x", block_id="b" * 256)], "/blocks/0/block_id"),
        ([{"text": {"type": "mrkdwn", "text": "x"}}], "must provide a type"),
        ([section("a", block_id="dup"), section("b", block_id="dup")], "duplicate block_id"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "options": [
                                {"text": {"type": "plain_text", "text": "x" * 76}, "value": "v"}
                            ],
                        }
                    ],
                }
            ],
            "/options/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": str(n)}
                                for n in range(101)
                            ],
                        }
                    ],
                }
            ],
            "must be less than 101 items",
        ),
    ],
)
def test_message_limits(blocks: list[dict[str, Any]], fragment: str) -> None:
    errors = validate_message_blocks(blocks)
    assert any(fragment in error for error in errors), errors


@pytest.mark.parametrize(
    ("view", "fragment"),
    [
        (
            modal([{"type": "divider"}] * 101),
            "must be less than 101 items [json-pointer:/view/blocks]",
        ),
        ({"type": "modal", "blocks": []}, "/view/title"),
        ({"blocks": []}, "/view/type"),
        ({"type": "home"}, "must provide blocks"),
        (modal([], title={"type": "plain_text", "text": "x" * 25}), "/view/title/text"),
        (modal([], submit={"type": "plain_text", "text": "x" * 25}), "/view/submit/text"),
        (modal([], close={"type": "plain_text", "text": "x" * 25}), "/view/close/text"),
        (modal([], private_metadata="x" * 3001), "/view/private_metadata"),
        (
            modal([{"type": "input", "element": {"type": "plain_text_input"}}]),
            "/view/blocks/0/label",
        ),
        (
            modal([{"type": "input", "label": {"type": "plain_text", "text": "Q"}}]),
            "/view/blocks/0/element",
        ),
        (
            modal(
                [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "Q"},
                        "element": {"type": "plain_text_input"},
                    }
                ]
            ),
            "must provide submit",
        ),
        (modal([section("a", block_id="x"), section("b", block_id="x")]), "duplicate block_id"),
    ],
)
def test_view_limits(view: dict[str, Any], fragment: str) -> None:
    errors = validate_view(view)
    assert any(fragment in error for error in errors), errors


def test_a_full_home_tab_of_100_blocks_passes() -> None:
    assert validate_view({"type": "home", "blocks": [{"type": "divider"}] * 100}) == []


def _refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        call()
    assert raised.value.response["error"] == "invalid_blocks"
    return dict(raised.value.response.data)


def test_post_message_with_51_blocks_is_refused_and_not_recorded(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    body = _refusal(
        lambda: client.chat_postMessage(
            channel="C0EXEC", text="x", blocks=[{"type": "divider"}] * 51
        )
    )
    assert body["errors"] == ["must be less than 51 items [json-pointer:/blocks]"]
    assert sandbox.messages() == []
    assert sandbox.calls_to("chat.postMessage")[0].response["error"] == "invalid_blocks"


def test_update_ephemeral_and_views_are_validated_too(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    ts = client.chat_postMessage(channel="C0EXEC", text="ok", blocks=VALID_MESSAGE)["ts"]
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    _refusal(lambda: client.chat_update(channel="C0EXEC", ts=ts, text="x", blocks=long_header))
    buttons = [{"type": "actions", "elements": [button()] * 26}]
    _refusal(
        lambda: client.chat_postEphemeral(
            channel="C0EXEC", user="U0ALICE", text="x", blocks=buttons
        )
    )
    trigger = sandbox.issue_trigger("U0ALICE")
    _refusal(lambda: client.views_open(trigger_id=trigger, view=modal([{"type": "divider"}] * 101)))
    dup = modal([section("a", block_id="x"), section("b", block_id="x")])
    _refusal(lambda: client.views_publish(user_id="U0ALICE", view={**dup, "type": "home"}))
    assert sandbox.messages()[0].updated == 0
    assert sandbox.ephemerals == []
    assert sandbox.views.keys() == set()
