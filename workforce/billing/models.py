from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce.db import Base, IdMixin, TimestampMixin, json_type, str_enum
from workforce.money import Money


class EarningKind(StrEnum):
    ASSESSMENT_STIPEND = "assessment_stipend"
    TASK_APPROVAL = "task_approval"
    TIMESHEET = "timesheet"
    KILL_FEE = "kill_fee"
    # The difference up to the wage floor for a week measured under it.
    TOP_UP = "top_up"
    # Posted after a month's exposure to sensitive work passes the organisation's mark.
    COUNSELLING_ALLOWANCE = "counselling_allowance"
    # Time spent on a task the trainer flagged (up to twice its estimate), paid by the hour.
    FLAGGED_WORK = "flagged_work"


class EarningEvent(IdMixin, Base):
    """Money a trainer earned, recorded once per source; the ledger posts from these."""

    __tablename__ = "earning_events"
    __table_args__ = (
        # One source event earns exactly once.
        UniqueConstraint("kind", "source_type", "source_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    kind: Mapped[EarningKind] = mapped_column(str_enum(EarningKind))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    source_type: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[uuid.UUID]
    description: Mapped[str] = mapped_column(String(300))
    occurred_at: Mapped[datetime]

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


# --- the ledger ----------------------------------------------------------------------
# Double-entry and append-only: journal entries and postings are never updated or
# deleted (database triggers refuse it). A posting's amount is signed: positive is a
# debit, negative a credit; an entry's postings sum to zero per currency.


class OwnerType(StrEnum):
    TRAINER = "trainer"
    ORGANISATION = "organisation"


class AccountKind(StrEnum):
    # A trainer's money, per organisation that owes it (credit-normal: shown negated).
    PAYABLE = "payable"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    # What an organisation spent on work (debit-normal).
    EXPENSE = "expense"


class LedgerAccount(IdMixin, Base):
    """One balance: an owner's account of one kind in one currency, within one
    organisation (a trainer's payable to organisation A is not their payable to B).

    ``balance`` is the sum of the account's postings (debits positive), kept up to date
    in the same transaction as every posting and checked against a recomputation.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("organisation_id", "owner_type", "owner_id", "kind", "currency"),
        Index("ix_ledger_accounts_owner_id_kind", "owner_id", "kind"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    owner_type: Mapped[OwnerType] = mapped_column(str_enum(OwnerType))
    # The trainer's id, or the organisation's own id for its accounts.
    owner_id: Mapped[uuid.UUID]
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind))
    currency: Mapped[str] = mapped_column(String(3))
    # 64 bits: an organisation's expense account passes 2^31 minor units (21 million
    # dollars) at marketplace scale (found by bench/, 0009). SQLite's INTEGER is 64-bit.
    balance: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), default=0
    )
    created_at: Mapped[datetime]


class SourceType(StrEnum):
    """What a journal entry records; with ``source_id`` it is posted at most once."""

    ASSESSMENT_STIPEND = "assessment_stipend"
    TASK_APPROVAL = "task_approval"
    TIMESHEET = "timesheet"
    KILL_FEE = "kill_fee"
    TOP_UP = "top_up"
    COUNSELLING_ALLOWANCE = "counselling_allowance"
    FLAGGED_WORK = "flagged_work"
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"
    PAYOUT_APPROVED = "payout_approved"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_FAILED = "payout_failed"
    PAYOUT_CANCELLED = "payout_cancelled"
    PAYOUT_REVERSED = "payout_reversed"
    REVERSAL = "reversal"


class JournalEntry(IdMixin, Base):
    """One movement of money with its reason and source. A correction is a reversal
    entry pointing at what it reverses (``reverses_id`` is unique: once at most)."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id"),
        Index("ix_journal_entries_organisation_id_created_at", "organisation_id", "created_at"),
        Index("ix_journal_entries_trainer_id_created_at", "trainer_id", "created_at"),
        # A trainer's entries by when they occurred: the edges of a year to date (0009).
        Index("ix_journal_entries_trainer_id_occurred_at", "trainer_id", "occurred_at"),
    )

    source_type: Mapped[SourceType] = mapped_column(str_enum(SourceType))
    source_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(500))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    # The trainer whose money moved, and the project it was earned on (for statements).
    trainer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"), index=True)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_entries.id"), unique=True
    )
    # When the money was earned or moved (the business date statements use).
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime]

    postings: Mapped[list[Posting]] = relationship(back_populates="entry")


