"""payouts: an exclusion reason for money payable only after a run's period, and
partial reversals

Money earned after a run's period end (or whose hold ended after it) was left out as
``on_hold``, with a release time before the run was built; it is now ``after_period``.
``payout_reversals`` records each part of a paid item's transfer that Stripe reversed
while the rest stayed paid: the source of the entry that moves it back to payable.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXCLUSION_REASONS = ("below_minimum", "no_payout_account", "account_not_ready", "on_hold")
NEW_EXCLUSION_REASONS = ("after_period",)


def upgrade() -> None:
    _exclusion_reasons(EXCLUSION_REASONS + NEW_EXCLUSION_REASONS)
    op.create_table(
        "payout_reversals",
        sa.Column("payout_item_id", sa.Uuid(), nullable=False),
        sa.Column("transfer_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reversed_total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payout_reversals_amount_positive")),
        sa.ForeignKeyConstraint(["payout_item_id"], ["payout_items.id"],
                                name=op.f("fk_payout_reversals_payout_item_id_payout_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_reversals")),
        sa.UniqueConstraint("payout_item_id", "reversed_total",
                            name=op.f("uq_payout_reversals_payout_item_id_reversed_total")),
    )
    with op.batch_alter_table("payout_reversals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_reversals_payout_item_id"),
                              ["payout_item_id"], unique=False)


def downgrade() -> None:
    # Their ledger entries stay (append-only), as the record of what moved.
    with op.batch_alter_table("payout_reversals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_reversals_payout_item_id"))
    op.drop_table("payout_reversals")
    # The narrower CHECK cannot hold the new reason; such money was on hold before.
    op.execute(sa.text("UPDATE payout_exclusions SET reason = 'on_hold' "
                       "WHERE reason = 'after_period'"))
    _exclusion_reasons(EXCLUSION_REASONS)


def _exclusion_reasons(reasons: tuple[str, ...]) -> None:
    # The reasons are a CHECK constraint (str_enum).
    with op.batch_alter_table("payout_exclusions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_exclusions_exclusionreason"), type_="check")
        batch_op.create_check_constraint("exclusionreason", sa.column("reason").in_(reasons))
