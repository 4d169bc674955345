"""Webhook deliveries are claimed with a lease: ``claimed_until`` is committed before the
request is sent and cleared when its outcome is recorded, so that no transaction stays
open across the request and a sender that crashed lets go of its delivery when the lease
runs out.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_deliveries",
                  sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE, not a batch: rebuilding the table on SQLite would trip the
    # attempts' foreign key that points at it.
    op.drop_column("webhook_deliveries", "claimed_until")
