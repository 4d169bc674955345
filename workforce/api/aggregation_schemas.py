"""Bodies of a project's aggregation: its state, its settings, and trainers' quality."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import MoneySchema, UtcDateTime
from workforce.results import methods

ALL_METHODS = sorted({m for allowed in methods.BY_KIND.values() for m in allowed})


class AggregatedFieldSchema(Schema):
    field = fields.String()
    kind = fields.String()
    method = fields.String(validate=validate.OneOf(ALL_METHODS))


class AggregationStateSchema(Schema):
    project_id = fields.UUID()
    aggregated_fields = fields.List(fields.Nested(AggregatedFieldSchema), attribute="fields",
                                    data_key="fields", metadata={
        "description": "Every aggregated field of the current template with the method in "
        "force (the chosen one, or the kind's default). Text, rubric and span fields are "
        "not aggregated."})
    confidence_target = fields.Float(allow_none=True)
    max_redundancy = fields.Integer(allow_none=True)
    requested_at = UtcDateTime(allow_none=True)
    computed_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the job last computed the project (null: never)."})
    failed_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the job's last attempt at the project failed, if no run has "
        "computed it since (null otherwise). Nothing of a failed attempt is kept; the "
        "project is tried again on the job's next run, and the operators' log holds the "
        "error."})
    pending = fields.Boolean(metadata={"description": "A request the job has not served."})
    tasks_aggregated = fields.Integer()
    aggregates = fields.Integer(metadata={"description": "Stored aggregates (task x field)."})
    below_target = fields.Integer(metadata={
        "description": "Aggregates whose confidence is below the confidence target."})
    extra_slots = fields.Integer(metadata={
        "description": "Slots dynamic overlap has added to the project's tasks."})
    extra_slots_cost = fields.Nested(MoneySchema, allow_none=True, metadata={
        "description": "extra_slots at the current task rate (null without a rate)."})
    summary = fields.Dict(allow_none=True, metadata={
        "description": "What the last run found: tasks, aggregates written, aggregates "
        "removed (a final task's no longer backed by its answers, or a field no longer "
        "aggregated as that kind), slots added, "
        "and per field its kind, method, tasks and answers (pairwise: the Bradley-Terry "
        "score of every compared response id)."})


class AggregationSettingsSchema(Schema):
    methods = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.OneOf(ALL_METHODS)),
        load_default=dict, metadata={
            "description": "Method per template field name. Choices: majority_vote, "
            "dawid_skene (default), glad, mace; rating and number: mean_ci (default), "
            "median_ci; pairwise: bradley_terry (default), noisy_bt."})
    confidence_target = fields.Float(
        load_default=None, allow_none=True,
        validate=validate.Range(min=0, max=1, min_inclusive=False), metadata={
            "description": "Dynamic overlap: a final task whose aggregate confidence on "
            "any field is below this gets one more slot, up to max_redundancy."})
    max_redundancy = fields.Integer(load_default=None, allow_none=True,
                                    validate=validate.Range(min=1, max=100))


class SkillSchema(Schema):
    field = fields.String()
    method = fields.String(allow_none=True)
    skill = fields.Float()


class ProjectQualitySchema(Schema):
    """One trainer's figures on one project (``results.quality.DEFINITIONS``)."""

    project_id = fields.UUID()
    project_name = fields.String()
    trainer_id = fields.UUID()
    gold_scored = fields.Integer()
    gold_correct = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True, metadata={
        "description": "gold_correct / gold_scored; null before any gold task."})
    gold_low = fields.Float(allow_none=True, metadata={
        "description": "Lower end of the 95% Wilson interval of gold_accuracy."})
    gold_high = fields.Float(allow_none=True, metadata={
        "description": "Upper end of the 95% Wilson interval of gold_accuracy."})
    agreement_compared = fields.Integer(metadata={
        "description": "Approved choice answers compared with their task's aggregate."})
    agreement = fields.Float(allow_none=True, metadata={
        "description": "Share of those equal to the aggregated label."})
    skills = fields.List(fields.Nested(SkillSchema), metadata={
        "description": "The aggregation model's estimate per field (see definitions)."})
    median_active_seconds = fields.Float(allow_none=True)


class QualityDefinitionsSchema(Schema):
    gold_accuracy = fields.String()
    agreement = fields.String()
    skill = fields.String()
    median_active_seconds = fields.String()
