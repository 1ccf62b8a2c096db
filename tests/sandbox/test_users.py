"""Virtual users: signed payloads shaped like Slack's, and Slack's handling of the answers."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient

from sandbox import SlackSandbox
from sandbox import users as sandbox_users
from tests.sandbox.conftest import FakeBot, Received

PULSE_MESSAGE: list[dict[str, Any]] = [
    {"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "Pulse open"}},
    {
        "type": "actions",
        "block_id": "answer",
        "elements": [
            {
                "type": "button",
                "action_id": "answer",
                "text": {"type": "plain_text", "text": "Answer"},
                "value": "run-7",
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "skip",
                "text": {"type": "plain_text", "text": "Skip"},
                "value": "run-7",
            },
        ],
    },
]


def option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value.title()}, "value": value}


def field(block_id: str, element: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": block_id.title()},
        "element": {"action_id": "value", **element},
    }


PULSE_MODAL = {
    "type": "modal",
    "callback_id": "pulse_answer",
    "private_metadata": '{"run": 7}',
    "title": {"type": "plain_text", "text": "Weekly pulse"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        field("focus", {"type": "plain_text_input"}),
        field("score", {"type": "static_select", "options": [option("1"), option("5")]}),
        field("mood", {"type": "radio_buttons", "options": [option("calm"), option("busy")]}),
        field(
            "topics",
            {"type": "checkboxes", "options": [option("hiring"), option("roadmap")]},
            optional=True,
        ),
        field("at", {"type": "timepicker", "initial_time": "09:00"}),
        field("day", {"type": "datepicker"}, optional=True),
        field("hours", {"type": "number_input", "is_decimal_allowed": False}, optional=True),
        field("buddy", {"type": "users_select"}, optional=True),
        field("where", {"type": "conversations_select"}, optional=True),
        field("room", {"type": "channels_select"}, optional=True),
        {
            "type": "actions",
            "block_id": "more",
            "elements": [
                {
                    "type": "button",
                    "action_id": "add_note",
                    "text": {"type": "plain_text", "text": "Add note"},
                }
            ],
        },
    ],
}


def open_modal(sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot) -> str:
    sandbox.user("U0ALICE").run_command("/pulse", channel="C0EXEC")
    trigger = fake_bot.last.form["trigger_id"]
    return str(client.views_open(trigger_id=trigger, view=PULSE_MODAL)["view"]["id"])


def test_slash_command_is_signed_and_shaped_like_slack(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    response = sandbox.user("U0ALICE").run_command("/pulse", "status", channel="#exec-team")
    assert response.status == 200
    got = fake_bot.last
    assert got.valid_signature
    assert got.content_type == "application/x-www-form-urlencoded"
    assert got.headers["X-Slack-Signature"].startswith("v0=")
    form = got.form
    assert {k: form[k] for k in ("command", "text", "user_id", "user_name", "channel_id")} == {
        "command": "/pulse",
        "text": "status",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "channel_id": "C0EXEC",
    }
    assert form["channel_name"] == "exec-team"
    assert form["team_id"] == "T0SANDBOX"
    assert form["team_domain"] == "coherence-sandbox"
    assert form["api_app_id"] == "A0COHERENCE"
    assert form["is_enterprise_install"] == "false"
    assert form["token"] == sandbox.verification_token
    assert form["response_url"].startswith(f"{sandbox.base_url}/response/")
    # The trigger is real: the bot can open a modal with it, for this user.
    view = client.views_open(trigger_id=form["trigger_id"], view=PULSE_MODAL)["view"]
    assert sandbox.views[view["id"]].user_id == "U0ALICE"


def test_ack_body_shows_as_an_ephemeral(sandbox: SlackSandbox, fake_bot: FakeBot) -> None:
    fake_bot.reply = lambda _: (200, "application/json", json.dumps({"text": "Working on it"}))
    sandbox.user("U0BEN").run_command("/pulse", channel="C0EXEC")
    fake_bot.reply = lambda _: (200, "text/plain", "plain ack")
    sandbox.user("U0BEN").run_command("/pulse", channel="C0EXEC")
    fake_bot.reply = lambda _: (200, "text/plain", "")
    sandbox.user("U0BEN").run_command("/pulse", channel="C0EXEC")
    assert [(e.user, e.text, e.source) for e in sandbox.ephemerals] == [
        ("U0BEN", "Working on it", "ack"),
        ("U0BEN", "plain ack", "ack"),
    ]


def test_in_channel_ack_is_a_message(sandbox: SlackSandbox, fake_bot: FakeBot) -> None:
    reply = {"response_type": "in_channel", "text": "Pulse started"}
    fake_bot.reply = lambda _: (200, "application/json", json.dumps(reply))
    sandbox.user("U0BEN").run_command("/pulse", channel="C0EXEC")
    assert [m.text for m in sandbox.messages("C0EXEC")] == ["Pulse started"]


def test_a_late_ack_shows_slacks_timeout_error(
    sandbox: SlackSandbox, fake_bot: FakeBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_users, "ACK_TIMEOUT", 0.05)

    def slow(_: Received) -> tuple[int, str, str]:
        time.sleep(0.1)
        return 200, "text/plain", "too late"

    fake_bot.reply = slow
    response = sandbox.user("U0BEN").run_command("/pulse", channel="C0EXEC")
    assert response.timed_out
    assert [e.text for e in sandbox.ephemerals] == [
        '/pulse failed with the error "operation_timeout"'
    ]


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_response_url_posts_are_recorded_and_validated(
    sandbox: SlackSandbox, fake_bot: FakeBot
) -> None:
    sandbox.user("U0DIEGO").run_command("/pulse", channel="C0EXEC")
    url = fake_bot.last.form["response_url"]
    assert post_json(url, {"text": "Just you"}) == (200, {"ok": True})
    assert post_json(url, {"text": "Everyone", "response_type": "in_channel"})[0] == 200
    status, body = post_json(url, {"blocks": [{"type": "divider"}] * 51})
    assert (status, body["error"]) == (400, "invalid_blocks")
    assert [(e.user, e.text, e.source) for e in sandbox.ephemerals] == [
        ("U0DIEGO", "Just you", "response_url")
    ]
    assert [m.text for m in sandbox.messages("C0EXEC")] == ["Everyone"]
    assert [c.status for c in sandbox.calls_to("response_url")] == [200, 200, 400]


def test_click_sends_block_actions_for_the_message(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    client.chat_postMessage(channel="C0EXEC", text="Pulse", blocks=PULSE_MESSAGE)
    [message] = sandbox.messages("C0EXEC")
    sandbox.user("U0EMMA").click(message, "answer")
    assert fake_bot.last.valid_signature
    payload = fake_bot.last_payload
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0EXEC",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0EXEC", "name": "exec-team"}
    assert payload["message"]["ts"] == message.ts
    assert payload["message"]["blocks"] == PULSE_MESSAGE
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "type")} == {
        "action_id": "answer",
        "block_id": "answer",
        "value": "run-7",
        "type": "button",
    }
    assert action["text"]["text"] == "Answer"
    assert action["action_ts"]
    assert payload["user"] == {
        "id": "U0EMMA",
        "username": "emma",
        "name": "emma",
        "team_id": "T0SANDBOX",
    }
    assert payload["team"]["id"] == "T0SANDBOX"
    assert payload["api_app_id"] == "A0COHERENCE"
    assert payload["token"] == sandbox.verification_token
    assert payload["trigger_id"]
    # Replacing the original through response_url edits the message in place.
    post_json(payload["response_url"], {"replace_original": True, "text": "Thanks!", "blocks": []})
    assert (message.text, message.blocks, message.updated) == ("Thanks!", [], 1)


def test_clicking_an_ephemeral_leaves_out_the_message(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    client.chat_postEphemeral(channel="C0EXEC", user="U0EMMA", text="Pulse", blocks=PULSE_MESSAGE)
    [ephemeral] = sandbox.ephemerals
    sandbox.user("U0EMMA").click(ephemeral, "skip")
    payload = fake_bot.last_payload
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload
    post_json(payload["response_url"], {"delete_original": True})


def test_clicking_a_missing_button_names_the_available_ones(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    client.chat_postMessage(channel="C0EXEC", text="Pulse", blocks=PULSE_MESSAGE)
    with pytest.raises(LookupError, match="answer"):
        sandbox.user("U0EMMA").click(sandbox.messages()[0], "nope")


def test_click_in_view_and_home(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    view_id = open_modal(sandbox, client, fake_bot)
    sandbox.user("U0ALICE").click_in_view(view_id, "add_note")
    payload = fake_bot.last_payload
    assert payload["container"] == {"type": "view", "view_id": view_id}
    assert payload["view"]["id"] == view_id
    assert payload["view"]["callback_id"] == "pulse_answer"
    assert payload["view"]["private_metadata"] == '{"run": 7}'
    assert payload["view"]["state"]["values"]["at"]["value"]["selected_time"] == "09:00"
    assert "response_url" not in payload

    # action_ids must be unique within a block, so each run's button gets its own row.
    home = {
        "type": "home",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "open_run",
                        "text": {"type": "plain_text", "text": f"Run {n}"},
                        "value": str(n),
                    }
                ],
            }
            for n in (1, 2)
        ],
    }
    client.views_publish(user_id="U0ALICE", view=home)
    sandbox.user("U0ALICE").click_in_home("open_run", value="2")
    payload = fake_bot.last_payload
    assert payload["view"]["type"] == "home"
    assert payload["container"]["type"] == "view"
    assert payload["actions"][0]["value"] == "2"


def test_submit_converts_values_into_slacks_state_shape(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    view_id = open_modal(sandbox, client, fake_bot)
    response = sandbox.user("U0ALICE").submit(
        view_id,
        {
            "focus": "Hiring",
            "score": "5",
            "mood": "busy",
            "topics": ["hiring", "roadmap"],
            "day": "2026-03-02",
            "hours": 12,
            "buddy": "U0BEN",
            "where": "C0EXEC",
            "room": "C0DIRS",
        },
    )
    assert response.status == 200
    payload = fake_bot.last_payload
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view_id
    values = payload["view"]["state"]["values"]
    assert values["focus"]["value"] == {"type": "plain_text_input", "value": "Hiring"}
    assert values["score"]["value"]["selected_option"] == option("5")
    assert values["mood"]["value"]["selected_option"]["value"] == "busy"
    assert [o["value"] for o in values["topics"]["value"]["selected_options"]] == [
        "hiring",
        "roadmap",
    ]
    assert values["at"]["value"] == {"type": "timepicker", "selected_time": "09:00"}
    assert values["day"]["value"]["selected_date"] == "2026-03-02"
    assert values["hours"]["value"] == {"type": "number_input", "value": "12"}
    assert values["buddy"]["value"]["selected_user"] == "U0BEN"
    assert values["where"]["value"]["selected_conversation"] == "C0EXEC"
    assert values["room"]["value"]["selected_channel"] == "C0DIRS"
    # An empty 200 is Slack's signal to close the modal.
    assert sandbox.views[view_id].open is False


def test_submit_refuses_what_slacks_client_would(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    view_id = open_modal(sandbox, client, fake_bot)
    alice = sandbox.user("U0ALICE")
    with pytest.raises(ValueError, match="required input 'score'"):
        alice.submit(view_id, {"focus": "x", "mood": "calm"})
    with pytest.raises(ValueError, match="not an option"):
        alice.submit(view_id, {"focus": "x", "score": "3", "mood": "calm"})
    with pytest.raises(KeyError, match="typo"):
        alice.submit(view_id, {"focus": "x", "score": "1", "mood": "calm", "typo": 1})


def test_errors_response_keeps_the_view_open(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    view_id = open_modal(sandbox, client, fake_bot)
    errors = {"response_action": "errors", "errors": {"focus": "Say a bit more"}}
    fake_bot.reply = lambda _: (200, "application/json", json.dumps(errors))
    response = sandbox.user("U0ALICE").submit(view_id, {"focus": "x", "score": "1", "mood": "calm"})
    assert response.json == errors
    assert sandbox.views[view_id].open is True
    assert sandbox.views[view_id].errors == {"focus": "Say a bit more"}


def test_update_and_clear_responses(
    sandbox: SlackSandbox, client: WebClient, fake_bot: FakeBot
) -> None:
    view_id = open_modal(sandbox, client, fake_bot)
    thanks = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Thanks"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Recorded"}}],
    }
    update = {"response_action": "update", "view": thanks}
    fake_bot.reply = lambda _: (200, "application/json", json.dumps(update))
    answers = {"focus": "x", "score": "1", "mood": "calm"}
    sandbox.user("U0ALICE").submit(view_id, answers)
    assert sandbox.views[view_id].open is True
    assert sandbox.views[view_id].view["title"]["text"] == "Thanks"

    second = open_modal(sandbox, client, fake_bot)
    fake_bot.reply = lambda _: (200, "application/json", json.dumps({"response_action": "clear"}))
    sandbox.user("U0ALICE").submit(second, answers)
    assert not sandbox.views[view_id].open
    assert not sandbox.views[second].open


def test_open_home_sends_app_home_opened(sandbox: SlackSandbox, fake_bot: FakeBot) -> None:
    sandbox.user("U0GRACE").open_home()
    got = fake_bot.last
    assert got.valid_signature
    assert got.content_type == "application/json"
    envelope = fake_bot.last_payload
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev")
    assert isinstance(envelope["event_time"], int)
    assert envelope["event"]["type"] == "app_home_opened"
    assert envelope["event"]["tab"] == "home"
    assert envelope["event"]["user"] == "U0GRACE"
    assert envelope["event"]["channel"] == sandbox.dm_channel("U0GRACE")


def test_forged_and_stale_requests_fail_verification(
    sandbox: SlackSandbox, fake_bot: FakeBot
) -> None:
    grace = sandbox.user("U0GRACE")
    first = grace.open_home()
    assert first.status == 200
    assert grace.replay(first, retry_num=1).status == 200
    assert fake_bot.received[-1].body == fake_bot.received[-2].body
    assert fake_bot.last.headers["X-Slack-Retry-Num"] == "1"
    assert first.request is not None
    forged = grace.send_raw(first.request.body, "application/json", signature="v0=" + "0" * 64)
    assert forged.status == 401
    stale = grace.send_raw(first.request.body, "application/json", timestamp=int(time.time()) - 600)
    assert stale.status == 401
