"""Run Alembic migrations programmatically (start-up, tests, the `coherence migrate` command).

Configured in code, pointing at the migrations shipped inside this package, so migrating
works from an installed package in any working directory.

Migrating is serialised across processes: replicas that start together on an empty or
out-of-date database take turns, and every one after the first finds the schema already
moved. On PostgreSQL a session-level advisory lock guards it (released by the server if the
holder dies); on a SQLite file, an exclusive lock on a file beside the database.

`coherence serve` migrates in a child process (`upgrade_in_child`): Alembic and the migration
scripts are needed once, at start, and would otherwise stay in the server's memory for good.
Alembic is imported by the functions that use it, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import describe_database, first_line, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock every Coherence process takes to migrate a PostgreSQL database (any fixed
# bigint; advisory locks are per database, so databases on one server do not contend).
MIGRATION_LOCK_KEY = 0x436F686572656E63  # "Coherenc"
# Beside a SQLite database file: held with flock, never deleted (deleting it would race).
SQLITE_LOCK_SUFFIX = ".migrate-lock"
# How the child process started by upgrade_in_child gets the URL: in its environment, not on
# its command line, which any local user can read (it may hold a password).
CHILD_URL_VARIABLE = "COHERENCE_MIGRATE_URL"


class UnknownRevision(ValueError):
    """A revision that none of the migrations carries."""


class MigrationFailed(RuntimeError):
    """The child process could not migrate; the message is its reason, in one line."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at this package's migrations and `url`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would treat a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the database's migration lock for the block; waits while another process holds it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        with _advisory_lock(url):
            yield
    elif parsed.database and parsed.database != ":memory:":
        with _file_lock(Path(parsed.database + SQLITE_LOCK_SUFFIX), url):
            yield
    else:  # an in-memory SQLite database belongs to one process
        yield


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    # A connection of its own, outside any transaction, held for the whole migration: the
    # lock is the session's, so it outlives Alembic's transactions and dies with the process.
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            key = {"key": MIGRATION_LOCK_KEY}
            if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                _say_waiting(url)
                connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()


@contextmanager
def _file_lock(path: Path, url: str) -> Iterator[None]:
    import fcntl

    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say_waiting(url)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say_waiting(url: str) -> None:
    logger.info("Another process is migrating %s; waiting for it", describe_database(url))


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (a no-op when it is there already)."""
    from alembic import command

    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the database at `url` down to `revision`."""
    from alembic import command

    with migration_lock(url):
        command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def known_revisions() -> list[str]:
    """Every migration's revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def migrate_to(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade or downgrade the database at `url` to `revision`; returns (before, after).

    `revision` is "head", "base" or a revision ID; downgrading is chosen when the target is
    the current revision's ancestor. `before` is read under the migration lock, so a process
    that waited for another's migration reports the schema that one left.
    """
    from alembic import command

    revisions = known_revisions()
    if revision not in {"head", "base", *revisions}:
        raise UnknownRevision(revision)
    config = alembic_config(url)
    with migration_lock(url):
        before = current_revision(url)
        target_index = {"base": -1, "head": len(revisions) - 1}.get(revision)
        if target_index is None:
            target_index = revisions.index(revision)
        current_index = revisions.index(before) if before in revisions else -1
        if target_index < current_index:
            command.downgrade(config, revision)
        elif target_index > current_index:
            command.upgrade(config, revision)
        return before, current_revision(url)


def upgrade_in_child(url: str) -> None:
    """Bring the database at `url` up to head in a child process, under the same lock.

    The child's log lines are passed on to this process's stderr; MigrationFailed carries the
    child's reason when it could not migrate.
    """
    child = subprocess.run(
        [sys.executable, "-m", __name__],
        env={**os.environ, CHILD_URL_VARIABLE: url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = child.stderr.splitlines()
    if child.returncode != 0:
        reason = next((line for line in reversed(lines) if line.strip()), "")
        raise MigrationFailed(reason or f"the migration process exited with {child.returncode}")
    for line in lines:
        print(line, file=sys.stderr)


def _child_main() -> int:
    """The child upgrade_in_child starts: upgrade, or print the reason in one last line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    try:
        upgrade(os.environ[CHILD_URL_VARIABLE])
    except Exception as error:  # the parent shows this line and stops
        print(f"{type(error).__name__}: {first_line(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
