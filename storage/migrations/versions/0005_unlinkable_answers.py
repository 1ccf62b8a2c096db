"""answers unlinkable at rest

Answers lose their user ID and timestamps; an open run's answers get a keyed pseudonym and
their members' invitations an "answered" flag; every other run's answers are re-inserted in
random order, so that their ids no longer follow the order people answered in.

Open runs: with COHERENCE_PSEUDONYM_KEY in the environment at migration time, their answers
get the pseudonym the bot computes, and a resubmission replaces the earlier answer as before.
Without it they keep no link: the invitation still says "answered" (no reminder), and a
resubmission is refused with a message instead of counting the member twice.

Downgrade is lossy: a closed run's answers get a placeholder user ID ("unlinked-<id>") and
the run's scheduled time as their submission time. An open run's answers get their member
back only if the same key is in the environment; otherwise a placeholder too, and the old
code would remind that member and count a resubmission twice.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

import hashlib
import hmac
import os
import random
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_VARIABLE = "COHERENCE_PSEUDONYM_KEY"
OPEN = ("open", "pending")

workspaces = sa.table("workspaces", sa.column("id"), sa.column("team_id"))
groups = sa.table("leadership_groups", sa.column("id"), sa.column("workspace_id"))
runs = sa.table(
    "pulse_runs",
    sa.column("id"),
    sa.column("group_id"),
    sa.column("status"),
    sa.column("scheduled_at"),
)
invitations = sa.table(
    "invitations", sa.column("id"), sa.column("run_id"), sa.column("user_id"), sa.column("answered")
)
scores = sa.table(
    "answer_scores",
    sa.column("id"),
    sa.column("answer_id"),
    sa.column("run_id"),
    sa.column("question_id"),
    sa.column("score"),
)


def _answers(*extra: str) -> sa.TableClause:
    names = ("id", "run_id", "focus_priority_id", "focus_other", "friction", *extra)
    return sa.table("answers", *(sa.column(name) for name in names))


def _key() -> bytes | None:
    # The same reading of the key as pulses.pseudonyms.pseudonym_key.
    configured = (os.environ.get(KEY_VARIABLE) or "").strip()
    return configured.encode() if configured else None


def _pseudonym(key: bytes, team_id: str, run_id: int, user_id: str) -> str:
    # Frozen copy of pulses.pseudonyms.pseudonym as of this revision.
    message = "\x1f".join((team_id, str(run_id), user_id)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _team_of_run() -> sa.Select[tuple[int, str]]:
    return sa.select(runs.c.id, workspaces.c.team_id).select_from(
        runs.join(groups, groups.c.id == runs.c.group_id).join(
            workspaces, workspaces.c.id == groups.c.workspace_id
        )
    )


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answered", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    connection = op.get_bind()
    _pseudonymise_open_answers(connection, _key())
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_answers_run_id_user_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_answers_run_id_pseudonym"), ["run_id", "pseudonym"]
        )
        batch_op.drop_column("updated_at")
        batch_op.drop_column("submitted_at")
        batch_op.drop_column("user_id")
    _shuffle_closed_answers(connection)


def _pseudonymise_open_answers(connection: Connection, key: bytes | None) -> None:
    answers = _answers("user_id", "pseudonym")
    team_of = dict(connection.execute(_team_of_run().where(runs.c.status.in_(OPEN))).all())
    for answer_id, run_id, user_id in connection.execute(
        sa.select(answers.c.id, answers.c.run_id, answers.c.user_id).where(
            answers.c.run_id.in_(list(team_of))
        )
    ).all():
        connection.execute(
            invitations.update()
            .where(invitations.c.run_id == run_id, invitations.c.user_id == user_id)
            .values(answered=True)
        )
        if key is not None:
            connection.execute(
                answers.update()
                .where(answers.c.id == answer_id)
                .values(pseudonym=_pseudonym(key, team_of[run_id], run_id, user_id))
            )


def _shuffle_closed_answers(connection: Connection) -> None:
    answers = _answers()
    shuffle = random.SystemRandom().shuffle
    run_ids = connection.execute(
        sa.select(answers.c.run_id)
        .distinct()
        .select_from(answers.join(runs, runs.c.id == answers.c.run_id))
        .where(runs.c.status.not_in(OPEN))
    ).scalars()
    for run_id in list(run_ids):
        rows = [
            dict(row._mapping)
            for row in connection.execute(sa.select(answers).where(answers.c.run_id == run_id))
        ]
        scores_of: dict[int, list[dict[str, object]]] = {}
        for row in connection.execute(
            sa.select(scores.c.answer_id, scores.c.question_id, scores.c.score).where(
                scores.c.run_id == run_id
            )
        ):
            scores_of.setdefault(row.answer_id, []).append(dict(row._mapping))
        connection.execute(scores.delete().where(scores.c.run_id == run_id))
        connection.execute(answers.delete().where(answers.c.run_id == run_id))
        shuffle(rows)
        for row in rows:
            old_id = row.pop("id")
            new_id = connection.execute(
                answers.insert().values(**row).returning(answers.c.id)
            ).scalar_one()
            for score in scores_of.get(old_id, []):
                connection.execute(
                    scores.insert().values(
                        answer_id=new_id,
                        run_id=run_id,
                        question_id=score["question_id"],
                        score=score["score"],
                    )
                )


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    _relink_answers(op.get_bind(), _key())
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_answers_run_id_pseudonym", type_="unique")
        batch_op.alter_column(
            "user_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )
        batch_op.alter_column(
            "submitted_at", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False
        )
        batch_op.alter_column(
            "updated_at", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_answers_run_id_user_id"), ["run_id", "user_id"]
        )
        batch_op.drop_column("pseudonym")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("answered")


def _relink_answers(connection: Connection, key: bytes | None) -> None:
    answers = _answers("user_id", "pseudonym", "submitted_at", "updated_at")
    team_of = dict(connection.execute(_team_of_run()).all())
    members: dict[tuple[int, str], str] = {}
    if key is not None:
        for run_id, user_id in connection.execute(
            sa.select(invitations.c.run_id, invitations.c.user_id).where(
                invitations.c.answered.is_(True)
            )
        ):
            members[(run_id, _pseudonym(key, team_of[run_id], run_id, user_id))] = user_id
    scheduled = dict(connection.execute(sa.select(runs.c.id, runs.c.scheduled_at)).all())
    for answer_id, run_id, tag in connection.execute(
        sa.select(answers.c.id, answers.c.run_id, answers.c.pseudonym)
    ).all():
        user_id = members.get((run_id, tag or ""), f"unlinked-{answer_id}")
        connection.execute(
            answers.update()
            .where(answers.c.id == answer_id)
            .values(
                user_id=user_id,
                submitted_at=scheduled[run_id],
                updated_at=scheduled[run_id],
            )
        )
