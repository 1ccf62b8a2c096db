"""Migration 0006: single choices become shares of 1, runs get the intent of today's weights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.migrate import downgrade, upgrade

MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _insert(connection: Connection, sql: str, **values: Any) -> int:
    return int(connection.execute(text(f"{sql} RETURNING id"), values).scalar_one())


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.mark.parametrize("database_url", ["migrated_url", "postgres_url"], indirect=True)
def test_0006_converts_focus_answers_and_versions_intent_both_ways(database_url: str) -> None:
    downgrade(database_url, "0005")
    engine = make_engine(database_url)
    try:
        with engine.begin() as c:
            ws = _insert(
                c,
                "INSERT INTO workspaces (team_id, name, created_at) VALUES ('T6', '', :at)",
                at=MONDAY,
            )
            group = _insert(
                c,
                "INSERT INTO leadership_groups (workspace_id, channel_id, channel_name, timezone, "
                "delivery_mode, frequency, weekdays, local_time, per_member_time, monthly_week, "
                "answer_window_minutes, paused, anonymity_threshold, digest_time, active, "
                "created_at, updated_at) VALUES (:ws, 'C6', 'six', 'UTC', 'channel', 'weekly', "
                "'0', '09:00', false, 1, 2880, false, 5, '09:00', true, :at, :at)",
                ws=ws,
                at=MONDAY,
            )
            priority = {}
            for name, weight in (("A", 3.0), ("B", 1.0), ("C", None)):
                priority[name] = _insert(
                    c,
                    "INSERT INTO priorities (workspace_id, name, weight, position, active, "
                    "created_at) VALUES (:ws, :name, :weight, 0, true, :at)",
                    ws=ws,
                    name=name,
                    weight=weight,
                    at=MONDAY,
                )
            focus = _insert(
                c,
                "INSERT INTO questions (workspace_id, key, kind, text, version, position, active, "
                "created_at) VALUES (:ws, 'focus', 'focus', 'Which one?', 1, 5, true, :at)",
                ws=ws,
                at=MONDAY,
            )
            runs = []
            for week, asked in enumerate(("A,B", "A,B", "A,B,C")):
                ids = ",".join(str(priority[name]) for name in asked.split(","))
                runs.append(
                    _insert(
                        c,
                        "INSERT INTO pulse_runs (group_id, occurrence_day, scheduled_at, status, "
                        "delivery_mode, manual, closes_at, channel_post_state, question_ids, "
                        "priority_ids, anonymity_threshold, created_at) VALUES (:group, :day, "
                        ":at, 'closed', 'channel', false, :at, 'pending', :focus, :ids, 5, :at)",
                        group=group,
                        day=(MONDAY + timedelta(weeks=week)).date(),
                        at=MONDAY + timedelta(weeks=week),
                        focus=str(focus),
                        ids=ids,
                    )
                )
            answers = {}
            for label, chosen, other in (
                ("on A", priority["A"], None),
                ("other", None, "board prep"),
                ("none", None, None),
            ):
                answers[label] = _insert(
                    c,
                    "INSERT INTO answers (run_id, focus_priority_id, focus_other) "
                    "VALUES (:run, :chosen, :other)",
                    run=runs[0],
                    chosen=chosen,
                    other=other,
                )

        upgrade(database_url)
        with engine.connect() as c:
            shares = set(c.execute(text("SELECT answer_id, priority_id, tenths FROM answer_focus")))
            assert shares == {(answers["on A"], priority["A"], 10), (answers["other"], None, 10)}
            columns = {col["name"] for col in inspect(c).get_columns("answers")}
            assert "focus_priority_id" not in columns
            version_of = dict(c.execute(text("SELECT id, intent_version_id FROM pulse_runs")).all())
            assert version_of[runs[0]] == version_of[runs[1]] != version_of[runs[2]]
            declared = {
                (intent, pid): share
                for intent, pid, share in c.execute(
                    text("SELECT intent_id, priority_id, share FROM intent_shares")
                )
            }
            # Today's weights 3 and 1; C unset takes their mean, 2.
            assert declared == pytest.approx(
                {
                    (version_of[runs[0]], priority["A"]): 0.75,
                    (version_of[runs[0]], priority["B"]): 0.25,
                    (version_of[runs[2]], priority["A"]): 0.5,
                    (version_of[runs[2]], priority["B"]): 1 / 6,
                    (version_of[runs[2]], priority["C"]): 2 / 6,
                }
            )
            questions = sorted(
                c.execute(text("SELECT version, kind FROM questions WHERE key = 'focus'"))
            )
            assert questions == [(1, "focus"), (2, "attention")]

        downgrade(database_url, "0005")
        with engine.connect() as c:
            restored = {
                answer_id: (chosen, other)
                for answer_id, chosen, other in c.execute(
                    text("SELECT id, focus_priority_id, focus_other FROM answers")
                )
            }
            kinds = {kind for (kind,) in c.execute(text("SELECT kind FROM questions"))}
        assert restored == {
            answers["on A"]: (priority["A"], None),
            answers["other"]: (None, "board prep"),
            answers["none"]: (None, None),
        }
        assert kinds == {"focus"}
        upgrade(database_url)
    finally:
        engine.dispose()
