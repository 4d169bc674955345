"""Bodies of the task endpoints: imports, claims and leases, submissions, reviews, appeals.

Trainer-facing schemas have no field for a task's gold answer, nor for whether a task
was gold; review schemas have no field for who wrote the answer. What a schema does
not declare is never serialised, so leaving the field out is the guarantee.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.aggregation_schemas import ProjectQualitySchema, QualityDefinitionsSchema
from workforce.api.schemas import MoneySchema, PageArgs, Text, UtcDateTime
from workforce.api.staffing_schemas import ContentWarningSchema
from workforce.api.templates_schemas import AssignmentTemplateSchema, RenderedFieldSchema
from workforce.api.trainer_wellbeing_schemas import RotationSchema
from workforce.projects.imports import ImportFormat
from workforce.projects.models import AppealState, AssignmentState, RejectionCategory
from workforce.projects.reviews import (
    BULK_MAX,
    MESSAGE_MAX,
    AppealDecision,
    BulkDecision,
    BulkOutcome,
    ReviewDecision,
)

ACTIVE_SECONDS_MAX = 10_000_000


class TaskResponseSchema(Schema):
    id = fields.String()
    text = fields.String()


class TaskPayloadSchema(Schema):
    prompt = fields.String()
    media_urls = fields.List(fields.String())
    instructions = fields.String(metadata={"description": "Per-task instructions."})
    responses = fields.List(fields.Nested(TaskResponseSchema), metadata={
        "description": "The responses a pairwise field compares (A: the first, B: the "
        "second); only on tasks imported with them."})


# --- imports -------------------------------------------------------------------------


class ImportArgs(Schema):
    skip_invalid = fields.Boolean(
        load_default=False,
        metadata={"description": "Import the valid rows of a file with invalid rows "
                  "(default: a file with any invalid row imports nothing)."},
    )


class RowErrorSchema(Schema):
    line = fields.Integer(metadata={"description": "1 for the file's first line (a CSV "
                                    "file's header)."})
    external_id = fields.String(allow_none=True)
    messages = fields.List(fields.String())


class DuplicateSchema(Schema):
    line = fields.Integer()
    external_id = fields.String()


class ImportReportSchema(Schema):
    import_id = fields.UUID()
    format = fields.Enum(ImportFormat, by_value=True)
    skip_invalid = fields.Boolean()
    rows = fields.Integer(metadata={"description": "Rows read (blank lines not counted)."})
    created = fields.Integer()
    duplicates = fields.Integer(metadata={
        "description": "Rows whose external id the project had already, or that came "
        "earlier in the file: they create and change nothing."})
    invalid = fields.Integer(metadata={"description": "Rows skipped as invalid."})
    row_errors = fields.List(fields.Nested(RowErrorSchema), metadata={
        "description": "The first 100 invalid rows (named as in the 422 `import-invalid` "
        "that refuses a file with invalid rows)."})
    errors_not_shown = fields.Integer()
    duplicate_rows = fields.List(fields.Nested(DuplicateSchema), metadata={
        "description": "The first 100 duplicates."})
    duplicates_not_shown = fields.Integer()


class TaskImportSchema(Schema):
    id = fields.UUID()
    project_id = fields.UUID()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()
    format = fields.String()
    rows = fields.Integer()
    created = fields.Integer()
    duplicates = fields.Integer()
    invalid = fields.Integer()


# --- tasks, as staff see them --------------------------------------------------------


class TaskListArgs(PageArgs):
    external_id = fields.String(validate=validate.Length(min=1, max=200))
    open = fields.Boolean(metadata={"description": "Only tasks that still need answers."})


class StaffTaskSchema(Schema):
    id = fields.UUID(attribute="task.id")
    external_id = fields.String(attribute="task.external_id")
    payload = fields.Nested(TaskPayloadSchema, attribute="task.payload")
    redundancy = fields.Integer(attribute="task.redundancy")
    priority = fields.Integer(attribute="task.priority")
    open_slots = fields.Integer(attribute="task.open_slots", metadata={
        "description": "How many more trainers may claim it now."})
    gold_answer = fields.Raw(attribute="task.gold_answer", allow_none=True, metadata={
        "description": "Never shown to trainers."})
    import_id = fields.UUID(attribute="task.import_id", allow_none=True)
    created_at = UtcDateTime(attribute="task.created_at")
    answers = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Assignments by state.", "example": {"leased": 1, "approved": 2}})


# --- a trainer's assignments ---------------------------------------------------------


class TaskGuidelinesSchema(Schema):
    number = fields.Integer()
    body = fields.String()
    changed_at = UtcDateTime(attribute="created_at")


class AppealBriefSchema(Schema):
    id = fields.UUID()
    state = fields.Enum(AppealState, by_value=True)
    message = fields.String()
    decision_note = fields.String(allow_none=True)
    created_at = UtcDateTime()
    decided_at = UtcDateTime(allow_none=True)


class AssignmentSchema(Schema):
    """One of the caller's assignments: the task to do and, later, its review."""

    id = fields.UUID(attribute="assignment.id")
    project_id = fields.UUID(attribute="project.id")
    project_name = fields.String(attribute="project.name")
    task_id = fields.UUID(attribute="task.id")
    external_id = fields.String(attribute="task.external_id")
    payload = fields.Nested(TaskPayloadSchema, allow_none=True, metadata={
        "description": "The task's content; null until revealed (sensitive and graphic "
        "work: `POST /me/assignments/{id}/reveal`)."})
    state = fields.Enum(AssignmentState, by_value=True, attribute="assignment.state")
    claimed_at = UtcDateTime(attribute="assignment.claimed_at")
    revealed_at = UtcDateTime(attribute="assignment.revealed_at", allow_none=True,
                                  metadata={
        "description": "When the task's content was first shown: at the claim for work "
        "without a content warning; at the reveal for sensitive and graphic work, whose "
        "exposure counts from it (null: not revealed, nothing shown or counted yet)."})
    estimated_task_seconds = fields.Integer(
        attribute="project.estimated_task_seconds", allow_none=True, metadata={
            "description": "The project's estimate of the time a task takes (per-task "
            "projects; null for hourly ones)."})
    lease_expires_at = UtcDateTime(attribute="assignment.lease_expires_at")
    released_at = UtcDateTime(attribute="assignment.released_at", allow_none=True)
    submitted_at = UtcDateTime(attribute="assignment.submitted_at", allow_none=True)
    answer = fields.Raw(attribute="assignment.answer", allow_none=True)
    active_seconds = fields.Integer(attribute="assignment.active_seconds", allow_none=True)
    reviewed_at = UtcDateTime(attribute="assignment.reviewed_at", allow_none=True)
    auto_approved = fields.Boolean(attribute="assignment.auto_approved")
    rejection_category = fields.Enum(
        RejectionCategory, by_value=True, attribute="assignment.rejection_category",
        allow_none=True,
    )
    review_message = fields.String(attribute="assignment.review_message", allow_none=True)
    revisions = fields.Integer(attribute="assignment.revisions", metadata={
        "description": "How many times a revision was asked for."})
    answer_withdrawn_at = UtcDateTime(attribute="assignment.answer_withdrawn_at",
                                      allow_none=True, metadata={
        "description": "When you had the answer's recordings deleted: the answer stands "
        "withdrawn; what it earned stays earned."})
    pay = fields.Nested(MoneySchema, allow_none=True, metadata={
        "description": "What an approval of this task pays (per-task projects; null on "
        "hourly ones, whose time is paid, and on leases that ended unsubmitted). Fixed at "
        "the first submission as the higher of the rates in force at the claim and at "
        "that submission (when the two differ in currency, the one at submission); before "
        "it, the rate in force at the claim: the least the task will pay, since a rate "
        "cut during the lease never lowers it and a raise is paid."})
    pay_fixed = fields.Boolean(metadata={
        "description": "Whether `pay` is fixed (true once first submitted) or the minimum "
        "shown on a lease (false)."})
    appeal = fields.Nested(AppealBriefSchema, allow_none=True)
    guidelines = fields.Nested(TaskGuidelinesSchema, allow_none=True, metadata={
        "description": "The project's current guidelines (on a claim and on one "
        "assignment; not in lists)."})
    content_warning = fields.Nested(ContentWarningSchema, metadata={
        "description": "The task's own content warning, else its project's."})
    rotation = fields.Nested(RotationSchema, allow_none=True, metadata={
        "description": "On a claim of sensitive work when rotation is due: the "
        "non-sensitive projects the trainer is staffed on (null otherwise)."})
    template = fields.Nested(AssignmentTemplateSchema, allow_none=True, metadata={
        "description": "The task template version in force at the claim, which the "
        "answer must fit (null: any JSON answer)."})


