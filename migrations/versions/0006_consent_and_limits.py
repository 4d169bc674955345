"""content consent (age attestation, per-category opt-in), sessions closed at an
exposure limit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:59:44.112011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

END_REASONS = ('stopped', 'idle', 'cap', 'paused', 'suspended', 'left')
NEW_END_REASONS = ('exposure_limit',)


def upgrade() -> None:
    op.create_table('age_attestations',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('attested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_age_attestations_trainer_id_users')),
    sa.PrimaryKeyConstraint('trainer_id', name=op.f('pk_age_attestations'))
    )
    op.create_table('content_consents',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.Enum('violence', 'sexual_content', 'self_harm', 'hate', 'child_safety', 'other', name='contentcategory', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('withdrawn_at IS NULL OR withdrawn_at >= given_at', name=op.f('ck_content_consents_withdrawn_after_given')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_content_consents_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_consents'))
    )
    with op.batch_alter_table('content_consents', schema=None) as batch_op:
        batch_op.create_index('uq_content_consents_one_live', ['trainer_id', 'category'], unique=True, sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))

    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        # The end reasons are a CHECK constraint (str_enum); this revision adds one.
        batch_op.drop_constraint(op.f('ck_time_entries_entryendreason'), type_='check')
        batch_op.create_check_constraint(
            'entryendreason', sa.column('end_reason').in_(END_REASONS + NEW_END_REASONS)
        )


def downgrade() -> None:
    # Sessions closed at a limit read as stopped at that moment once the reason is gone.
    op.execute(sa.text(
        "UPDATE time_entries SET end_reason = 'stopped' WHERE end_reason = 'exposure_limit'"
    ))
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_time_entries_entryendreason'), type_='check')
        batch_op.create_check_constraint('entryendreason', sa.column('end_reason').in_(END_REASONS))

    with op.batch_alter_table('content_consents', schema=None) as batch_op:
        batch_op.drop_index('uq_content_consents_one_live', sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))

    op.drop_table('content_consents')
    op.drop_table('age_attestations')
