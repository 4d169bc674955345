"""What the work is for: a project's declared use, and the uses a trainer refuses."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import UtcDateTime
from workforce.projects.models import REFUSABLE_USES, ClientKind, DataUse


class RestrictedUsesSchema(Schema):
    """Each restricted use, allowed (true) or not (false); all three must be said."""

    military = fields.Boolean(required=True)
    surveillance = fields.Boolean(required=True)
    law_enforcement = fields.Boolean(required=True)


class DeclaredUseSchema(Schema):
    """What the work is for, shown to trainers before they apply."""

    client_kind = fields.Enum(ClientKind, by_value=True, required=True,
                              metadata={"description": "Who the work is for."})
    data_uses = fields.List(
        fields.Enum(DataUse, by_value=True), required=True, validate=validate.Length(min=1),
        metadata={"description": "What the answers are used for (at least one)."})
    restricted_uses = fields.Nested(RestrictedUsesSchema, required=True)
    answer_retention_days = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=36500),
        metadata={"description": "How many days the trainers' answers are kept."})


def declared_use_field() -> fields.Nested:
    return fields.Nested(
        DeclaredUseSchema, allow_none=True,
        metadata={"description": "What the work is for; null until the project declares "
                  "it (required before activation)."})


class WorkPreferencesSchema(Schema):
    """The uses the trainer will not work on. Projects declaring one (a data use, or a
    restricted use they allow) are not offered to them, and that never counts against
    them."""

    refused_uses = fields.List(
        fields.String(validate=validate.OneOf(REFUSABLE_USES)), required=True,
        validate=validate.Length(max=len(REFUSABLE_USES)),
        metadata={"description": "Any of: " + ", ".join(REFUSABLE_USES) + "."})
    updated_at = UtcDateTime(dump_only=True, allow_none=True)
