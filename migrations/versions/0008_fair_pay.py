"""fair pay: wage floors per country, pay weeks and top-ups, under-priced projects,
counselling allowances

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:00:25.772975
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('counselling_allowances',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('threshold_minutes', sa.Integer(), nullable=False),
    sa.Column('exposure_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_counselling_allowances_amount_positive')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_counselling_allowances_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_counselling_allowances_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counselling_allowances')),
    sa.UniqueConstraint('trainer_id', 'organisation_id', 'month', name=op.f('uq_counselling_allowances_trainer_id_organisation_id_month'))
    )
    with op.batch_alter_table('counselling_allowances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counselling_allowances_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('pay_weeks',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('active_seconds', sa.Integer(), nullable=False),
    sa.Column('paid_amount', sa.Integer(), nullable=False),
    sa.Column('floor_country', sa.String(length=2), nullable=True),
    sa.Column('floor_hourly_amount', sa.Integer(), nullable=True),
    sa.Column('topped_up_amount', sa.Integer(), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('active_seconds >= 0 AND paid_amount >= 0 AND topped_up_amount >= 0', name=op.f('ck_pay_weeks_amounts_not_negative')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_pay_weeks_ends_after_start')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_pay_weeks_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pay_weeks_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_pay_weeks_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pay_weeks')),
    sa.UniqueConstraint('trainer_id', 'project_id', 'week_start', name=op.f('uq_pay_weeks_trainer_id_project_id_week_start'))
    )
    with op.batch_alter_table('pay_weeks', schema=None) as batch_op:
        batch_op.create_index('ix_pay_weeks_project_id_week_start', ['project_id', 'week_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_pay_weeks_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('pay_top_ups',
    sa.Column('pay_week_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active_seconds', sa.Integer(), nullable=False),
    sa.Column('paid_amount', sa.Integer(), nullable=False),
    sa.Column('floor_country', sa.String(length=2), nullable=True),
    sa.Column('floor_hourly_amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_pay_top_ups_amount_positive')),
    sa.ForeignKeyConstraint(['pay_week_id'], ['pay_weeks.id'], name=op.f('fk_pay_top_ups_pay_week_id_pay_weeks')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_pay_top_ups_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pay_top_ups')),
    sa.UniqueConstraint('pay_week_id', 'sequence', name=op.f('uq_pay_top_ups_pay_week_id_sequence'))
    )
    with op.batch_alter_table('pay_top_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pay_top_ups_trainer_id'), ['trainer_id'], unique=False)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('underpriced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suggested_task_rate', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('measured_median_task_seconds', sa.Integer(), nullable=True))

    # Existing floors (one per organisation and currency) become the currencies' defaults.
    with op.batch_alter_table('wage_floors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_wage_floors_organisation_id_currency'), type_='unique')
        batch_op.create_index('uq_wage_floors_country', ['organisation_id', 'currency', 'country'], unique=True, sqlite_where=sa.text('country IS NOT NULL'), postgresql_where=sa.text('country IS NOT NULL'))
        batch_op.create_index('uq_wage_floors_default', ['organisation_id', 'currency'], unique=True, sqlite_where=sa.text('country IS NULL'), postgresql_where=sa.text('country IS NULL'))



def downgrade() -> None:
    # Only the defaults fit the old one-floor-per-currency table.
    op.execute("DELETE FROM wage_floors WHERE country IS NOT NULL")
    with op.batch_alter_table('wage_floors', schema=None) as batch_op:
        batch_op.drop_index('uq_wage_floors_default', sqlite_where=sa.text('country IS NULL'), postgresql_where=sa.text('country IS NULL'))
        batch_op.drop_index('uq_wage_floors_country', sqlite_where=sa.text('country IS NOT NULL'), postgresql_where=sa.text('country IS NOT NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_wage_floors_organisation_id_currency'), ['organisation_id', 'currency'])
        batch_op.drop_column('country')

    # Not recreated on SQLite (it drops columns in place): recreating means dropping a
    # table that tasks, members and ledger entries point at, which fails once it has rows.
    with op.batch_alter_table('projects', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('measured_median_task_seconds')
        batch_op.drop_column('suggested_task_rate')
        batch_op.drop_column('underpriced_at')

    with op.batch_alter_table('pay_top_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pay_top_ups_trainer_id'))

    op.drop_table('pay_top_ups')
    with op.batch_alter_table('pay_weeks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pay_weeks_trainer_id'))
        batch_op.drop_index('ix_pay_weeks_project_id_week_start')

    op.drop_table('pay_weeks')
    with op.batch_alter_table('counselling_allowances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counselling_allowances_trainer_id'))

    op.drop_table('counselling_allowances')
