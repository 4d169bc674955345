"""Bodies of the qualification and assessment-authoring endpoints (staff views)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import Currency, LanguageTag, PageArgs, PublicUrl, Text, UtcDateTime
from workforce.assessments.models import (
    STIPEND_MIN_ANSWERS,
    AssessmentState,
    MediaKind,
    PartialCredit,
    QualificationSource,
    QualificationStatus,
    QuestionKind,
)
from workforce.i18n import lazy_gettext

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,63}$",
                       error=lazy_gettext("Lower-case letters, digits, . _ -"))


class QualificationSchema(Schema):
    id = fields.UUID(dump_only=True)
    code = fields.String(required=True, validate=CODE, metadata={"example": "yue-hk-listening"})
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=validate.Length(max=5000))
    locale = LanguageTag(allow_none=True, load_default=None, metadata={"example": "yue-HK"})
    validity_days = fields.Integer(
        allow_none=True, load_default=None, validate=validate.Range(min=1, max=3650)
    )
    created_at = UtcDateTime(dump_only=True)


class QualificationUpdateSchema(QualificationSchema):
    """Any subset of a qualification's fields (loaded with ``partial=True``)."""


class QualificationRefSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    locale = fields.String(allow_none=True)


class TrainerQualificationSchema(Schema):
    id = fields.UUID()
    qualification = fields.Nested(QualificationRefSchema)
    trainer_id = fields.UUID()
    status = fields.Enum(QualificationStatus, by_value=True)
    score_percent = fields.Decimal(as_string=True, allow_none=True)
    granted_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    source = fields.Enum(QualificationSource, by_value=True)
    attempt_id = fields.UUID(allow_none=True)
    reason = fields.String(allow_none=True)


class GrantWarningSchema(Schema):
    code = fields.String(metadata={"description": "`locale-not-spoken`: the trainer does not "
                                   "list the qualification's locale among their languages."})
    message = fields.String()


class GrantedSchema(TrainerQualificationSchema):
    """A manual grant's answer: the trainer's standing, and what the manager should know."""

    warnings = fields.List(
        fields.Nested(GrantWarningSchema),
        metadata={"description": "The grant stands; each warning says what it will not do. "
                  "A trainer who does not speak the qualification's locale is not eligible "
                  "for projects that require it."},
    )


class GrantSchema(Schema):
    trainer_id = fields.UUID(required=True)
    reason = Text(required=True, validate=validate.Length(min=3, max=2000))
    score_percent = fields.Decimal(
        places=2, allow_none=True, load_default=None, validate=validate.Range(min=0, max=100),
        # apispec writes a Decimal field's range as strings ("100.00"), which is not
        # valid OpenAPI (a number is required there); state it as numbers.
        metadata={"minimum": 0, "maximum": 100},
    )
    expires_at = UtcDateTime(allow_none=True, load_default=None)


class RevokeSchema(Schema):
    trainer_id = fields.UUID(required=True)
    reason = Text(required=True, validate=validate.Length(min=3, max=2000))


class VersionSettingsSchema(Schema):
    instructions = Text(load_default="", validate=validate.Length(max=20000))
    time_limit_seconds = fields.Integer(required=True, validate=validate.Range(min=60, max=86400))
    pass_mark_percent = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    max_attempts = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    cooldown_seconds = fields.Integer(load_default=0, validate=validate.Range(min=0, max=31536000))
    expected_duration_seconds = fields.Integer(
        required=True, validate=validate.Range(min=60, max=86400)
    )
    stipend_amount = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "Minor units of stipend_currency, paid per attempt that "
                  "answers at least stipend_min_answers questions."},
    )
    stipend_currency = Currency(allow_none=True, load_default=None, metadata={"example": "USD"})
    stipend_min_answers = fields.Integer(
        strict=True, load_default=STIPEND_MIN_ANSWERS, validate=validate.Range(min=1, max=500),
        metadata={"description": "Questions an attempt must answer to earn the stipend "
                  "(a blank answer does not count; at least 1, at most "
                  "questions_per_attempt). A new version's setting, like the others."},
    )
    show_feedback = fields.Boolean(load_default=False)
    questions_per_attempt = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    double_grading = fields.Boolean(load_default=False)
    grading_margin_percent = fields.Integer(
        load_default=10, validate=validate.Range(min=0, max=100)
    )


class AssessmentCreateSchema(VersionSettingsSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    qualification_id = fields.UUID(required=True)


class AssessmentUpdateSchema(AssessmentCreateSchema):
    """Any subset of an assessment's fields (loaded with ``partial=True``)."""


class VersionSchema(VersionSettingsSchema):
    number = fields.Integer()
    published_at = UtcDateTime(allow_none=True)
    question_count = fields.Function(lambda version: len(version.questions))


class AssessmentSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    qualification_id = fields.UUID()
    state = fields.Enum(AssessmentState, by_value=True)
    created_at = UtcDateTime()
    latest_version = fields.Function(
        lambda a: VersionSchema().dump(a.versions[-1]), metadata={"type": "object"}
    )


class AssessmentListArgs(PageArgs):
    state = fields.Enum(AssessmentState, by_value=True)


class OptionSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    text = Text(required=True, validate=validate.Length(min=1, max=2000))


class AnswerKeySchema(Schema):
    correct = fields.List(fields.String(validate=validate.Length(min=1, max=32)))
    accepted = fields.List(Text(validate=validate.Length(min=1, max=500)),
                           validate=validate.Length(max=50))
    numeric = fields.Boolean()
    tolerance = fields.String(validate=validate.Length(max=32))


class LevelSchema(Schema):
    points = fields.Integer(required=True, validate=validate.Range(min=0))
    descriptor = Text(required=True, validate=validate.Length(min=1, max=2000))


class CriterionSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    max_points = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    levels = fields.List(fields.Nested(LevelSchema), required=True,
                         validate=validate.Length(min=1, max=20))


class QuestionSchema(Schema):
    """A question as its authors see it, answer key included (never served to trainers)."""

    id = fields.UUID(dump_only=True)
    position = fields.Integer(validate=validate.Range(min=1, max=10000))
    kind = fields.Enum(QuestionKind, by_value=True, required=True)
    prompt = Text(required=True, validate=validate.Length(min=1, max=20000))
    media_url = PublicUrl(allow_none=True, load_default=None)
    media_kind = fields.Enum(MediaKind, by_value=True, allow_none=True, load_default=None)
    options = fields.List(fields.Nested(OptionSchema), load_default=list,
                          validate=validate.Length(max=50))
    answer_key = fields.Nested(AnswerKeySchema, load_default=dict)
    partial_credit = fields.Enum(PartialCredit, by_value=True,
                                 load_default=PartialCredit.ALL_OR_NOTHING)
    points = fields.Integer(load_default=1, validate=validate.Range(min=0, max=1000))
    rubric = fields.List(fields.Nested(CriterionSchema), load_default=list,
                         validate=validate.Length(max=50))
    feedback = Text(load_default="", validate=validate.Length(max=20000),
                    metadata={"description": "Shown to trainers after grading, if allowed."})
    max_points = fields.Integer(dump_only=True)


class QuestionUpdateSchema(QuestionSchema):
    """Any subset of a question's fields (loaded with ``partial=True``)."""


class VersionArgs(PageArgs):
    version = fields.Integer(validate=validate.Range(min=1))
