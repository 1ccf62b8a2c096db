"""Shared set-up for pulse tests: groups in the database, ticks against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.app import build_client
from bot.messenger import SlackMessenger
from bot.settings import Settings
from pulses.dispatch import tick
from pulses.groups import create_group, ensure_workspace
from pulses.ticks import TickReport, Worker
from sandbox import SlackSandbox, View
from storage.db import session_scope
from storage.models import Answer, AnswerScore, Invitation, LeadershipGroup, Priority, PulseRun

EXEC = "C0EXEC"
EXEC_LEADERS = ["U0ALICE", "U0BEN", "U0CHIE", "U0DIEGO", "U0EMMA", "U0FARID", "U0GRACE"]
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def at(local: str, zone: str) -> datetime:
    """`2026-03-23 09:00` in `zone`, as an aware UTC datetime."""
    naive = datetime.fromisoformat(local)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def make_group(
    engine: Engine, *, channel: str = EXEC, name: str = "exec-team", **settings: Any
) -> int:
    """A leadership group created long ago, so every test date is after its creation."""
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id="T0SANDBOX")
        assert workspace.id is not None
        settings.setdefault("created_at", LONG_AGO)
        group = create_group(
            session=session,
            workspace_id=workspace.id,
            channel_id=channel,
            channel_name=name,
            **settings,
        )
        assert group.id is not None
        return group.id


def add_priorities(engine: Engine, *names: str) -> list[int]:
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id="T0SANDBOX")
        assert workspace.id is not None
        rows = [
            Priority(workspace_id=workspace.id, name=n, position=i) for i, n in enumerate(names)
        ]
        session.add_all(rows)
        session.flush()
        return [p.id for p in rows if p.id is not None]


def messenger_for(settings: Settings) -> SlackMessenger:
    return SlackMessenger(build_client(settings), posts_per_minute=0)


def run_tick(engine: Engine, messenger: SlackMessenger, now: datetime) -> TickReport:
    return tick(engine=engine, messenger=messenger, now=now, worker=Worker("test:0:0"))


def runs(engine: Engine) -> list[PulseRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(PulseRun).order_by(PulseRun.id)).all())  # type: ignore[arg-type]


def invitations(engine: Engine) -> list[Invitation]:
    with session_scope(engine) as session:
        return list(session.exec(select(Invitation).order_by(Invitation.id)).all())  # type: ignore[arg-type]


def answers(engine: Engine) -> list[Answer]:
    with session_scope(engine) as session:
        return list(session.exec(select(Answer)).all())


def scores(engine: Engine) -> list[AnswerScore]:
    with session_scope(engine) as session:
        return list(session.exec(select(AnswerScore)).all())


def group(engine: Engine, group_id: int) -> LeadershipGroup:
    with session_scope(engine) as session:
        found = session.get(LeadershipGroup, group_id)
        assert found is not None
        return found


def dm_count(sandbox: SlackSandbox, user_id: str) -> int:
    """How many messages the bot has posted in its DM with `user_id`."""
    return len(sandbox.messages(sandbox.dm_channel(user_id)))


def click_answer(sandbox: SlackSandbox, user: str, channel: str = EXEC) -> View:
    """Click the pulse's Answer button as `user` and wait for the modal Slack would show."""
    from bot.views.pulse import ANSWER_ACTION

    before = {v.id for v in sandbox.views.values()}
    message = (
        sandbox.messages(channel)[0]
        if channel != "DM"
        else sandbox.messages(sandbox.dm_channel(user))[0]
    )
    response = sandbox.user(user).click(message, ANSWER_ACTION)
    assert response.status == 200
    sandbox.wait_for(
        lambda s: any(v.id not in before and v.user_id == user for v in s.views.values())
    )
    [modal] = [v for v in sandbox.views.values() if v.id not in before and v.user_id == user]
    return modal
