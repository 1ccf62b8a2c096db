"""`coherence serve` migrates in a child process, so Alembic never stays in the server's memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.migrate import MigrationFailed, current_revision, known_revisions, upgrade_in_child


def test_the_child_brings_an_empty_database_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade_in_child(url)
    assert current_revision(url) == known_revisions()[-1]
    upgrade_in_child(url)  # at head already: nothing to do, no error
    assert current_revision(url) == known_revisions()[-1]


def test_a_database_that_cannot_be_migrated_fails_with_the_childs_reason(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(MigrationFailed) as failed:
        upgrade_in_child(f"sqlite:///{not_a_database}")
    assert "file is not a database" in str(failed.value)
    assert "\n" not in str(failed.value)


def test_the_serving_process_does_not_load_alembic() -> None:
    # What `coherence serve` imports before and while it serves.
    probe = (
        "import sys, bot.cli, bot.app, bot.scheduler, bot.server, storage.migrate; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
