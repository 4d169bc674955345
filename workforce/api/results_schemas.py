"""Bodies of the results endpoints (``results.exports``): a task's approved answers and
aggregates, the rows of the downloads as well."""

from __future__ import annotations

from marshmallow import Schema, fields

from workforce.api.schemas import PageArgs, UtcDateTime

SINCE = ("Only tasks whose result changed at or after this time (ISO 8601 with an "
         "offset): an answer approved or an aggregate computed. For an incremental sync, "
         "the `updated_at` of the last task of the previous sync (it comes again).")


class SinceArgs(Schema):
    updated_since = UtcDateTime(metadata={"description": SINCE})


class ResultListArgs(PageArgs, SinceArgs):
    pass


class AggregateSchema(Schema):
    kind = fields.String(metadata={"description": "The template field's kind."})
    method = fields.String(metadata={
        "description": "majority_vote, dawid_skene, glad, mace, mean_ci, median_ci, "
        "bradley_terry or noisy_bt."})
    value = fields.Raw(metadata={
        "description": "The label (choices), the number with its interval (ratings, "
        "numbers) or the preferred side with its probability (pairwise)."})
    confidence = fields.Float(allow_none=True, metadata={
        "description": "The label's posterior probability; null where the value carries "
        "its own interval."})
    answers_count = fields.Integer()
    computed_at = UtcDateTime()


class ApprovedAnswerSchema(Schema):
    trainer = fields.String(metadata={
        "description": "The trainer's pseudonym: the same in every result of this project, "
        "another in each other project; never their id or e-mail.",
        "example": "tr_k5nd3q2m7xyzab4c"})
    template_version = fields.Integer(allow_none=True, metadata={
        "description": "The template version the answer was given to (null: the project "
        "had no template at the claim)."})
    approved_at = UtcDateTime()
    answer = fields.Raw(metadata={"description": "The answer as submitted: an object with "
                                  "one member per template field."})


class ResultSchema(Schema):
    task_id = fields.UUID()
    external_id = fields.String(metadata={
        "description": "The client's id of the task, as imported. The payload is not "
        "repeated: the task id and external id name it."})
    updated_at = UtcDateTime(metadata={
        "description": "The latest approval of an answer or computation of an aggregate."})
    aggregates = fields.Dict(
        keys=fields.String(), values=fields.Nested(AggregateSchema, allow_none=True),
        metadata={"description": "Per template field (of the current version): its "
                  "aggregate, or null until computed (text and rubric fields: always "
                  "null, the answers are the result)."})
    answers = fields.List(fields.Nested(ApprovedAnswerSchema), metadata={
        "description": "The approved answers, oldest approval first."})


class PreferenceSchema(Schema):
    """One line of the preference export (documented here; served as JSON lines)."""

    task_id = fields.UUID()
    external_id = fields.String()
    field = fields.String(metadata={"description": "The pairwise field's name."})
    trainer = fields.String()
    prompt = fields.Raw(metadata={"description": "The task's `payload.prompt`."})
    chosen = fields.Raw(metadata={"description": "The preferred response's text."})
    rejected = fields.Raw(metadata={"description": "The other response's text."})
    chosen_id = fields.Raw(allow_none=True)
    rejected_id = fields.Raw(allow_none=True)
    strength = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
