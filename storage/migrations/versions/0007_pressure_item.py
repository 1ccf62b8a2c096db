"""the pressure item

Every workspace is asked the pressure item from its next pulse on: version 1 of the question
"pressure" (its own kind, outside the coherence index), placed after the workspace's last
question. Its answers are stored like a statement's score (`answer_scores`), and the reports
read them apart from the dimensions. A workspace that has the item already keeps it.

Downgrade removes the item's scores and every version of the question.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-15 10:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRESSURE_TEXT = (
    "This week, my area was under heavy pressure: tight deadlines, escalations or "
    "competing demands."
)

_questions = sa.table(
    "questions",
    sa.column("id", sa.Integer),
    sa.column("workspace_id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("kind", sa.String),
    sa.column("text", sa.String),
    sa.column("version", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("created_at"),
)
_workspaces = sa.table("workspaces", sa.column("id", sa.Integer))
_scores = sa.table("answer_scores", sa.column("question_id", sa.Integer))


def upgrade() -> None:
    bind = op.get_bind()
    has_item = {
        row[0]
        for row in bind.execute(
            sa.select(_questions.c.workspace_id).where(_questions.c.key == "pressure")
        )
    }
    last = dict(
        bind.execute(
            sa.select(_questions.c.workspace_id, sa.func.max(_questions.c.position)).group_by(
                _questions.c.workspace_id
            )
        ).all()
    )
    now = datetime.now(UTC)
    rows = [
        {
            "workspace_id": workspace_id,
            "key": "pressure",
            "kind": "pressure",
            "text": PRESSURE_TEXT,
            "version": 1,
            "position": int(last.get(workspace_id) or 0) + 1,
            "active": True,
            "created_at": now,
        }
        for (workspace_id,) in bind.execute(sa.select(_workspaces.c.id).order_by(_workspaces.c.id))
        if workspace_id not in has_item
    ]
    if rows:
        op.bulk_insert(_questions, rows)


def downgrade() -> None:
    pressure_ids = sa.select(_questions.c.id).where(_questions.c.key == "pressure")
    op.execute(sa.delete(_scores).where(_scores.c.question_id.in_(pressure_ids)))
    op.execute(sa.delete(_questions).where(_questions.c.key == "pressure"))
