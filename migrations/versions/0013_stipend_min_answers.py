"""The answered questions an attempt needs for its stipend (issue 21, item 1)

A blank attempt (or one with fewer answers than the assessment asks) earns no stipend;
existing versions need one answer, the least there is.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_assessment_versions_stipend_needs_an_answer"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, the check on the column itself: batch mode would recreate the table,
        # dropping one that attempts and questions point at, which fails once it has
        # rows (and a column with a table check could not be dropped in place again).
        op.execute(
            "ALTER TABLE assessment_versions ADD COLUMN stipend_min_answers INTEGER "
            f"NOT NULL DEFAULT 1 CONSTRAINT {CHECK} CHECK (stipend_min_answers >= 1)"
        )
        return
    op.add_column(
        "assessment_versions",
        sa.Column("stipend_min_answers", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_check_constraint(op.f(CHECK), "assessment_versions", "stipend_min_answers >= 1")


def downgrade() -> None:
    # The column's check goes with it, on SQLite too (where it belongs to the column).
    op.execute("ALTER TABLE assessment_versions DROP COLUMN stipend_min_answers")