class AssignmentListArgs(PageArgs):
    state = fields.Enum(AssignmentState, by_value=True)
    project_id = fields.UUID()


class SubmitSchema(Schema):
    answer = fields.Raw(required=True, metadata={
        "description": "Any JSON value but null; on a project with a task template, an "
        "object that fits the version in force at the claim (422 `answer-invalid`, "
        "`errors` keyed by JSON pointer into the answer)."})
    active_seconds = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=ACTIVE_SECONDS_MAX),
        metadata={"description": "Time spent working; capped at the time since the task "
                  "was revealed (the claim, for work without a content warning) or since "
                  "the revision was asked for."},
    )


class AppealCreateSchema(Schema):
    message = Text(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX))


class AppealSchema(Schema):
    id = fields.UUID()
    assignment_id = fields.UUID()
    project_id = fields.UUID()
    state = fields.Enum(AppealState, by_value=True)
    message = fields.String()
    created_at = UtcDateTime()


GOLD_SCORE = ("A gold task's score, 0 to 1: the mean of its fields' scores (a project "
              "without a template: 1 when the whole answer equals the gold one, else 0). "
              "Null: not gold, or only fields a person judges (text, rubric).")
GOLD_SCORES = ("Per template field of the gold answer: its score (0 to 1), or null for a "
               "field a person judges (text, rubric). Null without a template.")


