"""payouts: money payable only after a run's period has its own exclusion reason

Money earned after a run's period end (or whose hold ended after it) was left out as
``on_hold``, with a release time before the run was built; it is now ``after_period``.

Revision ID: 0011_g5
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_g5"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXCLUSION_REASONS = ("below_minimum", "no_payout_account", "account_not_ready", "on_hold")
NEW_EXCLUSION_REASONS = ("after_period",)


def upgrade() -> None:
    _exclusion_reasons(EXCLUSION_REASONS + NEW_EXCLUSION_REASONS)


def downgrade() -> None:
    # The narrower CHECK cannot hold the new reason; such money was on hold before.
    op.execute(sa.text("UPDATE payout_exclusions SET reason = 'on_hold' "
                       "WHERE reason = 'after_period'"))
    _exclusion_reasons(EXCLUSION_REASONS)


def _exclusion_reasons(reasons: tuple[str, ...]) -> None:
    # The reasons are a CHECK constraint (str_enum).
    with op.batch_alter_table("payout_exclusions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_exclusions_exclusionreason"), type_="check")
        batch_op.create_check_constraint("exclusionreason", sa.column("reason").in_(reasons))
