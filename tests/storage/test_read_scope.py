"""Reads that take no write lock: a report or a count is not queued behind an answer."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import read_scope, session_scope
from storage.models import Workspace


def test_a_read_scope_reads_while_a_writer_holds_the_lock(engine: Engine) -> None:
    with session_scope(engine) as writer:
        writer.add(Workspace(team_id="T0WRITING"))
        writer.flush()
        started = time.monotonic()
        with read_scope(engine) as reader:
            # The writer's row is not committed yet, so the reader does not see it.
            count = reader.execute(text("SELECT count(*) FROM workspaces")).scalar_one()
        assert time.monotonic() - started < 1.0  # not the 15 s busy timeout
        assert count == 0
    with read_scope(engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM workspaces")).scalar_one() == 1


def test_a_read_scope_commits_nothing(engine: Engine) -> None:
    with read_scope(engine) as reader:
        reader.add(Workspace(team_id="T0NEVER"))
        reader.flush()
    with read_scope(engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM workspaces")).scalar_one() == 0
