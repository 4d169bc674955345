"""Bodies of the trainer's wellbeing endpoints: content consent, exposure, claims
across projects. Also the rotation hint carried by assignments."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workforce.api.schemas import UtcDateTime
from workforce.i18n import _, lazy_gettext
from workforce.projects.models import ContentCategory, Sensitivity


class RotationProjectSchema(Schema):
    id = fields.UUID()
    name = fields.String()


class RotationSchema(Schema):
    continuous_seconds = fields.Integer(metadata={
        "description": "Exposure in a row so far, to now (pauses shorter than the "
        "break count)."})
    rotation_after_minutes = fields.Integer()
    projects = fields.List(fields.Nested(RotationProjectSchema), metadata={
        "description": "Active non-sensitive projects the trainer is staffed on."})


class ConsentItemSchema(Schema):
    category = fields.Enum(ContentCategory, by_value=True)
    given_at = UtcDateTime()


class ConsentSchema(Schema):
    age_attested_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the trainer attested being 18 or over (null: not yet)."})
    categories = fields.List(fields.String(), metadata={
        "description": "The categories consented to now."})
    consents = fields.List(fields.Nested(ConsentItemSchema))


class ConsentBodySchema(Schema):
    confirm_age_18_or_over = fields.Boolean(
        validate=validate.Equal(True, error=lazy_gettext("Send true to attest, or leave it out.")),
        metadata={"description": "true: attest being 18 or over (recorded once, with its "
                  "time; required before any category can be consented to)."})
    categories = fields.List(
        fields.Enum(ContentCategory, by_value=True), required=True,
        metadata={"description": "Every category the trainer consents to from now on: "
                  "ones not listed that were consented to are withdrawn (see DELETE)."})

    @validates_schema
    def _no_repeats(self, data: dict, **kwargs: object) -> None:
        categories = data.get("categories") or []
        if len(set(categories)) < len(categories):
            raise ValidationError(_("A category is listed twice."), "categories")


class WithdrawalSchema(Schema):
    category = fields.Enum(ContentCategory, by_value=True)
    left_projects = fields.List(fields.Nested(RotationProjectSchema), metadata={
        "description": "Projects left (memberships ended, leases released, a running "
        "session closed and paid to now)."})
    applications_withdrawn = fields.List(fields.UUID())
    invitations_declined = fields.List(fields.UUID())
    leases_released = fields.List(fields.UUID(), metadata={
        "description": "Assignments on single tasks carrying the category, given back."})


class BoundsSchema(Schema):
    start = UtcDateTime()
    end = UtcDateTime()


class LimitSchema(Schema):
    limit = fields.String(metadata={
        "description": "graphic_daily, weekly_exposure, break or graphic_cutoff."})
    resets_at = UtcDateTime()
    detail = fields.String()


class LevelStandingSchema(Schema):
    level = fields.Enum(Sensitivity, by_value=True)
    time_left_seconds = fields.Integer(metadata={
        "description": "How long work of this level started now may go on before a "
        "limit stops it (0 when one does now)."})
    blocked = fields.Nested(LimitSchema, allow_none=True)


class PolicyLimitsSchema(Schema):
    graphic_daily_minutes = fields.Integer()
    weekly_exposure_minutes = fields.Integer()
    break_after_minutes = fields.Integer()
    break_minutes = fields.Integer()
    graphic_cutoff_hour = fields.Integer(allow_none=True)
    rotation_after_minutes = fields.Integer()


class OrganisationStandingSchema(Schema):
    organisation_id = fields.UUID(attribute="organisation.id")
    organisation_name = fields.String(attribute="organisation.name")
    limits = fields.Nested(PolicyLimitsSchema, attribute="policy")
    continuous_seconds = fields.Integer()
    break_due_until = UtcDateTime(allow_none=True)
    rotation_due = fields.Boolean()
    levels = fields.List(fields.Nested(LevelStandingSchema))


class ExposureSchema(Schema):
    now = UtcDateTime(attribute="exposure.now")
    day = fields.Nested(BoundsSchema, metadata={
        "description": "The trainer's local day (their time zone)."})
    week = fields.Nested(BoundsSchema, metadata={
        "description": "The trainer's local week, from Monday."})
    graphic_today_seconds = fields.Integer(attribute="exposure.graphic_today")
    exposure_today_seconds = fields.Integer(attribute="exposure.exposure_today")
    exposure_week_seconds = fields.Integer(attribute="exposure.exposure_week")
    run_started_at = UtcDateTime(attribute="exposure.run_started_at", allow_none=True)
    run_ended_at = UtcDateTime(attribute="exposure.run_ended_at", allow_none=True)
    exposed_now = fields.Boolean(attribute="exposure.ongoing")
    continuous_seconds = fields.Integer(metadata={
        "description": "The current run of exposure, from its start to now: a pause "
        "shorter than the break is part of it (work started now joins the run); 0 once "
        "a full break was taken. A break is due when it reaches `break_after_minutes`."})
    break_due_until = UtcDateTime(allow_none=True, metadata={
        "description": "A break is due: no sensitive work until then."})
    organisations = fields.List(fields.Nested(OrganisationStandingSchema), metadata={
        "description": "Per organisation the trainer is staffed with: its limits, the "
        "time left per level and what blocks work now."})
