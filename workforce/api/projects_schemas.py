"""Bodies of the project-authoring endpoints (staff views).

Whole numbers are strict (``12.5`` and ``"12"`` are refused); money is integer minor
units of the project's currency.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from workforce.api.declared_use_schemas import declared_use_field
from workforce.api.schemas import Currency, LanguageTag, MoneySchema, PageArgs, Text, UtcDateTime
from workforce.projects.models import ContentCategory, PayModel, ProjectState, Sensitivity
from workforce.projects.services import RequirementInput

MAX_AMOUNT = 100_000_000


def whole(low: int, high: int, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kwargs)


def amount_field(**kwargs: Any) -> fields.Integer:
    return whole(1, MAX_AMOUNT, **kwargs)


# --- requirements --------------------------------------------------------------------


class RequirementInputSchema(Schema):
    qualification_id = fields.UUID(required=True)
    min_score_percent = whole(0, 100, load_default=0)
    locale = LanguageTag(
        allow_none=True, load_default=None,
        metadata={"example": "yue-HK", "description": "A language the trainer must list."},
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RequirementInput:
        return RequirementInput(**data)


def requirements_field(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.Nested(RequirementInputSchema), validate=validate.Length(max=50), **kwargs
    )


class RequirementsSchema(Schema):
    requirements = requirements_field(required=True)


class QualificationBriefSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    locale = fields.String(allow_none=True)


class RequirementSchema(Schema):
    qualification_id = fields.UUID()
    qualification = fields.Nested(QualificationBriefSchema, allow_none=True)
    min_score_percent = fields.Integer()
    locale = fields.String(allow_none=True)


# --- settings ------------------------------------------------------------------------


class ProjectSettingsSchema(Schema):
    """Settings a PATCH may change (any subset)."""

    name = Text(validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=20000))
    capacity = whole(1, 100_000, metadata={"description": "Most active trainers at once."})
    sensitivity = fields.Enum(Sensitivity, by_value=True)
    content_categories = fields.List(
        fields.Enum(ContentCategory, by_value=True), validate=validate.Length(max=20),
        metadata={"description": "Required (non-empty) unless sensitivity is none."},
    )
    auto_approve_days = whole(1, 365)
    review_sample_percent = whole(0, 100)
    lease_seconds = whole(60, 7 * 86400)
    pay_model = fields.Enum(PayModel, by_value=True)
    currency = Currency(metadata={"example": "USD"})
    estimated_task_seconds = whole(
        1, 86400, allow_none=True, metadata={"description": "Per-task projects only."}
    )
    daily_cap_minutes = whole(1, 1440, allow_none=True,
                              metadata={"description": "Hourly projects only."})
    weekly_cap_minutes = whole(1, 10080, allow_none=True,
                               metadata={"description": "Hourly projects only; >= daily."})
    idle_timeout_seconds = whole(60, 86400, metadata={"description": "Hourly projects only."})


class ProjectCreateSchema(ProjectSettingsSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=validate.Length(max=20000))
    capacity = whole(1, 100_000, required=True)
    sensitivity = fields.Enum(Sensitivity, by_value=True, load_default=Sensitivity.NONE)
    content_categories = fields.List(
        fields.Enum(ContentCategory, by_value=True), load_default=list,
        validate=validate.Length(max=20),
    )
    auto_approve_days = whole(1, 365, load_default=7)
    review_sample_percent = whole(0, 100, load_default=100)
    lease_seconds = whole(60, 7 * 86400, load_default=3600)
    pay_model = fields.Enum(PayModel, by_value=True, required=True)
    currency = Currency(required=True, metadata={"example": "USD"})
    estimated_task_seconds = whole(1, 86400, allow_none=True, load_default=None)
    daily_cap_minutes = whole(1, 1440, allow_none=True, load_default=None)
    weekly_cap_minutes = whole(1, 10080, allow_none=True, load_default=None)
    idle_timeout_seconds = whole(60, 86400, allow_none=True, load_default=None)
    rate = amount_field(
        allow_none=True, load_default=None,
        metadata={"description": "Minor units per approved task, or per hour."},
    )
    guidelines = Text(
        allow_none=True, load_default=None, validate=validate.Length(max=100_000),
        metadata={"description": "Becomes guidelines version 1."},
    )
    requirements = requirements_field(load_default=list)


def project_state_field(attribute: str = "current_state") -> fields.Enum:
    """A project's state as readers are shown it: suspended from the moment a suspension
    takes effect, whether or not the scheduler has applied it (``Project.state_at``)."""
    return fields.Enum(ProjectState, by_value=True, attribute=attribute, metadata={
        "description": "Suspended from a suspension's effective time on."})


class ProjectListArgs(PageArgs):
    state = fields.Enum(ProjectState, by_value=True)


# --- what is shown -------------------------------------------------------------------


class RateSchema(MoneySchema):
    id = fields.UUID()
    number = fields.Integer()
    amount = fields.Integer(metadata={"description": "Minor units per task or per hour."})
    effective_from = UtcDateTime()
    reason = fields.String()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()


class RateCreateSchema(Schema):
    amount = amount_field(required=True)
    effective_from = UtcDateTime(
        allow_none=True, load_default=None,
        metadata={"description": "Not in the past; now when left out."},
    )
    reason = Text(required=True, validate=validate.Length(min=3, max=2000))


class GuidelinesRefSchema(Schema):
    number = fields.Integer()
    changed_at = UtcDateTime(attribute="created_at")


class GuidelineSchema(Schema):
    id = fields.UUID()
    number = fields.Integer()
    body = fields.String()
    change_note = fields.String()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()


class GuidelineCreateSchema(Schema):
    body = Text(required=True, validate=validate.Length(min=1, max=100_000))
    change_note = Text(load_default="", validate=validate.Length(max=2000))


class ProjectSchema(Schema):
    """A project as its organisation's staff see it."""

    id = fields.UUID()
    organisation_id = fields.UUID()
    name = fields.String()
    description = fields.String()
    state = project_state_field()
    capacity = fields.Integer()
    active_members = fields.Integer()
    places_left = fields.Integer()
    sensitivity = fields.Enum(Sensitivity, by_value=True)
    content_categories = fields.List(fields.String())
    auto_approve_days = fields.Integer()
    review_sample_percent = fields.Integer()
    lease_seconds = fields.Integer()
    pay_model = fields.Enum(PayModel, by_value=True)
    currency = fields.String()
    estimated_task_seconds = fields.Integer(allow_none=True)
    daily_cap_minutes = fields.Integer(allow_none=True)
    weekly_cap_minutes = fields.Integer(allow_none=True)
    idle_timeout_seconds = fields.Integer()
    current_rate = fields.Nested(RateSchema, allow_none=True)
    upcoming_rate = fields.Nested(
        RateSchema, allow_none=True,
        metadata={"description": "The next rate scheduled to take effect, if any."},
    )
    estimated_hourly_rate = fields.Nested(
        MoneySchema, allow_none=True,
        metadata={"description": "Per-task projects: the current rate at the estimated time."},
    )
    guidelines = fields.Nested(GuidelinesRefSchema, allow_none=True)
    requirements = fields.List(fields.Nested(RequirementSchema))
    declared_use = declared_use_field()
    declared_use_changed_at = UtcDateTime(allow_none=True)
    pause_reason = fields.String(allow_none=True)
    expected_resume_at = UtcDateTime(allow_none=True)
    created_by_id = fields.UUID()
    created_at = UtcDateTime()
    activated_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    underpriced_at = UtcDateTime(
        allow_none=True,
        metadata={"description": "Set while trainers' measured pay needed wage-floor "
                  "top-ups and the rate misses the floor at the median task time."},
    )
    suggested_task_rate = fields.Integer(
        allow_none=True,
        metadata={"description": "While under-priced: the per-task rate (minor units) "
                  "that meets the floor at the measured median task time; a rate at "
                  "least this clears the mark."},
    )
    measured_median_task_seconds = fields.Integer(allow_none=True)
