"""The coherence command explains itself: help, version, and no flags that do nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot import cli
from bot.settings import get_settings
from tests.bot.test_cli_report import database  # noqa: F401  (the seeded-database fixture)

ROOT = Path(__file__).resolve().parents[2]


def coherence(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_names_every_command_and_variable_in_plain_text(tmp_path: Path) -> None:
    result = coherence("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "serve", "migrate", "report", "digest", "sandbox"):
        assert f"    {command} " in result.stdout
    for variable in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DATABASE_URL", "LOG_FORMAT", "PORT"):
        assert variable in result.stdout
    assert "`" not in result.stdout


def test_each_subcommand_has_a_description_and_an_example(tmp_path: Path) -> None:
    for command in cli.SUBCOMMANDS:
        result = coherence(command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "example" in result.stdout, command
        assert "`" not in result.stdout


def test_coherence_alone_prints_help_and_starts_nothing(tmp_path: Path) -> None:
    result = coherence(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: coherence" in result.stderr
    assert "environment variables" in result.stderr
    assert not (tmp_path / "coherence.db").exists()


def test_version(tmp_path: Path) -> None:
    result = coherence("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("coherence ")


def test_report_without_json_prints_readable_text(
    database: int,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["report", "--group", "C0EXEC"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run_id: ")
    assert "{" not in out.splitlines()[0]


def test_digest_without_preview_prints_block_kit_json(
    database: int,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["digest", "--group", "#exec-team"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["text"].startswith("Coherence digest")
    assert printed["blocks"][0]["type"] == "header"


def test_without_the_sandbox_run_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(cli, "installed_commands", dict)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name)
    cli.get_settings.cache_clear()
    try:
        assert cli.main(["run"]) == 2
    finally:
        cli.get_settings.cache_clear()
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("coherence: SLACK_BOT_TOKEN is not set and the sandbox is not installed")


def test_bot_discovers_the_sandbox_instead_of_importing_it() -> None:
    assert "sandbox" in cli.installed_commands()
    source = (ROOT / "bot" / "cli.py").read_text()
    assert "import sandbox" not in source
    assert "from sandbox" not in source


def test_a_built_in_command_leaves_the_plugins_unloaded(tmp_path: Path) -> None:
    """`coherence serve` lives for weeks: the sandbox it never uses must not live with it."""
    show_loaded = (
        "import sys\n"
        "from bot import cli\n"
        "status = cli.main(['migrate'])\n"
        "print(status, sorted(m for m in sys.modules if m.split('.')[0] == 'sandbox'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", show_loaded],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path}/c.db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr
    assert (tmp_path / "c.db").exists()


def test_purge_deletes_one_workspace_and_says_what_it_deleted(
    engine: Engine,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import LeadershipGroup, Workspace
    from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

    with session_scope(engine) as session:
        for team in ("T0GONE", "T0KEPT"):
            org = seed_org(session, team_id=team)
            group = seed_group(session, org, channel_id=f"C{team}")
            seed_run(session, org, group, date(2026, 3, 2), [Seeded(uniform(4), "Hiring")] * 5)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    assert cli.main(["purge", "--workspace", "T0GONE"]) == 0
    assert "Deleted workspace T0GONE: 1 groups, 1 pulses" in capsys.readouterr().out
    assert cli.main(["purge", "--workspace", "T0GONE"]) == 1
    assert "no data for workspace T0GONE" in capsys.readouterr().err
    with session_scope(engine) as session:
        assert [w.team_id for w in session.exec(select(Workspace))] == ["T0KEPT"]
        assert len(session.exec(select(LeadershipGroup)).all()) == 1
    get_settings.cache_clear()
