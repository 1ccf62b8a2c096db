import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings, SettingsError
from pulses.flags import FlagThresholds


def test_a_missing_bot_token_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, slack_signing_secret=SecretStr("s3cret-value"))
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        settings.require_slack_credentials()


def test_a_placeholder_signing_secret_is_named() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=SecretStr("xoxb-1-real"),
        slack_signing_secret=SecretStr("changeme"),
    )
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        settings.require_slack_credentials()


def test_admin_ids_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHERENCE_ADMIN_IDS", "U1, U2,,U3")
    assert Settings(_env_file=None).coherence_admin_ids == ["U1", "U2", "U3"]


def test_the_api_url_always_ends_with_a_slash() -> None:
    assert Settings(_env_file=None, slack_api_url="http://127.0.0.1:9/api").slack_api_url == (
        "http://127.0.0.1:9/api/"
    )


def test_serve_without_a_signing_secret_stops_and_names_it(tmp_path: Path) -> None:
    # A real start-up in a child process: the operator sees the variable's name, not a traceback,
    # and the token's value never appears.
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-123-secretvalue",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "secretvalue" not in result.stderr + result.stdout


def test_flag_thresholds_are_configurable_and_unknown_names_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COHERENCE_FLAG_THRESHOLDS", '{"drift_divergence": 0.2, "history_runs": 6}')
    thresholds = Settings(_env_file=None).flag_thresholds
    assert thresholds.drift_divergence == 0.2
    assert thresholds.history_runs == 6
    assert thresholds.intent_gap == FlagThresholds().intent_gap  # untouched defaults stay
    monkeypatch.setenv("COHERENCE_FLAG_THRESHOLDS", '{"drift": 0.2}')
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown flag thresholds"):
        Settings(_env_file=None)
