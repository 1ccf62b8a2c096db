"""Each Web API method the bot uses, through a real WebClient, with Slack's answers."""

from __future__ import annotations

import json
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox import SlackSandbox
from tests.sandbox.conftest import BOT_TOKEN


def test_auth_test_reports_the_bot_identity(client: WebClient) -> None:
    response = client.auth_test()
    assert response["user_id"] == "U0COHERENCE"
    assert response["team_id"] == "T0SANDBOX"
    assert response["bot_id"] == "B0COHERENCE"


def test_wrong_token_is_invalid_auth(sandbox: SlackSandbox) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(token="xoxb-wrong", base_url=sandbox.api_url).auth_test()
    assert raised.value.response["error"] == "invalid_auth"


def test_missing_token_is_not_authed(sandbox: SlackSandbox) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=sandbox.api_url).auth_test()
    assert raised.value.response["error"] == "not_authed"


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.scheduleMessage", params={"channel": "C0EXEC"})
    assert raised.value.response["error"] == "unknown_method"


def test_get_with_query_string_and_token_param(sandbox: SlackSandbox) -> None:
    url = f"{sandbox.api_url}users.info?user=U0ALICE&token={BOT_TOKEN}"
    with urllib.request.urlopen(url) as reply:
        body = json.loads(reply.read())
    assert body["ok"] is True
    assert body["user"]["real_name"] == "Alice Berger"


