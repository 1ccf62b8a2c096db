"""Engine and session factory: one engine per process, one session per unit of work."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, create_engine

logger = logging.getLogger(__name__)

# Milliseconds a writer waits for another process's lock before SQLite reports "database is
# locked"; two bot processes on one file must queue, not fail.
SQLITE_BUSY_TIMEOUT_MS = 15_000

DATABASE_URL_VARIABLE = "DATABASE_URL"
URL_EXAMPLES = "sqlite:///path/to/coherence.db or postgresql://user:password@host:5432/coherence"
# The PostgreSQL driver each URL spelling needs: hosts hand out postgres:// (Heroku's legacy
# scheme SQLAlchemy dropped) and postgresql://, which SQLAlchemy maps to psycopg2; psycopg 3 is
# the driver the `postgres` extra installs.
_POSTGRES_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
_DRIVER_MODULES = {"psycopg": "psycopg", "psycopg2": "psycopg2", "pysqlite": "sqlite3"}


class DatabaseUrlError(ValueError):
    """A database URL that cannot work; the message says what to change."""


def default_database_url() -> str:
    """A SQLite file coherence.db in the working directory."""
    return f"sqlite:///{Path.cwd() / 'coherence.db'}"


def database_url_from_environment() -> str:
    """DATABASE_URL from the environment (empty means unset), normalised."""
    return normalize_database_url(os.environ.get(DATABASE_URL_VARIABLE) or default_database_url())


def normalize_database_url(url: str) -> str:
    """`url` with the driver spelled out, or DatabaseUrlError saying what is wrong with it.

    Only SQLite and PostgreSQL are supported; a SQLite file's folder must exist, and the
    driver must be installed.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise DatabaseUrlError(f"is not a database URL; use e.g. {URL_EXAMPLES}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in _POSTGRES_DRIVERS and not driver:
        parsed = parsed.set(drivername=_POSTGRES_DRIVERS[backend])
        backend, driver = "postgresql", "psycopg"
    if backend == "postgres":
        parsed = parsed.set(drivername=f"postgresql+{driver}")
        backend = "postgresql"
    if backend not in {"sqlite", "postgresql"}:
        raise DatabaseUrlError(
            f"uses {backend}, which Coherence does not support; use SQLite or PostgreSQL, "
            f"e.g. {URL_EXAMPLES}"
        )
    module = _DRIVER_MODULES.get(driver or "pysqlite", driver)
    try:
        importlib.import_module(module)
    except ImportError:
        hint = " (pip install 'coherence[postgres]')" if module == "psycopg" else ""
        raise DatabaseUrlError(f"needs the {module} driver, which is not installed{hint}") from None
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().absolute().parent
        if not folder.is_dir():
            raise DatabaseUrlError(
                f"points to a SQLite file in {folder}, which does not exist; create the folder "
                "or point DATABASE_URL elsewhere"
            )
    return parsed.render_as_string(hide_password=False)


def describe_database(url: str) -> str:
    """Where `url` points, without its password, for log lines and errors."""
    return make_url(url).render_as_string(hide_password=True)


def wait_for_database(
    engine: Engine,
    *,
    budget_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Connect, retrying with exponential backoff for at most `budget_seconds`.

    A database that starts alongside the bot (compose, a platform's add-on) is often not
    accepting connections yet; the last failure is re-raised once the budget is spent.
    """
    deadline = monotonic() + budget_seconds
    delay = 0.5
    attempt = 1
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise
            wait = min(delay, remaining)
            logger.warning(
                "Database %s not reachable (attempt %d: %s); retrying in %.1fs",
                describe_database(str(engine.url)),
                attempt,
                first_line(error),
                wait,
            )
            sleep(wait)
            delay = min(delay * 2, 10.0)
            attempt += 1


def first_line(error: BaseException) -> str:
    """The driver's own reason for a database error, without SQLAlchemy's background link."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


# Connections kept open per process: enough for the server's threads and the post-ack workers.
# Each SQLite connection's PRAGMAs run once, when it is opened, not once per unit of work.
SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 24
# Set on a read-only unit of work: SQLite begins it deferred, so it takes no write lock and
# (in WAL mode) reads while a writer writes.
READ_ONLY = "coherence_read_only"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`, with SQLite tuned for a long-running server.

    SQL parameters are kept out of error messages: they hold answers and user IDs, and an
    error is logged with its message.
    """
    if url.startswith("sqlite"):
        in_memory = ":memory:" in url
        pooling: dict[str, Any] = (
            {}
            if in_memory
            else {
                "poolclass": QueuePool,
                "pool_size": SQLITE_POOL_SIZE,
                "max_overflow": SQLITE_POOL_OVERFLOW,
            }
        )
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pooling,
        )
        event.listen(engine, "connect", _tune_sqlite)
        if in_memory:
            event.listen(engine, "begin", _begin_immediate)
        else:
            turns = _WriterTurns()
            event.listen(engine, "begin", turns.begin)
            event.listen(engine, "checkin", turns.end)
            event.listen(engine, "invalidate", turns.end)
        return engine
    engine = create_engine(url, echo=echo, hide_parameters=True)
    pinging = _PingWhenIdle(engine)
    event.listen(engine, "connect", pinging.used)
    event.listen(engine, "checkin", pinging.used)
    event.listen(engine, "checkout", pinging.checkout)
    return engine


# A server connection back in the pool this recently is not pinged before it is handed out
# again: a burst of answers takes a connection per batch, and a ping is one more round trip on
# the acknowledgements' critical path. One idle longer is pinged first, so one the server or
# a firewall dropped meanwhile is replaced before it can fail a request. The rare restart
# within the window fails the statements in flight, and SQLAlchemy then replaces every pooled
# connection.
PING_AFTER_IDLE_SECONDS = 5.0
_USED_AT = "coherence_used_at"


class _PingWhenIdle:
    def __init__(self, engine: Engine) -> None:
        self._dialect = engine.dialect

    def used(self, _dbapi_connection: Any, record: Any) -> None:
        record.info[_USED_AT] = time.monotonic()

    def checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED_AT, 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = self._dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool replaces the connection and checks out another (three tries).
            raise DisconnectionError("the database connection is gone") from error
        if not alive:
            raise DisconnectionError("the database connection is gone")


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN so that _begin_immediate decides the lock mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (status commands) proceed while a fan-out writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Erased pseudonyms and re-inserted answers must not linger readable in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting on
    # busy_timeout; taking the write lock up front makes concurrent processes queue instead.
    # A unit of work that only reads needs no lock at all.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class _WriterTurns:
    """This process's writers to one SQLite file take turns on a lock of their own.

    SQLite lets one writer in at a time, and a writer that finds the file locked sleeps in
    growing steps (up to 100 ms) before it looks again, so a burst of short transactions
    spends most of its time asleep with the file free. Waiting on a lock here instead wakes
    the next writer the moment the last one is done. The turn is held from BEGIN IMMEDIATE
    until the connection goes back to the pool (after its commit or rollback). Other
    processes on the same file still queue through SQLite's busy timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        info = connection.connection.info
        wait = options.get(WRITE_WAIT)
        # Unbounded by the caller: bounded like SQLite's own wait, past which BEGIN IMMEDIATE
        # waits and fails as it would without the turns.
        turn_wait = SQLITE_BUSY_TIMEOUT_MS / 1000 if wait is None else wait
        if not info.get(_HOLDS_TURN):
            if self._lock.acquire(timeout=turn_wait):
                info[_HOLDS_TURN] = True
            elif wait is not None:
                raise WriterBusy(f"another write held the database for over {wait:g} s")
        # Another process (or engine) may hold the file: SQLite's own wait is bounded the same
        # way. Set only when it changes, so a burst of acks runs no PRAGMA.
        busy_ms = SQLITE_BUSY_TIMEOUT_MS if wait is None else max(1, round(wait * 1000))
        if info.get(_BUSY_MS, SQLITE_BUSY_TIMEOUT_MS) != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
            info[_BUSY_MS] = busy_ms
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def end(self, _dbapi_connection: Any, record: Any, *_: Any) -> None:
        if record.info.pop(_HOLDS_TURN, False):
            self._lock.release()


_HOLDS_TURN = "coherence_holds_writer_turn"
_BUSY_MS = "coherence_busy_timeout_ms"
# Set by session_scope(wait_seconds=...): how long a unit of work waits for its writer turn.
WRITE_WAIT = "coherence_write_wait"


class WriterBusy(SQLAlchemyError):
    """A unit of work that bounded its wait for SQLite's writer turn did not get it in time."""


def dialect_insert(dialect: str, table: Any) -> Any:
    """`INSERT` for `table` in the dialect's own flavour (with ON CONFLICT), importing only the
    dialect in use: SQLAlchemy's PostgreSQL dialect costs a SQLite process 2 MiB."""
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    return module.insert(table)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_scope(engine: Engine, *, wait_seconds: float) -> Iterator[Connection]:
    """One short write transaction on a bare connection, for the hottest path (an answer's
    ack): no ORM session. Commits when the block succeeds, rolls back when it raises; waits
    at most about `wait_seconds` for another writer (twice that if another process holds the
    SQLite file), raising WriterBusy or the driver's error past it."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_WAIT: wait_seconds})
        with connection.begin():
            yield connection


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session for a unit of work that only reads: it never waits for, or holds, SQLite's
    write lock. Nothing it changes is committed."""
    session = Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()
