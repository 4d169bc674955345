"""Bodies of the trainers' assessment endpoints and of grading.

Trainer-facing schemas have no field for answer keys, rubrics or other trainers'
answers; grading schemas have no field for who the trainer is. What a schema does not
declare is never serialised, so leaving the field out is the guarantee.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.accounts.models import Role
from workforce.api.schemas import MoneySchema, Text, UtcDateTime
from workforce.assessments.attempts import FREE_TEXT_MAX, Availability, StipendStatus
from workforce.assessments.models import (
    AttemptState,
    CloseReason,
    GradingState,
    QuestionKind,
)

# --- the marketplace -----------------------------------------------------------------


class MarketOrganisationSchema(Schema):
    id = fields.UUID()
    name = fields.String()


class MarketQualificationSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    locale = fields.String(allow_none=True)


class MarketAssessmentSchema(Schema):
    """A published assessment as a trainer sees it before starting."""

    id = fields.UUID(attribute="assessment.id")
    title = fields.String(attribute="assessment.title")
    organisation = fields.Nested(MarketOrganisationSchema)
    qualification = fields.Nested(MarketQualificationSchema)
    version_number = fields.Integer(attribute="version.number")
    instructions = fields.String(attribute="version.instructions")
    time_limit_seconds = fields.Integer(attribute="version.time_limit_seconds")
    expected_duration_seconds = fields.Integer(attribute="version.expected_duration_seconds")
    questions_per_attempt = fields.Integer(attribute="version.questions_per_attempt")
    pass_mark_percent = fields.Integer(attribute="version.pass_mark_percent")
    stipend = fields.Nested(
        MoneySchema, allow_none=True,
        metadata={"description": "Paid for every attempt that is submitted or runs out of "
                  "time, pass or fail, with at least stipend_min_answers questions "
                  "answered; null when the assessment is unpaid."},
    )
    stipend_min_answers = fields.Integer(
        attribute="version.stipend_min_answers",
        metadata={"description": "Questions an attempt must answer (not blank) to earn the "
                  "stipend."},
    )
    attempts_used = fields.Integer(attribute="standing.attempts_used")
    max_attempts = fields.Integer(attribute="standing.max_attempts")
    availability = fields.Enum(
        Availability, by_value=True, attribute="standing.availability",
        metadata={"description": "`passed`: the caller passed it and holds its "
                  "qualification; it is offered again once that expires or is revoked."},
    )
    open_attempt_id = fields.UUID(attribute="standing.open_attempt_id", allow_none=True)
    next_start_at = UtcDateTime(
        attribute="standing.next_start_at", allow_none=True,
        metadata={"description": "When the next attempt may start: the end of a cooldown, "
                  "or the expiry of the qualification a passed assessment granted."},
    )


# --- attempts ------------------------------------------------------------------------


class ServedOptionSchema(Schema):
    id = fields.String()
    text = fields.String()


class ServedQuestionSchema(Schema):
    id = fields.UUID()
    kind = fields.Enum(QuestionKind, by_value=True)
    prompt = fields.String()
    media_url = fields.String(allow_none=True)
    media_kind = fields.String(allow_none=True)
    options = fields.List(fields.Nested(ServedOptionSchema))
    max_points = fields.Integer()
    answer = fields.Dict(allow_none=True, metadata={"description": "The saved answer."})
    saved_at = UtcDateTime(allow_none=True)
    points = fields.Integer(
        allow_none=True, metadata={"description": "After grading, if the assessment shows "
                                   "feedback."},
    )
    feedback = fields.String(allow_none=True)


class AttemptStipendSchema(Schema):
    """The attempt's stipend, and what it takes: shown while the attempt is open, so the
    trainer knows before submitting."""

    amount = fields.Integer(attribute="money.amount",
                            metadata={"description": "Minor units of the currency."})
    currency = fields.String(attribute="money.currency", metadata={"example": "USD"})
    min_answers = fields.Integer(
        metadata={"description": "Questions that must be answered (not blank) for it."}
    )
    answered = fields.Integer(metadata={"description": "Questions answered so far."})
    status = fields.Enum(
        StipendStatus, by_value=True,
        metadata={"description": "`pending` (not paid yet), `paid`, or `withheld` (the "
                  "attempt closed with fewer than min_answers answered)."},
    )
    message = fields.String(metadata={"description": "What the status means, in words."})


class AttemptSchema(Schema):
    id = fields.UUID()
    assessment_id = fields.UUID()
    assessment_title = fields.String()
    version_number = fields.Integer()
    number = fields.Integer(metadata={"description": "1 for the trainer's first attempt."})
    instructions = fields.String()
    state = fields.Enum(
        AttemptState, by_value=True,
        metadata={"description": "As of the request: an attempt whose deadline has passed "
                  "is closed at it (`close_reason` `time_limit`) and shows "
                  "`awaiting_grading` until its result is out."},
    )
    started_at = UtcDateTime()
    deadline_at = UtcDateTime()
    closed_at = UtcDateTime(allow_none=True)
    close_reason = fields.Enum(CloseReason, by_value=True, allow_none=True)
    max_points = fields.Integer()
    total_points = fields.Integer(allow_none=True)
    score_percent = fields.Decimal(as_string=True, allow_none=True)
    passed = fields.Boolean(allow_none=True)
    graded_at = UtcDateTime(allow_none=True)
    stipend = fields.Nested(
        AttemptStipendSchema, allow_none=True,
        metadata={"description": "null when the assessment is unpaid."},
    )
    questions = fields.List(fields.Nested(ServedQuestionSchema))


class AnswerBodySchema(Schema):
    """One of: ``option_id`` (single choice), ``option_ids`` (multiple choice), ``text``
    (short answer, up to 1,000 characters; free text, up to 20,000)."""

    option_id = fields.String(validate=validate.Length(min=1, max=64),
                              metadata={"example": "hong-kong"})
    option_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                             validate=validate.Length(max=100))
    text = Text(validate=validate.Length(max=FREE_TEXT_MAX))


class SavedAnswerSchema(Schema):
    question_id = fields.UUID()
    answer = fields.Dict(attribute="response")
    saved_at = UtcDateTime()


# --- grading -------------------------------------------------------------------------


class QueueItemSchema(Schema):
    attempt_id = fields.UUID()
    assessment_title = fields.String()
    version_number = fields.Integer()
    closed_at = UtcDateTime()
    rounds_done = fields.Integer()
    graded_by_you = fields.Boolean()


class RubricLevelSchema(Schema):
    points = fields.Integer()
    descriptor = fields.String()


class RubricCriterionSchema(Schema):
    id = fields.String()
    name = fields.String()
    max_points = fields.Integer()
    levels = fields.List(fields.Nested(RubricLevelSchema))


class CriterionScoreSchema(Schema):
    question_id = fields.UUID(required=True)
    criterion_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    points = fields.Integer(required=True, validate=validate.Range(min=0))
    justification = Text(required=True, validate=validate.Length(max=5000))


class GradedQuestionSchema(Schema):
    question_id = fields.UUID()
    prompt = fields.String()
    media_url = fields.String(allow_none=True)
    media_kind = fields.String(allow_none=True)
    max_points = fields.Integer()
    answer_text = fields.String(allow_none=True, metadata={"description": "null: no answer."})
    criteria = fields.List(fields.Nested(RubricCriterionSchema))
    scores = fields.List(fields.Nested(CriterionScoreSchema),
                         metadata={"description": "Your scores, once submitted."})


class GradingSchema(Schema):
    id = fields.UUID()
    attempt_id = fields.UUID()
    assessment_title = fields.String()
    version_number = fields.Integer()
    round = fields.Integer(metadata={"description": "1 or 2; 3 adjudicates a disagreement."})
    state = fields.Enum(GradingState, by_value=True)
    claimed_at = UtcDateTime()
    submitted_at = UtcDateTime(allow_none=True)
    total_points = fields.Integer(allow_none=True)
    questions = fields.List(fields.Nested(GradedQuestionSchema))


class GradingSubmitSchema(Schema):
    scores = fields.List(
        fields.Nested(CriterionScoreSchema), required=True, validate=validate.Length(max=2000)
    )


class GraderStatsSchema(Schema):
    grader_id = fields.UUID()
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True)
    gradings_submitted = fields.Integer()
    compared = fields.Integer(
        metadata={"description": "Round 1 and 2 gradings of completed double-graded attempts."}
    )
    agreed = fields.Integer(metadata={"description": "Of those, within the version's margin."})
    agreement_percent = fields.Decimal(as_string=True, allow_none=True)


class GradingStatsSchema(Schema):
    graders = fields.List(fields.Nested(GraderStatsSchema))
