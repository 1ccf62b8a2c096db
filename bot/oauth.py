"""Installs through "Add to Slack": Bolt's OAuth flow, slack_sdk's stores in our database, and
each workspace's bot token (rotated before it expires, forgotten when the app is uninstalled).

Single-workspace mode (SLACK_BOT_TOKEN) uses none of this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

from slack_bolt import App, BoltContext
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import and_, desc, select
from sqlalchemy.engine import Connection, Engine

from bot.settings import Settings
from pulses.ports import DeliveryError
from storage.db import session_scope
from storage.models import OrgWorkspace

logger = logging.getLogger(__name__)

# A token read from the database is used this long before it is read again, and never past the
# start of the next tick (Services.begin_tick): another replica may have rotated it, or the
# workspace may have uninstalled the app (the events reach one replica).
TOKEN_CACHE_SECONDS = 10.0
# How long the state of a started install stays valid (the person is choosing a workspace).
STATE_SECONDS = 600


class WorkspaceNotInstalled(DeliveryError):
    """No bot token for the workspace: never installed, uninstalled, or its token revoked.

    Permanent: the workspace's due work is recorded as undeliverable and nothing is sent.
    """

    def __init__(self, team_id: str) -> None:
        super().__init__("app_uninstalled", permanent=True)
        self.team_id = team_id


def authorization_url(api_url: str) -> str:
    """Where "Add to Slack" sends the installer: beside the Web API (slack.com/oauth/v2/authorize
    for slack.com/api/; the sandbox serves the same path)."""
    return urljoin(api_url, "../oauth/v2/authorize")


@dataclass
class _Cached:
    bot: Bot
    read_at: float


class Installations:
    """Each workspace's bot token from the installation store, cached briefly and rotated
    (refresh-token grant) before it expires, whichever replica gets there first."""

    def __init__(
        self,
        store: SQLAlchemyInstallationStore,
        state_store: SQLAlchemyOAuthStateStore,
        rotator: TokenRotator,
        *,
        rotation_minutes: int,
        cache_seconds: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.state_store = state_store
        self.rotator = rotator
        self.rotation_minutes = rotation_minutes
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        # One rotation at a time in this process: two would each spend the refresh token.
        self._rotating = threading.Lock()
        self._org_teams: set[str] = set()

    @classmethod
    def for_settings(cls, settings: Settings, engine: Engine, client: WebClient) -> Installations:
        assert settings.slack_client_id is not None
        assert settings.slack_client_secret is not None
        secret = settings.slack_client_secret.get_secret_value()
        return cls(
            SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine),
            SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
            # The rotator calls oauth.v2.access through the app's client, so SLACK_API_URL holds.
            TokenRotator(client_id=settings.slack_client_id, client_secret=secret, client=client),
            rotation_minutes=settings.slack_token_rotation_minutes,
        )

    def bot_token(self, team_id: str) -> str:
        """The workspace's current bot token; WorkspaceNotInstalled when it has none."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(team_id)
        fresh = cached is not None and now - cached.read_at < self._cache_seconds
        if cached is not None and fresh and not self._expiring(cached.bot):
            assert cached.bot.bot_token is not None
            return cached.bot.bot_token
        with self._rotating:
            bot = self._find_bot(team_id)
            if bot is None or bot.bot_token is None:
                self.forget(team_id)
                raise WorkspaceNotInstalled(team_id)
            bot = self._rotated(bot)
        with self._lock:
            self._cache[team_id] = _Cached(bot, self._clock())
        assert bot.bot_token is not None
        return bot.bot_token

    def forget(self, team_id: str | None = None) -> None:
        """Drop the cached token of `team_id`, or every one (an org-wide uninstall)."""
        with self._lock:
            if team_id is None:
                self._cache.clear()
            else:
                self._cache.pop(team_id, None)

    def uninstalled(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget a workspace's (or an org's) installation: no token of it is used again."""
        self.store.delete_all(enterprise_id=enterprise_id, team_id=team_id)
        self.forget(team_id if enterprise_id is None else None)
        logger.info("Uninstalled from %s: its sends stop", team_id or enterprise_id)

    def remember_org_workspace(self, *, team_id: str, enterprise_id: str) -> None:
        """Note that `team_id` is served by its org's install (seen once per process)."""
        if team_id in self._org_teams:
            return
        with session_scope(self.store.engine) as session:
            if session.get(OrgWorkspace, team_id) is None:
                session.add(OrgWorkspace(team_id=team_id, enterprise_id=enterprise_id))
        self._org_teams.add(team_id)

    def installer(self, team_id: str) -> str | None:
        """Who installed the app in the workspace (its own install, else its org's org-wide
        one): an admin of Coherence there, and only there."""
        table = self.store.installations
        query = (
            select(table.c.user_id)
            .where(and_(table.c.client_id == self.store.client_id, table.c.team_id == team_id))
            .order_by(desc(table.c.installed_at))
            .limit(1)
        )
        with self.store.engine.connect() as connection:
            user_id = connection.execute(query).scalar()
            org = None if user_id is not None else self._org_of(connection, team_id)
        if user_id is not None:
            return str(user_id)
        if org is None:
            return None
        found = self.store.find_installation(
            enterprise_id=org, team_id=None, is_enterprise_install=True
        )
        return None if found is None else found.user_id

    def _expiring(self, bot: Bot) -> bool:
        expires = bot.bot_token_expires_at
        return expires is not None and expires - time.time() <= self.rotation_minutes * 60

    def _find_bot(self, team_id: str) -> Bot | None:
        """The workspace's latest bot: its own install (Enterprise Grid workspaces included,
        whatever their enterprise), else its org's org-wide install."""
        bots = self.store.bots
        query = (
            select(bots)
            .where(
                and_(
                    bots.c.client_id == self.store.client_id,
                    bots.c.team_id == team_id,
                    bots.c.bot_token.is_not(None),
                )
            )
            .order_by(desc(bots.c.installed_at))
            .limit(1)
        )
        with self.store.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
            org = self._org_of(connection, team_id)
        if row is not None:
            return SQLAlchemyInstallationStore.build_bot_entity(row)
        if org is None:
            return None
        return self.store.find_bot(enterprise_id=org, team_id=None, is_enterprise_install=True)

    @staticmethod
    def _org_of(connection: Connection, team_id: str) -> str | None:
        """The enterprise whose org-wide install serves `team_id`, if one does."""
        org = connection.execute(
            select(OrgWorkspace.enterprise_id).where(  # type: ignore[call-overload]
                OrgWorkspace.team_id == team_id
            )
        ).scalar()
        return None if org is None else str(org)

    def _rotated(self, bot: Bot) -> Bot:
        try:
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.rotation_minutes
            )
        except (SlackTokenRotationError, SlackApiError, SlackClientError, OSError) as error:
            # The token in hand still works until it expires; the next read tries again.
            logger.warning(
                "Could not rotate %s's bot token (%s)", bot.team_id, type(error).__name__
            )
            return bot
        if refreshed is None:
            return bot
        self.store.save_bot(refreshed)
        logger.info("Rotated the bot token of %s", bot.team_id or bot.enterprise_id)
        return refreshed


