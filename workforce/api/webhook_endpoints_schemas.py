"""Bodies of the webhook endpoint routes, and the documented schema of every event
(``components/schemas/<Name>Event`` and the document's ``x-webhooks``)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from marshmallow import Schema, fields, validate

from workforce.api.schemas import MoneySchema, PageArgs, Text, UtcDateTime
from workforce.integrations.catalogue import DESCRIPTIONS, EventType
from workforce.integrations.endpoints import MAX_OVERLAP
from workforce.integrations.models import AttemptOutcome, DeliveryState

EVENT_TYPES = [t.value for t in EventType]


def _event_types(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"example": ["task.completed", "payout_item.paid"]}, **kwargs)


class WebhookEndpointSchema(Schema):
    id = fields.UUID(dump_only=True)
    url = fields.String(required=True, validate=validate.Length(max=2000), metadata={
        "format": "uri", "description": "A public https URL (checked again at every send)."})
    description = Text(load_default="", validate=validate.Length(max=500))
    event_types = _event_types(required=True)
    enabled = fields.Boolean(load_default=True)
    disabled_reason = fields.String(dump_only=True, allow_none=True)
    failing_since = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "The first failure since the last success; three days of failures "
                       "disable the endpoint."})
    previous_secret_expires_at = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "After a rotation: until when the previous secret signs too."})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class WebhookEndpointUpdateSchema(Schema):
    url = fields.String(validate=validate.Length(max=2000), metadata={"format": "uri"})
    description = Text(validate=validate.Length(max=500))
    event_types = _event_types()
    enabled = fields.Boolean()


class WebhookIssuedEndpointSchema(Schema):
    endpoint = fields.Nested(WebhookEndpointSchema, required=True)
    secret = fields.String(required=True, metadata={
        "description": "The signing secret (`whsec_` and base64), shown this once.",
        "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})


class WebhookRotateSchema(Schema):
    overlap_seconds = fields.Integer(
        load_default=86400, validate=validate.Range(min=0, max=int(MAX_OVERLAP.total_seconds())),
        metadata={"description": "How long the current secret keeps signing beside the new "
                                 "one (default a day, at most 7 days)."})


class WebhookAttemptSchema(Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    attempted_at = UtcDateTime()
    outcome = fields.Enum(AttemptOutcome, by_value=True)
    response_status = fields.Integer(allow_none=True)
    duration_ms = fields.Integer()
    error = fields.String(allow_none=True)


class WebhookResendSchema(Schema):
    event_id = fields.UUID(required=True)


class WebhookDeliverySchema(Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    endpoint_id = fields.UUID()
    state = fields.Enum(DeliveryState, by_value=True)
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime()


class WebhookEventListArgs(PageArgs):
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))


class WebhookEventSchema(Schema):
    id = fields.UUID(metadata={"description": "Also the `webhook-id` of its deliveries."})
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    created_at = UtcDateTime()
    data = fields.Dict(metadata={"description": "As documented for the type in "
                                                "`components/schemas/<Type>Event`."})


class WebhookEventTypeSchema(Schema):
    type = fields.String()
    description = fields.String()


# --- the events themselves -----------------------------------------------------------


class RequiredMoneySchema(MoneySchema):
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)


def _uuid(**kwargs: Any) -> fields.String:
    return fields.String(required=True, metadata={"format": "uuid"}, **kwargs)


def _time(**kwargs: Any) -> UtcDateTime:
    return UtcDateTime(required=True, **kwargs)


class TaskAnswerData(Schema):
    assignment_id = _uuid()
    answer = fields.Raw(required=True, allow_none=True)
    approved_at = _time()


class TaskCompletedData(Schema):
    task_id = _uuid()
    external_id = fields.String(required=True)
    project_id = _uuid()
    redundancy = fields.Integer(required=True)
    completed_at = _time()
    answers = fields.List(fields.Nested(TaskAnswerData), required=True)
    aggregate = fields.Raw(required=True, allow_none=True, metadata={
        "description": "Always null for now: no aggregation of answers exists yet."})


class ProjectStateChangedData(Schema):
    project_id = _uuid()
    name = fields.String(required=True)
    change = fields.String(required=True, validate=validate.OneOf([
        "activated", "paused", "resumed", "suspension_announced", "suspension_cancelled",
        "suspended", "closed"]))
    previous_state = fields.String(required=True)
    state = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    expected_resume_at = _time(allow_none=True)
    suspension_id = fields.String(required=True, allow_none=True, metadata={"format": "uuid"})
    effective_at = _time(allow_none=True, metadata={
        "description": "A suspension's moment: announced for, cancelled, or applied at."})


class ImportFinishedData(Schema):
    import_id = _uuid()
    project_id = _uuid()
    format = fields.String(required=True, validate=validate.OneOf(["jsonl", "csv"]))
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    invalid = fields.Integer(required=True, metadata={"description": "Rows skipped."})
    finished_at = _time()


class AssignmentApprovedData(Schema):
    assignment_id = _uuid()
    task_id = _uuid()
    external_id = fields.String(required=True)
    project_id = _uuid()
    approved_at = _time()
    how = fields.String(required=True, validate=validate.OneOf(
        ["reviewed", "automatic", "unsampled", "appeal"]))
    pay = fields.Nested(RequiredMoneySchema, required=True, allow_none=True, metadata={
        "description": "The pay at the rate in force; null on hourly projects."})


class AssignmentRejectedData(Schema):
    assignment_id = _uuid()
    task_id = _uuid()
    external_id = fields.String(required=True)
    project_id = _uuid()
    rejected_at = _time()
    rejection_category = fields.String(required=True)


class PayoutRunApprovedData(Schema):
    run_id = _uuid()
    schedule_id = _uuid()
    period_end = _time()
    approved_at = _time()
    items_approved = fields.Integer(required=True)
    items_cancelled = fields.Integer(required=True)
    totals = fields.List(fields.Nested(RequiredMoneySchema), required=True)


class _PayoutItemData(Schema):
    """What both payout item events say of the item."""

    item_id = _uuid()
    run_id = _uuid()
    trainer_id = _uuid()
    amount = fields.Nested(RequiredMoneySchema, required=True)
    method = fields.String(required=True, validate=validate.OneOf(["stripe", "manual"]))


class PayoutItemPaidData(_PayoutItemData):
    paid_at = _time()
    transfer_id = fields.String(required=True, allow_none=True)
    reference = fields.String(required=True, allow_none=True)


class PayoutItemFailedData(_PayoutItemData):
    failed_at = _time()
    failure_code = fields.String(required=True)
    failure_message = fields.String(required=True)


class FlagConfirmedData(Schema):
    flag_id = _uuid()
    project_id = _uuid()
    task_id = _uuid()
    external_id = fields.String(required=True)
    category = fields.String(required=True)
    severity = fields.String(required=True)
    confirmed_at = _time()
    raised = fields.String(required=True, validate=validate.OneOf(["none", "task", "project"]),
                           metadata={"description": "Where the content warning was raised."})


EVENT_DATA: dict[EventType, type[Schema]] = {
    EventType.TASK_COMPLETED: TaskCompletedData,
    EventType.PROJECT_STATE_CHANGED: ProjectStateChangedData,
    EventType.IMPORT_FINISHED: ImportFinishedData,
    EventType.ASSIGNMENT_APPROVED: AssignmentApprovedData,
    EventType.ASSIGNMENT_REJECTED: AssignmentRejectedData,
    EventType.PAYOUT_RUN_APPROVED: PayoutRunApprovedData,
    EventType.PAYOUT_ITEM_PAID: PayoutItemPaidData,
    EventType.PAYOUT_ITEM_FAILED: PayoutItemFailedData,
    EventType.FLAG_CONFIRMED: FlagConfirmedData,
}


def event_schema_name(type_: EventType) -> str:
    """``payout_item.paid`` -> ``PayoutItemPaidEvent``."""
    words = type_.value.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def document_events(spec: APISpec) -> None:
    """Each event's body as a component schema, and the list of them as ``x-webhooks``
    (the document is OpenAPI 3.0, which has no ``webhooks`` section): what each endpoint
    receives, with the Standard Webhooks headers."""
    webhooks: dict[str, Any] = {}
    for type_, data_schema in EVENT_DATA.items():
        name = event_schema_name(type_)
        spec.components.schema(name.removesuffix("Event") + "Data", schema=data_schema)
        spec.components.schema(name, {
            "type": "object", "description": DESCRIPTIONS[type_],
            "required": ["id", "type", "timestamp", "organisation_id", "data"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uuid",
                       "description": "The event's id, also sent as `webhook-id`."},
                "type": {"type": "string", "enum": [type_.value]},
                "timestamp": {"type": "string", "format": "date-time"},
                "organisation_id": {"type": "string", "format": "uuid"},
                "data": {"$ref": f"#/components/schemas/{name.removesuffix('Event')}Data"},
            },
        })
        webhooks[type_.value] = {"post": {
            "summary": DESCRIPTIONS[type_],
            "parameters": [
                {"in": "header", "name": header, "required": True, "schema": {"type": "string"}}
                for header in ("webhook-id", "webhook-timestamp", "webhook-signature")],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{name}"}}}},
            "responses": {"2XX": {"description": "Received; any other answer (a redirect "
                                                  "included) is retried."}},
        }}
    spec.options["x-webhooks"] = webhooks
