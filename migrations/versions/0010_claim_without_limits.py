"""Open sensitive tasks per project, and held credits read from their index alone
(bench/RESULTS.md)

A claim on a plain project used to measure the trainer's exposure and read their
consent (four queries) before every claim, although plain work is never held back by
either. It now asks first whether any open task of the project is sensitive on its own;
``ix_tasks_sensitive_open`` holds only those tasks, so the question is one index probe.

The held credits of a payable account (0009's partial index) are summed from the index
alone on PostgreSQL: it now carries the amount and the entry, instead of sending the
summary to one table page per credit on hold (4.5 to 2.2 ms for 2,000 held credits).

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


HELD = sa.text("available_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_tasks_sensitive_open", "tasks", ["project_id"],
                    sqlite_where=SENSITIVE_OPEN, postgresql_where=SENSITIVE_OPEN)
    if op.get_bind().dialect.name == "postgresql":
        _held_index(include=["amount", "entry_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _held_index(include=[])
    op.drop_index("ix_tasks_sensitive_open", table_name="tasks")


def _held_index(include: list[str]) -> None:
    op.drop_index("ix_postings_account_id_available_at", table_name="postings")
    op.create_index("ix_postings_account_id_available_at", "postings",
                    ["account_id", "available_at"], postgresql_where=HELD,
                    postgresql_include=include)
