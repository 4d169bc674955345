"""Request and response bodies of the API key endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import Text, UtcDateTime
from workforce.integrations.scopes import Scope

SCOPES_HELP = "What the key may call: see the scopes table in the README, and each " \
    "operation's `x-scopes`."


class ApiKeyCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=80), metadata={
        "description": "What the key is for, e.g. 'Client pipeline'; the audit log names "
        "the key by it."})
    scopes = fields.List(fields.Enum(Scope, by_value=True), required=True,
                         validate=validate.Length(min=1), metadata={"description": SCOPES_HELP})
    expires_at = UtcDateTime(allow_none=True, load_default=None, metadata={
        "description": "When the key stops working; none: until revoked."})


class ApiKeySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    scopes = fields.List(fields.String(metadata={"enum": [scope.value for scope in Scope]}))
    hint = fields.String(metadata={"description": "The secret's first characters, to "
                                   "recognise it; the secret itself is never shown again."})
    created_at = UtcDateTime()
    created_by_id = fields.UUID()
    expires_at = UtcDateTime(allow_none=True)
    last_used_at = UtcDateTime(allow_none=True, metadata={
        "description": "Updated at most once a minute."})
    revoked_at = UtcDateTime(allow_none=True)
    status = fields.String(metadata={"enum": ["active", "expired", "revoked"]})


class IssuedApiKeySchema(Schema):
    key = fields.Nested(ApiKeySchema)
    secret = fields.String(metadata={
        "description": "Shown once, here: send it as 'Authorization: Bearer <secret>'. "
        "Only its hash is stored.", "example": "wfk_..."})
