"""Bodies of the staffing endpoints: the trainers' marketplace and memberships, and the
managers' members, invitations and candidates.

Trainer-facing schemas show nothing about other trainers; manager-facing ones show a
trainer's name, languages and country, not their e-mail address.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.attempts_schemas import MarketOrganisationSchema
from workforce.api.declared_use_schemas import declared_use_field
from workforce.api.projects_schemas import (
    GuidelinesRefSchema,
    RequirementSchema,
    project_state_field,
)
from workforce.api.schemas import MoneySchema, PageArgs, Text, UtcDateTime
from workforce.api.uploads_schemas import RecordingPolicySchema
from workforce.projects.models import (
    MembershipOrigin,
    MembershipState,
    PayModel,
    Sensitivity,
)
from workforce.projects.staffing import InvitationOutcome

# --- the marketplace -----------------------------------------------------------------


class MarketRateSchema(MoneySchema):
    amount = fields.Integer(metadata={"description": "Minor units per task or per hour."})
    effective_from = UtcDateTime()


class ContentWarningSchema(Schema):
    sensitivity = fields.Enum(Sensitivity, by_value=True)
    content_categories = fields.List(fields.String())


class ReviewPolicySchema(Schema):
    auto_approve_days = fields.Integer(
        metadata={"description": "Work nobody reviews is approved (and paid) after this."}
    )
    review_sample_percent = fields.Integer()


class MembershipRefSchema(Schema):
    id = fields.UUID()
    state = fields.Enum(MembershipState, by_value=True)
    reason = fields.String(allow_none=True)


class UnmetSchema(Schema):
    qualification_id = fields.UUID(
        allow_none=True, metadata={"description": "null for a content-warning requirement."}
    )
    code = fields.String(
        metadata={"description": "A qualification: missing, revoked, failed, expired, "
                  "score-below or locale. A content warning: age-attestation (attest being "
                  "18 or over) or consent (opt in to `categories`), both at "
                  "/me/content-consent. refused-use: the project declares uses the "
                  "trainer will not work on (`categories` names them; "
                  "/me/work-preferences)."}
    )
    message = fields.String()
    categories = fields.List(
        fields.String(),
        metadata={"description": "With `consent`: the categories not yet opted in to; "
                  "with `refused-use`: the uses refused."},
    )


class MarketProjectSchema(Schema):
    """A project as a trainer sees it before joining."""

    id = fields.UUID()
    name = fields.String()
    description = fields.String()
    organisation = fields.Nested(MarketOrganisationSchema)
    state = project_state_field()
    pay_model = fields.Enum(PayModel, by_value=True)
    current_rate = fields.Nested(MarketRateSchema, allow_none=True)
    upcoming_rate = fields.Nested(MarketRateSchema, allow_none=True)
    estimated_hourly_rate = fields.Nested(MoneySchema, allow_none=True)
    estimated_task_seconds = fields.Integer(allow_none=True)
    daily_cap_minutes = fields.Integer(allow_none=True)
    weekly_cap_minutes = fields.Integer(allow_none=True)
    content_warning = fields.Nested(ContentWarningSchema)
    declared_use = declared_use_field()
    declared_use_changed_at = UtcDateTime(allow_none=True)
    recording_policy = fields.Nested(RecordingPolicySchema, allow_none=True, metadata={
        "description": "Set when the project records voice: what is recorded, for what "
        "use and how many days it is kept. Recording needs your consent (PUT "
        "/projects/{id}/recording-consent)."})
    review_policy = fields.Nested(ReviewPolicySchema)
    guidelines = fields.Nested(GuidelinesRefSchema, allow_none=True)
    requirements = fields.List(fields.Nested(RequirementSchema))
    capacity = fields.Integer()
    places_left = fields.Integer()
    pause_reason = fields.String(allow_none=True)
    expected_resume_at = UtcDateTime(allow_none=True)
    membership = fields.Nested(
        MembershipRefSchema, allow_none=True,
        metadata={"description": "The caller's latest membership of the project, if any."},
    )
    eligible = fields.Boolean(
        metadata={"description": "Whether the caller may apply: false while anything in "
                  "`unmet` is missing."},
    )
    unmet = fields.List(
        fields.Nested(UnmetSchema),
        metadata={"description": "What the caller misses: a project with a content warning "
                  "is listed until they attest their age and opt in to its categories (a "
                  "former member may also see a project they are no longer eligible for)."},
    )


class ApplicationSchema(Schema):
    message = Text(load_default="", validate=validate.Length(max=2000))


# --- memberships ---------------------------------------------------------------------


class MembershipSchema(Schema):
    """One of the caller's memberships (applications, invitations, projects)."""

    id = fields.UUID()
    project_id = fields.UUID()
    project_name = fields.String(attribute="project.name")
    project_state = project_state_field("project.current_state")
    state = fields.Enum(MembershipState, by_value=True)
    origin = fields.Enum(MembershipOrigin, by_value=True)
    message = fields.String()
    reason = fields.String(
        allow_none=True, metadata={"description": "Why it was declined or removed, or left."}
    )
    joined_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class MembershipListArgs(PageArgs):
    state = fields.Enum(MembershipState, by_value=True)


class OptionalReasonSchema(Schema):
    reason = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))


class ReasonSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=3, max=2000),
                  metadata={"description": "The trainer sees it."})


class TrainerBriefSchema(Schema):
    id = fields.UUID()
    display_name = fields.String()
    languages = fields.List(fields.String())
    country = fields.String(allow_none=True)


class MemberSchema(Schema):
    """A membership row as the project's staff see it."""

    id = fields.UUID()
    project_id = fields.UUID()
    trainer = fields.Nested(TrainerBriefSchema)
    state = fields.Enum(MembershipState, by_value=True)
    origin = fields.Enum(MembershipOrigin, by_value=True)
    message = fields.String()
    reason = fields.String(allow_none=True)
    decided_by_id = fields.UUID(allow_none=True)
    joined_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


# --- invitations and candidates ------------------------------------------------------


class ProjectInvitationSchema(Schema):
    trainer_ids = fields.List(fields.UUID(), required=True,
                              validate=validate.Length(min=1, max=100))
    message = Text(load_default="", validate=validate.Length(max=2000))


class InvitationResultSchema(Schema):
    trainer_id = fields.UUID()
    outcome = fields.Enum(InvitationOutcome, by_value=True)
    membership_id = fields.UUID(allow_none=True)
    reason = fields.String(
        allow_none=True,
        metadata={"description": "Why skipped: not-a-trainer, email-unverified, membership-open or "
                                "not-eligible."},
    )
    detail = fields.String(allow_none=True)
    unmet = fields.List(fields.Nested(UnmetSchema))


class InvitationsSchema(Schema):
    invited = fields.Integer()
    skipped = fields.Integer()
    results = fields.List(fields.Nested(InvitationResultSchema))


class CandidateSchema(Schema):
    rank = fields.Integer()
    trainer = fields.Nested(TrainerBriefSchema)
    rank_score = fields.Decimal(as_string=True, metadata={"description": (
        "0.5 x qualification score / 100 + 0.3 x (approved + 1) / (approved + rejected + 2)"
        " + 0.2 x locale match; a missing score or locale counts 0.5."
    )})
    qualification_score = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "Mean score (percent) of the required qualifications."},
    )
    approval_rate = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "approved / (approved + rejected) on the organisation's "
                  "projects; null with no reviewed work."},
    )
    approved = fields.Integer()
    rejected = fields.Integer()
    locale_match = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "Share of the project's locales the trainer speaks."},
    )
