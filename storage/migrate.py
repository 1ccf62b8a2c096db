"""Run Alembic migrations programmatically (start-up, tests, the `coherence migrate` command).

Configured in code, pointing at the migrations shipped inside this package, so migrating
works from an installed package in any working directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UnknownRevision(ValueError):
    """A revision that none of the migrations carries."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at this package's migrations and `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would treat a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the database at `url` down to `revision`."""
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None: no schema yet)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def known_revisions() -> list[str]:
    """Every migration's revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def migrate_to(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade or downgrade the database at `url` to `revision`; returns (before, after).

    `revision` is "head", "base" or a revision ID; downgrading is chosen when the target is
    the current revision's ancestor.
    """
    revisions = known_revisions()
    if revision not in {"head", "base", *revisions}:
        raise UnknownRevision(revision)
    before = current_revision(url)
    target_index = {"base": -1, "head": len(revisions) - 1}.get(revision)
    if target_index is None:
        target_index = revisions.index(revision)
    current_index = revisions.index(before) if before in revisions else -1
    if target_index < current_index:
        downgrade(url, revision)
    elif target_index > current_index:
        upgrade(url, revision)
    return before, current_revision(url)
