from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from storage.db import make_engine, session_scope
from storage.migrate import downgrade, upgrade
from storage.models import Workspace


def test_upgrade_to_head_then_downgrade_to_base_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"workspaces", "alembic_version"} <= tables
    downgrade(url)
    assert set(inspect(make_engine(url)).get_table_names()) == {"alembic_version"}


def test_sqlite_is_tuned_for_a_server(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 15000


def test_session_scope_rolls_back_when_the_block_raises(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with session_scope(engine) as session:
            session.add(Workspace(team_id="T1"))
            session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        assert len(session.exec(select(Workspace)).all()) == 0
        session.add(Workspace(team_id="T2"))
    with session_scope(engine) as session:
        assert [w.team_id for w in session.exec(select(Workspace))] == ["T2"]


def test_migrations_create_exactly_what_the_models_declare(migrated_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with make_engine(migrated_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_database_errors_do_not_carry_answers_or_user_ids(migrated_url: str) -> None:
    """An error is logged with its message; the SQL parameters (answers) must not be in it."""
    from sqlalchemy.exc import SQLAlchemyError

    engine = make_engine(migrated_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER fail BEFORE INSERT ON workspaces BEGIN SELECT RAISE(ABORT, 'io'); END"
        )
    with pytest.raises(SQLAlchemyError) as refused, session_scope(engine) as session:
        session.add(Workspace(team_id="T-secret-answer"))
    assert "T-secret-answer" not in str(refused.value)
    assert "io" in str(refused.value)
