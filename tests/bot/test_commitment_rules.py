"""Who may act on commitments, and where a long digest is cut.

Through the sandbox: only members of the group's own channel (and admins) can open "Commit",
submit it or click "Done"; anyone else gets an ephemeral refusal and nothing changes. A digest
cut to fit Block Kit's 50 blocks keeps its "Commit" button and last week's commitments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

import bot.views.digest as digest_views
from bot.views.commitments import MAX_IN_DIGEST
from bot.views.digest import MAX_BLOCKS, blocks_as_dicts, digest_blocks
from pulses.commitments import record_commitment
from pulses.reports import group_digest
from sandbox import SlackSandbox
from sandbox.records import Message
from storage.db import session_scope
from storage.models import Commitment, LeadershipGroup, PulseRun
from tests.bot.test_commitments import PROMISE, _digest_after, _open_modal, _seed_week
from tests.bot.test_digest_views import NOW, _huge_digest
from tests.conftest import RunningBot
from tests.pulses.seed import seed_group, seed_org

ALICE, BEN, IVY, ADMIN = "U0ALICE", "U0BEN", "U0IVY", "U0ADMIN"
EXEC = "C0EXEC"
NOT_ALLOWED = "Only members of #exec-team (and Coherence admins) can record"


@pytest.fixture
def first_digest(bot: RunningBot, sandbox: SlackSandbox) -> Message:
    with session_scope(bot.engine) as session:
        seed_group(session, seed_org(session), timezone="Europe/Berlin")
    _seed_week(bot, 0)
    return _digest_after(bot, sandbox, 0)


def _refusals(sandbox: SlackSandbox, user: str) -> list[str]:
    return [e.text for e in sandbox.ephemerals if e.user == user and e.channel == EXEC]


def _stored(bot: RunningBot) -> list[tuple[str, str | None]]:
    with session_scope(bot.engine) as session:
        return [(c.text, c.done_by) for c in session.exec(select(Commitment))]


def test_someone_outside_the_groups_channel_is_refused_commit_and_done_and_nothing_changes(
    bot: RunningBot, sandbox: SlackSandbox, first_digest: Message
) -> None:
    # Ivy, a director, can see the digest (say it is posted in a wider channel) but is not in
    # #exec-team, nor an admin.
    views_before = set(sandbox.views)
    assert sandbox.user(IVY).click(first_digest, "commitment_new").status == 200
    sandbox.wait_for(lambda s: len(_refusals(s, IVY)) == 1)
    [refusal] = _refusals(sandbox, IVY)
    assert NOT_ALLOWED in refusal
    assert "nothing was changed" in refusal
    assert set(sandbox.views) == views_before  # no modal opened
    assert not any(e.user != IVY for e in sandbox.ephemerals)  # only Ivy is told

    # Dana, an admin who is not in #exec-team, may; so may Alice, a member.
    admin_modal = _open_modal(sandbox, ADMIN, first_digest)
    sandbox.user(ADMIN).submit(admin_modal, {"text": "Review the hiring plan", "owner": ALICE})
    modal = _open_modal(sandbox, ALICE, first_digest)
    sandbox.user(ALICE).submit(modal, {"text": PROMISE, "owner": BEN})
    assert sorted(_stored(bot)) == [("Review the hiring plan", None), (PROMISE, None)]

    # A week later Ivy clicks Done: refused, the message unchanged, nothing marked.
    _seed_week(bot, 1)
    second = _digest_after(bot, sandbox, 1)
    assert sandbox.user(IVY).click(second, "commitment_done").status == 200
    sandbox.wait_for(lambda s: len(_refusals(s, IVY)) == 2)
    assert NOT_ALLOWED in _refusals(sandbox, IVY)[-1]
    [shown] = [m for m in sandbox.messages(EXEC) if m.ts == second.ts]
    assert not shown.updated
    assert all(done_by is None for _, done_by in _stored(bot))

    # Ben, a member, marks it done.
    assert sandbox.user(BEN).click(second, "commitment_done").status == 200
    sandbox.wait_for(lambda s: any(m.ts == second.ts and m.updated for m in s.messages(EXEC)))
    assert BEN in [done_by for _, done_by in _stored(bot)]


def test_a_modal_opened_by_a_member_who_then_leaves_the_channel_records_nothing(
    bot: RunningBot, sandbox: SlackSandbox, first_digest: Message
) -> None:
    modal = _open_modal(sandbox, BEN, first_digest)
    sandbox.workspace.channels[EXEC].members.remove(BEN)
    sandbox.user(BEN).submit(modal, {"text": PROMISE, "owner": BEN})
    shown = json.dumps(sandbox.views[modal].view)
    assert "Not recorded" in shown
    assert NOT_ALLOWED in shown
    assert _stored(bot) == []


def test_when_slack_cannot_say_who_is_in_the_channel_nothing_is_opened(
    bot: RunningBot, sandbox: SlackSandbox, first_digest: Message
) -> None:
    views_before = set(sandbox.views)
    sandbox.faults.inject("conversations.members", "http_500")
    assert sandbox.user(ALICE).click(first_digest, "commitment_new").status == 200
    sandbox.wait_for(lambda s: len(_refusals(s, ALICE)) == 1)
    assert "couldn't check with Slack whether you are in #exec-team" in _refusals(sandbox, ALICE)[0]
    assert set(sandbox.views) == views_before


def test_a_digest_cut_to_fit_keeps_its_commit_button_and_last_weeks_commitments(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The longest digest there is (40 priorities, 200 comments, 14 weeks) with 20 open
    commitments from earlier weeks; then the same with room for only 20 blocks."""
    huge = _huge_digest(engine)
    with session_scope(engine) as session:
        runs = session.exec(select(PulseRun).order_by(PulseRun.occurrence_day)).all()
        group = session.get(LeadershipGroup, huge.group.group_id)
        assert group is not None
        for n in range(20):
            run = runs[n % (len(runs) - 1)]
            assert run.id is not None
            record_commitment(
                session=session,
                workspace_id=group.workspace_id,
                run_id=run.id,
                text=f"Commitment {n:02d} " + "z" * 250,
                owner_id=BEN,
                user_id=ALICE,
                now=datetime(2026, 5, 1, tzinfo=UTC),
            )
    with session_scope(engine) as session:
        digest = group_digest(session=session, group_id=huge.group.group_id, now=NOW)
    assert len(digest.follow_up.to_review) == 20

    def shown(blocks: list[dict[str, object]]) -> tuple[bool, list[str], str]:
        text = json.dumps(blocks, ensure_ascii=False)
        commit = any(
            e.get("action_id") == "commitment_new"
            for b in blocks
            for e in b.get("elements", [])  # type: ignore[attr-defined]
            if isinstance(e, dict)
        )
        listed = [str(b["block_id"]) for b in blocks if str(b.get("block_id")).startswith("comm")]
        return commit, listed, text

    _, full = digest_blocks(digest)
    commit, listed, text = shown(blocks_as_dicts(full))
    assert len(full) <= MAX_BLOCKS
    assert commit
    assert len(listed) == MAX_IN_DIGEST
    assert "… and 12 more open commitments" in text
    assert "Only team-level figures" in text

    # Slack's limit reached: the cut falls before the follow-up, which stays whole.
    monkeypatch.setattr(digest_views, "MAX_BLOCKS", 20)
    _, cut = digest_blocks(digest)
    dicts = blocks_as_dicts(cut)
    commit, cut_listed, text = shown(dicts)
    assert len(cut) == 20
    assert commit
    assert cut_listed == listed
    assert "Some sections were left out to fit Slack." in text
    assert "Only team-level figures" in json.dumps(dicts[-1])
    assert dicts[0]["type"] == "header"
