"""API keys of the caller's organisation (admins): create, list, revoke."""

from __future__ import annotations

import uuid

from workforce.accounts.models import Role
from workforce.api.api_keys_schemas import ApiKeyCreateSchema, ApiKeySchema, IssuedApiKeySchema
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations import keys

blp = Blueprint(
    "api_keys", __name__, url_prefix="/api/v1",
    description="API keys: the organisation's credentials for machines, with scopes",
)


@blp.route("/api-keys")
@blp.requires(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ApiKeySchema))
def list_api_keys(args: dict):
    """The organisation's API keys, newest first, with their last use and status."""
    return keys.list_keys(db_session(), current_user(), page_request(args))


@blp.route("/api-keys", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, IssuedApiKeySchema)
def create_api_key(args: dict):
    """Create a key with a name, its scopes and an optional expiry (audited). The secret
    is in this answer only; it acts as the organisation, never as a person."""
    issued = keys.create_key(db_session(), current_user(), name=args["name"],
                             scopes=args["scopes"], expires_at=args["expires_at"])
    return {"key": issued.key, "secret": issued.secret}


@blp.route("/api-keys/<uuid:key_id>")
@blp.requires(Role.ADMIN)
@blp.response(200, ApiKeySchema)
@blp.refuses(404)
def get_api_key(key_id: uuid.UUID):
    """One key of the organisation (never its secret)."""
    return keys.get_key(db_session(), current_user(), key_id)


@blp.route("/api-keys/<uuid:key_id>", methods=["DELETE"])
@blp.requires(Role.ADMIN)
@blp.response(200, ApiKeySchema)
@blp.refuses(404)
def revoke_api_key(key_id: uuid.UUID):
    """Revoke a key (audited; again changes nothing): it is refused (401) from the next
    request on."""
    return keys.revoke_key(db_session(), current_user(), key_id)
