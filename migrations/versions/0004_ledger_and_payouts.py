"""ledger, bonuses, adjustments, payout accounts, schedules, runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:08:36.558147
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_TABLES = ("journal_entries", "postings")


def make_append_only(table: str) -> None:
    """UPDATE and DELETE fail in the database (the function is from revision 0001)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION workforce_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
        )


_earnings = sa.table(
    "earning_events", *(sa.column(name, sa.Uuid()) for name in (
        "id", "trainer_id", "organisation_id", "project_id", "source_id")),
    sa.column("kind", sa.String()), sa.column("amount", sa.Integer()),
    sa.column("currency", sa.String()), sa.column("description", sa.String()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
)
_accounts = sa.table(
    "ledger_accounts", *(sa.column(name, sa.Uuid()) for name in (
        "id", "organisation_id", "owner_id")),
    sa.column("owner_type", sa.String()), sa.column("kind", sa.String()),
    sa.column("currency", sa.String()), sa.column("balance", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_entries = sa.table(
    "journal_entries", *(sa.column(name, sa.Uuid()) for name in (
        "id", "source_id", "organisation_id", "trainer_id", "project_id")),
    sa.column("source_type", sa.String()), sa.column("reason", sa.String()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_postings = sa.table(
    "postings", *(sa.column(name, sa.Uuid()) for name in ("id", "entry_id", "account_id")),
    sa.column("amount", sa.Integer()), sa.column("currency", sa.String()),
    sa.column("available_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def post_recorded_earnings() -> None:
    """Earnings recorded before the ledger existed are posted now, the way
    ``billing.ledger`` posts them: the organisation's expense against the trainer's
    payable, available at once (no hold period existed then)."""
    bind = op.get_bind()
    accounts: dict[tuple, uuid.UUID] = {}
    balances: dict[uuid.UUID, int] = {}

    def account(organisation_id, owner_type, owner_id, kind, currency, when) -> uuid.UUID:
        key = (organisation_id, owner_type, owner_id, kind, currency)
        if key not in accounts:
            accounts[key] = uuid.uuid4()
            bind.execute(_accounts.insert().values(
                id=accounts[key], organisation_id=organisation_id, owner_type=owner_type,
                owner_id=owner_id, kind=kind, currency=currency, balance=0, created_at=when,
            ))
        return accounts[key]

    for event in bind.execute(sa.select(_earnings)).all():
        when = event.occurred_at
        expense = account(event.organisation_id, "organisation", event.organisation_id,
                          "expense", event.currency, when)
        payable = account(event.organisation_id, "trainer", event.trainer_id, "payable",
                          event.currency, when)
        entry_id = uuid.uuid4()
        bind.execute(_entries.insert().values(
            id=entry_id, source_type=event.kind, source_id=event.source_id,
            organisation_id=event.organisation_id, trainer_id=event.trainer_id,
            project_id=event.project_id, reason=event.description[:500],
            occurred_at=when, created_at=when,
        ))
        for account_id, amount in ((expense, event.amount), (payable, -event.amount)):
            bind.execute(_postings.insert().values(
                id=uuid.uuid4(), entry_id=entry_id, account_id=account_id, amount=amount,
                currency=event.currency, available_at=when, created_at=when,
            ))
            balances[account_id] = balances.get(account_id, 0) + amount
    for account_id, balance in balances.items():
        bind.execute(_accounts.update().where(_accounts.c.id == account_id)
                     .values(balance=balance))


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_stripe_events_event_id'))
    )
    op.create_table('ledger_accounts',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('owner_type', sa.Enum('trainer', 'organisation', name='ownertype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('payable', 'in_transit', 'paid', 'expense', name='accountkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_ledger_accounts_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('organisation_id', 'owner_type', 'owner_id', 'kind', 'currency', name=op.f('uq_ledger_accounts_organisation_id_owner_type_owner_id_kind_currency'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_accounts_owner_id_kind', ['owner_id', 'kind'], unique=False)

    op.create_table('payout_schedules',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('minute', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('minimums', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('auto_approve', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hour BETWEEN 0 AND 23 AND minute BETWEEN 0 AND 59', name=op.f('ck_payout_schedules_time_range')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_payout_schedules_weekday_range')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_payout_schedules_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_schedules'))
    )
    with op.batch_alter_table('payout_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_schedules_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('adjustments',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_adjustments_amount_not_zero')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_adjustments_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_adjustments_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_adjustments_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjustments'))
    )
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjustments_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('payout_accounts',
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('method', sa.Enum('stripe', 'manual', name='payoutmethod', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('requirements', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('bank_details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('details_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hold_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_payout_accounts_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_accounts')),
    sa.UniqueConstraint('stripe_account_id', name=op.f('uq_payout_accounts_stripe_account_id')),
    sa.UniqueConstraint('trainer_id', name=op.f('uq_payout_accounts_trainer_id'))
    )
    op.create_table('payout_runs',
    sa.Column('schedule_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('preview', 'approved', 'processing', 'completed', 'cancelled', name='runstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('approved_by_id', sa.Uuid(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('halted_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_payout_runs_approved_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payout_runs_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_payout_runs_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['schedule_id'], ['payout_schedules.id'], name=op.f('fk_payout_runs_schedule_id_payout_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_runs')),
    sa.UniqueConstraint('schedule_id', 'period_end', name=op.f('uq_payout_runs_schedule_id_period_end'))
    )
    with op.batch_alter_table('payout_runs', schema=None) as batch_op:
        batch_op.create_index('ix_payout_runs_organisation_id_state', ['organisation_id', 'state'], unique=False)

    op.create_table('bonuses',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_bonuses_amount_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bonuses_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_bonuses_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_bonuses_project_id_projects')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_bonuses_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bonuses')),
    sa.UniqueConstraint('organisation_id', 'idempotency_key', name=op.f('uq_bonuses_organisation_id_idempotency_key'))
    )
    with op.batch_alter_table('bonuses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bonuses_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('journal_entries',
    sa.Column('source_type', sa.Enum('assessment_stipend', 'task_approval', 'timesheet', 'kill_fee', 'top_up', 'counselling_allowance', 'flagged_work', 'bonus', 'adjustment', 'payout_approved', 'payout_paid', 'payout_failed', 'payout_cancelled', 'payout_reversed', 'reversal', name='sourcetype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=True),
    sa.Column('project_id', sa.Uuid(), nullable=True),
    sa.Column('reverses_id', sa.Uuid(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_journal_entries_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_journal_entries_project_id_projects')),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_journal_entries_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_journal_entries_reverses_id')),
    sa.UniqueConstraint('source_type', 'source_id', name=op.f('uq_journal_entries_source_type_source_id'))
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entries_organisation_id_created_at', ['organisation_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entries_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_journal_entries_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.create_table('payout_exclusions',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Enum('below_minimum', 'no_payout_account', 'account_not_ready', 'on_hold', name='exclusionreason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payout_exclusions_run_id_payout_runs')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_payout_exclusions_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_exclusions')),
    sa.UniqueConstraint('run_id', 'trainer_id', 'currency', name=op.f('uq_payout_exclusions_run_id_trainer_id_currency'))
    )
    with op.batch_alter_table('payout_exclusions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_exclusions_run_id'), ['run_id'], unique=False)

    op.create_table('payout_items',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('trainer_id', sa.Uuid(), nullable=False),
    sa.Column('payout_account_id', sa.Uuid(), nullable=False),
    sa.Column('method', sa.Enum('stripe', 'manual', name='payoutmethod', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.Enum('pending', 'approved', 'sent', 'paid', 'failed', 'reversed', 'cancelled', name='itemstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('key_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transfer_id', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failure_code', sa.String(length=100), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('manual_reference', sa.String(length=255), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payout_items_amount_positive')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_payout_items_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['payout_account_id'], ['payout_accounts.id'], name=op.f('fk_payout_items_payout_account_id_payout_accounts')),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payout_items_run_id_payout_runs')),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_payout_items_trainer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_items')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payout_items_idempotency_key')),
    sa.UniqueConstraint('run_id', 'trainer_id', 'currency', name=op.f('uq_payout_items_run_id_trainer_id_currency')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_payout_items_transfer_id'))
    )
    with op.batch_alter_table('payout_items', schema=None) as batch_op:
        batch_op.create_index('ix_payout_items_run_id_state', ['run_id', 'state'], unique=False)
        batch_op.create_index('ix_payout_items_trainer_id_created_at', ['trainer_id', 'created_at'], unique=False)

    op.create_table('postings',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_postings_amount_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_postings_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_account_id_created_at', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_entry_id'), ['entry_id'], unique=False)

    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('payout_hold_days', sa.Integer(), server_default='0', nullable=False))

    for table in LEDGER_TABLES:
        make_append_only(table)
    post_recorded_earnings()


def downgrade() -> None:
    # Never recreate: organisations is referenced by every other table.
    with op.batch_alter_table('organisations', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('payout_hold_days')

    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_entry_id'))
        batch_op.drop_index('ix_postings_account_id_created_at')

    op.drop_table('postings')
    with op.batch_alter_table('payout_items', schema=None) as batch_op:
        batch_op.drop_index('ix_payout_items_trainer_id_created_at')
        batch_op.drop_index('ix_payout_items_run_id_state')

    op.drop_table('payout_items')
    with op.batch_alter_table('payout_exclusions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_exclusions_run_id'))

    op.drop_table('payout_exclusions')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_entries_trainer_id_created_at')
        batch_op.drop_index(batch_op.f('ix_journal_entries_project_id'))
        batch_op.drop_index('ix_journal_entries_organisation_id_created_at')

    op.drop_table('journal_entries')
    with op.batch_alter_table('bonuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bonuses_trainer_id'))

    op.drop_table('bonuses')
    with op.batch_alter_table('payout_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_payout_runs_organisation_id_state')

    op.drop_table('payout_runs')
    op.drop_table('payout_accounts')
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjustments_trainer_id'))

    op.drop_table('adjustments')
    with op.batch_alter_table('payout_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_schedules_organisation_id'))

    op.drop_table('payout_schedules')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_accounts_owner_id_kind')

    op.drop_table('ledger_accounts')
    op.drop_table('stripe_events')
