"""Gold scores per field: a score from 0 to 1 instead of right or wrong

``task_assignments.gold_correct`` (true/false) becomes ``gold_score`` (0 to 1, four
places) with ``gold_scores`` (per template field). Work scored so far keeps its verdict:
right is 1, wrong is 0. Going back, a score of 1 is right and anything less is wrong.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

assignments = sa.table(
    "task_assignments", sa.column("gold_correct", sa.Boolean()),
    sa.column("gold_score", sa.Numeric(5, 4)),
)
CHECK = "gold_score IS NULL OR (gold_score >= 0 AND gold_score <= 1)"


def upgrade() -> None:
    with op.batch_alter_table("task_assignments") as batch:
        batch.add_column(sa.Column("gold_score", sa.Numeric(precision=5, scale=4),
                                   nullable=True))
        batch.add_column(sa.Column(
            "gold_scores",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True))
        batch.create_check_constraint(op.f("ck_task_assignments_gold_score_within_0_1"), CHECK)
    op.execute(assignments.update().where(assignments.c.gold_correct.is_not(None))
               .values(gold_score=sa.case((assignments.c.gold_correct, 1), else_=0)))
    with op.batch_alter_table("task_assignments") as batch:
        batch.drop_column("gold_correct")


def downgrade() -> None:
    with op.batch_alter_table("task_assignments") as batch:
        batch.add_column(sa.Column("gold_correct", sa.Boolean(), nullable=True))
    op.execute(assignments.update().where(assignments.c.gold_score.is_not(None))
               .values(gold_correct=assignments.c.gold_score == 1))
    with op.batch_alter_table("task_assignments") as batch:
        batch.drop_constraint(op.f("ck_task_assignments_gold_score_within_0_1"), type_="check")
        batch.drop_column("gold_scores")
        batch.drop_column("gold_score")
