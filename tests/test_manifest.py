"""manifest.yml creates a working Slack app: it validates against Slack's published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[1]
# Slack's manifest schema v1 (MIT, see tests/data/manifest-schema.LICENSE).
SCHEMA = ROOT / "tests" / "data" / "manifest.schema.1.0.0.json"


def _manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_validates_against_slacks_schema() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(_manifest()), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_an_invalid_manifest_is_caught_by_the_same_check() -> None:
    broken = _manifest()
    broken["display_information"]["name"] = "x" * 36  # Slack's limit is 35
    assert list(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_manifest_declares_what_the_bot_uses() -> None:
    manifest = _manifest()
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/coherence"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "users:read", "im:write", "files:write"} <= scopes
    # Recovery after a crash reads history in DMs, public and private channels.
    assert {"im:history", "channels:history", "groups:history"} <= scopes
