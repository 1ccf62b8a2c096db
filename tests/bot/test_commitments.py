"""Acting on results through the sandbox: "Commit" under a digest records what the team will do
with an owner, the next digest lists it and asks whether it was done, and "Done" records it
and updates that message. Admins see the open ones on the App Home."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from pulses.commitments import InvalidCommitment, record_commitment
from pulses.digests import send_due_digests
from pulses.reports import group_digest
from sandbox import SlackSandbox
from sandbox.records import Message
from storage.db import session_scope
from storage.models import Commitment, LeadershipGroup, Priority, Question, Workspace
from tests.conftest import RunningBot
from tests.pulses.seed import Org, Seeded, seed_group, seed_org, seed_run, uniform

CLOSED = datetime(2026, 3, 4, 10, tzinfo=UTC)
DUE = datetime(2026, 3, 5, 12, tzinfo=UTC)
WEEK = timedelta(weeks=1)
ALICE, BEN, ADMIN = "U0ALICE", "U0BEN", "U0ADMIN"
PROMISE = "Settle the pricing decision in Thursday's meeting"


def _seed_week(bot: RunningBot, week: int) -> None:
    with session_scope(bot.engine) as session:
        org = _org(session)
        group = session.exec(select(LeadershipGroup)).one()
        answers = [Seeded(uniform(3 + week % 2), "Hiring")] * 6
        seed_run(
            session,
            org,
            group,
            date(2026, 3, 2) + week * WEEK,
            answers,
            closes_at=CLOSED + week * WEEK,
        )


def _org(session: Session) -> Org:
    workspace = session.exec(select(Workspace)).one()
    assert workspace.id is not None
    questions = {q.key: q for q in session.exec(select(Question)) if q.active}
    priorities = {p.name: p for p in session.exec(select(Priority))}
    return Org(workspace.id, questions, priorities)


def _digest_after(bot: RunningBot, sandbox: SlackSandbox, week: int) -> Message:
    """Post the group's digest of ``week`` through the bot's messenger; the message."""
    posted = send_due_digests(
        engine=bot.engine, messenger=bot.services.messenger, now=DUE + week * WEEK
    )
    assert posted == 1
    digests = [m for m in sandbox.messages("C0EXEC") if "Coherence digest" in m.text]
    return digests[-1]


def _open_modal(sandbox: SlackSandbox, user: str, message: Message) -> str:
    before = set(sandbox.views)
    assert sandbox.user(user).click(message, "commitment_new").status == 200
    sandbox.wait_for(lambda s: any(v not in before and s.views[v].type == "modal" for v in s.views))
    [modal] = [v for v in sandbox.views if v not in before and sandbox.views[v].type == "modal"]
    return modal


def _texts(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


@pytest.fixture
def seeded(bot: RunningBot) -> None:
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        seed_group(session, org, timezone="Europe/Berlin")
    _seed_week(bot, 0)


@pytest.mark.usefixtures("seeded")
def test_a_commitment_recorded_under_one_digest_shows_up_in_the_next_and_can_be_marked_done(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    first = _digest_after(bot, sandbox, 0)
    modal = _open_modal(sandbox, ALICE, first)
    assert sandbox.views[modal].view["callback_id"] == "commitment_submit"

    # Too short to say anything: refused inline, nothing stored.
    sandbox.user(ALICE).submit(modal, {"text": "ok"})
    assert sandbox.views[modal].open
    assert set(sandbox.views[modal].errors) == {"text"}
    with session_scope(bot.engine) as session:
        assert session.exec(select(Commitment)).all() == []

    sandbox.user(ALICE).submit(modal, {"text": f"  {PROMISE} ", "owner": BEN})
    assert not sandbox.views[modal].open
    sandbox.wait_for(
        lambda s: any(m.thread_ts == first.ts and PROMISE in m.text for m in s.messages("C0EXEC"))
    )
    with session_scope(bot.engine) as session:
        [stored] = session.exec(select(Commitment)).all()
        assert (stored.text, stored.owner_id, stored.created_by) == (PROMISE, BEN, ALICE)
        assert stored.done_at is None

    # A week later the next digest asks about it, with a Done button.
    _seed_week(bot, 1)
    second = _digest_after(bot, sandbox, 1)
    shown = _texts(second)
    assert "Last week's commitments" in shown
    assert PROMISE in shown
    assert f"<@{BEN}>" in shown
    assert "commitment_done" in shown
    # The trend chart posted with it marks the week of the commitment.
    with session_scope(bot.engine) as session:
        group_id = session.exec(select(LeadershipGroup.id)).one()
        assert group_id is not None
        follow = group_digest(session=session, group_id=group_id, now=DUE + WEEK).follow_up
    assert follow.committed_runs == {stored.run_id}

    clicked = sandbox.user(BEN).click(second, "commitment_done")
    assert clicked.status == 200
    sandbox.wait_for(lambda s: any(m.ts == second.ts and m.updated for m in s.messages("C0EXEC")))
    [updated] = [m for m in sandbox.messages("C0EXEC") if m.ts == second.ts]
    assert updated.updated
    shown = _texts(updated)
    assert "commitment_done" not in shown
    assert f":white_check_mark: “{PROMISE}” — owner <@{BEN}> · done by <@{BEN}>" in shown
    with session_scope(bot.engine) as session:
        [stored] = session.exec(select(Commitment)).all()
        assert stored.done_by == BEN
        assert stored.done_at is not None

    # The same click arriving twice (a double click): the first mark stands.
    first_done = stored.done_at
    bot.clock.now += timedelta(minutes=5)
    assert sandbox.user(BEN).replay(clicked).status == 200
    sandbox.wait_for(
        lambda s: any(m.ts == second.ts and m.updated == 2 for m in s.messages("C0EXEC"))
    )
    with session_scope(bot.engine) as session:
        [stored] = session.exec(select(Commitment)).all()
        assert (stored.done_by, stored.done_at) == (BEN, first_done)

    # Done and two runs back, it is no longer asked about.
    _seed_week(bot, 2)
    third = _digest_after(bot, sandbox, 2)
    assert PROMISE not in _texts(third)


@pytest.mark.usefixtures("seeded")
def test_admins_see_open_commitments_on_the_app_home_and_members_do_not(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    from tests.bot.test_home import open_home

    first = _digest_after(bot, sandbox, 0)
    modal = _open_modal(sandbox, ALICE, first)
    sandbox.user(ALICE).submit(modal, {"text": PROMISE, "owner": BEN})
    shown = open_home(sandbox, ADMIN)
    assert "Open commitments" in shown
    assert f"*#exec-team* · “{PROMISE}” — owner <@{BEN}> · since the 2 Mar digest" in shown
    assert PROMISE not in open_home(sandbox, ALICE)


def test_a_commitment_needs_an_owner_and_a_run_of_the_callers_workspace(bot: RunningBot) -> None:
    with session_scope(bot.engine) as session:
        org = seed_org(session)
        group = seed_group(session, org)
        run = seed_run(session, org, group, date(2026, 3, 2), [Seeded(uniform(4))] * 5)
        assert run.id is not None
        with pytest.raises(InvalidCommitment) as refused:
            record_commitment(
                session=session,
                workspace_id=org.workspace_id,
                run_id=run.id,
                text="x" * 301,
                owner_id="not a user",
                user_id=ALICE,
                now=DUE,
            )
        assert set(refused.value.problems) == {"text", "owner"}
        from pulses.commitments import CommitmentNotFound

        with pytest.raises(CommitmentNotFound):
            record_commitment(
                session=session,
                workspace_id=org.workspace_id + 1,
                run_id=run.id,
                text=PROMISE,
                owner_id=BEN,
                user_id=ALICE,
                now=DUE,
            )
        assert session.exec(select(Commitment)).all() == []
