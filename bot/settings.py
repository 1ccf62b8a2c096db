"""Typed configuration read once from the environment and `.env`, refused early and clearly."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pulses.flags import FlagThresholds
from pulses.retention import FRICTION_RETENTION_WEEKS
from storage.db import DatabaseUrlError, default_database_url, normalize_database_url

SLACK_API_DEFAULT = "https://slack.com/api/"
# The bot scopes manifest.yml asks for; an OAuth install asks for the same unless SLACK_SCOPES says.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:read",
    "groups:read",
    "im:write",
    "im:history",
    "channels:history",
    "groups:history",
    "users:read",
    "files:write",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")

_SCOPE = re.compile(r"[a-z]+(?:[.:][a-z_]+)*")

# Values copied from `.env.example` or tutorials that must never reach Slack as credentials.
_PLACEHOLDERS = {"", "changeme", "change-me", "xoxb-your-token", "xapp-your-token", "your-secret"}


class SettingsError(RuntimeError):
    """Configuration that cannot start the bot; the message names the variable."""


class Settings(BaseSettings):
    # An empty value means unset: `.env.example` ships `SLACK_APP_TOKEN=` for HTTP mode.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_DEFAULT
    # "Add to Slack" for several workspaces (bot/oauth.py), instead of one SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_scopes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(BOT_SCOPES))
    # A rotating bot token is refreshed this long before it expires (Slack issues 12-hour ones).
    slack_token_rotation_minutes: int = Field(default=120, ge=1, le=600)
    database_url: str = Field(default_factory=default_database_url)
    # How long start-up waits for an unreachable database (it may be starting alongside).
    database_wait_seconds: float = Field(default=60.0, ge=0)
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    # "text" for people, "json" for a log pipeline (one object per line).
    log_format: str = "text"
    # Workspace members who may administer Coherence besides Slack's owners and admins (one
    # workspace, SLACK_BOT_TOKEN; installs through "Add to Slack" refuse it).
    coherence_admin_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Overrides of the digest's flag thresholds (pulses/flags.py FlagThresholds documents
    # each), as JSON, e.g. {"drift_divergence": 0.15, "low_response_rate": 0.5}.
    coherence_flag_thresholds: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    # Channel (ID) where the weekly organisation digest goes: every group side by side.
    coherence_admin_channel: str | None = None
    # How often the alarm clock looks for due sends, reminders and closes, in seconds.
    scheduler_tick_seconds: int = Field(default=30, ge=1)
    # Client-side pacing of chat.postMessage across the workspace (Slack allows "several
    # hundred per minute"); 0 turns pacing off and leaves only Retry-After.
    slack_posts_per_minute: int = Field(default=300, ge=0)
    # Keys the pseudonym that finds a member's answer while a run is open (pulses/pseudonyms.py).
    coherence_pseudonym_key: SecretStr | None = None
    # Friction comments are deleted this many weeks after their pulse closed (figures stay).
    coherence_friction_retention_weeks: int = Field(default=FRICTION_RETENTION_WEEKS, ge=1)

    @field_validator("coherence_admin_ids", "slack_scopes", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("coherence_flag_thresholds", mode="before")
    @classmethod
    def _parse_thresholds(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(
                'is not valid JSON; write an object such as {"drift_divergence": 0.15}'
            ) from None

    @field_validator("coherence_flag_thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        known = set(FlagThresholds.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown flag thresholds {unknown}; known: {sorted(known)}")
        return value

    @property
    def flag_thresholds(self) -> FlagThresholds:
        """The digest's flag thresholds: the documented defaults with any overrides."""
        overrides: dict[str, Any] = {
            key: int(value) if key == "history_runs" else float(value)
            for key, value in self.coherence_flag_thresholds.items()
        }
        return replace(FlagThresholds(), **overrides)

    @field_validator("slack_api_url")
    @classmethod
    def _http_url_with_trailing_slash(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"must be an http(s) URL such as {SLACK_API_DEFAULT}, not {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            return normalize_database_url(value)
        except DatabaseUrlError as error:
            raise ValueError(str(error)) from None

    @field_validator("log_level", "log_format")
    @classmethod
    def _one_of_the_choices(cls, value: str, info: ValidationInfo) -> str:
        """Any case is accepted; the value is kept as the choice is spelled (INFO, json)."""
        choices = LOG_LEVELS if info.field_name == "log_level" else LOG_FORMATS
        for choice in choices:
            if value.casefold() == choice.casefold():
                return choice
        raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().startswith("xapp-"):
            raise ValueError(
                "holds an app-level token (xapp-…); use the Bot User OAuth Token (xoxb-…) "
                "from OAuth & Permissions"
            )
        if (
            value is not None
            and _is_set(value)
            and not value.get_secret_value().strip().startswith("xoxb-")
        ):
            # A user token (xoxp-) would work, and the bot would act as that person.
            raise ValueError(
                "must be a bot token (xoxb-…), not a user or other token; use the Bot User "
                "OAuth Token from OAuth & Permissions"
            )
        return value

    @field_validator("slack_client_id")
    @classmethod
    def _client_id_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        # Basic Information shows it as two numbers joined by a dot, e.g. 1234567890.9876543210.
        parts = value.strip().split(".")
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ValueError(
                "must be the app's Client ID from Basic Information → App Credentials "
                "(digits, a dot, digits)"
            )
        return value.strip()

    @field_validator("slack_scopes")
    @classmethod
    def _known_scope_shape(cls, value: list[str]) -> list[str]:
        malformed = [scope for scope in value if not _SCOPE.fullmatch(scope)]
        if malformed:
            raise ValueError(
                f"{malformed} are not Slack scopes; write them comma-separated, e.g. "
                "commands,chat:write"
            )
        if "commands" not in value or "chat:write" not in value:
            raise ValueError("must include commands and chat:write (the bot cannot work without)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not _is_set(value):
            return value
        if not value.get_secret_value().strip().startswith("xapp-"):
            raise ValueError(
                "must be an app-level token (xapp-…, Basic Information → App-Level Tokens); "
                "leave it empty to serve HTTP"
            )
        return value

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None and _is_set(self.slack_app_token)

    @property
    def oauth(self) -> bool:
        """Whether workspaces install the app through "Add to Slack" (SLACK_CLIENT_ID is set)."""
        return self.slack_client_id is not None

    def require_slack_credentials(self) -> None:
        """Fail fast, naming the variable, when a secret the bot needs is missing."""
        if self.oauth and _is_set_or_none(self.slack_bot_token):
            raise SettingsError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: set SLACK_BOT_TOKEN for one "
                "workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for installs through "
                '"Add to Slack", not both'
            )
        if self.oauth and self.socket_mode:
            raise SettingsError(
                'SLACK_CLIENT_ID is set with SLACK_APP_TOKEN: installs through "Add to Slack" '
                "need the HTTP endpoints /slack/install and /slack/oauth_redirect; leave "
                "SLACK_APP_TOKEN empty"
            )
        if self.oauth and self.coherence_admin_ids:
            # A user ID names a person in one workspace only; one list for every workspace
            # would make someone an admin where nobody chose them.
            raise SettingsError(
                "COHERENCE_ADMIN_IDS is set with SLACK_CLIENT_ID: with installs through "
                '"Add to Slack" each workspace\'s admins are its Slack admins and owners and '
                "whoever installed the app there; leave COHERENCE_ADMIN_IDS empty"
            )
        required = {
            "SLACK_CLIENT_SECRET" if self.oauth else "SLACK_BOT_TOKEN": (
                self.slack_client_secret if self.oauth else self.slack_bot_token
            ),
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        for name, value in required.items():
            if value is None or not _is_set(value):
                raise SettingsError(
                    f"{name} is not set (or is still a placeholder). "
                    "Copy .env.example to .env and fill it in from your Slack app's settings."
                )
        if self.slack_app_token is not None and not _is_set(self.slack_app_token):
            raise SettingsError("SLACK_APP_TOKEN is a placeholder; set it or leave it empty.")

    def require_pseudonym_key(self) -> None:
        """A served bot needs a stable key: without one, each process would key answers its own
        way, and a resubmission through another replica or after a restart could not replace."""
        key = self.coherence_pseudonym_key
        if key is None or not key.get_secret_value().strip():
            raise SettingsError(
                "COHERENCE_PSEUDONYM_KEY is not set: answers need a secret key while a pulse "
                "is open; set it to a long random value (e.g. openssl rand -hex 32)."
            )

    @property
    def has_slack_credentials(self) -> bool:
        """A bot token, or an OAuth app's client credentials: enough to serve Slack."""
        if self.oauth:
            return _is_set_or_none(self.slack_client_secret)
        return _is_set_or_none(self.slack_bot_token)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def _is_set(secret: SecretStr) -> bool:
    value = secret.get_secret_value().strip()
    return value.lower() not in _PLACEHOLDERS and "..." not in value


def _is_set_or_none(secret: SecretStr | None) -> bool:
    return secret is not None and _is_set(secret)


def settings_error(error: ValidationError) -> SettingsError:
    """One line naming each variable pydantic refused and what is wrong with it.

    pydantic's own rendering echoes the input value; for secrets that would leak them, so
    only the messages (which our validators word without secrets) are kept.
    """
    problems = []
    for detail in error.errors():
        name = str(detail["loc"][0]).upper() if detail["loc"] else "configuration"
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}: {message[:1].lower()}{message[1:]}")
    return SettingsError("; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    try:
        return Settings()
    except ValidationError as error:
        raise settings_error(error) from None
