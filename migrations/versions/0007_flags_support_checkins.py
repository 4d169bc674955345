"""content flags, support cases and notes, check-ins and check-in prompts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:03:31.609196
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('check_in_prompts',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('period', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('exposure_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_check_in_prompts_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_check_in_prompts_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_in_prompts')),
    sa.UniqueConstraint('trainer_id', 'period', name=op.f('uq_check_in_prompts_trainer_id_period'))
    )
    op.create_table('check_ins',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=True),
    sa.Column('mood', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('share_note', sa.Boolean(), nullable=False),
    sa.Column('need_support', sa.Boolean(), nullable=False),
    sa.Column('exposure_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('exposure_seconds >= 0', name=op.f('ck_check_ins_exposure_not_negative')),
    sa.CheckConstraint('mood BETWEEN 1 AND 5', name=op.f('ck_check_ins_mood_range')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_check_ins_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_check_ins_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_check_ins_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_ins'))
    )
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.create_index('ix_check_ins_project_id_created_at', ['project_id', 'created_at'], unique=False)
        batch_op.create_index('ix_check_ins_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.create_table('content_flags',
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.Enum('violence', 'sexual_content', 'self_harm', 'hate', 'child_safety', 'other', name='contentcategory', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', name='flagseverity', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('need_support', sa.Boolean(), nullable=False),
    sa.Column('returned', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('open', 'escalated', 'confirmed', 'dismissed', name='flagstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('paid_seconds', sa.Integer(), nullable=True),
    sa.Column('triaged_by_id', sa.Uuid(), nullable=True),
    sa.Column('triaged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('raised_scope', sa.Enum('none', 'task', 'project', name='raisescope', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('escalated_by_id', sa.Uuid(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_note', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('paid_seconds IS NULL OR paid_seconds >= 0', name=op.f('ck_content_flags_paid_seconds_not_negative')),
    sa.ForeignKeyConstraint(['assignment_id'], ['task_assignments.id'], name=op.f('fk_content_flags_assignment_id_task_assignments')),
    sa.ForeignKeyConstraint(['escalated_by_id'], ['users.id'], name=op.f('fk_content_flags_escalated_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_content_flags_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_content_flags_project_id_projects')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_content_flags_task_id_tasks')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_content_flags_trainer_id_users')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['users.id'], name=op.f('fk_content_flags_triaged_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_flags')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_content_flags_assignment_id'))
    )
    with op.batch_alter_table('content_flags', schema=None) as batch_op:
        batch_op.create_index('ix_content_flags_organisation_id_state', ['organisation_id', 'state'], unique=False)
        batch_op.create_index('ix_content_flags_project_id_created_at', ['project_id', 'created_at'], unique=False)
        batch_op.create_index('ix_content_flags_task_id_state', ['task_id', 'state'], unique=False)
        batch_op.create_index('ix_content_flags_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.create_table('support_cases',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('origin', sa.Enum('flag', 'check_in', name='caseorigin', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('flag_id', sa.Uuid(), nullable=True),
    sa.Column('check_in_id', sa.Uuid(), nullable=True),
    sa.Column('requested', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('open', 'acknowledged', 'closed', name='casestate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Uuid(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_support_cases_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['check_in_id'], ['check_ins.id'], name=op.f('fk_support_cases_check_in_id_check_ins')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_support_cases_closed_by_id_users')),
    sa.ForeignKeyConstraint(['contact_id'], ['users.id'], name=op.f('fk_support_cases_contact_id_users')),
    sa.ForeignKeyConstraint(['flag_id'], ['content_flags.id'], name=op.f('fk_support_cases_flag_id_content_flags')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_support_cases_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_support_cases_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_cases')),
    sa.UniqueConstraint('check_in_id', name=op.f('uq_support_cases_check_in_id')),
    sa.UniqueConstraint('flag_id', name=op.f('uq_support_cases_flag_id'))
    )
    with op.batch_alter_table('support_cases', schema=None) as batch_op:
        batch_op.create_index('ix_support_cases_organisation_id_state', ['organisation_id', 'state'], unique=False)
        batch_op.create_index('ix_support_cases_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.create_table('support_case_notes',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('by_trainer', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('shared_with_trainer', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_support_case_notes_author_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['support_cases.id'], name=op.f('fk_support_case_notes_case_id_support_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_case_notes'))
    )
    with op.batch_alter_table('support_case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_case_notes_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('support_case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_case_notes_case_id'))

    op.drop_table('support_case_notes')
    with op.batch_alter_table('support_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_support_cases_trainer_id_created_at')
        batch_op.drop_index('ix_support_cases_organisation_id_state')

    op.drop_table('support_cases')
    with op.batch_alter_table('content_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_content_flags_trainer_id_created_at')
        batch_op.drop_index('ix_content_flags_task_id_state')
        batch_op.drop_index('ix_content_flags_project_id_created_at')
        batch_op.drop_index('ix_content_flags_organisation_id_state')

    op.drop_table('content_flags')
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_check_ins_trainer_id_created_at')
        batch_op.drop_index('ix_check_ins_project_id_created_at')

    op.drop_table('check_ins')
    op.drop_table('check_in_prompts')
