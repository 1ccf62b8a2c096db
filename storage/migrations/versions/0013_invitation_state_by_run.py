"""invitations indexed by state and run

The tick's reads of invitations in one state within the open runs ("pending" DMs due,
"sent" ones to remind) went through the index on the state alone: on SQLite without
statistics that walked every invitation ever sent (60 ms a tick on two years of 500 groups,
growing with the history). An index on (status, run_id) lets them look up the open runs'
rows only; it serves the reads by state alone as well, so it replaces that index.

Downgrade restores the index on the state alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_invitations_status_run_id", "invitations", ["status", "run_id"])
    op.drop_index("ix_invitations_status", table_name="invitations")


def downgrade() -> None:
    op.create_index("ix_invitations_status", "invitations", ["status"])
    op.drop_index("ix_invitations_status_run_id", table_name="invitations")
