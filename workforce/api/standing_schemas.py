"""Bodies and answers of account actions (restriction, deactivation) and their due
process."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import PageArgs, Text, UtcDateTime
from workforce.standing.models import ActionKind, ActionReason, ActionState
from workforce.standing.services import AppealOutcome, Outcome

WRITING = validate.Length(min=1, max=5000)


class AccountActionCreateSchema(Schema):
    trainer_id = fields.UUID(required=True, metadata={
        "description": "A trainer who applied to, was invited to or worked on one of the "
        "organisation's projects."})
    kind = fields.Enum(ActionKind, by_value=True, required=True, metadata={
        "description": "restrict: no new claims, applications, memberships or sessions in "
        "the organisation; deactivate: no work in it at all."})
    reason = fields.Enum(ActionReason, by_value=True, required=True, metadata={
        "description": "fraud and safety act at once; the others after the organisation's "
        "notice period."})
    explanation = Text(required=True, validate=WRITING,
                       metadata={"description": "Shown to the trainer."})


class AccountActionResponseSchema(Schema):
    response = Text(required=True, validate=WRITING)


class AccountActionAppealSchema(Schema):
    appeal = Text(required=True, validate=WRITING)


class AccountActionDecisionSchema(Schema):
    outcome = fields.Enum(Outcome, by_value=True, required=True)
    note = Text(required=True, validate=WRITING, metadata={"description": "Shown to the trainer."})


class AccountActionAppealDecisionSchema(Schema):
    outcome = fields.Enum(AppealOutcome, by_value=True, required=True)
    note = Text(required=True, validate=WRITING, metadata={"description": "Shown to the trainer."})


class AccountActionListArgs(PageArgs):
    trainer_id = fields.UUID()


class AccountActionSchema(Schema):
    """An account action with its whole history."""

    id = fields.UUID()
    organisation_id = fields.UUID()
    trainer_id = fields.UUID()
    kind = fields.Enum(ActionKind, by_value=True)
    reason = fields.Enum(ActionReason, by_value=True)
    explanation = fields.String()
    immediate = fields.Boolean(metadata={
        "description": "Took effect at once (fraud or safety), without notice."})
    state = fields.Enum(ActionState, by_value=True)
    in_force = fields.Boolean(attribute="in_force_now",
                              metadata={"description": "Whether it has its effect now."})
    announced_at = UtcDateTime()
    effective_at = UtcDateTime(metadata={
        "description": "When the effect starts (a response to an action with notice holds "
        "it until decided)."})
    respond_by = UtcDateTime()
    response = fields.String(allow_none=True)
    responded_at = UtcDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    decided_by_id = fields.UUID(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    appeal = fields.String(allow_none=True)
    appealed_at = UtcDateTime(allow_none=True)
    appeal_note = fields.String(allow_none=True)
    appeal_decided_by_id = fields.UUID(allow_none=True)
    appeal_decided_at = UtcDateTime(allow_none=True)
    created_by_id = fields.UUID()
