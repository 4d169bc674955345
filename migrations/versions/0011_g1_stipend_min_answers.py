"""The answered questions an attempt needs for its stipend (issue 21, item 1)

A blank attempt (or one with fewer answers than the assessment asks) earns no stipend;
existing versions need one answer, the least there is.

Revision ID: 0011_g1
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_g1"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stipend_min_answers", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.create_check_constraint(
            op.f("ck_assessment_versions_stipend_needs_an_answer"), "stipend_min_answers >= 1"
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_assessment_versions_stipend_needs_an_answer"), type_="check"
        )
        batch_op.drop_column("stipend_min_answers")
