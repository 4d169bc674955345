"""Bodies of the managers' project report and of the trainers' project views.

Trainer-facing schemas carry only the caller's own kill fees and membership; nothing
here names another trainer.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from workforce.api.projects_schemas import project_state_field
from workforce.api.schemas import MoneySchema, PageArgs, UtcDateTime
from workforce.api.staffing_schemas import MarketRateSchema
from workforce.projects import project_states
from workforce.projects.models import MembershipState, PayModel

# --- managers ------------------------------------------------------------------------


class DayFiguresSchema(Schema):
    day = fields.Date()
    submitted = fields.Integer()
    approved = fields.Integer()


class ProjectReportSchema(Schema):
    project_id = fields.UUID(attribute="project.id")
    name = fields.String(attribute="project.name")
    state = project_state_field("project.current_state")
    currency = fields.String(attribute="project.currency")
    as_of = UtcDateTime()
    days = fields.List(
        fields.Nested(DayFiguresSchema),
        metadata={"description": "Submissions and approvals per UTC day, the last 7 days "
                  "(today included), oldest first."},
    )
    submitted_last_7_days = fields.Integer()
    approved_last_7_days = fields.Integer()
    pending_review = fields.Integer(metadata={"description": "Submitted, not yet reviewed."})
    approved_total = fields.Integer()
    rejected_total = fields.Integer()
    approval_rate = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "approved / (approved + rejected), 4 decimals; null "
                  "before any review.", "example": "0.8750"},
    )
    active_trainers = fields.Integer()
    open_tasks = fields.Integer(metadata={"description": "Tasks with a slot open to claim."})
    open_slots = fields.Integer(metadata={"description": "Claims still to be made."})
    over_answered_tasks = fields.Integer(metadata={
        "description": "Tasks held or answered by more trainers than their redundancy: "
        "a rejection was overturned after another trainer had taken the slot it gave back."})
    week_start = UtcDateTime(metadata={"description": "Monday 00:00 UTC of this week."})
    logged_seconds_this_week = fields.Integer(
        metadata={"description": "Closed time entries started this week."})
    logged_seconds_total = fields.Integer()
    cost_to_date = fields.List(
        fields.Nested(MoneySchema),
        metadata={"description": "Earnings recorded on the project (approvals, timesheets, "
                  "kill fees), per currency."},
    )
    extra_slots_cost = fields.Nested(MoneySchema, allow_none=True, metadata={
        "description": "Dynamic overlap: the slots added to tasks whose aggregate stayed "
        "below the confidence target, at the current task rate (null without a rate; "
        "GET /projects/{id}/aggregation counts them)."})


# --- trainers ------------------------------------------------------------------------


class MyProjectsArgs(PageArgs):
    include_past = fields.Boolean(
        load_default=False,
        metadata={"description": "Also projects the caller left or was removed from."},
    )


class MyGuidelinesSchema(Schema):
    number = fields.Integer()
    body = fields.String()
    changed_at = UtcDateTime(attribute="created_at")


class MySuspensionSchema(Schema):
    id = fields.UUID()
    reason = fields.String()
    status = fields.Function(
        project_states.suspension_status,
        metadata={"type": "string", "enum": ["pending", "applied"]},
    )
    announced_at = UtcDateTime()
    effective_at = UtcDateTime()


class MyKillFeeSchema(MoneySchema):
    id = fields.UUID()
    project_id = fields.UUID()
    project_name = fields.String(attribute="suspension.project.name")
    suspension_id = fields.UUID()
    reason = fields.String(attribute="suspension.reason")
    announced_at = UtcDateTime(attribute="suspension.announced_at")
    effective_at = UtcDateTime(attribute="suspension.effective_at")
    notice_days = fields.Integer(attribute="suspension.notice_days")
    days_missed = fields.Integer()
    average_daily_amount = fields.Integer(metadata={
        "description": "Minor units: your earnings on the project in the 14 days before the "
        "announcement, divided by 14."})
    amount = fields.Integer(metadata={"description": "Minor units: average times days missed."})
    created_at = UtcDateTime()


class MyMembershipSchema(Schema):
    state = fields.Enum(MembershipState, by_value=True)
    joined_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    reason = fields.String(allow_none=True, metadata={
        "description": "Why the membership ended, when it did."})


class MyProjectSchema(Schema):
    id = fields.UUID(attribute="project.id")
    name = fields.String(attribute="project.name")
    description = fields.String(attribute="project.description")
    state = project_state_field("project.current_state")
    pay_model = fields.Enum(PayModel, by_value=True, attribute="project.pay_model")
    rate = fields.Nested(MarketRateSchema, allow_none=True,
                         metadata={"description": "The rate in force now."})
    pause_reason = fields.String(attribute="project.pause_reason", allow_none=True)
    expected_resume_at = UtcDateTime(attribute="project.expected_resume_at",
                                         allow_none=True)
    suspension = fields.Nested(
        MySuspensionSchema, allow_none=True,
        metadata={"description": "A suspension announced and not yet in effect, or the one "
                  "in force while the project is suspended or closed."},
    )
    guidelines = fields.Nested(MyGuidelinesSchema, allow_none=True)
    membership = fields.Nested(MyMembershipSchema)
    kill_fees = fields.List(fields.Nested(MyKillFeeSchema),
                            metadata={"description": "The caller's own, newest first."})