def oauth_app_arguments(
    installations: Installations, settings: Settings, client: WebClient
) -> dict[str, object]:
    """Bolt's App arguments for installs through "Add to Slack" (/slack/install,
    /slack/oauth_redirect) and each request authorized with its workspace's token."""
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    secret = settings.slack_client_secret.get_secret_value()
    bolt_logger = logging.getLogger("slack_bolt")
    return {
        "installation_store": installations.store,
        # Bolt's own authorize, given the app's client so that its rotation calls SLACK_API_URL.
        "authorize": InstallationStoreAuthorize(
            logger=bolt_logger,
            installation_store=installations.store,
            client_id=settings.slack_client_id,
            client_secret=secret,
            token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
            client=client,
        ),
        "oauth_settings": OAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=secret,
            scopes=settings.slack_scopes,
            installation_store=installations.store,
            state_store=installations.state_store,
            token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
            authorization_url=authorization_url(settings.slack_api_url),
            logger=bolt_logger,
        ),
    }


def register_installation_listeners(app: App, installations: Installations) -> None:
    """Uninstalls and revoked tokens stop the workspace's sends at once; requests from an
    org-wide install note which workspace they came from."""

    @app.middleware
    def installation_changes(
        body: dict[str, object], context: BoltContext, next: Callable[[], None]
    ) -> None:
        # Here rather than in the event listeners, which run after Slack has its 200: the
        # installation is gone before the answer, so no tick in between sends with it.
        event = body.get("event") if body.get("type") == "event_callback" else None
        kind = event.get("type") if isinstance(event, dict) else None
        tokens = event.get("tokens") if isinstance(event, dict) else None
        bot_revoked = kind == "tokens_revoked" and isinstance(tokens, dict) and tokens.get("bot")
        if kind == "app_uninstalled" or bot_revoked:
            # Without its bot token the app can do nothing in the workspace (or, org-wide,
            # in any workspace of the org).
            installations.uninstalled(enterprise_id=context.enterprise_id, team_id=context.team_id)
            next()
            return
        if context.is_enterprise_install and context.team_id is None:
            # An org-wide install's event names the org's installation, not a workspace; the
            # envelope's team_id is the workspace it happened in, where its groups live.
            context["team_id"] = _workspace_of(body)
        if context.is_enterprise_install and context.enterprise_id and context.team_id:
            installations.remember_org_workspace(
                team_id=context.team_id, enterprise_id=context.enterprise_id
            )
        next()

    @app.event("app_uninstalled")
    @app.event("tokens_revoked")
    def handled_before_the_ack() -> None:
        """Taken so that Bolt does not call them unhandled; the middleware above acted."""


def _workspace_of(body: dict[str, object]) -> str | None:
    """The workspace (T…) an org-wide install's event happened in."""
    for key in ("context_team_id", "team_id"):
        team = body.get(key)
        if isinstance(team, str) and team.startswith("T"):
            return team
    return None