class QualityItemSchema(Schema):
    organisation_id = fields.UUID()
    organisation_name = fields.String()
    gold_scored = fields.Integer()
    gold_correct = fields.Integer(metadata={"description": "Gold tasks scored 1."})
    quality_score = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "The mean gold score over the gold tasks scored, 0 to 1."})
    approved = fields.Integer()
    rejected = fields.Integer()
    approval_rate = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "Approved over approved and rejected, 0 to 1."})


class QualitySchema(Schema):
    organisations = fields.List(fields.Nested(QualityItemSchema))
    projects = fields.List(fields.Nested(ProjectQualitySchema), metadata={
        "description": "Per project worked on: gold accuracy with its Wilson interval, "
        "agreement with the aggregate, the aggregation model's skill estimate, median "
        "active seconds per task (how each is computed: definitions)."})
    definitions = fields.Nested(QualityDefinitionsSchema)


# --- reviews and appeals -------------------------------------------------------------


class ReviewItemSchema(Schema):
    """Submitted work waiting for review, without who did it."""

    assignment_id = fields.UUID(attribute="assignment.id")
    task_id = fields.UUID(attribute="task.id")
    external_id = fields.String(attribute="task.external_id")
    payload = fields.Nested(TaskPayloadSchema, attribute="task.payload")
    gold_answer = fields.Raw(attribute="task.gold_answer", allow_none=True)
    gold_correct = fields.Boolean(attribute="assignment.gold_correct", allow_none=True)
    gold_score = fields.Decimal(attribute="assignment.gold_score", as_string=True,
                                allow_none=True, metadata={"description": GOLD_SCORE})
    gold_scores = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                              attribute="assignment.gold_scores", allow_none=True,
                              metadata={"description": GOLD_SCORES})
    answer = fields.Raw(attribute="assignment.answer")
    active_seconds = fields.Integer(attribute="assignment.active_seconds", allow_none=True)
    claimed_at = UtcDateTime(attribute="assignment.claimed_at")
    submitted_at = UtcDateTime(attribute="assignment.submitted_at")
    revisions = fields.Integer(attribute="assignment.revisions")
    template_version = fields.Integer(allow_none=True, metadata={
        "description": "The task template version in force at the claim (null: none)."})
    fields = fields.List(fields.Nested(RenderedFieldSchema), allow_none=True, metadata={
        "description": "The answer field by field, in the template's order (null without "
        "a template)."})


class ReviewSchema(Schema):
    decision = fields.Enum(ReviewDecision, by_value=True, required=True)
    rejection_category = fields.Enum(RejectionCategory, by_value=True, metadata={
        "description": "Required to reject; not allowed otherwise."})
    message = Text(validate=validate.Length(max=MESSAGE_MAX), metadata={
        "description": "Required to reject or ask for a revision; the trainer reads it."})


