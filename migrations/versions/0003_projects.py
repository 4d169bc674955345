"""projects, staffing, tasks, hourly work, suspensions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:08:21.210712
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARNING_KINDS = ('assessment_stipend', 'task_approval', 'timesheet', 'kill_fee')


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'active', 'paused', 'suspended', 'closed', name='projectstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('sensitivity', sa.Enum('none', 'sensitive', 'graphic', name='sensitivity', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('content_categories', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('auto_approve_days', sa.Integer(), nullable=False),
    sa.Column('review_sample_percent', sa.Integer(), nullable=False),
    sa.Column('lease_seconds', sa.Integer(), nullable=False),
    sa.Column('pay_model', sa.Enum('per_task', 'hourly', name='paymodel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('estimated_task_seconds', sa.Integer(), nullable=True),
    sa.Column('daily_cap_minutes', sa.Integer(), nullable=True),
    sa.Column('weekly_cap_minutes', sa.Integer(), nullable=True),
    sa.Column('idle_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('pause_reason', sa.Text(), nullable=True),
    sa.Column('expected_resume_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("pay_model <> 'per_task' OR estimated_task_seconds >= 1", name=op.f('ck_projects_per_task_has_estimate')),
    sa.CheckConstraint('auto_approve_days >= 1', name=op.f('ck_projects_auto_approve_days_positive')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_projects_capacity_positive')),
    sa.CheckConstraint('daily_cap_minutes IS NULL OR daily_cap_minutes BETWEEN 1 AND 1440', name=op.f('ck_projects_daily_cap_range')),
    sa.CheckConstraint('idle_timeout_seconds >= 60', name=op.f('ck_projects_idle_timeout_minimum')),
    sa.CheckConstraint('lease_seconds >= 60', name=op.f('ck_projects_lease_seconds_minimum')),
    sa.CheckConstraint('review_sample_percent BETWEEN 0 AND 100', name=op.f('ck_projects_review_sample_percent_range')),
    sa.CheckConstraint('weekly_cap_minutes IS NULL OR weekly_cap_minutes BETWEEN 1 AND 10080', name=op.f('ck_projects_weekly_cap_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_projects_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_projects_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_organisation_id_state', ['organisation_id', 'state'], unique=False)

    op.create_table('project_guidelines',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_project_guidelines_created_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_guidelines_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_guidelines')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_project_guidelines_project_id_number'))
    )
    op.create_table('project_members',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('applied', 'invited', 'active', 'declined', 'withdrawn', 'removed', 'left', name='membershipstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('origin', sa.Enum('application', 'invitation', name='membershiporigin', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_project_members_decided_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_members_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_project_members_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_members'))
    )
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.create_index('ix_project_members_project_id_state', ['project_id', 'state'], unique=False)
        batch_op.create_index('ix_project_members_trainer_id_state', ['trainer_id', 'state'], unique=False)
        batch_op.create_index('uq_project_members_one_open', ['project_id', 'trainer_id'], unique=True, sqlite_where=sa.text("state IN ('applied', 'invited', 'active')"), postgresql_where=sa.text("state IN ('applied', 'invited', 'active')"))

    op.create_table('project_rates',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_project_rates_amount_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_project_rates_created_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_rates_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_rates')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_project_rates_project_id_number'))
    )
    with op.batch_alter_table('project_rates', schema=None) as batch_op:
        batch_op.create_index('ix_project_rates_project_id_effective_from', ['project_id', 'effective_from'], unique=False)

    op.create_table('project_requirements',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('qualification_id', sa.Uuid(), nullable=False),
    sa.Column('min_score_percent', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('min_score_percent BETWEEN 0 AND 100', name=op.f('ck_project_requirements_min_score_range')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_requirements_project_id_projects')),
    sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'], name=op.f('fk_project_requirements_qualification_id_qualifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_requirements')),
    sa.UniqueConstraint('project_id', 'qualification_id', name=op.f('uq_project_requirements_project_id_qualification_id'))
    )
    op.create_table('project_suspensions',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_project_suspensions_created_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_suspensions_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_suspensions'))
    )
    with op.batch_alter_table('project_suspensions', schema=None) as batch_op:
        batch_op.create_index('ix_project_suspensions_effective_at', ['applied_at', 'effective_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_suspensions_project_id'), ['project_id'], unique=False)

    op.create_table('task_imports',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_task_imports_created_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_imports_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_imports'))
    )
    with op.batch_alter_table('task_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_imports_project_id'), ['project_id'], unique=False)

    op.create_table('timesheets',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('state', sa.Enum('open', 'submitted', 'approved', name='timesheetstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('logged_seconds', sa.Integer(), nullable=True),
    sa.Column('approved_seconds', sa.Integer(), nullable=True),
    sa.Column('adjustment_reason', sa.Text(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Uuid(), nullable=True),
    sa.Column('auto_approved', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('approved_seconds IS NULL OR approved_seconds >= 0', name=op.f('ck_timesheets_approved_seconds_not_negative')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_timesheets_project_id_projects')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_timesheets_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_timesheets_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timesheets')),
    sa.UniqueConstraint('project_id', 'trainer_id', 'week_start', name=op.f('uq_timesheets_project_id_trainer_id_week_start'))
    )
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.create_index('ix_timesheets_state_submitted_at', ['state', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_timesheets_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('project_kill_fees',
    sa.Column('suspension_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('average_daily_amount', sa.Integer(), nullable=False),
    sa.Column('days_missed', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_project_kill_fees_amount_not_negative')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_kill_fees_project_id_projects')),
    sa.ForeignKeyConstraint(['suspension_id'], ['project_suspensions.id'], name=op.f('fk_project_kill_fees_suspension_id_project_suspensions')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_project_kill_fees_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_kill_fees')),
    sa.UniqueConstraint('suspension_id', 'trainer_id', name=op.f('uq_project_kill_fees_suspension_id_trainer_id'))
    )
    with op.batch_alter_table('project_kill_fees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_kill_fees_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('tasks',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('redundancy', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('gold_answer', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('open_slots', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('open_slots <= redundancy', name=op.f('ck_tasks_open_slots_within_redundancy')),
    sa.CheckConstraint('open_slots >= 0', name=op.f('ck_tasks_open_slots_not_negative')),
    sa.CheckConstraint('redundancy >= 1', name=op.f('ck_tasks_redundancy_positive')),
    sa.ForeignKeyConstraint(['import_id'], ['task_imports.id'], name=op.f('fk_tasks_import_id_task_imports')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_tasks_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('project_id', 'external_id', name=op.f('uq_tasks_project_id_external_id'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_claimable', ['project_id', 'priority', 'created_at'], unique=False, sqlite_where=sa.text('open_slots > 0'), postgresql_where=sa.text('open_slots > 0'))

    op.create_table('time_entries',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('timesheet_id', sa.Uuid(), nullable=False),
    sa.Column('source', sa.Enum('session', 'manual', name='entrysource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Enum('stopped', 'idle', 'cap', 'paused', 'suspended', 'left', name='entryendreason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('rate_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_time_entries_ends_after_start')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_time_entries_project_id_projects')),
    sa.ForeignKeyConstraint(['rate_id'], ['project_rates.id'], name=op.f('fk_time_entries_rate_id_project_rates')),
    sa.ForeignKeyConstraint(['timesheet_id'], ['timesheets.id'], name=op.f('fk_time_entries_timesheet_id_timesheets')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_time_entries_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_entries'))
    )
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_project_id_started_at', ['project_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_time_entries_timesheet_id'), ['timesheet_id'], unique=False)
        batch_op.create_index('ix_time_entries_trainer_id_started_at', ['trainer_id', 'started_at'], unique=False)
        batch_op.create_index('uq_time_entries_one_running', ['trainer_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('task_assignments',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('leased', 'submitted', 'revision_requested', 'approved', 'rejected', 'released', 'expired', name='assignmentstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('active_seconds', sa.Integer(), nullable=True),
    sa.Column('rate_id', sa.Uuid(), nullable=True),
    sa.Column('sampled', sa.Boolean(), nullable=True),
    sa.Column('gold_correct', sa.Boolean(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Uuid(), nullable=True),
    sa.Column('auto_approved', sa.Boolean(), nullable=False),
    sa.Column('rejection_category', sa.Enum('incorrect', 'incomplete', 'guidelines_not_followed', 'low_effort', 'other', name='rejectioncategory', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('review_message', sa.Text(), nullable=True),
    sa.Column('revisions', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('active_seconds IS NULL OR active_seconds >= 0', name=op.f('ck_task_assignments_active_seconds_not_negative')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_assignments_project_id_projects')),
    sa.ForeignKeyConstraint(['rate_id'], ['project_rates.id'], name=op.f('fk_task_assignments_rate_id_project_rates')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_task_assignments_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_assignments_task_id_tasks')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_task_assignments_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_assignments')),
    sa.UniqueConstraint('task_id', 'trainer_id', name=op.f('uq_task_assignments_task_id_trainer_id'))
    )
    with op.batch_alter_table('task_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignments_project_id_state', ['project_id', 'state'], unique=False)
        batch_op.create_index('ix_task_assignments_state_lease_expires_at', ['state', 'lease_expires_at'], unique=False)
        batch_op.create_index('ix_task_assignments_state_submitted_at', ['state', 'submitted_at'], unique=False)
        batch_op.create_index('ix_task_assignments_trainer_id_state', ['trainer_id', 'state'], unique=False)

    op.create_table('task_appeals',
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('open', 'upheld', 'overturned', name='appealstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['task_assignments.id'], name=op.f('fk_task_appeals_assignment_id_task_assignments')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_task_appeals_decided_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_appeals_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_task_appeals_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_appeals')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_task_appeals_assignment_id'))
    )
    with op.batch_alter_table('task_appeals', schema=None) as batch_op:
        batch_op.create_index('ix_task_appeals_project_id_state', ['project_id', 'state'], unique=False)

    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        # The kinds are a CHECK constraint (str_enum); this revision adds three.
        batch_op.drop_constraint(op.f('ck_earning_events_earningkind'), type_='check')
        batch_op.create_check_constraint('earningkind', sa.column('kind').in_(EARNING_KINDS))
        batch_op.add_column(sa.Column('project_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_earning_events_project_id'), ['project_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_earning_events_project_id_projects'), 'projects', ['project_id'], ['id'])

    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('notice_period_days', sa.Integer(), server_default='7', nullable=False))



def downgrade() -> None:
    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('notice_period_days')

    # The earnings of project work go with the projects this downgrade drops; only
    # assessment stipends fit the narrower kinds below.
    op.execute(sa.text("DELETE FROM earning_events WHERE kind <> 'assessment_stipend'"))
    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_earning_events_project_id_projects'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_earning_events_project_id'))
        batch_op.drop_column('project_id')
        batch_op.drop_constraint(op.f('ck_earning_events_earningkind'), type_='check')
        batch_op.create_check_constraint(
            'earningkind', sa.column('kind').in_(EARNING_KINDS[:1])
        )

    with op.batch_alter_table('task_appeals', schema=None) as batch_op:
        batch_op.drop_index('ix_task_appeals_project_id_state')

    op.drop_table('task_appeals')
    with op.batch_alter_table('task_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_task_assignments_trainer_id_state')
        batch_op.drop_index('ix_task_assignments_state_submitted_at')
        batch_op.drop_index('ix_task_assignments_state_lease_expires_at')
        batch_op.drop_index('ix_task_assignments_project_id_state')

    op.drop_table('task_assignments')
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_time_entries_one_running', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_time_entries_trainer_id_started_at')
        batch_op.drop_index(batch_op.f('ix_time_entries_timesheet_id'))
        batch_op.drop_index('ix_time_entries_project_id_started_at')

    op.drop_table('time_entries')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_claimable', sqlite_where=sa.text('open_slots > 0'), postgresql_where=sa.text('open_slots > 0'))

    op.drop_table('tasks')
    with op.batch_alter_table('project_kill_fees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_kill_fees_trainer_id'))

    op.drop_table('project_kill_fees')
    with op.batch_alter_table('timesheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timesheets_trainer_id'))
        batch_op.drop_index('ix_timesheets_state_submitted_at')

    op.drop_table('timesheets')
    with op.batch_alter_table('task_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_imports_project_id'))

    op.drop_table('task_imports')
    with op.batch_alter_table('project_suspensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_suspensions_project_id'))
        batch_op.drop_index('ix_project_suspensions_effective_at')

    op.drop_table('project_suspensions')
    op.drop_table('project_requirements')
    with op.batch_alter_table('project_rates', schema=None) as batch_op:
        batch_op.drop_index('ix_project_rates_project_id_effective_from')

    op.drop_table('project_rates')
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.drop_index('uq_project_members_one_open', sqlite_where=sa.text("state IN ('applied', 'invited', 'active')"), postgresql_where=sa.text("state IN ('applied', 'invited', 'active')"))
        batch_op.drop_index('ix_project_members_trainer_id_state')
        batch_op.drop_index('ix_project_members_project_id_state')

    op.drop_table('project_members')
    op.drop_table('project_guidelines')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_organisation_id_state')

    op.drop_table('projects')
