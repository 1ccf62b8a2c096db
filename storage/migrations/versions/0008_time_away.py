"""a member's time away

`time_away` holds the days a member said they are away (`/coherence away`); `run_away` counts,
per run, the members passed over because they were away (time away or a Slack away status),
so that the response rate can say "· 1 away" without recording who.

Downgrade drops both tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "time_away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_time_away_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_away")),
    )
    with op.batch_alter_table("time_away", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_away_workspace_id"), ["workspace_id"])
        batch_op.create_index(batch_op.f("ix_time_away_user_id"), ["user_id"])
    op.create_table(
        "run_away",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pulse_runs.id"],
            name=op.f("fk_run_away_run_id_pulse_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_away")),
    )


def downgrade() -> None:
    op.drop_table("run_away")
    with op.batch_alter_table("time_away", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_away_user_id"))
        batch_op.drop_index(batch_op.f("ix_time_away_workspace_id"))
    op.drop_table("time_away")