class ReviewedSchema(Schema):
    id = fields.UUID()
    task_id = fields.UUID()
    project_id = fields.UUID()
    state = fields.Enum(AssignmentState, by_value=True)
    reviewed_at = UtcDateTime(allow_none=True)
    reviewed_by_id = fields.UUID(allow_none=True)
    auto_approved = fields.Boolean()
    rejection_category = fields.Enum(RejectionCategory, by_value=True, allow_none=True)
    review_message = fields.String(allow_none=True)
    revisions = fields.Integer()
    gold_correct = fields.Boolean(allow_none=True)
    gold_score = fields.Decimal(as_string=True, allow_none=True,
                                metadata={"description": GOLD_SCORE})
    gold_scores = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                              allow_none=True, metadata={"description": GOLD_SCORES})


class BulkReviewSchema(Schema):
    assignment_ids = fields.List(
        fields.UUID(), required=True, validate=validate.Length(min=1, max=BULK_MAX),
        metadata={"description": f"1 to {BULK_MAX} different submitted assignments of "
                  "the project.", "uniqueItems": True})
    decision = fields.Enum(BulkDecision, by_value=True, required=True)
    rejection_category = fields.Enum(RejectionCategory, by_value=True, metadata={
        "description": "Required to reject (one for every id); not allowed to approve."})
    message = Text(validate=validate.Length(max=MESSAGE_MAX), metadata={
        "description": "Required to reject; every trainer concerned reads it."})


class BulkProblemSchema(Schema):
    """Why one id was not decided: the problem a single review of it would answer."""

    type = fields.String(metadata={"example": "urn:workforce:problem:illegal-transition"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    current_state = fields.String(metadata={
        "description": "The assignment's state, when it was not submitted work."})


class BulkResultSchema(Schema):
    assignment_id = fields.UUID()
    outcome = fields.Enum(BulkOutcome, by_value=True)
    state = fields.Enum(AssignmentState, by_value=True, allow_none=True, metadata={
        "description": "The assignment's state now (null when not found)."})
    repeated = fields.Boolean(metadata={
        "description": "Already decided as asked (this request made before, or another "
        "reviewer's same decision): nothing was done or paid again."})
    problem = fields.Nested(BulkProblemSchema, allow_none=True, metadata={
        "description": "Why the id was not decided (`outcome: error`): "
        "`not-found` (no such assignment in this project), `illegal-transition` with "
        "`current_state` (not submitted, or decided otherwise); null otherwise."})


class BulkReviewedSchema(Schema):
    approved = fields.Integer()
    rejected = fields.Integer()
    errors = fields.Integer()
    results = fields.List(fields.Nested(BulkResultSchema), metadata={
        "description": "Every id, in the order sent, with its outcome."})


class AppealListArgs(PageArgs):
    state = fields.Enum(AppealState, by_value=True)


class StaffAppealSchema(Schema):
    """An appeal with the work and the rejection it contests, without who wrote it."""

    id = fields.UUID(attribute="appeal.id")
    assignment_id = fields.UUID(attribute="assignment.id")
    task_id = fields.UUID(attribute="task.id")
    external_id = fields.String(attribute="task.external_id")
    payload = fields.Nested(TaskPayloadSchema, attribute="task.payload")
    gold_answer = fields.Raw(attribute="task.gold_answer", allow_none=True)
    answer = fields.Raw(attribute="assignment.answer")
    assignment_state = fields.Enum(AssignmentState, by_value=True, attribute="assignment.state")
    rejection_category = fields.Enum(
        RejectionCategory, by_value=True, attribute="assignment.rejection_category",
        allow_none=True,
    )
    review_message = fields.String(attribute="assignment.review_message", allow_none=True)
    message = fields.String(attribute="appeal.message")
    state = fields.Enum(AppealState, by_value=True, attribute="appeal.state")
    created_at = UtcDateTime(attribute="appeal.created_at")
    decided_at = UtcDateTime(attribute="appeal.decided_at", allow_none=True)
    decision_note = fields.String(attribute="appeal.decision_note", allow_none=True)


class AppealDecidedSchema(StaffAppealSchema):
    """A decided appeal; after an overturn, whether the task ended with more answers
    than its redundancy."""

    task_over_answered = fields.Boolean(metadata={
        "description": "An overturned answer counts again and closes the slot its "
        "rejection gave back; true when another trainer had already taken that slot "
        "(holding the task or having answered it), so the task has more answers than its "
        "redundancy."})
    slot_note = fields.String(allow_none=True, metadata={
        "description": "Says so in words when `task_over_answered`; null otherwise."})


class AppealDecisionSchema(Schema):
    decision = fields.Enum(AppealDecision, by_value=True, required=True)
    note = Text(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX), metadata={
        "description": "Why; the trainer reads it."})
