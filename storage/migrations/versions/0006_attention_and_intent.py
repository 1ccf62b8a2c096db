"""attention shares and declared intent versions

Focus answers move to `answer_focus`, one row per priority (or "something else") with the
answer's share of attention in tenths; an answer given to the single-choice question becomes
one row of 10 tenths, and `answers.focus_priority_id` goes. Each workspace's focus question
gets a new version of kind "attention" (shares of attention), so runs asked the old way keep
the version they asked.

Declared intent becomes versioned (`intent_versions`, `intent_shares`) and every run records
the version in force (`pulse_runs.intent_version_id`). Existing runs get a version per group
and distinct set of priorities asked, with the shares today's weights give them: the figures
every past digest showed stay the same.

Downgrade is lossy: an answer keeps only its largest share (ties: the lowest priority id,
"something else" last) as its single choice; the "attention" question versions become
single-choice ones with the old wording; intent versions go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from statistics import fmean

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SINGLE_CHOICE_TEXT = "Which priority took most of your leadership attention this week?"
ATTENTION_TEXT = "What share of your leadership attention went to each priority this week?"

groups = sa.table("leadership_groups", sa.column("id"), sa.column("workspace_id"))
runs = sa.table(
    "pulse_runs",
    sa.column("id"),
    sa.column("group_id"),
    sa.column("scheduled_at"),
    sa.column("priority_ids"),
    sa.column("intent_version_id"),
)
priorities = sa.table("priorities", sa.column("id"), sa.column("weight"))
questions = sa.table(
    "questions",
    sa.column("id"),
    sa.column("workspace_id"),
    sa.column("key"),
    sa.column("kind"),
    sa.column("text"),
    sa.column("version"),
    sa.column("position"),
    sa.column("active"),
    sa.column("created_at"),
)
answers = sa.table(
    "answers", sa.column("id"), sa.column("run_id"), sa.column("focus_priority_id"), sa.column("focus_other")
)
answer_focus = sa.table(
    "answer_focus",
    sa.column("answer_id"),
    sa.column("run_id"),
    sa.column("priority_id"),
    sa.column("tenths"),
)
intent_versions = sa.table(
    "intent_versions",
    sa.column("id"),
    sa.column("workspace_id"),
    sa.column("group_id"),
    sa.column("effective_at"),
)
intent_shares = sa.table(
    "intent_shares",
    sa.column("intent_id"),
    sa.column("priority_id"),
    sa.column("share"),
)


def upgrade() -> None:
    op.create_table(
        "intent_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("effective_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["leadership_groups.id"],
            name=op.f("fk_intent_versions_group_id_leadership_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_intent_versions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intent_versions")),
    )
    with op.batch_alter_table("intent_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intent_versions_group_id"), ["group_id"])
        batch_op.create_index(batch_op.f("ix_intent_versions_workspace_id"), ["workspace_id"])
    op.create_table(
        "intent_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intent_id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["intent_versions.id"],
            name=op.f("fk_intent_shares_intent_id_intent_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["priority_id"],
            ["priorities.id"],
            name=op.f("fk_intent_shares_priority_id_priorities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intent_shares")),
        sa.UniqueConstraint(
            "intent_id", "priority_id", name=op.f("uq_intent_shares_intent_id_priority_id")
        ),
    )
    with op.batch_alter_table("intent_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intent_shares_intent_id"), ["intent_id"])
    op.create_table(
        "answer_focus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=True),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.CheckConstraint("tenths BETWEEN 1 AND 10", name=op.f("ck_answer_focus_tenths_is_share")),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_answer_focus_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["priority_id"], ["priorities.id"], name=op.f("fk_answer_focus_priority_id_priorities")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["pulse_runs.id"], name=op.f("fk_answer_focus_run_id_pulse_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_focus")),
        sa.UniqueConstraint(
            "answer_id", "priority_id", name=op.f("uq_answer_focus_answer_id_priority_id")
        ),
    )
    with op.batch_alter_table("answer_focus", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_focus_answer_id"), ["answer_id"])
        batch_op.create_index(batch_op.f("ix_answer_focus_run_id"), ["run_id"])
    with op.batch_alter_table("pulse_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_pulse_runs_intent_version_id_intent_versions"),
            "intent_versions",
            ["intent_version_id"],
            ["id"],
        )
    connection = op.get_bind()
    _focus_to_shares(connection)
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_answers_focus_priority_id_priorities", type_="foreignkey")
        batch_op.drop_column("focus_priority_id")
    _version_intent(connection)
    _ask_attention(connection)


def _focus_to_shares(connection: Connection) -> None:
    """A single choice is the whole attention (10 tenths) on the chosen key."""
    for answer_id, run_id, priority_id, other in connection.execute(
        sa.select(
            answers.c.id, answers.c.run_id, answers.c.focus_priority_id, answers.c.focus_other
        ).order_by(answers.c.id)
    ).all():
        if priority_id is None and other is None:
            continue  # the run asked no focus question
        connection.execute(
            answer_focus.insert().values(
                answer_id=answer_id, run_id=run_id, priority_id=priority_id, tenths=10
            )
        )


def _declared(weights: dict[int, float | None]) -> dict[int, float]:
    # Frozen copy of pulses.focus.declared_distribution as of this revision.
    if not weights:
        return {}
    set_weights = [w for w in weights.values() if w is not None]
    fill = fmean(set_weights) if set_weights else 1.0
    filled = {key: (fill if w is None else w) for key, w in weights.items()}
    total = math.fsum(filled.values())
    if total == 0:
        return {key: 1 / len(filled) for key in filled}
    return {key: w / total for key, w in filled.items()}


def _version_intent(connection: Connection) -> None:
    """One version per group and set of priorities asked, effective from its first run."""
    weight_of = dict(connection.execute(sa.select(priorities.c.id, priorities.c.weight)).all())
    workspace_of = dict(connection.execute(sa.select(groups.c.id, groups.c.workspace_id)).all())
    versions: dict[tuple[int, str], int] = {}
    for run_id, group_id, scheduled_at, priority_ids in connection.execute(
        sa.select(runs.c.id, runs.c.group_id, runs.c.scheduled_at, runs.c.priority_ids).order_by(
            runs.c.scheduled_at, runs.c.id
        )
    ).all():
        key = (group_id, priority_ids or "")
        if key not in versions:
            ids = [int(part) for part in (priority_ids or "").split(",") if part.strip()]
            shares = _declared({pid: weight_of[pid] for pid in ids if pid in weight_of})
            versions[key] = connection.execute(
                intent_versions.insert()
                .values(
                    workspace_id=workspace_of[group_id],
                    group_id=group_id,
                    effective_at=scheduled_at,
                )
                .returning(intent_versions.c.id)
            ).scalar_one()
            for priority_id, share in shares.items():
                connection.execute(
                    intent_shares.insert().values(
                        intent_id=versions[key], priority_id=priority_id, share=share
                    )
                )
        connection.execute(
            runs.update().where(runs.c.id == run_id).values(intent_version_id=versions[key])
        )


def _ask_attention(connection: Connection) -> None:
    """Each workspace's focus question, if still asked one choice, gets a shares version."""
    latest: dict[int, tuple[int, str, int, bool]] = {}
    for workspace_id, version, kind, position, active in connection.execute(
        sa.select(
            questions.c.workspace_id,
            questions.c.version,
            questions.c.kind,
            questions.c.position,
            questions.c.active,
        )
        .where(questions.c.key == "focus")
        .order_by(questions.c.version)
    ).all():
        latest[workspace_id] = (version, kind, position, active)
    for workspace_id, (version, kind, position, active) in latest.items():
        if kind != "focus" or not active:
            continue
        connection.execute(
            questions.insert().values(
                workspace_id=workspace_id,
                key="focus",
                kind="attention",
                text=ATTENTION_TEXT,
                version=version + 1,
                position=position,
                active=True,
                created_at=datetime.now(UTC),
            )
        )


