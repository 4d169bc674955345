"""Bodies of the trainers' earnings and statements, bonuses, adjustments, and the
finance views of the ledger. Money is integer minor units with its ISO 4217 code."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import (
    MINOR_UNITS,
    Currency,
    MoneySchema,
    PageArgs,
    PeriodArgs,
    Text,
    UtcDateTime,
)
from workforce.billing.corrections import KEY_MAX, MAX_AMOUNT, REASON_MAX
from workforce.billing.models import AccountKind, ItemState, OwnerType, SourceType
from workforce.i18n import lazy_gettext

REASON = validate.Length(min=1, max=REASON_MAX)


# --- trainers ------------------------------------------------------------------------


class NextPayoutSchema(Schema):
    organisation_id = fields.UUID()
    organisation_name = fields.String()
    minimum = fields.Integer(allow_none=True, metadata={
        "description": "The least it pays out in this currency (minor units); less waits "
        "for a later run. Null: no payout schedule."})
    next_payout_at = UtcDateTime(allow_none=True, metadata={
        "description": "When its next payout run is built (paid once approved, at once on "
        "an automatic schedule). Null: no payout schedule."})


class CurrencySummarySchema(Schema):
    currency = fields.String(metadata={"example": "USD"})
    pending_review = fields.Integer(metadata={
        "description": "Estimate of work handed in and not yet approved: submitted tasks "
        "at their rate, and closed time of open or submitted timesheets."})
    on_hold = fields.Integer(metadata={
        "description": "Approved, but inside the organisation's hold period."})
    next_release_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the earliest money on hold becomes payable."})
    payable = fields.Integer(metadata={"description": "Owed, to be paid by the next payout."})
    in_transit = fields.Integer(metadata={"description": "In a payout on its way."})
    paid_to_date = fields.Integer()
    year_to_date = fields.Integer(metadata={
        "description": "Net earnings this calendar year (your time zone): work, stipends, "
        "kill fees, bonuses and adjustments, less reversals."})
    next_payout_at = UtcDateTime(allow_none=True, metadata={
        "description": "The soonest next payout run of the organisations below (null: "
        "none has a payout schedule)."})
    payouts = fields.List(fields.Nested(NextPayoutSchema), metadata={
        "description": "Each organisation that owes you in this currency: when its next "
        "payout run is and the least it pays out."})


class EarningsSummarySchema(Schema):
    as_of = UtcDateTime()
    year = fields.Integer()
    timezone = fields.String()
    currencies = fields.List(fields.Nested(CurrencySummarySchema), metadata={
        "description": "One row per currency, summed over the organisations paying you; "
        "amounts in minor units."})


class LineItemArgs(PageArgs, PeriodArgs):
    project_id = fields.UUID()
    currency = Currency()


class LineItemSchema(MoneySchema):
    entry_id = fields.UUID()
    reason = fields.String()
    source_type = fields.Enum(SourceType, by_value=True)
    source_id = fields.UUID()
    reverses_id = fields.UUID(allow_none=True, metadata={
        "description": "The entry this one reverses, for a reversal."})
    organisation_id = fields.UUID()
    organisation_name = fields.String()
    project_id = fields.UUID(allow_none=True)
    project_name = fields.String(allow_none=True)
    amount = fields.Integer(metadata={
        "description": "Minor units, signed from your side: positive is money owed to you, "
        "negative money taken out of payable (a payout, a correction)."})
    occurred_at = UtcDateTime()
    posted_at = UtcDateTime()
    available_at = UtcDateTime(allow_none=True, metadata={
        "description": "For money in: when it leaves the hold period."})


class StatementArgs(Schema):
    format = fields.String(
        load_default="json", validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "`csv` answers text/csv: an `opening` row per currency, "
                  "the `item` rows oldest first, then `credits`, `debits` and `closing`; "
                  "a payout statement ends with the `payout` row (created at `posted_at`, "
                  "paid at `occurred_at`, its amount and `state`) and a `movement` row per "
                  "step of it in the ledger."},
    )


class StatementTotalsSchema(Schema):
    currency = fields.String()
    opening = fields.Integer(metadata={"description": "Payable at the start (minor units)."})
    credits = fields.Integer(metadata={"description": "Money in during the period."})
    debits = fields.Integer(metadata={"description": "Money out, as a negative number."})
    closing = fields.Integer(metadata={"description": "Payable at the end."})


class StatementPayoutSchema(MoneySchema):
    id = fields.UUID()
    run_id = fields.UUID()
    organisation_id = fields.UUID()
    state = fields.Enum(ItemState, by_value=True)
    failure_message = fields.String(allow_none=True)
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)
    paid_at = UtcDateTime(allow_none=True)


class PayoutMovementSchema(MoneySchema):
    entry_id = fields.UUID()
    source_type = fields.Enum(SourceType, by_value=True)
    reason = fields.String()
    from_account = fields.Enum(AccountKind, by_value=True, allow_none=True)
    to_account = fields.Enum(AccountKind, by_value=True, allow_none=True)
    posted_at = UtcDateTime()


class StatementSchema(Schema):
    kind = fields.String(metadata={"enum": ["monthly", "payout"]})
    trainer_id = fields.UUID()
    timezone = fields.String()
    period_start = UtcDateTime(allow_none=True, metadata={
        "description": "Included; null for a first payout (from the beginning)."})
    period_end = UtcDateTime(metadata={"description": "Excluded."})
    totals = fields.List(fields.Nested(StatementTotalsSchema))
    items = fields.List(fields.Nested(LineItemSchema), metadata={
        "description": "Movements of payable in the period, oldest first."})
    payout = fields.Nested(StatementPayoutSchema, attribute="payout_item", allow_none=True,
                           metadata={"description": "The payout (payout statements)."})
    movements = fields.List(fields.Nested(PayoutMovementSchema), metadata={
        "description": "The payout's own steps in the ledger (payout statements)."})


# --- bonuses and adjustments ---------------------------------------------------------


def _amount(low: int) -> fields.Integer:
    return fields.Integer(
        strict=True, required=True, validate=validate.Range(min=low, max=MAX_AMOUNT),
        metadata=MINOR_UNITS,
    )


class BonusCreateSchema(Schema):
    trainer_id = fields.UUID(required=True)
    amount = _amount(1)
    currency = Currency(required=True, metadata={"example": "USD"})
    reason = Text(required=True, validate=REASON,
                  metadata={"description": "Shown to the trainer."})
    project_id = fields.UUID(allow_none=True, load_default=None)
    idempotency_key = fields.String(
        required=True, validate=validate.Length(min=1, max=KEY_MAX),
        metadata={"description": "Your own key for this bonus: the same key again returns "
                  "the first bonus and pays nothing more."},
    )


class BonusSchema(MoneySchema):
    id = fields.UUID()
    organisation_id = fields.UUID()
    trainer_id = fields.UUID()
    project_id = fields.UUID(allow_none=True)
    reason = fields.String()
    idempotency_key = fields.String()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()


class TrainerFilterArgs(PageArgs):
    trainer_id = fields.UUID()


class AdjustmentCreateSchema(Schema):
    trainer_id = fields.UUID(required=True)
    amount = fields.Integer(
        strict=True, required=True,
        validate=[validate.Range(min=-MAX_AMOUNT, max=MAX_AMOUNT),
                  validate.NoneOf([0], error=lazy_gettext("Must not be zero."))],
        metadata={"description": "Minor units; negative takes money back (never below the "
                  "available payable balance)."},
    )
    currency = Currency(required=True, metadata={"example": "USD"})
    reason = Text(required=True, validate=REASON,
                  metadata={"description": "Shown to the trainer."})


class AdjustmentSchema(MoneySchema):
    id = fields.UUID()
    organisation_id = fields.UUID()
    trainer_id = fields.UUID()
    reason = fields.String()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()


# --- the ledger for finance ----------------------------------------------------------


class EntryListArgs(PageArgs, PeriodArgs):
    source_type = fields.Enum(SourceType, by_value=True)
    trainer_id = fields.UUID()


class PostingSchema(MoneySchema):
    id = fields.UUID()
    account_id = fields.UUID()
    owner_type = fields.Enum(OwnerType, by_value=True, attribute="account.owner_type")
    owner_id = fields.UUID(attribute="account.owner_id")
    account_kind = fields.Enum(AccountKind, by_value=True, attribute="account.kind")
    amount = fields.Integer(metadata={"description": "Minor units; a debit is positive, "
                                      "a credit negative."})
    available_at = UtcDateTime(allow_none=True)


class EntrySchema(Schema):
    id = fields.UUID(attribute="entry.id")
    source_type = fields.Enum(SourceType, by_value=True, attribute="entry.source_type")
    source_id = fields.UUID(attribute="entry.source_id")
    reason = fields.String(attribute="entry.reason")
    trainer_id = fields.UUID(attribute="entry.trainer_id", allow_none=True)
    project_id = fields.UUID(attribute="entry.project_id", allow_none=True)
    reverses_id = fields.UUID(attribute="entry.reverses_id", allow_none=True)
    reversed_by_id = fields.UUID(allow_none=True)
    occurred_at = UtcDateTime(attribute="entry.occurred_at")
    posted_at = UtcDateTime(attribute="entry.created_at")
    postings = fields.List(fields.Nested(PostingSchema), attribute="entry.postings")


class ReversalSchema(Schema):
    reason = Text(required=True, validate=REASON)


class MismatchSchema(Schema):
    kind = fields.String(metadata={
        "enum": ["account", "entry"],
        "description": "`account`: a stored balance differs from its postings; `entry`: "
        "an entry's postings do not sum to zero."})
    id = fields.UUID()
    stored = fields.Integer()
    recomputed = fields.Integer()


class CheckSchema(Schema):
    checked_at = UtcDateTime()
    sound = fields.Boolean()
    mismatches = fields.List(fields.Nested(MismatchSchema))


class ProjectCostSchema(MoneySchema):
    project_id = fields.UUID(allow_none=True, metadata={
        "description": "Null: costs of no project (assessment stipends, adjustments)."})
    project_name = fields.String(allow_none=True)


class CostReportSchema(Schema):
    since = UtcDateTime(data_key="from", allow_none=True)
    until = UtcDateTime(data_key="to", allow_none=True)
    organisation = fields.List(fields.Nested(MoneySchema), metadata={
        "description": "Total per currency."})
    projects = fields.List(fields.Nested(ProjectCostSchema))
