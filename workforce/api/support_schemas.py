"""Bodies of the flag, support-case, check-in and wellbeing-figure endpoints.

Staff schemas of flags have no field for who flagged; figure schemas have none for any
trainer. What a schema does not declare is never serialised."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import MoneySchema, PageArgs, Text, UtcDateTime
from workforce.api.wellbeing_schemas import SupportLinkSchema
from workforce.projects.models import AssignmentState, ContentCategory, Sensitivity
from workforce.wellbeing.exposure import effective_categories, effective_sensitivity
from workforce.wellbeing.figures import MAX_WEEKS
from workforce.wellbeing.support_models import (
    UNTRIAGED,
    CaseOrigin,
    CaseState,
    FlagSeverity,
    FlagState,
    RaiseScope,
)

NOTE_MAX = 5000


def _note(**kwargs: object) -> Text:
    return Text(validate=validate.Length(max=NOTE_MAX), **kwargs)


def _required_text(**kwargs: object) -> Text:
    return Text(required=True, validate=validate.Length(min=1, max=NOTE_MAX), **kwargs)


class SupportSchema(Schema):
    text = fields.String()
    links = fields.List(fields.Nested(SupportLinkSchema))
    line = fields.String(metadata={"description": "A 24/7 support line (may be empty)."})


# --- flags (trainers) ----------------------------------------------------------------


class FlagCreateSchema(Schema):
    category = fields.Enum(ContentCategory, by_value=True, required=True)
    severity = fields.Enum(FlagSeverity, by_value=True, required=True, metadata={
        "description": "`high` hides the task from every other trainer until triage."})
    note = _note(load_default="", metadata={
        "description": "What you saw; the triage queue shows it, never your name."})
    need_support = fields.Boolean(load_default=False, metadata={
        "description": "Open a support case for the organisation's wellbeing contact."})
    return_task = fields.Boolean(load_default=False, metadata={
        "description": "Give the task back (only a lease that still runs)."})
    support_message = _note(load_default="", metadata={
        "description": "Words for the wellbeing contact (with `need_support` only)."})


class MyFlagSchema(Schema):
    id = fields.UUID()
    assignment_id = fields.UUID()
    task_id = fields.UUID()
    task_external_id = fields.String(attribute="task.external_id")
    project_id = fields.UUID()
    project_name = fields.String(attribute="project.name")
    category = fields.Enum(ContentCategory, by_value=True)
    severity = fields.Enum(FlagSeverity, by_value=True)
    note = fields.String()
    need_support = fields.Boolean()
    returned = fields.Boolean()
    state = fields.Enum(FlagState, by_value=True)
    paid_seconds = fields.Integer(allow_none=True, metadata={
        "description": "Time paid as flagged work: the time held, up to twice the "
        "estimated task time (null: nothing extra was owed)."})
    resolution = fields.String(allow_none=True, metadata={
        "description": "The confirmation note or the reason for dismissal."})
    created_at = UtcDateTime()
    triaged_at = UtcDateTime(allow_none=True)


class FlagReceiptSchema(Schema):
    flag = fields.Nested(MyFlagSchema)
    assignment_state = fields.Enum(AssignmentState, by_value=True,
                                   attribute="assignment.state")
    support = fields.Nested(SupportSchema, metadata={
        "description": "The organisation's support resources."})
    support_case_id = fields.Method("_case_id", allow_none=True,
                                    metadata={"type": "string", "format": "uuid"})
    paid = fields.Nested(MoneySchema, allow_none=True, metadata={
        "description": "What the time was paid as flagged work, once per assignment."})

    def _case_id(self, receipt: object) -> str | None:
        case = getattr(receipt, "support_case", None)
        return str(case.id) if case is not None else None


# --- triage (staff) ------------------------------------------------------------------


class FlagListArgs(PageArgs):
    project_id = fields.UUID()
    severity = fields.Enum(FlagSeverity, by_value=True)
    state = fields.Enum(FlagState, by_value=True, metadata={
        "description": f"Default: waiting for triage ({', '.join(s.value for s in UNTRIAGED)})."})


class StaffFlagSchema(Schema):
    id = fields.UUID()
    task_id = fields.UUID()
    task_external_id = fields.String(attribute="task.external_id")
    project_id = fields.UUID()
    project_name = fields.String(attribute="project.name")
    category = fields.Enum(ContentCategory, by_value=True)
    severity = fields.Enum(FlagSeverity, by_value=True)
    note = fields.String()
    returned = fields.Boolean()
    state = fields.Enum(FlagState, by_value=True)
    hides_task = fields.Method("_hides", metadata={
        "type": "boolean", "description": "High severity and not yet triaged."})
    task_sensitivity = fields.Method("_sensitivity", metadata={
        "type": "string", "description": "The task's content warning now."})
    task_content_categories = fields.Method("_categories", metadata={
        "type": "array", "items": {"type": "string"}})
    created_at = UtcDateTime()
    triaged_at = UtcDateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    raised_scope = fields.Enum(RaiseScope, by_value=True, allow_none=True)
    escalated_at = UtcDateTime(allow_none=True)
    escalation_note = fields.String(allow_none=True)

    def _hides(self, flag: object) -> bool:
        return flag.severity is FlagSeverity.HIGH and flag.state in UNTRIAGED

    def _sensitivity(self, flag: object) -> str:
        return effective_sensitivity(flag.task, flag.project).value

    def _categories(self, flag: object) -> list[str]:
        return effective_categories(flag.task, flag.project)


class ConfirmSchema(Schema):
    scope = fields.Enum(RaiseScope, by_value=True, load_default=RaiseScope.NONE, metadata={
        "description": "Relabel nothing (`none`), the one task, or the whole project."})
    sensitivity = fields.Enum(Sensitivity, by_value=True, metadata={
        "description": "Default: at least `sensitive`. Only ever raised."})
    content_categories = fields.List(
        fields.Enum(ContentCategory, by_value=True), validate=validate.Length(min=1),
        metadata={"description": "Added to the current ones (default: the flag's)."})
    note = _note(load_default="", metadata={"description": "The trainer sees it."})


class DismissSchema(Schema):
    reason = _required_text(metadata={"description": "The trainer sees it."})


class EscalateSchema(Schema):
    note = _required_text(metadata={"description": "For the wellbeing contact."})


# --- support cases -------------------------------------------------------------------


class TrainerNoteSchema(Schema):
    id = fields.UUID()
    body = fields.String()
    by_trainer = fields.Boolean(metadata={"description": "Written by you."})
    created_at = UtcDateTime()


class MyCaseSchema(Schema):
    id = fields.UUID()
    organisation_id = fields.UUID()
    origin = fields.Enum(CaseOrigin, by_value=True)
    state = fields.Enum(CaseState, by_value=True)
    message = fields.String(allow_none=True)
    flag_id = fields.UUID(allow_none=True)
    check_in_id = fields.UUID(allow_none=True)
    created_at = UtcDateTime()
    acknowledged_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    notes = fields.List(fields.Nested(TrainerNoteSchema), metadata={
        "description": "Your notes, and the handlers' notes shared with you."})


class CaseTrainerSchema(Schema):
    id = fields.UUID()
    display_name = fields.String()
    email = fields.String()


class StaffNoteSchema(Schema):
    id = fields.UUID()
    author_id = fields.UUID()
    body = fields.String()
    by_trainer = fields.Boolean()
    shared_with_trainer = fields.Boolean()
    created_at = UtcDateTime()


class StaffCaseSchema(Schema):
    id = fields.UUID()
    origin = fields.Enum(CaseOrigin, by_value=True)
    state = fields.Enum(CaseState, by_value=True)
    requested = fields.Boolean(metadata={"description": "The trainer asked for support."})
    reason = fields.String()
    message = fields.String(allow_none=True, metadata={
        "description": "The trainer's words: only when they asked for support or chose "
        "to share them."})
    trainer = fields.Nested(CaseTrainerSchema)
    flag_id = fields.UUID(allow_none=True)
    check_in_id = fields.UUID(allow_none=True)
    contact_id = fields.UUID(allow_none=True)
    created_at = UtcDateTime()
    acknowledged_at = UtcDateTime(allow_none=True)
    acknowledged_by_id = fields.UUID(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    closed_by_id = fields.UUID(allow_none=True)
    notes = fields.List(fields.Nested(StaffNoteSchema))


class CaseListArgs(PageArgs):
    state = fields.Enum(CaseState, by_value=True)
    trainer_id = fields.UUID()


class CaseActionSchema(Schema):
    note = _note(metadata={"description": "Optional note on the case."})
    share_with_trainer = fields.Boolean(load_default=False, metadata={
        "description": "The trainer sees the note (default: internal)."})


class StaffNoteCreateSchema(Schema):
    body = _required_text()
    share_with_trainer = fields.Boolean(load_default=False)


class TrainerNoteCreateSchema(Schema):
    body = _required_text(metadata={"description": "The handlers read it."})


# --- check-ins -----------------------------------------------------------------------


class WorkedForSchema(Schema):
    organisation_id = fields.UUID()
    organisation_name = fields.String()
    last_sensitive_work_at = UtcDateTime(attribute="last_at")


class CheckInStatusSchema(Schema):
    check_in_due = fields.Boolean()
    exposure_minutes = fields.Method("_minutes", metadata={
        "type": "integer", "description": "Sensitive work since the last check-in "
        "(within the last 7 days)."})
    threshold_minutes = fields.Integer(allow_none=True, metadata={
        "description": "The default organisation's check-in threshold."})
    last_check_in_at = UtcDateTime(allow_none=True)
    organisation = fields.Nested(WorkedForSchema, allow_none=True, metadata={
        "description": "Where a check-in goes by default: the latest sensitive work."})
    organisations = fields.List(fields.Nested(WorkedForSchema))

    def _minutes(self, found: object) -> int:
        return found.exposure_seconds // 60


class CheckInCreateSchema(Schema):
    mood = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5),
                          metadata={"description": "1 (very low) to 5 (very good)."})
    note = _note(load_default="", metadata={
        "description": "Private unless you ask for support or share it."})
    share_note = fields.Boolean(load_default=False, metadata={
        "description": "Let the note be read, without your name, in the project's "
        "aggregated figures and by the wellbeing contact."})
    need_support = fields.Boolean(load_default=False)
    organisation_id = fields.UUID(metadata={
        "description": "An organisation you did sensitive work for (default: the latest)."})


class CheckInSchema(Schema):
    id = fields.UUID()
    organisation_id = fields.UUID()
    mood = fields.Integer()
    note = fields.String()
    share_note = fields.Boolean()
    need_support = fields.Boolean()
    exposure_minutes = fields.Method("_minutes", metadata={"type": "integer"})
    created_at = UtcDateTime()

    def _minutes(self, found: object) -> int:
        return found.exposure_seconds // 60


class CheckInReceiptSchema(Schema):
    check_in = fields.Nested(CheckInSchema)
    support = fields.Nested(SupportSchema)
    support_case_id = fields.Method("_case_id", allow_none=True,
                                    metadata={"type": "string", "format": "uuid"})

    def _case_id(self, receipt: object) -> str | None:
        case = getattr(receipt, "support_case", None)
        return str(case.id) if case is not None else None


# --- aggregated figures --------------------------------------------------------------


class WellbeingArgs(Schema):
    weeks = fields.Integer(strict=False, load_default=4,
                           validate=validate.Range(min=1, max=MAX_WEEKS), metadata={
                               "description": "Complete weeks back (Monday, UTC)."})


class _Suppressible(Schema):
    suppressed = fields.Boolean()
    suppressed_reason = fields.String(allow_none=True)


class ExposureFigureSchema(_Suppressible):
    trainers = fields.Integer(attribute="trainer_count", allow_none=True)
    hours = fields.Decimal(as_string=True, allow_none=True)


class CategoryFigureSchema(_Suppressible):
    category = fields.Enum(ContentCategory, by_value=True)
    flags = fields.Integer(allow_none=True)


class MoodFigureSchema(_Suppressible):
    check_ins = fields.Integer(allow_none=True)
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True,
                               metadata={"example": {"1": 0, "2": 1, "3": 4, "4": 6, "5": 2}})
    mean_mood = fields.Decimal(as_string=True, allow_none=True)
    shared_notes = fields.List(fields.String(), metadata={
        "description": "Notes trainers chose to share, without names or times."})


class WeekFiguresSchema(Schema):
    start = UtcDateTime()
    end = UtcDateTime()
    exposure = fields.Nested(ExposureFigureSchema)
    flags_by_category = fields.List(fields.Nested(CategoryFigureSchema))
    check_ins = fields.Nested(MoodFigureSchema)


class ProjectWellbeingSchema(Schema):
    project_id = fields.UUID(attribute="project.id")
    min_group_size = fields.Integer()
    weeks = fields.List(fields.Nested(WeekFiguresSchema))
