"""HTTP mode: Bolt behind a production WSGI server (waitress), with health and metrics.

Socket Mode serves the same server without Bolt: the probes and metrics only.
"""

from __future__ import annotations

import io
import logging
import queue
import signal
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.response import BoltResponse
from waitress import wasyncore
from waitress.server import create_server

from bot.guard import MALFORMED, SlackBodyRequest, parse_slack_body, unreadable
from bot.health import Readiness
from bot.logs import request_context
from bot.metrics import METRICS_CONTENT_TYPE, exposition

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Installs through "Add to Slack" (OAuth); served only when SLACK_CLIENT_ID is set.
OAUTH_PATHS = frozenset({"/slack/install", "/slack/oauth_redirect"})
HEALTH_PATH = "/healthz"  # liveness
READY_PATH = "/readyz"  # readiness: bot/health.py
METRICS_PATH = "/metrics"
# An answer's request waits for the writer to commit its batch (`storage.group_commit`), and
# while it waits its thread reads no other request: twice the 8 threads that requests waiting
# on nothing would need, so a burst's next answers are read meanwhile and join the batch
# being written (`make bench`: p99 ack of 200 answers at once).
THREADS = 16
CONNECTION_LIMIT = 1000

WsgiApp = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]


class _SlackHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, building requests whose body is read as Slack meant it."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        return self.app.dispatch(
            SlackBodyRequest(
                body=request.get_body(),
                query=request.query_string,
                headers=request.get_headers(),
            )
        )


def make_wsgi_app(app: App | None, readiness: Readiness | None = None) -> WsgiApp:
    """`POST /slack/events` to Bolt (in HTTP mode), `GET /healthz`, `GET /metrics`, and
    `GET /readyz` when the process has a `readiness` to answer it (serve always does)."""
    bolt = _SlackHandler(app, path=EVENTS_PATH) if app is not None else None

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path == READY_PATH and method == "GET" and readiness is not None:
            return _ready(start_response, readiness)
        if path == METRICS_PATH and method == "GET":
            start_response("200 OK", [("Content-Type", METRICS_CONTENT_TYPE)])
            return [exposition()]
        if bolt is None:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Socket Mode: Slack events arrive over the websocket\n"]
        if method == "GET" and path in OAUTH_PATHS and app is not None and app.oauth_flow:
            # "Add to Slack" (bot/oauth.py): a browser, not Slack, so no signature to check.
            return bolt(environ, start_response)
        if method != "POST" or path != EVENTS_PATH:
            return _refuse(start_response, 404 if method == "POST" else 405, "not a Slack request")
        body = _read_body(environ)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        with request_context(
            request_id=uuid.uuid4().hex[:16], workspace=_workspace_of(body, environ)
        ):
            problem = unreadable(headers, body)
            if problem is not None:
                return _refuse(start_response, *problem)
            try:
                return bolt(environ, start_response)
            except Exception as error:
                # Bolt reads the payload's fields while building its request, before any
                # middleware runs; a payload it chokes on is the sender's fault, not ours.
                return _refuse(
                    start_response, 400, f"Bolt could not parse it ({type(error).__name__})"
                )

    return wsgi


def _ready(start_response: StartResponse, readiness: Readiness) -> Iterable[bytes]:
    problems = readiness.problems()
    plain = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")]
    if not problems:
        start_response("200 OK", plain)
        return [b"ready\n"]
    start_response("503 Service Unavailable", plain)
    return [f"not ready: {'; '.join(problems)}\n".encode()]


def _refuse(start_response: StartResponse, status: int, reason: str) -> Iterable[bytes]:
    logger.warning("Refused a request: %s", reason)
    phrase = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
    start_response(f"{status} {phrase[status]}", [("Content-Type", "text/plain; charset=utf-8")])
    return [MALFORMED.encode() if status == 400 else b"invalid request\n"]


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, put back so Bolt can read it again."""
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _workspace_of(body: bytes, environ: WSGIEnvironment) -> str | None:
    """The team ID a Slack request comes from (for log lines)."""
    text = body.decode("utf-8", errors="replace")
    try:
        return _team(parse_slack_body(text, environ.get("CONTENT_TYPE", "")))
    except (ValueError, RecursionError):
        return None


def _team(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    team = payload.get("team_id") or payload.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    return team if isinstance(team, str) else None


@dataclass
class RunningServer:
    """A server started on a background thread (tests, the sandbox run, Socket Mode's probes)."""

    url: str
    _server: Any
    _thread: threading.Thread

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    def close(self) -> None:
        # Sockets are closed on the serving thread itself (through waitress's trigger): closed
        # from here, under a running select, the loop fails on a bad file descriptor. With
        # its map empty the loop ends, and the task threads are stopped after it.
        try:
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        except OSError:
            # The loop already ended and closed its trigger (it ends when its map empties):
            # nothing is serving, so closing what is left from here is safe.
            wasyncore.close_all(self._server._map)
        self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()


def start_in_background(
    app: App | None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    readiness: Readiness | None = None,
) -> RunningServer:
    """Serve `app` on `host:port` (a free port by default) without blocking the caller."""
    return serve_in_background(listen(app, host=host, port=port, readiness=readiness))


def serve_in_background(server: Any) -> RunningServer:
    """Serve a bound server on a thread of its own; `close()` stops it."""
    thread = threading.Thread(target=server.run, name="bot-http", daemon=True)
    thread.start()
    return RunningServer(f"http://{server.effective_host}:{server.effective_port}", server, thread)


def listen(app: App | None, *, host: str, port: int, readiness: Readiness | None = None) -> Any:
    """A waitress server bound to `host:port`, not yet serving (OSError when it cannot bind)."""
    return create_server(
        make_wsgi_app(app, readiness),
        host=host,
        port=port,
        threads=THREADS,
        ident="coherence",
        # Slack sends a burst of answers at once when a pulse lands; waitress's default of 100
        # open connections would make it log and hold back the rest.
        connection_limit=CONNECTION_LIMIT,
    )


class StopSignals:
    """SIGTERM and SIGINT, caught from now on; `wait()` blocks until one arrives.

    The handler only records the signal (and runs ``on_signal``, which must only set flags):
    raised from the handler, an exception would unwind whatever the main thread was doing,
    and waitress's loop swallows those raised inside its channel handlers.
    """

    # A signal the kernel hands to another thread only sets a flag that the main thread
    # reads when it next runs Python: an untimed wait would never look at it.
    POLL_SECONDS = 0.25

    def __init__(self, on_signal: Callable[[], None] | None = None) -> None:
        # SimpleQueue.put is reentrant, made for signal handlers; an Event's lock is not.
        self._received: queue.SimpleQueue[int] = queue.SimpleQueue()

        def record(signum: int, _frame: object) -> None:
            if on_signal is not None:
                on_signal()
            self._received.put(signum)

        signal.signal(signal.SIGTERM, record)
        signal.signal(signal.SIGINT, record)

    def wait(self) -> int:
        """The number of the first signal, once it has arrived."""
        while True:
            try:
                return self._received.get(timeout=self.POLL_SECONDS)
            except queue.Empty:
                continue
