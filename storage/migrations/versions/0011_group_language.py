"""a group's language

`leadership_groups.language`: the locale its pulses, reminders and digests are written in
(bot/i18n.py's catalogue). Every existing group keeps English, the language it was sent until now.

Downgrade drops the column: every group is English again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leadership_groups") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=16), nullable=False, server_default="en")
        )


def downgrade() -> None:
    with op.batch_alter_table("leadership_groups") as batch:
        batch.drop_column("language")
