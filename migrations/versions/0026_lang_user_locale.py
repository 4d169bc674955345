"""A person's language for the service's texts to them (issue 19)

Revision ID: 0026_lang
Revises: 0025
Create Date: 2026-12-07 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_lang"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # In place on SQLite too (3.35+): batch mode would recreate users, which most tables
    # point at.
    op.execute("ALTER TABLE users DROP COLUMN locale")
