"""commitments recorded under digests

Reserved so that work landing in parallel chains its migrations in one line; the change that
owns this revision fills it in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
