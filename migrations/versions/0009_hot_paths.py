"""Indexes and daily earning sums for the hot paths the benchmarks measure
(bench/RESULTS.md)

The claim index in the order a claim takes tasks:

A claim takes a project's open tasks by priority (highest first), then age, then id.
The index of 0003 ran priority ascending and stopped at created_at, so PostgreSQL read
and sorted every open task of the project on each claim (about 100 ms at 20,000 open
tasks). This one matches the ORDER BY, so a claim reads the first few entries.

The held credits of a payable account: only postings with an ``available_at`` (credits
in a hold period), so a trainer's earnings summary and each batch of a payout build read
those instead of every posting of the account (60 ms for a trainer with 100,000).

Daily earning sums (``ledger_earning_days``): what each payable account earned per UTC
day, filled here from the postings and kept by ``ledger.post`` from now on, with an index
of a trainer's entries by when they occurred. A trainer's year to date sums at most 366
rows plus the entries of the two partial days at the ends of their local year, instead
of every posting of the year (300 ms for a trainer with 100,000).

Ledger balances in 64 bits on PostgreSQL: an organisation's expense account passed
2^31 minor units (21 million dollars) in the full-size benchmark. SQLite's INTEGER is
64-bit already.

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
EARNED = ("'assessment_stipend', 'task_approval', 'timesheet', 'kill_fee', 'top_up', "
          "'counselling_allowance', 'flagged_work', 'bonus', 'adjustment'")
# The earnings (and reversals of earnings) on payable accounts, per account and UTC day.
BACKFILL = """
INSERT INTO ledger_earning_days (account_id, day, amount)
SELECT p.account_id, {day}, sum(p.amount)
FROM postings p
JOIN journal_entries e ON e.id = p.entry_id
JOIN ledger_accounts a ON a.id = p.account_id
LEFT JOIN journal_entries r ON r.id = e.reverses_id
WHERE a.kind = 'payable'
  AND (e.source_type IN ({earned})
       OR (e.source_type = 'reversal' AND r.source_type IN ({earned})))
GROUP BY p.account_id, {day}
"""


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
    op.create_index(
        "ix_journal_entries_trainer_id_occurred_at", "journal_entries",
        ["trainer_id", "occurred_at"],
    )
    op.create_table(
        "ledger_earning_days",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"],
                                name=op.f("fk_ledger_earning_days_account_id_ledger_accounts")),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_ledger_earning_days")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.alter_column("ledger_accounts", "balance", type_=sa.BigInteger(),
                        existing_type=sa.Integer(), existing_nullable=False)
    day = "(e.occurred_at AT TIME ZONE 'UTC')::date" if postgres else "date(e.occurred_at)"
    op.execute(BACKFILL.format(day=day, earned=EARNED))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("ledger_accounts", "balance", type_=sa.Integer(),
                        existing_type=sa.BigInteger(), existing_nullable=False)
    op.drop_table("ledger_earning_days")
    op.drop_index("ix_journal_entries_trainer_id_occurred_at", table_name="journal_entries")
    op.drop_index("ix_postings_account_id_available_at", table_name="postings")
    op.drop_index("ix_tasks_claimable", table_name="tasks")
    op.create_index(
        "ix_tasks_claimable", "tasks", ["project_id", "priority", "created_at"],
        sqlite_where=OPEN, postgresql_where=OPEN,
    )
