"""Bodies of payout schedules, runs (preview and report), items, exclusions and
reconciliation (finance views)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import Currency, MoneySchema, PageArgs, Text, TimeZone, UtcDateTime
from workforce.billing.corrections import MAX_AMOUNT
from workforce.billing.models import (
    ExclusionReason,
    ItemState,
    PayoutMethod,
    RunState,
)
from workforce.billing.reconciliation import DifferenceKind


def _strict_int(low: int, high: int, **kwargs: object) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kwargs)


class ScheduleSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200),
                metadata={"example": "Weekly, Monday 02:00 Hong Kong"})
    weekday = _strict_int(0, 6, required=True,
                          metadata={"description": "0 = Monday ... 6 = Sunday."})
    hour = _strict_int(0, 23, required=True)
    minute = _strict_int(0, 59, load_default=0)
    timezone = TimeZone(required=True, metadata={
        "description": "IANA zone; the moment is wall-clock time there, across "
        "daylight-saving changes.", "example": "Asia/Hong_Kong"})
    minimums = fields.Dict(
        keys=Currency(), values=_strict_int(0, MAX_AMOUNT),
        load_default=dict,
        metadata={"description": "Least paid out per currency, in minor units (whole "
                  "numbers); 1 where none is set.", "example": {"USD": 1000}},
    )
    auto_approve = fields.Boolean(load_default=False, metadata={
        "description": "Approve each run as soon as it is built (no finance preview)."})
    active = fields.Boolean(load_default=True)
    organisation_id = fields.UUID(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class ScheduleUpdateSchema(ScheduleSchema):
    """Any subset of a schedule's fields (loaded with ``partial=True``)."""


class RunListArgs(PageArgs):
    state = fields.Enum(RunState, by_value=True)
    schedule_id = fields.UUID()


class CurrencyTotalSchema(MoneySchema):
    items = fields.Integer()


class StateTotalSchema(CurrencyTotalSchema):
    state = fields.Enum(ItemState, by_value=True)


class ExclusionTotalSchema(MoneySchema):
    reason = fields.Enum(ExclusionReason, by_value=True)
    trainers = fields.Integer()
    amount = fields.Integer(metadata={"description": "Minor units still payable."})


class RunSchema(Schema):
    """A run with its preview: totals per currency (cancelled items left out), counts
    and amounts per state, and who was left out, summed by reason."""

    id = fields.UUID()
    schedule_id = fields.UUID()
    schedule_name = fields.String()
    organisation_id = fields.UUID()
    period_end = UtcDateTime(metadata={
        "description": "Money available (out of the hold period) by then is paid."})
    state = fields.Enum(RunState, by_value=True)
    created_at = UtcDateTime()
    created_by_id = fields.UUID(allow_none=True)
    approved_at = UtcDateTime(allow_none=True)
    approved_by_id = fields.UUID(allow_none=True)
    cancelled_at = UtcDateTime(allow_none=True)
    completed_at = UtcDateTime(allow_none=True)
    halted_reason = fields.String(allow_none=True, metadata={
        "description": "Why processing stopped (e.g. an insufficient platform balance); "
        "POST .../process resumes it."})
    totals = fields.List(fields.Nested(CurrencyTotalSchema))
    by_state = fields.List(fields.Nested(StateTotalSchema))
    item_count = fields.Integer()
    exclusion_count = fields.Integer()
    exclusions = fields.List(fields.Nested(ExclusionTotalSchema))


class ItemListArgs(PageArgs):
    state = fields.Enum(ItemState, by_value=True)


class ItemSchema(MoneySchema):
    id = fields.UUID()
    run_id = fields.UUID()
    trainer_id = fields.UUID()
    trainer_name = fields.String(allow_none=True)
    method = fields.Enum(PayoutMethod, by_value=True)
    state = fields.Enum(ItemState, by_value=True)
    transfer_id = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={
        "description": "Idempotency keys the item has had: a new one after each final "
        "refusal (a retried failure, an insufficient balance)."})
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    manual_reference = fields.String(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)
    paid_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class ExclusionListArgs(PageArgs):
    reason = fields.Enum(ExclusionReason, by_value=True)


class ExclusionSchema(MoneySchema):
    id = fields.UUID()
    trainer_id = fields.UUID()
    trainer_name = fields.String(allow_none=True)
    amount = fields.Integer(metadata={"description": "Minor units still payable."})
    reason = fields.Enum(ExclusionReason, by_value=True)
    detail = fields.String()


class ReportSchema(Schema):
    run = fields.Nested(RunSchema)
    by_state = fields.List(fields.Nested(StateTotalSchema))
    exclusions = fields.List(fields.Nested(ExclusionTotalSchema))
    failures = fields.List(fields.Nested(ItemSchema), metadata={
        "description": "Failed items, and items cancelled at approval, with their reasons "
        "(the first 500; list the items by state for more)."})


class ManualPaymentSchema(Schema):
    reference = Text(required=True, validate=validate.Length(min=1, max=255), metadata={
        "description": "The bank's reference of the payment finance made.",
        "example": "HSBC-20250317-000123"})


class ManualFailureSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500), metadata={
        "description": "Why the payment could not be made; the trainer reads it.",
        "example": "The bank returned the transfer: the account is closed."})


class DifferenceSchema(Schema):
    kind = fields.Enum(DifferenceKind, by_value=True)
    detail = fields.String()
    payout_item_id = fields.UUID(allow_none=True)
    transfer_id = fields.String(allow_none=True)
    ledger_amount = fields.Integer(allow_none=True)
    stripe_amount = fields.Integer(allow_none=True)
    currency = fields.String(allow_none=True)
    trainer_id = fields.UUID(allow_none=True, metadata={
        "description": "For an `unknown_transfer` to a trainer's connected account: the "
        "trainer (shown to every organisation they have money with)."})


class ReconciliationSchema(Schema):
    period_from = UtcDateTime(data_key="from")
    period_to = UtcDateTime(data_key="to")
    items_checked = fields.Integer()
    transfers_checked = fields.Integer()
    balanced = fields.Boolean()
    differences = fields.List(fields.Nested(DifferenceSchema))
