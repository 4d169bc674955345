"""``project_aggregations.failed_at``: when the aggregation job's last attempt at the
project failed (its run rolled back, its error logged), shown to staff until a later run
computes the project (issue 16).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project_aggregations") as batch:
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project_aggregations") as batch:
        batch.drop_column("failed_at")
