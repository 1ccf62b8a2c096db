"""An app under measurement in a process of its own, as Slack meets it: `python -m
benchmarks.served coherence|bare DATABASE_URL SLACK_API_URL PORT DUE [THREADS]`.

The requests of a burst come from hundreds of client threads. In the benchmark's own process
those threads would compete with the server for the interpreter's lock, and an app that waits
on its database between statements would pay for each wait with a turn behind them: a cost
of the benchmark, not of serving Slack, whose requests come from elsewhere. So the app under
measurement (Coherence, with its clock at DUE, or the bare Bolt app that only acknowledges)
is served here, on the same waitress settings, and stops cleanly on SIGTERM.

The bare app is Bolt as it comes: its own WSGI adapter (`SlackRequestHandler`) behind the
same waitress. Coherence's WSGI layer (the hostile-request guard, the body parsed once and
decoded in C, each request's log context) is the project's code, so what it costs or saves
is counted as Coherence's, not the baseline's. THREADS (waitress's, default `THREADS`)
serves the bare app at another thread count than Coherence's.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import create_server

from benchmarks.harness import SECRET, TOKEN, settings_for_url
from bot.app import build_app, build_services
from bot.collector import exempt_start_up_objects
from bot.server import (
    CONNECTION_LIMIT,
    EVENTS_PATH,
    THREADS,
    StopSignals,
    listen,
    serve_in_background,
)
from bot.views.pulse import SUBMIT_CALLBACK
from storage.db import make_engine


def main(argv: list[str]) -> int:
    kind, url, api_url, port, due, *rest = argv
    threads = int(rest[0]) if rest else THREADS
    services = None
    if kind == "coherence":
        services = build_services(settings_for_url(api_url, url), engine=make_engine(url))
        at = datetime.fromisoformat(due)
        services.clock = lambda: at
        server = listen(build_app(services), host="127.0.0.1", port=int(port))
    else:
        server = _bare_bolt(api_url, int(port), threads)
    # 200 simultaneous requests are what is measured, not something to warn about.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    exempt_start_up_objects()  # as `coherence serve` does once it has started
    stop_signals = StopSignals()
    running = serve_in_background(server)
    stop_signals.wait()
    running.close()
    if services is not None:
        # The answers still queued, the message refreshes after them, then the connections.
        services.answers.close()
        services.refresher.wait_idle(60)
        services.refresher.close()
        services.engine.dispose()
    return 0


def _bare_bolt(api_url: str, port: int, threads: int) -> Any:
    """A Bolt app that only acknowledges, on Bolt's own WSGI adapter and Coherence's waitress
    settings but ``threads``; any other path answers 200, for the harness to see it is up."""
    app = App(client=WebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET)
    app.view(SUBMIT_CALLBACK)(lambda ack: ack())
    bolt = SlackRequestHandler(app)

    def wsgi(environ: Any, start_response: Any) -> Any:
        if environ.get("PATH_INFO") == EVENTS_PATH:
            return bolt(environ, start_response)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]

    return create_server(
        wsgi, host="127.0.0.1", port=port, threads=threads, connection_limit=CONNECTION_LIMIT
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
