"""a closed run's figures, packed at its close

`run_figures`: one row per closed run with its answers' histograms, summed shares of attention
and answer sets in the close's random order (`storage.figures`), so reports read one row per
run instead of one per score. Runs closed before this revision keep none and are tallied from
their answers, into the same figures.

Downgrade drops the table: reports tally every run from its answers again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_figures",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("packed", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pulse_runs.id"],
            name="fk_run_figures_run_id_pulse_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_figures"),
    )


def downgrade() -> None:
    op.drop_table("run_figures")
