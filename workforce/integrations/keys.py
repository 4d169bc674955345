"""API keys: created by an organisation's admins, shown once, stored hashed, listed
with their last use, revoked.

A key acts as its organisation, not as a person: through an account of its own (a
``users`` row sharing the key's id, ``is_api_key``, inactive so that it can never log in
or be told anything, left out of staff lists) with the admin role, so that the domain
services treat it as they treat any caller of the organisation. What it may call is
decided before any service runs, by its scopes (one per route, declared on the route);
the role only lets the services do for it what an admin's call would."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from workforce import clock
from workforce.accounts import audit, tokens
from workforce.accounts.models import Role, User
from workforce.errors import Invalid, NotFound, Unauthenticated
from workforce.i18n import _
from workforce.integrations.key_models import ApiKey
from workforce.integrations.scopes import Scope
from workforce.pagination import Page, PageRequest, paginate

# Recognisable (by people and by secret scanners): login tokens start "wf_", invitation
# and reset tokens "wfi_" and "wfr_".
KEY_PREFIX = "wfk_"
HINT_LENGTH = 10
# The account's e-mail: unique, and in a domain that can never receive mail (RFC 2606).
ACCOUNT_DOMAIN = "api-keys.invalid"
_UNUSABLE_PASSWORD = "!"  # noqa: S105 - no argon2 hash matches it: the account cannot log in


def is_key(raw: str) -> bool:
    return raw.startswith(KEY_PREFIX)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


def create_key(
    session: Session, admin: User, *, name: str, scopes: list[Scope],
    expires_at: datetime | None,
) -> IssuedKey:
    """A new key of the admin's organisation; its secret is in the answer and nowhere
    else, ever."""
    if expires_at is not None and expires_at <= clock.now():
        raise Invalid(_("The expiry must be in the future."),
                      errors={"expires_at": [_("Must be in the future.")]})
    key_id = uuid.uuid4()
    session.add(User(
        id=key_id, email=f"key-{key_id}@{ACCOUNT_DOMAIN}", password_hash=_UNUSABLE_PASSWORD,
        display_name=name, role=Role.ADMIN, organisation_id=admin.organisation_id,
        is_active=False, is_api_key=True,
    ))
    secret, digest = tokens.new_secret(KEY_PREFIX)
    key = ApiKey(
        id=key_id, organisation_id=admin.organisation_id, name=name,
        scopes=sorted({scope.value for scope in scopes}), secret_hash=digest,
        hint=secret[:HINT_LENGTH], created_at=clock.now(), created_by_id=admin.id,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(session, admin, "api_key.created", object_type="api_key", object_id=key.id,
                 organisation_id=key.organisation_id, after=_snapshot(key))
    return IssuedKey(key, secret)


def list_keys(session: Session, admin: User, page: PageRequest) -> Page[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.organisation_id == admin.organisation_id)
    return paginate(session, stmt, page, created_at=ApiKey.created_at, row_id=ApiKey.id)


def get_key(session: Session, admin: User, key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.organisation_id != admin.organisation_id:
        raise NotFound(_("No such API key."))
    return key


def revoke_key(session: Session, admin: User, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (again is a no-op): it is refused from the next request on."""
    key = get_key(session, admin, key_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(session, admin, "api_key.revoked", object_type="api_key",
                     object_id=key.id, organisation_id=key.organisation_id,
                     before={"status": "active"}, after=_snapshot(key))
        session.flush()
    return key


def authenticate(session: Session, raw: str) -> ApiKey:
    """The key behind a secret (its ``account`` loaded with it), or ``Unauthenticated``."""
    key = session.scalars(_key_stmt(), {"secret_hash": tokens.hash_secret(raw)}).one_or_none()
    now = clock.now()
    if key is None:
        raise Unauthenticated(_("The API key is not valid."), code="invalid-token")
    if key.revoked_at is not None:
        raise Unauthenticated(_("The API key has been revoked."), code="invalid-token")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthenticated(_("The API key has expired."), code="invalid-token")
    # At most one write a minute per key: a busy integration's reads stay reads.
    if key.last_used_at is None or now - key.last_used_at >= tokens.LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


@functools.cache
def _key_stmt() -> Select[tuple[ApiKey]]:
    return (select(ApiKey).options(joinedload(ApiKey.account))
            .where(ApiKey.secret_hash == bindparam("secret_hash")))


def _snapshot(key: ApiKey) -> dict[str, object]:
    return {"name": key.name, "scopes": key.scopes, "expires_at": key.expires_at,
            "status": key.status}

