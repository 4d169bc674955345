"""Bodies and answers of quality-control rules and the restrictions they set."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import PageArgs, Text, UtcDateTime
from workforce.results.models import RestrictionState, RuleKind
from workforce.results.restrictions import Decision

WRITING = validate.Length(min=1, max=5000)


def _settings(*, partial: bool) -> dict[str, fields.Field]:
    """The settings a rule takes, each with its range; null leaves one out."""
    def number(low: int, high: int, description: str) -> fields.Integer:
        return fields.Integer(allow_none=True, strict=True,
                              validate=validate.Range(min=low, max=high),
                              metadata={"description": description})

    return {
        "sample_size": fields.Integer(
            required=not partial, strict=True, validate=validate.Range(min=1, max=1000),
            metadata={"description": "How many of the trainer's most recent samples are "
                      "looked at (N, or M for fast submissions); the rule never acts on "
                      "fewer."}),
        "min_percent": number(1, 100, "gold_accuracy and agreement: the trainer is caught "
                              "below this share, in percent (X, Y)."),
        "max_fast": number(0, 999, "fast_submissions: caught with more than this many fast "
                           "ones (K), below sample_size."),
        "min_seconds": number(1, 86400, "fast_submissions: a submission with fewer active "
                              "seconds is fast (S)."),
        "duration_hours": number(1, 8760, "How long a restriction lasts; null: until a "
                                 "manager decides."),
        "enabled": fields.Boolean(metadata={"description": "A disabled rule catches no one; "
                                            "restrictions it set run their course."}),
    }


QualityRuleCreateSchema = Schema.from_dict({
    "kind": fields.Enum(RuleKind, by_value=True, required=True, metadata={
        "description": "gold_accuracy: right gold answers over the last N gold tasks; "
        "fast_submissions: more than K of the last M submissions under S active seconds; "
        "agreement: answers equal to the aggregate over the last N approved tasks."}),
    **_settings(partial=False),
}, name="QualityRuleCreateSchema")

QualityRuleUpdateSchema = Schema.from_dict(_settings(partial=True),
                                           name="QualityRuleUpdateSchema")


class QualityRuleSchema(Schema):
    id = fields.UUID()
    project_id = fields.UUID()
    kind = fields.Enum(RuleKind, by_value=True)
    sample_size = fields.Integer()
    min_percent = fields.Integer(allow_none=True)
    max_fast = fields.Integer(allow_none=True)
    min_seconds = fields.Integer(allow_none=True)
    duration_hours = fields.Integer(allow_none=True)
    enabled = fields.Boolean()
    created_by_id = fields.UUID()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class QualityRulesSchema(Schema):
    items = fields.List(fields.Nested(QualityRuleSchema))


class RuleAsCaughtSchema(Schema):
    id = fields.UUID()
    kind = fields.String(validate=validate.OneOf([kind.value for kind in RuleKind]))
    sample_size = fields.Integer()
    min_percent = fields.Integer(allow_none=True)
    max_fast = fields.Integer(allow_none=True)
    min_seconds = fields.Integer(allow_none=True)
    duration_hours = fields.Integer(allow_none=True)


class RestrictionFiguresSchema(Schema):
    rule = fields.Nested(RuleAsCaughtSchema, metadata={
        "description": "The rule as it was when it caught the trainer."})
    samples = fields.Integer(metadata={"description": "Samples looked at (the rule's "
                                       "sample_size)."})
    hits = fields.Integer(metadata={"description": "Right gold answers, fast submissions, or "
                                    "fields equal to the aggregate."})
    compared = fields.Integer(metadata={"description": "What hits are out of: the samples, "
                                        "or for agreement the fields compared."})
    summary = fields.String(metadata={"example": "gold accuracy 4/10 = 40% over your last "
                                      "10 gold tasks, below the rule's 60%"})


class QualityRestrictionSchema(Schema):
    """A restriction a quality rule set, with the figures that caught the trainer."""

    id = fields.UUID()
    rule_id = fields.UUID()
    project_id = fields.UUID()
    trainer_id = fields.UUID()
    state = fields.Enum(RestrictionState, by_value=True)
    in_force = fields.Boolean(attribute="in_force_now", metadata={
        "description": "Whether it stops new claims now (decided when read)."})
    figures = fields.Nested(RestrictionFiguresSchema)
    starts_at = UtcDateTime()
    ends_at = UtcDateTime(allow_none=True, metadata={
        "description": "When it ends by itself; null: when a manager decides."})
    closed_at = UtcDateTime(allow_none=True, metadata={
        "description": "When it was lifted, or replaced after it ran out."})
    appeal = fields.String(allow_none=True)
    appealed_at = UtcDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    decided_by_id = fields.UUID(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)


class QualityRestrictionListArgs(PageArgs):
    trainer_id = fields.UUID()
    in_force = fields.Boolean()


class QualityRestrictionAppealSchema(Schema):
    appeal = Text(required=True, validate=WRITING, metadata={
        "description": "Why the restriction should be reviewed; the managers read it."})


class QualityRestrictionDecisionSchema(Schema):
    decision = fields.Enum(Decision, by_value=True, required=True, metadata={
        "description": "confirm: it stands; shorten: it ends at `ends_at`; lift: it ends "
        "now."})
    reason = Text(required=True, validate=WRITING,
                  metadata={"description": "Shown to the trainer."})
    ends_at = UtcDateTime(metadata={
        "description": "shorten only: the new end, still to come and before the current "
        "one."})
