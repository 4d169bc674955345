"""Bodies of pause, resume, suspension and closing, and of suspensions with their kill
fees (staff only: the kill fees of every trainer)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.projects_schemas import project_state_field
from workforce.api.schemas import MoneySchema, Text, UtcDateTime
from workforce.projects import project_states
from workforce.projects.models import PayModel

REASON = validate.Length(min=1, max=2000)


class PauseSchema(Schema):
    reason = Text(required=True, validate=REASON,
                  metadata={"description": "Shown to trainers and in refused claims.",
                            "example": "No audio queued until the next batch arrives."})
    expected_resume_at = UtcDateTime(
        allow_none=True, load_default=None,
        metadata={"description": "When work is expected to resume (future; with time zone)."},
    )


class SuspensionCreateSchema(Schema):
    reason = Text(required=True, validate=REASON,
                  metadata={"example": "The client has stopped the programme."})
    effective_at = UtcDateTime(
        required=True,
        metadata={"description": "With time zone; now or later (a minute of slack). Notice "
                  "shorter than the organisation's notice period owes every active "
                  "trainer a kill fee. Now suspends at once."},
    )


class ProjectStateSchema(Schema):
    """A project's state after a pause, resume or close."""

    id = fields.UUID()
    name = fields.String()
    state = project_state_field()
    pay_model = fields.Enum(PayModel, by_value=True)
    pause_reason = fields.String(allow_none=True)
    expected_resume_at = UtcDateTime(allow_none=True)
    activated_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)


class KillFeeSchema(MoneySchema):
    id = fields.UUID()
    trainer_id = fields.UUID()
    average_daily_amount = fields.Integer(metadata={
        "description": "Minor units: the trainer's earnings on the project in the 14 days "
        "before the announcement, divided by 14 and rounded half-even."})
    days_missed = fields.Integer()
    amount = fields.Integer(metadata={"description": "Minor units: average times days missed."})
    created_at = UtcDateTime()


class SuspensionSchema(Schema):
    id = fields.UUID()
    project_id = fields.UUID()
    reason = fields.String()
    status = fields.Function(
        project_states.suspension_status,
        metadata={"description": "pending, applied (in effect from its effective time, "
                  "whether or not the scheduler has followed up) or cancelled",
                  "type": "string", "enum": ["pending", "applied", "cancelled"]},
    )
    announced_at = UtcDateTime()
    effective_at = UtcDateTime()
    notice_days = fields.Integer(metadata={"description": "The notice period owed."})
    days_missed = fields.Function(
        lambda s: project_states.days_missed(s.notice_days, s.announced_at, s.effective_at),
        metadata={"description": "Whole days of notice missed, rounded up.",
                  "type": "integer"},
    )
    applied_at = UtcDateTime(allow_none=True)
    cancelled_at = UtcDateTime(allow_none=True)
    created_by_id = fields.UUID()
    kill_fees = fields.List(fields.Nested(KillFeeSchema))
    kill_fees_total = fields.Function(
        lambda s: sum(fee.amount for fee in s.kill_fees),
        metadata={"description": "Minor units of the project's currency.", "type": "integer"},
    )
