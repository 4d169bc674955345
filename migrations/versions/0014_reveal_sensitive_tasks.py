"""The reveal step: when an assignment's task content was first shown

A claim of sensitive or graphic work hands out the lease with the content warning, the
categories and the estimated time, not the task; the trainer reveals it
(``POST /me/assignments/{id}/reveal``) or gives it back. ``revealed_at`` records the
reveal, and exposure counts from it. Every assignment so far showed its task at the
claim, so they are marked revealed then. Nothing is submitted unrevealed (a check).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revealed_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.execute("UPDATE task_assignments SET revealed_at = claimed_at")
    with op.batch_alter_table("task_assignments", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_task_assignments_submitted_after_reveal"),
            "submitted_at IS NULL OR revealed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("task_assignments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_task_assignments_submitted_after_reveal"),
                                 type_="check")
        batch_op.drop_column("revealed_at")
