"""A real Bolt app behind the sandbox: proof that virtual users' requests pass Bolt's checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from freezegun import freeze_time
from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient

from sandbox import SlackSandbox
from tests.sandbox.conftest import BOT_TOKEN, SIGNING_SECRET

MODAL = {
    "type": "modal",
    "callback_id": "pulse",
    "title": {"type": "plain_text", "text": "Pulse"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "focus",
            "label": {"type": "plain_text", "text": "Focus"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
        {
            "type": "actions",
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


def build_app(sandbox: SlackSandbox) -> App:
    app = App(
        token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        client=WebClient(token=BOT_TOKEN, base_url=sandbox.api_url),
    )

    @app.command("/pulse")
    def pulse(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack("Opening your pulse")
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        respond("Sent via response_url")

    @app.view("pulse")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        focus = view["state"]["values"]["focus"]["value"]["value"]
        if len(focus) < 3:
            ack(response_action="errors", errors={"focus": "Say a bit more"})
        else:
            ack()

    @app.action("add_note")
    def add_note(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        noted = {**MODAL, "title": {"type": "plain_text", "text": "Pulse + note"}}
        client.views_update(view_id=view["id"], hash=view["hash"], view=noted)

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    return app


@pytest.fixture
def bolt(sandbox: SlackSandbox) -> Iterator[None]:
    app = build_app(sandbox)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            headers: dict[str, str | Sequence[str]] = {k: [v] for k, v in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            data = response.body.encode()
            self.send_response(response.status)
            for key, values in response.headers.items():
                for value in values:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sandbox.bot_url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    yield
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("bolt")
def test_command_modal_and_home_through_bolt(sandbox: SlackSandbox) -> None:
    alice = sandbox.user("U0ALICE")
    assert alice.run_command("/pulse", channel="C0EXEC").status == 200
    sandbox.wait_for(lambda s: len(s.views) == 1 and len(s.ephemerals) == 2)
    assert sorted((e.source, e.text) for e in sandbox.ephemerals) == [
        ("ack", "Opening your pulse"),
        ("response_url", "Sent via response_url"),
    ]
    [view_id] = sandbox.views
    assert alice.click_in_view(view_id, "add_note").status == 200
    # Bolt acks first and runs the listener afterwards, so wait for its views.update.
    sandbox.wait_for(lambda s: s.views[view_id].view["title"]["text"] == "Pulse + note")
    rejected = alice.submit(view_id, {"focus": "ok"})
    assert rejected.json == {"response_action": "errors", "errors": {"focus": "Say a bit more"}}
    assert sandbox.views[view_id].open
    assert alice.submit(view_id, {"focus": "Hiring"}).status == 200
    assert not sandbox.views[view_id].open

    assert alice.open_home().status == 200
    sandbox.wait_for(lambda s: "U0ALICE" in s.home_tabs)


@pytest.mark.usefixtures("bolt")
def test_bolt_rejects_forged_and_stale_requests(sandbox: SlackSandbox) -> None:
    alice = sandbox.user("U0ALICE")
    good = alice.open_home()
    assert good.request is not None
    body = good.request.body
    assert alice.send_raw(body, "application/json", signature="v0=bad").status == 401
    stale = int(sandbox.clock()) - 6 * 60
    assert alice.send_raw(body, "application/json", timestamp=stale).status == 401


@pytest.mark.usefixtures("bolt")
def test_signatures_follow_frozen_time_when_the_clock_is_pointed_at_it(
    sandbox: SlackSandbox,
) -> None:
    with freeze_time("2026-03-02 08:00:00", ignore=["sandbox"]) as frozen:
        sandbox.clock = lambda: frozen().replace(tzinfo=UTC).timestamp()
        assert sandbox.user("U0ALICE").open_home().status == 200
        sandbox.wait_for(lambda s: "U0ALICE" in s.home_tabs)