class Posting(IdMixin, Base):
    """One leg of an entry. A credit to a trainer's payable may carry ``available_at``:
    before then it is on hold (the organisation's hold period) and is not paid out."""

    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_postings_account_id_created_at", "account_id", "created_at"),
        # The credits still in a hold period (``ledger.held_credits``): only postings
        # with an ``available_at`` are in it, so reading a trainer's holds, or a payout
        # build's batch of them, does not walk every posting of the account (0009); on
        # PostgreSQL it carries the amount and the entry, so the holds are read from the
        # index alone, not from a table page per credit (0010).
        Index("ix_postings_account_id_available_at", "account_id", "available_at",
              postgresql_where=text("available_at IS NOT NULL"),
              postgresql_include=["amount", "entry_id"],
              sqlite_where=text("available_at IS NOT NULL")),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    available_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[LedgerAccount] = relationship()


class EarningDay(Base):
    """What one payable account earned on one UTC day: the sum of its postings whose
    entry is an earning, or a reversal of one, occurring that day (credits negative, as
    the postings). Kept in the posting's transaction by ``ledger.post`` and checked by
    ``ledger.check_balances``, so a trainer's year to date sums at most 366 of these plus
    the few entries of the two partial days at the ends of their local year, instead of
    every posting of the year (0009)."""

    __tablename__ = "ledger_earning_days"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[int]


# --- bonuses and adjustments ---------------------------------------------------------


