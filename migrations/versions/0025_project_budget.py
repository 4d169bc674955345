"""A project's optional budget and its warning and exhaustion marks (issue 16)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = ("ck_projects_budget_amount_positive", "budget_amount IS NULL OR budget_amount >= 1")
COLUMNS = ("budget_amount", "budget_warned_at", "budget_exhausted_at")


def upgrade() -> None:
    # On SQLite the check goes on the column itself, in place: batch mode would recreate
    # projects, which tasks and members point at (as revision 0020 does).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE projects ADD COLUMN budget_amount INTEGER "
                   f"CONSTRAINT {CHECK[0]} CHECK ({CHECK[1]})")
        op.execute("ALTER TABLE projects ADD COLUMN budget_warned_at DATETIME")
        op.execute("ALTER TABLE projects ADD COLUMN budget_exhausted_at DATETIME")
        return
    op.add_column("projects", sa.Column("budget_amount", sa.Integer(), nullable=True))
    for column in COLUMNS[1:]:
        op.add_column("projects", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f(CHECK[0]), "projects", CHECK[1])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CHECK[0]), "projects", type_="check")
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE projects DROP COLUMN {column}")
