"""Indexes for the hot paths the benchmarks measure (bench/RESULTS.md)

The claim index in the order a claim takes tasks:

A claim takes a project's open tasks by priority (highest first), then age, then id.
The index of 0003 ran priority ascending and stopped at created_at, so PostgreSQL read
and sorted every open task of the project on each claim (about 100 ms at 20,000 open
tasks). This one matches the ORDER BY, so a claim reads the first few entries.

The held credits of a payable account: only postings with an ``available_at`` (credits
in a hold period), so a trainer's earnings summary and each batch of a payout build read
those instead of every posting of the account (60 ms for a trainer with 100,000).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:43:00.154624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("open_slots > 0")
HELD = sa.text("available_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_tasks_claimable", table_name="tasks")
    op.create_index(
        "ix_tasks_claimable", "tasks",
        ["project_id", sa.literal_column("priority DESC"), "created_at", "id"],
        sqlite_where=OPEN, postgresql_where=OPEN,
    )
    op.create_index(
        "ix_postings_account_id_available_at", "postings", ["account_id", "available_at"],
        sqlite_where=HELD, postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_postings_account_id_available_at", table_name="postings")
    op.drop_index("ix_tasks_claimable", table_name="tasks")
    op.create_index(
        "ix_tasks_claimable", "tasks", ["project_id", "priority", "created_at"],
        sqlite_where=OPEN, postgresql_where=OPEN,
    )
