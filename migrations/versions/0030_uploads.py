"""Files as answers (issue 17): uploads, recording policies and consents, withdrawn answers

``uploads``: the slots trainers ask for and the files behind them (kept in the file
store), with what the checks read from the bytes and when and why a file was deleted.
``recording_policies``: what a project records, for what use, for how many days.
``recording_consents``: a trainer's consent per project. ``task_assignments``
gains ``answer_withdrawn_at``: the trainer had the answer's recordings deleted.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 12:01:27.382800
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('recording_consents',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_recording_consents_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_recording_consents_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_consents')),
    sa.UniqueConstraint('project_id', 'trainer_id', name=op.f('uq_recording_consents_project_id_trainer_id'))
    )
    with op.batch_alter_table('recording_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recording_consents_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('recording_policies',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('what_is_recorded', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('retention_days BETWEEN 1 AND 36500', name=op.f('ck_recording_policies_retention_days_range')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_recording_policies_project_id_projects')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_recording_policies_updated_by_id_users')),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_recording_policies'))
    )
    op.create_table('uploads',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.Enum('pending', 'uploaded', 'attached', 'deleted', name='uploadstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('storage_key', sa.String(length=255), nullable=True),
    sa.Column('declared_size', sa.Integer(), nullable=False),
    sa.Column('declared_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('sample_rate', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deletion_reason', sa.Enum('retention', 'unreferenced', 'trainer_request', 'erasure', name='deletionreason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('declared_size >= 1', name=op.f('ck_uploads_declared_size_positive')),
    sa.ForeignKeyConstraint(['assignment_id'], ['task_assignments.id'], name=op.f('fk_uploads_assignment_id_task_assignments')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_uploads_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_uploads_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index('ix_uploads_assignment_id', ['assignment_id'], unique=False)
        batch_op.create_index('ix_uploads_delete_after', ['delete_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_uploads_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_uploads_state_created_at', ['state', 'created_at'], unique=False)
        batch_op.create_index('ix_uploads_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.add_column('task_assignments', sa.Column('answer_withdrawn_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    # In place on SQLite too (3.35+): batch mode would recreate task_assignments.
    op.execute("ALTER TABLE task_assignments DROP COLUMN answer_withdrawn_at")

    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_trainer_id_created_at')
        batch_op.drop_index('ix_uploads_state_created_at')
        batch_op.drop_index(batch_op.f('ix_uploads_project_id'))
        batch_op.drop_index('ix_uploads_delete_after')
        batch_op.drop_index('ix_uploads_assignment_id')

    op.drop_table('uploads')
    op.drop_table('recording_policies')
    with op.batch_alter_table('recording_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recording_consents_trainer_id'))

    op.drop_table('recording_consents')