def test_json_body_is_accepted(sandbox: SlackSandbox) -> None:
    request = urllib.request.Request(
        f"{sandbox.api_url}chat.postMessage",
        data=json.dumps({"channel": "C0EXEC", "text": "hi", "blocks": []}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {BOT_TOKEN}"},
    )
    with urllib.request.urlopen(request) as reply:
        assert json.loads(reply.read())["ok"] is True
    assert [m.text for m in sandbox.messages("C0EXEC")] == ["hi"]


def test_post_message_records_message_and_answers_like_slack(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Pulse* is open"}}]
    response = client.chat_postMessage(channel="C0EXEC", text="Pulse", blocks=blocks)
    assert response["channel"] == "C0EXEC"
    assert response["message"]["blocks"] == blocks
    assert response["message"]["bot_id"] == "B0COHERENCE"
    [message] = sandbox.messages("C0EXEC")
    assert (message.ts, message.user, message.text) == (response["ts"], "U0COHERENCE", "Pulse")
    assert sandbox.calls_to("chat.postMessage")[0].args["blocks"] == blocks


def test_post_message_to_a_user_id_lands_in_the_app_dm(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    response = client.chat_postMessage(channel="U0BEN", text="Your pulse")
    opened = client.conversations_open(users="U0BEN")["channel"]["id"]
    assert response["channel"] == opened
    assert opened.startswith("D")
    assert [m.text for m in sandbox.messages("U0BEN")] == ["Your pulse"]
    assert [m.text for m in sandbox.messages(opened)] == ["Your pulse"]


def test_post_message_in_thread_keeps_thread_ts(client: WebClient, sandbox: SlackSandbox) -> None:
    parent = client.chat_postMessage(channel="C0EXEC", text="parent")["ts"]
    client.chat_postMessage(channel="C0EXEC", text="reply", thread_ts=parent)
    assert sandbox.messages("C0EXEC")[1].thread_ts == parent


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0NOPE", "channel_not_found"),
        ("U0NOPE", "channel_not_found"),
        ("U0HENRIK", "user_disabled"),
        ("U0JIRABOT", "cannot_dm_bot"),
    ],
)
def test_post_message_errors(client: WebClient, channel: str, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=channel, text="x")
    assert raised.value.response["error"] == error


def test_post_message_without_membership_is_not_in_channel(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    sandbox.workspace.add_channel("C0RANDOM", "random", ["U0ALICE"], bot_is_member=False)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0RANDOM", text="x")
    assert raised.value.response["error"] == "not_in_channel"


def test_private_channel_without_the_bot_is_invisible(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    sandbox.workspace.add_channel("C0SECRET", "secret", [], is_private=True, bot_is_member=False)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0SECRET", text="x")
    assert raised.value.response["error"] == "channel_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_needs_text_or_blocks(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0EXEC")
    assert raised.value.response["error"] == "no_text"


def test_post_message_text_over_40000_chars_is_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0EXEC", text="x" * 40_001)
    assert raised.value.response["error"] == "msg_too_long"


def test_update_edits_in_place_and_keeps_blocks_when_omitted(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    blocks = [{"type": "divider"}]
    ts = client.chat_postMessage(channel="C0EXEC", text="v1", blocks=blocks)["ts"]
    response = client.chat_update(channel="C0EXEC", ts=ts, text="v2")
    assert response["ts"] == ts
    [message] = sandbox.messages("C0EXEC")
    assert (message.text, message.blocks, message.updated) == ("v2", blocks, 1)
    client.chat_update(channel="C0EXEC", ts=ts, text="v3", blocks=[])
    assert (message.blocks, message.updated) == ([], 2)


def test_update_unknown_ts_is_message_not_found(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C0EXEC", ts="1.000001", text="x")
    assert raised.value.response["error"] == "message_not_found"


def test_post_ephemeral_records_for_the_one_user(client: WebClient, sandbox: SlackSandbox) -> None:
    response = client.chat_postEphemeral(channel="C0EXEC", user="U0CHIE", text="Only you")
    assert response["message_ts"]
    [ephemeral] = sandbox.ephemerals
    assert (ephemeral.channel, ephemeral.user, ephemeral.text) == ("C0EXEC", "U0CHIE", "Only you")
    assert ephemeral.source == "api"
    assert sandbox.messages() == []


def test_post_ephemeral_to_a_non_member_is_user_not_in_channel(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postEphemeral(channel="C0EXEC", user="U0IVY", text="x")
    assert raised.value.response["error"] == "user_not_in_channel"


def test_conversations_open_is_stable_per_user(client: WebClient) -> None:
    first = client.conversations_open(users="U0ALICE")
    second = client.conversations_open(users="U0ALICE")
    assert first["channel"]["id"] == second["channel"]["id"]
    assert second["already_open"] is True
    assert client.conversations_open(users="U0BEN")["channel"]["id"] != first["channel"]["id"]


@pytest.mark.parametrize(
    ("user", "error"), [("U0NOPE", "user_not_found"), ("U0HENRIK", "user_disabled")]
)
def test_conversations_open_errors(client: WebClient, user: str, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.conversations_open(users=user)
    assert raised.value.response["error"] == error


def test_conversations_members_paginates_a_thousand_members(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    ids = [f"U{n:06d}" for n in range(1000)]
    for user_id in ids:
        sandbox.workspace.add_user(user_id, user_id.lower())
    sandbox.workspace.add_channel("C0ALL", "all-hands", ids)
    seen: list[str] = []
    pages = 0
    for page in client.conversations_members(channel="C0ALL", limit=300):
        seen.extend(page["members"])
        pages += 1
    assert seen == [*ids, "U0COHERENCE"]
    assert pages == 4
    default = client.conversations_members(channel="C0ALL")
    assert len(default["members"]) == 100
    assert default["response_metadata"]["next_cursor"]


def test_conversations_members_last_page_has_empty_cursor(client: WebClient) -> None:
    response = client.conversations_members(channel="C0DIRS")
    assert len(response["members"]) == 9
    assert response["response_metadata"]["next_cursor"] == ""


def test_conversations_members_bad_cursor(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.conversations_members(channel="C0DIRS", cursor="bm90LWEtdXNlcg==")
    assert raised.value.response["error"] == "invalid_cursor"


def test_conversations_info(client: WebClient) -> None:
    channel = client.conversations_info(channel="C0EXEC", include_num_members=True)["channel"]
    assert channel["name"] == "exec-team"
    assert channel["is_private"] is True
    assert channel["is_member"] is True
    assert channel["num_members"] == 10
    with pytest.raises(SlackApiError) as raised:
        client.conversations_info(channel="C0NOPE")
    assert raised.value.response["error"] == "channel_not_found"


def test_users_info_has_time_zone_fields(client: WebClient) -> None:
    user = client.users_info(user="U0CHIE")["user"]
    assert user["tz"] == "Asia/Tokyo"
    assert user["tz_offset"] == 9 * 3600
    assert user["tz_label"] == "JST"
    assert user["profile"]["real_name"] == "Chie Tanaka"
    assert (user["is_bot"], user["deleted"], user["is_admin"]) == (False, False, False)
    assert client.users_info(user="U0ADMIN")["user"]["is_admin"] is True
    assert client.users_info(user="U0HENRIK")["user"]["deleted"] is True
    assert client.users_info(user="U0JIRABOT")["user"]["is_bot"] is True


def test_users_info_unknown_user(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="U0NOPE")
    assert raised.value.response["error"] == "user_not_found"


MODAL = {
    "type": "modal",
    "callback_id": "pulse",
    "title": {"type": "plain_text", "text": "Weekly pulse"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "focus",
            "label": {"type": "plain_text", "text": "Focus"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


def test_views_open_needs_an_issued_unused_trigger(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    trigger = sandbox.issue_trigger("U0ALICE")
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert view["id"].startswith("V")
    assert view["hash"]
    assert view["callback_id"] == "pulse"
    stored = sandbox.views[view["id"]]
    assert (stored.user_id, stored.type, stored.open) == ("U0ALICE", "modal", True)
    for bad in (trigger, "123.made.up"):
        with pytest.raises(SlackApiError) as raised:
            client.views_open(trigger_id=bad, view=MODAL)
        assert raised.value.response["error"] == "invalid_trigger_id"


def test_views_open_with_an_old_trigger_is_expired(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    sandbox.trigger_ttl = 0.0
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"), view=MODAL)
    assert raised.value.response["error"] == "expired_trigger_id"


def test_views_update_by_id_and_external_id_with_hash(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    opened = client.views_open(
        trigger_id=sandbox.issue_trigger("U0ALICE"), view={**MODAL, "external_id": "pulse-1"}
    )["view"]
    renamed = {**MODAL, "title": {"type": "plain_text", "text": "Thanks"}}
    updated = client.views_update(view_id=opened["id"], view=renamed, hash=opened["hash"])["view"]
    assert updated["hash"] != opened["hash"]
    assert sandbox.views[opened["id"]].view["title"]["text"] == "Thanks"
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], view=MODAL, hash=opened["hash"])
    assert raised.value.response["error"] == "hash_conflict"
    client.views_update(external_id="pulse-1", view=MODAL)
    assert sandbox.views[opened["id"]].view["title"]["text"] == "Weekly pulse"
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id="V404", view=MODAL)
    assert raised.value.response["error"] == "not_found"


def test_views_publish_sets_the_users_home_tab(client: WebClient, sandbox: SlackSandbox) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    first = client.views_publish(user_id="U0ALICE", view=home)["view"]
    second = client.views_publish(user_id="U0ALICE", view=home)["view"]
    assert first["id"] == second["id"]
    assert sandbox.home_tabs["U0ALICE"]["blocks"] == home["blocks"]
    with pytest.raises(SlackApiError) as raised:
        client.views_publish(user_id="U0NOPE", view=home)
    assert raised.value.response["error"] == "user_not_found"


def test_calls_record_args_without_the_token(client: WebClient, sandbox: SlackSandbox) -> None:
    client.users_info(user="U0ALICE")
    [call] = sandbox.calls_to("users.info")
    assert call.args == {"user": "U0ALICE"}
    assert call.status == 200
    assert call.response["ok"] is True


def test_wait_for_wakes_on_a_recorded_call(client: WebClient, sandbox: SlackSandbox) -> None:
    import threading

    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C0DIRS", text="later")).start()
    sandbox.wait_for(lambda s: len(s.messages("C0DIRS")) == 1, timeout=2)
    with pytest.raises(TimeoutError, match="condition not met"):
        sandbox.wait_for(lambda s: len(s.messages("C0DIRS")) == 2, timeout=0.1)


def test_subscribers_see_messages_ephemerals_and_views(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    kinds: list[str] = []
    sandbox.subscribe(lambda event: kinds.append(event.kind))
    ts = client.chat_postMessage(channel="C0EXEC", text="a")["ts"]
    client.chat_update(channel="C0EXEC", ts=ts, text="b")
    client.chat_postEphemeral(channel="C0EXEC", user="U0ALICE", text="c")
    client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"), view=MODAL)
    client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})
    assert kinds == ["message", "message_updated", "ephemeral", "view_opened", "home_published"]


def test_history_returns_newest_first_with_metadata_only_when_asked(sandbox: SlackSandbox) -> None:
    from slack_sdk import WebClient

    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    meta = {"event_type": "coherence_pulse", "event_payload": {"marker": "run:1"}}
    client.chat_postMessage(channel="C0EXEC", text="first", metadata=meta)
    client.chat_postMessage(channel="C0EXEC", text="second")
    plain = client.conversations_history(channel="C0EXEC")
    assert [m["text"] for m in plain["messages"]] == ["second", "first"]
    assert all("metadata" not in m for m in plain["messages"])
    full = client.conversations_history(channel="C0EXEC", include_all_metadata=True, limit=1)
    assert [m["text"] for m in full["messages"]] == ["second"]
    assert full["has_more"] is True
    older = client.conversations_history(channel="C0EXEC", include_all_metadata=True)
    assert older["messages"][1]["metadata"] == meta
