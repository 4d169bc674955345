"""Notices in the reader's language: a notification's parameters, an e-mail's HTML part
and the kinds of notice each user asked not to be e-mailed (issue 19)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Older notifications keep only their English words (params stay NULL).
    op.add_column("notifications", sa.Column("params", _json(), nullable=True))
    op.add_column("outbound_emails", sa.Column("html_body", sa.Text(), nullable=True))
    op.create_table(
        "email_opt_outs",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_email_opt_outs_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_email_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("email_opt_outs")
    # Plain DROP COLUMN (SQLite 3.35+), as revision 0025 does: batch mode would recreate
    # tables other rows point at.
    op.execute("ALTER TABLE outbound_emails DROP COLUMN html_body")
    op.execute("ALTER TABLE notifications DROP COLUMN params")
