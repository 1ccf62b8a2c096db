"""Replicas that start together migrate one at a time: no crash on an empty or out-of-date
database, on PostgreSQL (the advisory lock) and on a SQLite file (the file lock)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage.migrate import current_revision, known_revisions, migrate_to

ROOT = Path(__file__).resolve().parents[2]
TRIES = 10
REPLICAS = 3

# A replica process: everything imported once, then for each database it is sent, wait at the
# start line and run `coherence migrate` as main() runs it, reporting the exit status and what
# it printed (a traceback when it crashed). The start line makes the replicas race from one
# instant, not from their staggered imports; keeping the processes between tries keeps ten
# tries of three replicas within seconds.
REPLICA = """
import contextlib, io, os, sys, time, traceback
import alembic.command, psycopg, sqlalchemy, storage.models, bot.logs
from bot.cli import main
from bot.settings import get_settings
for line in sys.stdin:
    url, go = line.split()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            status = main(["migrate"])
        except BaseException:
            traceback.print_exc()
            status = 1
    print(status, repr(output.getvalue()), flush=True)
"""


class Replicas:
    """`count` replica processes that migrate whichever database they are given, together."""

    def __init__(self, folder: Path, count: int = REPLICAS) -> None:
        self.folder = folder
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COHERENCE_"))},
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-c", REPLICA],
                cwd=folder,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]

    def migrate_together(self, url: str) -> list[tuple[int, str]]:
        """Release every replica on `url` at one instant; each one's status and output."""
        go = self.folder / f"go-{uuid.uuid4().hex[:8]}"
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{url} {go}\n")
            process.stdin.flush()
        for process in self.processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        go.touch()
        results = []
        for process in self.processes:
            assert process.stdout is not None
            status, output = process.stdout.readline().split(" ", 1)
            results.append((int(status), ast.literal_eval(output)))
        return results

    def close(self) -> None:
        for process in self.processes:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    started = Replicas(tmp_path)
    yield started
    started.close()


def race(replicas: Replicas, url: str, *, start_at: str | None) -> None:
    """Three replicas migrate a database that is empty (`start_at` None) or at `start_at`."""
    head = known_revisions()[-1]
    if start_at is not None:
        migrate_to(url, start_at)
    results = replicas.migrate_together(url)
    assert [status for status, _ in results] == [0] * REPLICAS, results
    lines = sorted(output.strip().splitlines()[-1] for _, output in results)
    # One replica moved the schema; the others waited for it and found it at head.
    moved = f"Database schema: {start_at or 'empty'} → {head}"
    assert lines == sorted([moved] + [f"Database schema: {head} → {head}"] * (REPLICAS - 1))
    assert current_revision(url) == head


@pytest.fixture
def empty_postgres() -> Iterator[Callable[[], str]]:
    """Makes empty databases on the loopback PostgreSQL of `make test`; drops them after."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = os.environ.get("COHERENCE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("no PostgreSQL server: run through `make test`, which starts one")
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    names: list[str] = []

    def create() -> str:
        name = f"coherence_race_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield create
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_three_replicas_starting_together_on_postgres_never_crash(
    empty_postgres: Callable[[], str], replicas: Replicas
) -> None:
    previous = known_revisions()[-2]
    for _ in range(TRIES):
        url = empty_postgres()
        race(replicas, url, start_at=None)
        race(replicas, url, start_at=previous)


def test_three_replicas_starting_together_on_sqlite_never_crash(
    replicas: Replicas, tmp_path: Path
) -> None:
    previous = known_revisions()[-2]
    for attempt in range(TRIES):
        url = f"sqlite:///{tmp_path / f'coherence-{attempt}.db'}"
        race(replicas, url, start_at=None)
        race(replicas, url, start_at=previous)
