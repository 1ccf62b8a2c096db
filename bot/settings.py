"""Typed configuration read once from the environment and `.env`."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pulses.flags import FlagThresholds

SLACK_API_DEFAULT = "https://slack.com/api/"

# Values copied from `.env.example` or tutorials that must never reach Slack as credentials.
_PLACEHOLDERS = {"", "changeme", "change-me", "xoxb-your-token", "xapp-your-token", "your-secret"}


class SettingsError(RuntimeError):
    """Configuration that cannot start the bot; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_DEFAULT
    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'coherence.db'}")
    port: int = 3000
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    # Workspace members who may administer Coherence besides Slack's owners and admins.
    coherence_admin_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Overrides of the digest's flag thresholds (pulses/flags.py FlagThresholds documents
    # each), as JSON, e.g. {"drift_divergence": 0.15, "low_response_rate": 0.5}.
    coherence_flag_thresholds: dict[str, float] = Field(default_factory=dict)
    # Channel (ID) where the weekly organisation digest goes: every group side by side.
    coherence_admin_channel: str | None = None
    # How often the alarm clock looks for due sends, reminders and closes, in seconds.
    scheduler_tick_seconds: int = 30
    # Client-side pacing of chat.postMessage across the workspace (Slack allows "several
    # hundred per minute"); 0 turns pacing off and leaves only Retry-After.
    slack_posts_per_minute: int = 300

    @field_validator("coherence_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None and _is_set(self.slack_app_token)

    def require_slack_credentials(self) -> None:
        """Fail fast, naming the variable, when a secret the bot needs is missing."""
        required = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        for name, value in required.items():
            if value is None or not _is_set(value):
                raise SettingsError(
                    f"{name} is not set (or is still a placeholder). "
                    "Copy .env.example to .env and fill it in from your Slack app's settings."
                )
        if self.slack_app_token is not None and not _is_set(self.slack_app_token):
            raise SettingsError("SLACK_APP_TOKEN is a placeholder; set it or remove it.")

    @property
    def has_slack_credentials(self) -> bool:
        return self.slack_bot_token is not None and _is_set(self.slack_bot_token)


def _is_set(secret: SecretStr) -> bool:
    value = secret.get_secret_value().strip()
    return value.lower() not in _PLACEHOLDERS and "..." not in value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    try:
        return Settings()
    except ValidationError as error:
        # pydantic's message echoes the input value; for secrets that would leak them.
        names = ", ".join(str(err["loc"][0]).upper() for err in error.errors())
        raise SettingsError(f"Invalid configuration in {names}") from None
