"""Writers to one SQLite file in one process take turns on a lock of their own, and every way
a write transaction ends gives the turn back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import make_engine, read_scope, session_scope

WAIT = 10.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE notes (body TEXT)"))
    return engine


def _write(engine: Engine, body: str) -> None:
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})


def _finishes(work: Callable[[], None]) -> bool:
    """True when `work`, on a thread of its own, is done within WAIT seconds."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(WAIT)
    return not thread.is_alive()


def _notes(engine: Engine) -> list[str]:
    with read_scope(engine) as session:
        return [row[0] for row in session.execute(text("SELECT body FROM notes ORDER BY body"))]


def test_a_writer_waits_for_the_one_in_progress_then_writes(engine: Engine) -> None:
    writing = threading.Event()
    release = threading.Event()

    def slow() -> None:
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO notes VALUES ('first')"))
            writing.set()
            release.wait(WAIT)

    first = threading.Thread(target=slow)
    first.start()
    assert writing.wait(WAIT)
    second = threading.Thread(target=_write, args=(engine, "second"))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # its turn comes after the first writer's
    release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert _notes(engine) == ["first", "second"]


def test_a_rolled_back_writer_gives_the_turn_back(engine: Engine) -> None:
    def failing() -> None:
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO notes VALUES ('lost')"))
            raise RuntimeError("the unit of work failed")

    with pytest.raises(RuntimeError):
        failing()
    assert _finishes(lambda: _write(engine, "kept"))
    assert _notes(engine) == ["kept"]


def test_an_invalidated_connection_gives_the_turn_back(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO notes VALUES ('lost')"))
        connection.invalidate()
    assert _finishes(lambda: _write(engine, "kept"))
    assert _notes(engine) == ["kept"]


def test_a_reader_needs_no_turn_while_a_writer_holds_it(engine: Engine) -> None:
    _write(engine, "committed")
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO notes VALUES ('pending')"))
        seen: list[list[str]] = []
        assert _finishes(lambda: seen.append(_notes(engine)))
    assert seen == [["committed"]]
