"""Open sensitive tasks per project, so a claim on a plain project knows at once
whether the trainer's exposure limits and consent can matter (bench/RESULTS.md)

A claim on a plain project used to measure the trainer's exposure and read their
consent (four queries) before every claim, although plain work is never held back by
either. It now asks first whether any open task of the project is sensitive on its own;
this partial index holds only those tasks, so the question is one index probe.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENSITIVE_OPEN = sa.text("open_slots > 0 AND sensitivity IN ('sensitive', 'graphic')")


def upgrade() -> None:
    op.create_index("ix_tasks_sensitive_open", "tasks", ["project_id"],
                    sqlite_where=SENSITIVE_OPEN, postgresql_where=SENSITIVE_OPEN)


def downgrade() -> None:
    op.drop_index("ix_tasks_sensitive_open", table_name="tasks")
