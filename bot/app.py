"""The Bolt app factory: everything the bot needs, built from settings and injected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.engine import Engine

from bot.listeners import register_listeners
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings

logger = logging.getLogger(__name__)


def build_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """A Web API client that waits out 429s and retries transient failures."""
    bot_token = token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    )
    return WebClient(
        token=bot_token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            # Slack's Retry-After is authoritative; a fan-out waits it out rather than dropping.
            RateLimitErrorRetryHandler(max_retry_count=10),
            ServerErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_app(
    settings: Settings, *, engine: Engine, client: WebClient | None = None, **services: Any
) -> App:
    """The Bolt app with every listener registered; tests pass a sandbox client."""
    settings.require_slack_credentials()
    assert settings.slack_signing_secret is not None
    web_client = client or build_client(settings)
    app = App(
        client=web_client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Keep Bolt's own logs at our level; its default DEBUG of request bodies would log PII.
        logger=logging.getLogger("slack_bolt"),
    )
    bundle = Services(settings=settings, engine=engine, **services)

    @app.middleware
    def provide_services(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
        context[SERVICES_KEY] = bundle
        next()

    register_listeners(app)
    return app

