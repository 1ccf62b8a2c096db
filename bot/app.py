"""The Bolt app factory: everything the bot needs, built from settings and injected."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy.engine import Engine

from bot.guard import GuardedVerification
from bot.listeners import register_listeners
from bot.logs import ContextExecutor
from bot.messenger import SlackMessenger
from bot.services import SERVICES_KEY, Services, utc_now
from bot.settings import Settings

# Calls that act twice when repeated. A 5xx or a dropped connection does not say whether Slack
# carried them out, so the client must not repeat them: the messenger looks a post up by its
# marker before posting again. (A 429 is safe to retry: Slack did not act.)
NOT_IDEMPOTENT = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "files.upload", "files.completeUploadExternal"}
)


def _idempotent(request: HttpRequest) -> bool:
    return urlsplit(request.url).path.rsplit("/", 1)[-1] not in NOT_IDEMPOTENT


class _OnlyIfIdempotent(RetryHandler):
    """Mixed in before a built-in handler: retries only calls that are safe to repeat."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _idempotent(request) and super()._can_retry(
            state=state, request=request, response=response, error=error
        )


class IdempotentServerErrorRetryHandler(_OnlyIfIdempotent, ServerErrorRetryHandler):
    pass


class IdempotentConnectionErrorRetryHandler(_OnlyIfIdempotent, ConnectionErrorRetryHandler):
    pass


def build_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client that waits out 429s and retries transient failures of safe calls, with
    SLACK_BOT_TOKEN unless a workspace's `token` is given."""
    if token is None and settings.slack_bot_token is not None and not settings.oauth:
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            # Slack's Retry-After is authoritative; a fan-out waits it out rather than dropping.
            RateLimitErrorRetryHandler(max_retry_count=10),
            IdempotentServerErrorRetryHandler(max_retry_count=3),
            IdempotentConnectionErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_services(
    settings: Settings,
    *,
    engine: Engine,
    client: WebClient | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    """Everything listeners and the scheduler share; tests pass a sandbox client and clock."""
    settings.require_slack_credentials()
    web_client = client or build_client(settings)
    if settings.oauth:
        return _installed_services(settings, engine=engine, client=web_client, clock=clock)
    messenger = SlackMessenger(web_client, posts_per_minute=settings.slack_posts_per_minute)
    return Services(
        settings=settings, engine=engine, client=web_client, messenger=messenger, clock=clock
    )


def _installed_services(
    settings: Settings, *, engine: Engine, client: WebClient, clock: Callable[[], datetime]
) -> Services:
    """Services for installs through "Add to Slack": `client` has no token of its own (Bolt
    gives each request its workspace's); the scheduler's sends go through Workspaces."""
    from bot.oauth import Installations
    from bot.workspaces import WorkspaceMessenger, Workspaces

    def workspace_client(token: str) -> WebClient:
        workspace_client = build_client(settings, token)
        # Counting retries (bot.metrics) is wired to the app's client; each workspace's shares it.
        workspace_client.retry_handlers = client.retry_handlers
        return workspace_client

    workspaces = Workspaces(
        Installations.for_settings(settings, engine, client),
        make_client=workspace_client,
        posts_per_minute=settings.slack_posts_per_minute,
    )
    return Services(
        settings=settings,
        engine=engine,
        client=client,
        messenger=WorkspaceMessenger(engine, workspaces),
        clock=clock,
        workspaces=workspaces,
    )


def build_app(services: Services) -> App:
    """The Bolt app with every listener registered."""
    secret = services.settings.slack_signing_secret
    assert secret is not None
    bolt_logger = logging.getLogger("slack_bolt")
    installs: dict[str, object] = {}
    if services.workspaces is not None:
        from bot.oauth import oauth_app_arguments

        installs = oauth_app_arguments(
            services.workspaces.installations, services.settings, services.client
        )
    app = App(
        client=services.client,
        signing_secret=secret.get_secret_value(),
        logger=bolt_logger,
        # Bolt's own check logs a refused request's whole body; this one logs a line and
        # then refuses payloads whose fields are not what listeners read (see bot.guard).
        request_verification_enabled=False,
        before_authorize=GuardedVerification(secret.get_secret_value(), base_logger=bolt_logger),
        # Bolt's own warning for a request no listener takes prints a page of suggestions;
        # the error handler logs one line instead.
        raise_error_for_unhandled_request=True,
        # Listeners, lazy ones included, run on this pool; it carries each request's log
        # context (request id, workspace) into their threads.
        listener_executor=ContextExecutor(),
        **installs,  # type: ignore[arg-type]
    )

    @app.middleware
    def provide_services(context: BoltContext, next: Callable[[], None]) -> None:
        context[SERVICES_KEY] = services
        next()

    if services.workspaces is not None:
        from bot.oauth import register_installation_listeners

        register_installation_listeners(app, services.workspaces.installations)
    register_listeners(app)
    return app
