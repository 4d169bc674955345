"""API keys: an organisation's credentials for machines, each acting through an
account of its own (a users row marked is_api_key)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place (not batch mode, which would recreate a table many others refer to).
    op.add_column("users", sa.Column("is_api_key", sa.Boolean(), server_default=sa.false(),
                                     nullable=False))
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_api_keys_created_by_id_users")),
        sa.ForeignKeyConstraint(["id"], ["users.id"], name=op.f("fk_api_keys_id_users")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_api_keys_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_organisation_id"), ["organisation_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_organisation_id"))
    op.drop_table("api_keys")
    # The keys' accounts go with them: without the mark they would pass for people.
    users = sa.table("users", sa.column("is_api_key", sa.Boolean()))
    op.execute(users.delete().where(users.c.is_api_key.is_(True)))
    op.drop_column("users", "is_api_key")  # in place: SQLite 3.35 and later can
