"""qualifications, assessments, attempts, grading, earning events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:39:59.717700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qualifications',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('validity_days', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_qualifications_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualifications')),
    sa.UniqueConstraint('organisation_id', 'code', name=op.f('uq_qualifications_organisation_id_code'))
    )
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualifications_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('wage_floors',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('hourly_amount', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hourly_amount > 0', name=op.f('ck_wage_floors_hourly_amount_positive')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_wage_floors_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wage_floors')),
    sa.UniqueConstraint('organisation_id', 'currency', name=op.f('uq_wage_floors_organisation_id_currency'))
    )
    op.create_table('assessments',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('qualification_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('state', sa.Enum('draft', 'published', 'archived', name='assessmentstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_assessments_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'], name=op.f('fk_assessments_qualification_id_qualifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('earning_events',
    sa.Column('kind', sa.Enum('assessment_stipend', name='earningkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source_type', sa.String(length=50), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_earning_events_amount_positive')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_earning_events_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_earning_events_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_earning_events')),
    sa.UniqueConstraint('kind', 'source_type', 'source_id', name=op.f('uq_earning_events_kind_source_type_source_id'))
    )
    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_earning_events_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('assessment_versions',
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('time_limit_seconds', sa.Integer(), nullable=False),
    sa.Column('pass_mark_percent', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('cooldown_seconds', sa.Integer(), nullable=False),
    sa.Column('expected_duration_seconds', sa.Integer(), nullable=False),
    sa.Column('stipend_amount', sa.Integer(), nullable=False),
    sa.Column('stipend_currency', sa.String(length=3), nullable=True),
    sa.Column('show_feedback', sa.Boolean(), nullable=False),
    sa.Column('questions_per_attempt', sa.Integer(), nullable=False),
    sa.Column('double_grading', sa.Boolean(), nullable=False),
    sa.Column('grading_margin_percent', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('pass_mark_percent BETWEEN 1 AND 100', name=op.f('ck_assessment_versions_pass_mark_range')),
    sa.CheckConstraint('questions_per_attempt >= 1', name=op.f('ck_assessment_versions_draws_a_question')),
    sa.CheckConstraint('stipend_amount = 0 OR stipend_currency IS NOT NULL', name=op.f('ck_assessment_versions_stipend_has_currency')),
    sa.CheckConstraint('stipend_amount >= 0', name=op.f('ck_assessment_versions_stipend_not_negative')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_assessment_versions_assessment_id_assessments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_versions')),
    sa.UniqueConstraint('assessment_id', 'number', name=op.f('uq_assessment_versions_assessment_id_number'))
    )
    op.create_table('attempts',
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('open', 'awaiting_grading', 'graded', name='attemptstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('question_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.Enum('submitted', 'time_limit', name='closereason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('auto_points', sa.Integer(), nullable=True),
    sa.Column('rubric_points', sa.Integer(), nullable=True),
    sa.Column('max_points', sa.Integer(), nullable=False),
    sa.Column('score_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('graded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_attempts_assessment_id_assessments')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_attempts_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_attempts_trainer_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['assessment_versions.id'], name=op.f('fk_attempts_version_id_assessment_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempts'))
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_assessment_id_trainer_id', ['assessment_id', 'trainer_id'], unique=False)
        batch_op.create_index('ix_attempts_organisation_id_state', ['organisation_id', 'state'], unique=False)
        batch_op.create_index('ix_attempts_state_deadline_at', ['state', 'deadline_at'], unique=False)
        batch_op.create_index('uq_attempts_one_open', ['assessment_id', 'trainer_id'], unique=True, sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))

    op.create_table('questions',
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('single_choice', 'multiple_choice', 'short_answer', 'free_text', name='questionkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('media_url', sa.String(length=2048), nullable=True),
    sa.Column('media_kind', sa.Enum('audio', 'image', name='mediakind', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answer_key', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('partial_credit', sa.Enum('all_or_nothing', 'proportional', name='partialcredit', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('rubric', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_questions_points_not_negative')),
    sa.ForeignKeyConstraint(['version_id'], ['assessment_versions.id'], name=op.f('fk_questions_version_id_assessment_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('version_id', 'position', name=op.f('uq_questions_version_id_position'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questions_version_id'), ['version_id'], unique=False)

    op.create_table('attempt_answers',
    sa.Column('attempt_id', sa.Uuid(), nullable=False),
    sa.Column('question_id', sa.Uuid(), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_attempt_answers_attempt_id_attempts')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_attempt_answers_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_answers')),
    sa.UniqueConstraint('attempt_id', 'question_id', name=op.f('uq_attempt_answers_attempt_id_question_id'))
    )
    op.create_table('gradings',
    sa.Column('attempt_id', sa.Uuid(), nullable=False),
    sa.Column('grader_id', sa.Uuid(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('claimed', 'submitted', name='gradingstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_points', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_gradings_attempt_id_attempts')),
    sa.ForeignKeyConstraint(['grader_id'], ['users.id'], name=op.f('fk_gradings_grader_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gradings')),
    sa.UniqueConstraint('attempt_id', 'grader_id', name=op.f('uq_gradings_attempt_id_grader_id')),
    sa.UniqueConstraint('attempt_id', 'round', name=op.f('uq_gradings_attempt_id_round'))
    )
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gradings_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gradings_grader_id'), ['grader_id'], unique=False)

    op.create_table('trainer_qualifications',
    sa.Column('qualification_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('granted', 'failed', 'revoked', name='qualificationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('score_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.Enum('attempt', 'manual', name='qualificationsource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempt_id', sa.Uuid(), nullable=True),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_trainer_qualifications_attempt_id_attempts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_trainer_qualifications_decided_by_id_users')),
    sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'], name=op.f('fk_trainer_qualifications_qualification_id_qualifications')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_trainer_qualifications_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trainer_qualifications')),
    sa.UniqueConstraint('qualification_id', 'trainer_id', name=op.f('uq_trainer_qualifications_qualification_id_trainer_id'))
    )
    with op.batch_alter_table('trainer_qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trainer_qualifications_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('criterion_scores',
    sa.Column('grading_id', sa.Uuid(), nullable=False),
    sa.Column('question_id', sa.Uuid(), nullable=False),
    sa.Column('criterion_id', sa.String(length=64), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_criterion_scores_points_not_negative')),
    sa.ForeignKeyConstraint(['grading_id'], ['gradings.id'], name=op.f('fk_criterion_scores_grading_id_gradings')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_criterion_scores_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_criterion_scores')),
    sa.UniqueConstraint('grading_id', 'question_id', 'criterion_id', name=op.f('uq_criterion_scores_grading_id_question_id_criterion_id'))
    )
    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('requires_paid_assessments', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('requires_paid_assessments')

    op.drop_table('criterion_scores')
    with op.batch_alter_table('trainer_qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainer_qualifications_trainer_id'))

    op.drop_table('trainer_qualifications')
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gradings_grader_id'))
        batch_op.drop_index(batch_op.f('ix_gradings_attempt_id'))

    op.drop_table('gradings')
    op.drop_table('attempt_answers')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questions_version_id'))

    op.drop_table('questions')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('uq_attempts_one_open', sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
        batch_op.drop_index('ix_attempts_state_deadline_at')
        batch_op.drop_index('ix_attempts_organisation_id_state')
        batch_op.drop_index('ix_attempts_assessment_id_trainer_id')

    op.drop_table('attempts')
    op.drop_table('assessment_versions')
    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_earning_events_trainer_id'))

    op.drop_table('earning_events')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_organisation_id'))

    op.drop_table('assessments')
    op.drop_table('wage_floors')
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qualifications_organisation_id'))

    op.drop_table('qualifications')