def downgrade() -> None:
    connection = op.get_bind()
    connection.execute(
        questions.update()
        .where(questions.c.kind == "attention")
        .values(kind="focus", text=SINGLE_CHOICE_TEXT)
    )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("focus_priority_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_answers_focus_priority_id_priorities"),
            "priorities",
            ["focus_priority_id"],
            ["id"],
        )
    _shares_to_focus(connection)
    with op.batch_alter_table("pulse_runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_pulse_runs_intent_version_id_intent_versions", type_="foreignkey"
        )
        batch_op.drop_column("intent_version_id")
    with op.batch_alter_table("answer_focus", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_focus_run_id"))
        batch_op.drop_index(batch_op.f("ix_answer_focus_answer_id"))
    op.drop_table("answer_focus")
    with op.batch_alter_table("intent_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intent_shares_intent_id"))
    op.drop_table("intent_shares")
    with op.batch_alter_table("intent_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intent_versions_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_intent_versions_group_id"))
    op.drop_table("intent_versions")


def _shares_to_focus(connection: Connection) -> None:
    """Each answer's largest share becomes its single choice."""
    top: dict[int, tuple[int, int | None]] = {}
    for answer_id, priority_id, tenths in connection.execute(
        sa.select(answer_focus.c.answer_id, answer_focus.c.priority_id, answer_focus.c.tenths)
    ).all():
        best = top.get(answer_id)
        rank = (-tenths, priority_id is None, priority_id or 0)
        if best is None or rank < (-best[0], best[1] is None, best[1] or 0):
            top[answer_id] = (tenths, priority_id)
    for answer_id, (_, priority_id) in top.items():
        values: dict[str, object] = {"focus_priority_id": priority_id}
        if priority_id is not None:
            values["focus_other"] = None
        connection.execute(answers.update().where(answers.c.id == answer_id).values(**values))
