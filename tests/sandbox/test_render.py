"""Block Kit drawn as terminal text: what a person watching the sandbox reads."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from sandbox import SandboxEvent, SlackSandbox, Workspace, render_blocks, render_event

WS = Workspace.demo()


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def test_message_blocks_render_as_readable_text() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("Weekly pulse")},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Hi* <@U0ALICE>, see <#C0EXEC> &amp; <https://x.io|the docs>",
            },
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "closes Friday"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": plain("Answer"), "action_id": "a"},
                {"type": "button", "text": plain("Skip"), "action_id": "b"},
            ],
        },
        {"type": "image", "image_url": "https://x.io/c.png", "alt_text": "alignment chart"},
    ]
    assert render_blocks(blocks, width=40, workspace=WS).splitlines() == [
        "Weekly pulse",
        "============",
        "*Hi* @Alice Berger, see #exec-team & the",
        "docs (https://x.io)",
        "-" * 40,
        "  · closes Friday",
        "[ Answer ]  [ Skip ]",
        "[image: alignment chart]",
    ]


def test_mentions_stay_ids_without_a_workspace() -> None:
    text = render_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "<@U0X> hi"}}])
    assert text == "@U0X hi"


def test_fields_render_in_two_columns() -> None:
    block = {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": t} for t in ("*Focus*", "*Score*", "Hiring", "4.2")],
    }
    assert render_blocks([block], width=30).splitlines() == [
        "*Focus*         *Score*",
        "Hiring          4.2",
    ]


def test_event_prefixes_say_who_sees_it() -> None:
    message = SandboxEvent("message", "C0EXEC", WS.bot_user_id, "Pulse is open")
    assert render_event(message, workspace=WS) == "#exec-team  Coherence:\nPulse is open"
    ephemeral = SandboxEvent("ephemeral", "C0EXEC", "U0BEN", "Thanks")
    assert render_event(ephemeral, workspace=WS) == (
        "#exec-team  (only visible to Ben Okafor)\nThanks"
    )
    dm = SandboxEvent("message", "D0CHIE", WS.bot_user_id, "Your turn")
    assert render_event(dm, workspace=WS).startswith("DM with Chie Tanaka  Coherence:")


def test_modal_renders_inputs_options_and_buttons() -> None:
    view = {
        "type": "modal",
        "title": plain("Weekly pulse"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "input", "label": plain("Focus"), "element": {"type": "plain_text_input"}},
            {
                "type": "input",
                "optional": True,
                "label": plain("Mood"),
                "element": {
                    "type": "radio_buttons",
                    "options": [{"text": plain(t), "value": t} for t in ("Calm", "Busy")],
                },
            },
        ],
    }
    text = render_event(SandboxEvent("view_opened", user="U0ALICE", view=view), workspace=WS)
    assert text.splitlines() == [
        "modal for Alice Berger: Weekly pulse",
        "Focus: ____",
        "Mood (optional):",
        "    ( ) Calm",
        "    ( ) Busy",
        " " * 58 + "[ Cancel ]  [ Send ]",
    ]


def test_a_subscriber_can_print_what_the_bot_posts(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    printed: list[str] = []
    sandbox.subscribe(lambda e: printed.append(render_event(e, workspace=sandbox.workspace)))
    client.views_publish(
        user_id="U0GRACE",
        view={"type": "home", "blocks": [{"type": "header", "text": plain("Your pulses")}]},
    )
    assert printed == ["Home tab for Grace Kim:\nYour pulses\n==========="]


def test_prefilled_choices_are_shown_as_chosen() -> None:
    from sandbox import render_blocks

    def option(value: str) -> dict[str, object]:
        return {"text": {"type": "plain_text", "text": value.title()}, "value": value}

    blocks = [
        {
            "type": "input",
            "block_id": "mode",
            "label": {"type": "plain_text", "text": "Mode"},
            "element": {
                "type": "radio_buttons",
                "action_id": "v",
                "options": [option("channel"), option("dm")],
                "initial_option": option("dm"),
            },
        },
        {
            "type": "input",
            "block_id": "days",
            "label": {"type": "plain_text", "text": "Days"},
            "element": {
                "type": "checkboxes",
                "action_id": "v",
                "options": [option("mon"), option("tue")],
                "initial_options": [option("mon")],
            },
        },
        {
            "type": "input",
            "block_id": "freq",
            "label": {"type": "plain_text", "text": "How often"},
            "element": {
                "type": "static_select",
                "action_id": "v",
                "options": [option("weekly"), option("monthly")],
                "initial_option": option("weekly"),
            },
        },
    ]
    text = render_blocks(blocks)
    assert "( ) Channel" in text
    assert "(•) Dm" in text
    assert "[x] Mon" in text
    assert "[ ] Tue" in text
    assert "[ Weekly v ]" in text
