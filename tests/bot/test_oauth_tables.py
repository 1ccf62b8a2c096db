"""The installation tables the migrations create are the ones slack_sdk's stores expect."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Engine

from storage.migrate import migrate_to


def _slack_sdk_tables() -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    return {
        table.name: table
        for table in (
            SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations"),
            SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots"),
            SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states"),
        )
    }


def _shape(column_type: sa.types.TypeEngine[object]) -> tuple[str, int | None]:
    """The type's family and length, as both the reflected and the declared one say it."""
    family = column_type._type_affinity
    name = family.__name__ if family is not None else type(column_type).__name__
    return name, getattr(column_type, "length", None)


@pytest.mark.parametrize("name", sorted(_slack_sdk_tables()))
def test_migrated_columns_and_indexes_match_slack_sdk(engine: Engine, name: str) -> None:
    expected = _slack_sdk_tables()[name]
    inspector = sa.inspect(engine)
    migrated = {column["name"]: column for column in inspector.get_columns(name)}
    assert list(migrated) == [column.name for column in expected.columns]
    for column in expected.columns:
        found = migrated[column.name]
        assert _shape(found["type"]) == _shape(column.type), column.name
        assert found["nullable"] == (column.nullable and not column.primary_key), column.name
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes(name)}
    assert indexes == {
        index.name: [column.name for column in index.columns] for index in expected.indexes
    }


def test_slack_sdk_stores_work_on_the_migrated_database(engine: Engine) -> None:
    from slack_sdk.oauth.installation_store import Installation

    store = SQLAlchemyInstallationStore(client_id="1.2", engine=engine)
    store.save(
        Installation(
            app_id="A1",
            team_id="T1",
            user_id="U1",
            bot_token="xoxb-1",
            bot_id="B1",
            bot_user_id="U0BOT",
            is_enterprise_install=False,
        )
    )
    bot = store.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert bot.bot_token == "xoxb-1"
    states = SQLAlchemyOAuthStateStore(expiration_seconds=60, engine=engine)
    assert states.consume(states.issue())


def test_downgrade_removes_them(migrated_url: str, engine: Engine) -> None:
    migrate_to(migrated_url, "0009")
    assert not set(_slack_sdk_tables()) & set(sa.inspect(engine).get_table_names())
    migrate_to(migrated_url, "head")
    assert set(_slack_sdk_tables()) <= set(sa.inspect(engine).get_table_names())