class Bonus(IdMixin, Base):
    """A bonus a vendor manager granted; the same idempotency key never pays twice."""

    __tablename__ = "bonuses"
    __table_args__ = (
        UniqueConstraint("organisation_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Adjustment(IdMixin, Base):
    """A correction by finance, positive or negative (never below a zero payable)."""

    __tablename__ = "adjustments"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


# --- payout accounts -----------------------------------------------------------------


class PayoutMethod(StrEnum):
    STRIPE = "stripe"
    MANUAL = "manual"


class PayoutAccount(IdMixin, TimestampMixin, Base):
    """Where a trainer is paid: a Stripe Connect Express account, or bank details that
    finance pays by hand from an export. One per trainer; changing the details holds
    the trainer's payouts until ``hold_until`` (a defence against account takeover)."""

    __tablename__ = "payout_accounts"

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    method: Mapped[PayoutMethod] = mapped_column(str_enum(PayoutMethod))
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    # Stripe's outstanding requirements (currently_due, past_due, disabled_reason).
    requirements: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    # The manual method's bank details (holder, account, bank), shown masked.
    bank_details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    details_changed_at: Mapped[datetime | None]
    hold_until: Mapped[datetime | None]


class StripeEvent(IdMixin, Base):
    """A webhook event, stored once per Stripe event id (a redelivery changes nothing)."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    account: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


# --- payout schedules, runs and items ------------------------------------------------


class PayoutSchedule(IdMixin, TimestampMixin, Base):
    """When an organisation pays: weekly on ``weekday`` at ``time`` in ``timezone``,
    with a minimum per currency, approved by finance or automatically."""

    __tablename__ = "payout_schedules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("hour BETWEEN 0 AND 23 AND minute BETWEEN 0 AND 59", name="time_range"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    weekday: Mapped[int]
    hour: Mapped[int]
    minute: Mapped[int] = mapped_column(default=0)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"USD": 1000}: the least paid out per currency (minor units); below it waits.
    minimums: Mapped[dict[str, int]] = mapped_column(json_type(), default=dict)
    auto_approve: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class RunState(StrEnum):
    PREVIEW = "preview"
    APPROVED = "approved"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PayoutRun(IdMixin, TimestampMixin, Base):
    """One schedule's payout for one period; unique per (schedule, period), whoever
    creates it (two schedulers, or finance pressing "run now")."""

    __tablename__ = "payout_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "period_end"),
        Index("ix_payout_runs_organisation_id_state", "organisation_id", "state"),
    )

    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_schedules.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    period_end: Mapped[datetime]
    state: Mapped[RunState] = mapped_column(str_enum(RunState), default=RunState.PREVIEW)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # A run stopped with an alert (e.g. the platform balance is insufficient).
    halted_reason: Mapped[str | None] = mapped_column(Text)

    schedule: Mapped[PayoutSchedule] = relationship()


class ItemState(StrEnum):
    PENDING = "pending"  # in a run not yet approved
    APPROVED = "approved"  # moved to in transit, waiting to be sent
    SENT = "sent"  # the gateway made the transfer
    PAID = "paid"
    FAILED = "failed"
    REVERSED = "reversed"
    CANCELLED = "cancelled"


class PayoutItem(IdMixin, TimestampMixin, Base):
    """What one trainer is paid in one currency by one run.

    ``idempotency_key`` is saved (and committed) before the gateway is called, so a
    retry after a crash sends the same key and gets the same transfer back."""

    __tablename__ = "payout_items"
    __table_args__ = (
        UniqueConstraint("run_id", "trainer_id", "currency"),
        Index("ix_payout_items_run_id_state", "run_id", "state"),
        Index("ix_payout_items_trainer_id_created_at", "trainer_id", "created_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_runs.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    payout_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_accounts.id"))
    method: Mapped[PayoutMethod] = mapped_column(str_enum(PayoutMethod))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[ItemState] = mapped_column(str_enum(ItemState), default=ItemState.PENDING)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    key_created_at: Mapped[datetime | None]
    transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # The bank reference finance records for a manual payment.
    manual_reference: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]

    run: Mapped[PayoutRun] = relationship()

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PayoutReversal(IdMixin, Base):
    """A part of a paid item's transfer that Stripe reversed while the rest stayed paid
    (a partial reversal). Its ledger entry (``PAYOUT_REVERSED``, with this row as the
    source) moves that part from paid back to payable. One per growth of the transfer's
    reversed total (``reversed_total`` is Stripe's ``amount_reversed`` after it), so a
    redelivered event records nothing twice; the reversal that completes the transfer's
    is the item's own ``PAYOUT_REVERSED`` entry, for what these did not cover."""

    __tablename__ = "payout_reversals"
    __table_args__ = (
        UniqueConstraint("payout_item_id", "reversed_total"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    payout_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_items.id"),
                                                      index=True)
    transfer_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int]
    reversed_total: Mapped[int]
    created_at: Mapped[datetime]


class ExclusionReason(StrEnum):
    BELOW_MINIMUM = "below_minimum"
    NO_PAYOUT_ACCOUNT = "no_payout_account"
    ACCOUNT_NOT_READY = "account_not_ready"
    ON_HOLD = "on_hold"
    # Payable only after the run's period ended (earned after it, or its hold ended then).
    AFTER_PERIOD = "after_period"


class PayoutExclusion(IdMixin, Base):
    """A trainer with a payable balance left out of a run, and why."""

    __tablename__ = "payout_exclusions"
    __table_args__ = (UniqueConstraint("run_id", "trainer_id", "currency"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[ExclusionReason] = mapped_column(str_enum(ExclusionReason))
    detail: Mapped[str] = mapped_column(Text, default="")


# --- fair pay and the counselling allowance (billing.fair_pay, billing.counselling) ---


class PayWeek(IdMixin, Base):
    """A trainer's local week (Monday to Monday in their time zone, kept as the UTC
    bounds it had when first measured) on one per-task project: approved pay over the
    active time of the approved work claimed in it, and the wage floor it was held to.

    One row per trainer, project and week, whatever races; it is re-measured when work
    of the week is approved later (an appeal, a late revision), and ``topped_up_amount``
    is the sum of its top-ups, so only a remaining difference is ever posted.
    """

    __tablename__ = "pay_weeks"
    __table_args__ = (
        UniqueConstraint("trainer_id", "project_id", "week_start"),
        Index("ix_pay_weeks_project_id_week_start", "project_id", "week_start"),
        CheckConstraint("active_seconds >= 0 AND paid_amount >= 0 AND topped_up_amount >= 0",
                        name="amounts_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String(3))
    tasks: Mapped[int] = mapped_column(default=0)
    active_seconds: Mapped[int] = mapped_column(default=0)
    paid_amount: Mapped[int] = mapped_column(default=0)
    # The floor applied (the trainer's country's, else the currency's default), if any.
    floor_country: Mapped[str | None] = mapped_column(String(2))
    floor_hourly_amount: Mapped[int | None]
    topped_up_amount: Mapped[int] = mapped_column(default=0)
    measured_at: Mapped[datetime]
    created_at: Mapped[datetime]

    top_ups: Mapped[list[TopUp]] = relationship(
        back_populates="pay_week", order_by="TopUp.sequence"
    )


class TopUp(IdMixin, Base):
    """One top-up posted for a pay week: the first when the week is settled, a further
    one (the next ``sequence``) only if work approved later lowered the measured rate.
    Its id is the earning's source, so each posts once; the unique key stops a second
    scheduler from adding the same one."""

    __tablename__ = "pay_top_ups"
    __table_args__ = (
        UniqueConstraint("pay_week_id", "sequence"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    pay_week_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pay_weeks.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    sequence: Mapped[int]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The measurement it was computed from, for the reason the trainer sees.
    active_seconds: Mapped[int]
    paid_amount: Mapped[int]
    floor_country: Mapped[str | None] = mapped_column(String(2))
    floor_hourly_amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]

    pay_week: Mapped[PayWeek] = relationship(back_populates="top_ups")


class CounsellingAllowance(IdMixin, Base):
    """The counselling allowance one trainer received from one organisation for one
    calendar month (their time zone); the unique key makes it once per month."""

    __tablename__ = "counselling_allowances"
    __table_args__ = (
        UniqueConstraint("trainer_id", "organisation_id", "month"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    # The first day of the month.
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    threshold_minutes: Mapped[int]
    exposure_seconds: Mapped[int]
    created_at: Mapped[datetime]
