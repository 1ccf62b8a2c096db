"""HTTP mode: Bolt behind a production WSGI server (waitress), with a health check."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_wsgi_app(app: App) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """`POST /slack/events` to Bolt, `GET /healthz` for the platform's probes."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return bolt(environ, start_response)

    return wsgi


@dataclass
class RunningServer:
    """A server started on a background thread (tests, the sandbox run)."""

    url: str
    _server: Any
    _thread: threading.Thread

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    def close(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)


def start_in_background(app: App, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` on a free loopback port without blocking the caller."""
    server = create_server(make_wsgi_app(app), host=host, port=port, threads=8)
    thread = threading.Thread(target=server.run, name="bot-http", daemon=True)
    thread.start()
    port = server.effective_port  # type: ignore[union-attr]  # single socket: BaseWSGIServer
    return RunningServer(f"http://{host}:{port}", server, thread)


def serve_forever(app: App, *, host: str, port: int) -> None:
    """Serve `app` in the foreground until the process is stopped."""
    logger.info("Listening on http://%s:%s%s", host, port, EVENTS_PATH)
    waitress.serve(make_wsgi_app(app), host=host, port=port, threads=8, ident="coherence")
