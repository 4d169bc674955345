"""data exports and erasure requests (trainers' own data, issue 20)

``data_exports``: a trainer's archive of their own data, prepared by the scheduler and
kept for a day. ``erasure_requests``: a trainer's request to be forgotten, with its grace
period, the wait for money still owed, and the pseudonym that stands for them afterwards.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:20.208164
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('data_exports',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'ready', 'expired', name='exportstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('storage_key', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_data_exports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index('ix_data_exports_state_requested_at', ['state', 'requested_at'], unique=False)
        batch_op.create_index('ix_data_exports_user_id_requested_at', ['user_id', 'requested_at'], unique=False)
        batch_op.create_index('uq_data_exports_one_requested', ['user_id'], unique=True, sqlite_where=sa.text("state = 'requested'"), postgresql_where=sa.text("state = 'requested'"))

    op.create_table('erasure_requests',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('scheduled', 'cancelled', 'waiting', 'completed', name='erasurestate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('waiting_reason', sa.Text(), nullable=True),
    sa.Column('pseudonym', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_erasure_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_requests')),
    sa.UniqueConstraint('pseudonym', name=op.f('uq_erasure_requests_pseudonym'))
    )
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.create_index('ix_erasure_requests_state_effective_at', ['state', 'effective_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasure_requests_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_erasure_requests_one_open', ['user_id'], unique=True, sqlite_where=sa.text("state IN ('scheduled', 'waiting')"), postgresql_where=sa.text("state IN ('scheduled', 'waiting')"))



def downgrade() -> None:
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_erasure_requests_one_open', sqlite_where=sa.text("state IN ('scheduled', 'waiting')"), postgresql_where=sa.text("state IN ('scheduled', 'waiting')"))
        batch_op.drop_index(batch_op.f('ix_erasure_requests_user_id'))
        batch_op.drop_index('ix_erasure_requests_state_effective_at')

    op.drop_table('erasure_requests')
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index('uq_data_exports_one_requested', sqlite_where=sa.text("state = 'requested'"), postgresql_where=sa.text("state = 'requested'"))
        batch_op.drop_index('ix_data_exports_user_id_requested_at')
        batch_op.drop_index('ix_data_exports_state_requested_at')

    op.drop_table('data_exports')
