"""wellbeing policy, task content warnings, earning kinds

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:53:17.100485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARNING_KINDS = ('assessment_stipend', 'task_approval', 'timesheet', 'kill_fee')
NEW_EARNING_KINDS = ('top_up', 'counselling_allowance', 'flagged_work')


def upgrade() -> None:
    op.create_table('wellbeing_policies',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('graphic_daily_minutes', sa.Integer(), nullable=False),
    sa.Column('weekly_exposure_minutes', sa.Integer(), nullable=False),
    sa.Column('break_after_minutes', sa.Integer(), nullable=False),
    sa.Column('break_minutes', sa.Integer(), nullable=False),
    sa.Column('graphic_cutoff_hour', sa.Integer(), nullable=True),
    sa.Column('rotation_after_minutes', sa.Integer(), nullable=False),
    sa.Column('checkin_after_minutes', sa.Integer(), nullable=False),
    sa.Column('support_text', sa.Text(), nullable=False),
    sa.Column('support_links', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('support_line', sa.String(length=200), nullable=False),
    sa.Column('wellbeing_contact_id', sa.Uuid(), nullable=True),
    sa.Column('counselling_after_minutes', sa.Integer(), nullable=True),
    sa.Column('counselling_amount', sa.Integer(), nullable=True),
    sa.Column('counselling_currency', sa.String(length=3), nullable=True),
    sa.Column('min_group_size', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint('(counselling_amount IS NULL) = (counselling_currency IS NULL) AND (counselling_amount IS NULL) = (counselling_after_minutes IS NULL)', name=op.f('ck_wellbeing_policies_counselling_complete')),
    sa.CheckConstraint('break_after_minutes > 0 AND break_minutes >= 0', name=op.f('ck_wellbeing_policies_break_positive')),
    sa.CheckConstraint('graphic_cutoff_hour IS NULL OR graphic_cutoff_hour BETWEEN 0 AND 23', name=op.f('ck_wellbeing_policies_cutoff_hour_range')),
    sa.CheckConstraint('graphic_daily_minutes BETWEEN 0 AND 1440', name=op.f('ck_wellbeing_policies_graphic_daily_minutes_range')),
    sa.CheckConstraint('min_group_size >= 2', name=op.f('ck_wellbeing_policies_min_group_size_floor')),
    sa.CheckConstraint('weekly_exposure_minutes BETWEEN 0 AND 10080', name=op.f('ck_wellbeing_policies_weekly_exposure_minutes_range')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_wellbeing_policies_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_wellbeing_policies_updated_by_id_users')),
    sa.ForeignKeyConstraint(['wellbeing_contact_id'], ['users.id'], name=op.f('fk_wellbeing_policies_wellbeing_contact_id_users')),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_wellbeing_policies'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sensitivity', sa.Enum('none', 'sensitive', 'graphic', name='sensitivity', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('content_categories', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))

    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        # The kinds are a CHECK constraint (str_enum); this revision adds three.
        batch_op.drop_constraint(op.f('ck_earning_events_earningkind'), type_='check')
        batch_op.create_check_constraint(
            'earningkind', sa.column('kind').in_(EARNING_KINDS + NEW_EARNING_KINDS)
        )


def downgrade() -> None:
    # Earnings of the kinds this revision added cannot stay under the narrower CHECK;
    # their ledger entries (0004) stay, as the record of what was paid.
    op.execute(sa.text("DELETE FROM earning_events WHERE kind IN "
                       "('top_up', 'counselling_allowance', 'flagged_work')"))
    with op.batch_alter_table('earning_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_earning_events_earningkind'), type_='check')
        batch_op.create_check_constraint('earningkind', sa.column('kind').in_(EARNING_KINDS))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('content_categories')
        batch_op.drop_constraint(op.f('ck_tasks_sensitivity'), type_='check')
        batch_op.drop_column('sensitivity')

    op.drop_table('wellbeing_policies')
