"""Schemas for fair pay: wage floors, the pay-transparency view, top-ups and
counselling allowances. Money is integer minor units with its currency."""

from __future__ import annotations

from marshmallow import Schema, fields, post_dump, validate

from workforce.api.schemas import MINOR_UNITS, MoneySchema, UtcDateTime
from workforce.api.staffing_schemas import ReviewPolicySchema
from workforce.projects.models import PayModel


class WageFloorSchema(Schema):
    """A floor: the currency's default (no ``country``) or a country's."""

    currency = fields.String(dump_only=True)
    country = fields.String(
        dump_only=True,
        metadata={"description": "ISO 3166-1 alpha-2; absent on the currency's default."},
    )
    hourly_amount = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=100_000_000),
        metadata={"description": "Minor units per hour (a whole number: 1500.0 is refused)."},
    )

    @post_dump
    def _default_has_no_country(self, data: dict, **_: object) -> dict:
        if data.get("country") is None:
            data.pop("country", None)
        return data



class FloorSchema(Schema):
    hourly = fields.Nested(MoneySchema, data_key="hourly_rate")
    country = fields.String(
        allow_none=True,
        metadata={"description": "The country whose floor it is; null for the default."},
    )


class MeasuredRateSchema(Schema):
    median_hourly_rate = fields.Nested(
        MoneySchema, allow_none=True,
        metadata={"description": "Median of trainers' weekly rates (approved pay over "
                  "active time); null when suppressed."},
    )
    trainers = fields.Integer(allow_none=True,
                              metadata={"description": "Trainers measured; null when suppressed."})
    suppressed = fields.Boolean(
        metadata={"description": "Fewer trainers than the organisation's minimum group size."}
    )
    since = UtcDateTime()
    until = UtcDateTime()


class UnderpricedSchema(Schema):
    since = UtcDateTime()
    suggested_task_rate = fields.Nested(MoneySchema)
    measured_median_task_seconds = fields.Integer()


class TransparencySchema(Schema):
    """How a project pays, before and while working on it."""

    project_id = fields.UUID()
    name = fields.String()
    organisation_id = fields.UUID()
    pay_model = fields.Enum(PayModel, by_value=True)
    rate = fields.Nested(MoneySchema, allow_none=True,
                         metadata={"description": "The rate in force: per task or per hour."})
    estimated_task_seconds = fields.Integer(allow_none=True)
    estimated_hourly_rate = fields.Nested(
        MoneySchema, allow_none=True,
        metadata={"description": "Per-task projects: the rate at the estimated time."},
    )
    measured = fields.Nested(
        MeasuredRateSchema, allow_none=True,
        metadata={"description": "Per-task projects: complete weeks of the last four."},
    )
    review_policy = fields.Nested(ReviewPolicySchema)
    payout_hold_days = fields.Integer()
    notice_period_days = fields.Integer()
    wage_floor = fields.Nested(
        FloorSchema, allow_none=True,
        metadata={"description": "Trainers: their own floor (their country's, else the "
                  "default). Staff: the currency's highest, which rates must meet."},
    )
    underpriced = fields.Nested(
        UnderpricedSchema, allow_none=True,
        metadata={"description": "Staff only: set while the project is marked under-priced."},
    )


class TopUpSchema(MoneySchema):
    id = fields.UUID()
    project_id = fields.UUID(attribute="week.project_id")
    project_name = fields.String()
    week_start = fields.Date()
    sequence = fields.Integer(
        metadata={"description": "1 at settlement; 2 and on when later approvals lowered "
                  "the week's rate."}
    )
    active_seconds = fields.Integer()
    hours = fields.String(metadata={"example": "7.50"})
    paid_amount = fields.Integer(metadata=MINOR_UNITS)
    measured_hourly_rate = fields.Nested(MoneySchema, allow_none=True)
    floor = fields.Nested(MoneySchema, data_key="floor_hourly_rate")
    floor_country = fields.String(allow_none=True)
    reason = fields.String()
    created_at = UtcDateTime()


class CounsellingAllowanceSchema(MoneySchema):
    id = fields.UUID()
    organisation_id = fields.UUID()
    month = fields.Date(metadata={"description": "The first day of the month."})
    threshold_minutes = fields.Integer()
    exposure_seconds = fields.Integer()
    created_at = UtcDateTime()
