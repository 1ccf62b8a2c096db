"""The container set-up, checked without Docker: compose.yaml, the Dockerfile, the Procfile."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from storage.db import normalize_database_url
from tests.bot.test_config_errors import SERVE_ARGS

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> dict[str, list[str]]:
    """Each instruction's arguments, continuation lines joined, last stage's last one winning."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword.upper(), []).append(rest.strip())
    return instructions


def test_the_image_runs_coherence_serve_as_the_tests_do() -> None:
    docker = dockerfile_instructions()
    entrypoint = json.loads(docker["ENTRYPOINT"][-1])
    command = json.loads(docker["CMD"][-1])
    assert entrypoint + command == ["coherence", *SERVE_ARGS]
    # The console script is the module the tests run with `python -m bot.cli`.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["coherence"] == "bot.cli:main"
    # web for HTTP mode, worker for Socket Mode (no public port needed): the same command.
    serve = " ".join(["coherence", *SERVE_ARGS])
    assert (ROOT / "Procfile").read_text().splitlines() == [f"web: {serve}", f"worker: {serve}"]


def test_the_image_is_slim_non_root_and_health_checked() -> None:
    docker = dockerfile_instructions()
    assert all(base.split()[0].endswith("-slim") for base in docker["FROM"])
    assert docker["USER"][-1] not in {"root", "0"}
    [healthcheck] = docker["HEALTHCHECK"]
    assert "/healthz" in healthcheck
    assert "'coherence[postgres]'" in " ".join(docker["RUN"])


def test_compose_runs_the_bot_on_postgresql() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"bot", "db"}
    bot, db = services["bot"], services["db"]
    assert bot["command"] == SERVE_ARGS
    assert bot["build"] == "."
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    url = bot["environment"]["DATABASE_URL"]
    assert normalize_database_url(url).startswith("postgresql+psycopg://")
    assert "@db:5432/" in url
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert bot["env_file"] == ".env"
