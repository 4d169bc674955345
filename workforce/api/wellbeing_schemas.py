"""Request and response bodies of the wellbeing endpoints."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workforce.api.schemas import Currency, PublicUrl, Text, UtcDateTime
from workforce.i18n import _


def _minutes(low: int, high: int, description: str, **kwargs: object) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high),
                          metadata={"description": description}, **kwargs)


class SupportLinkSchema(Schema):
    label = Text(required=True, validate=validate.Length(min=1, max=200))
    url = PublicUrl(required=True, schemes=frozenset({"https"}),
                     metadata={"example": "https://www.samaritans.org"})


class WellbeingPolicySchema(Schema):
    organisation_id = fields.UUID(dump_only=True)
    graphic_daily_minutes = _minutes(0, 1440, "Graphic work per trainer per local day.")
    weekly_exposure_minutes = _minutes(0, 10080,
                                       "Sensitive and graphic work per local week.")
    break_after_minutes = _minutes(1, 1440, "Continuous exposure that requires a break.")
    break_minutes = _minutes(0, 240, "Length of that break.")
    graphic_cutoff_hour = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=23),
        metadata={"description": "No graphic work from this local hour to midnight "
                  "(null: no cut-off)."})
    rotation_after_minutes = _minutes(
        1, 1440, "Exposure in a row after which non-sensitive work is offered first.")
    checkin_after_minutes = _minutes(
        1, 10080, "Exposure since the last check-in after which one is asked for.")
    support_text = Text(validate=validate.Length(min=1, max=5000))
    support_links = fields.List(fields.Nested(SupportLinkSchema),
                                validate=validate.Length(max=20))
    support_line = Text(validate=validate.Length(max=200), metadata={
        "description": "A 24/7 support line shown with every flag.",
        "example": "+44 116 123 (Samaritans, 24/7)"})
    wellbeing_contact_id = fields.UUID(allow_none=True, metadata={
        "description": "The staff member who receives support cases (null: the admins)."})
    counselling_after_minutes = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=44640),
        metadata={"description": "Exposure in a calendar month after which the "
                  "counselling allowance is posted (null: no allowance)."})
    counselling_amount = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=10_000_000),
        metadata={"description": "The allowance, in minor units."})
    counselling_currency = Currency(allow_none=True)
    min_group_size = _minutes(2, 1000, "Aggregated figures over fewer trainers are hidden.")
    updated_at = UtcDateTime(dump_only=True, allow_none=True)

    @validates_schema
    def _something_to_change(self, data: dict, **kwargs: object) -> None:
        if not data:
            raise ValidationError(_("Give at least one field to change."), "_schema")
