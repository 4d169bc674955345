"""Opaque bearer tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, joinedload, load_only

from workforce import clock
from workforce.accounts.models import ApiToken, User
from workforce.errors import NotFound, Unauthenticated
from workforce.i18n import _
from workforce.pagination import Page, PageRequest, paginate

TOKEN_PREFIX = "wf_"  # noqa: S105 - a prefix, not a secret
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_secret(prefix: str = TOKEN_PREFIX) -> tuple[str, str]:
    """A fresh random secret and the hash to store for it."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, hash_secret(raw)


def hash_secret(raw: str) -> str:
    # Secrets carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Origin:
    """Where a login came from, kept with its token so its owner can tell their
    sessions apart."""

    user_agent: str | None = None
    client_address: str | None = None


def issue_token(
    session: Session, user: User, *, label: str, lifetime: timedelta,
    origin: Origin = Origin(),
) -> tuple[ApiToken, str]:
    raw, digest = new_secret()
    now = clock.now()
    token = ApiToken(
        user=user, token_hash=digest, label=label, created_at=now, expires_at=now + lifetime,
        user_agent=(origin.user_agent or None) and origin.user_agent[:200],
        client_address=origin.client_address,
    )
    session.add(token)
    session.flush()
    return token, raw


def authenticate(session: Session, raw: str) -> tuple[User, ApiToken]:
    """The user and token behind a bearer token, or ``Unauthenticated``."""
    token = session.scalars(_token_stmt(), {"token_hash": hash_secret(raw)}).one_or_none()
    now = clock.now()
    if token is None:
        raise Unauthenticated(_("The access token is not valid."), code="invalid-token")
    if token.revoked_at is not None:
        raise Unauthenticated(_("The access token has been revoked."), code="invalid-token")
    if token.expires_at <= now:
        raise Unauthenticated(_("The access token has expired."), code="invalid-token")
    if not token.user.is_active:
        raise Unauthenticated(_("The account is deactivated."), code="invalid-token")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token.user, token


@functools.cache
def _token_stmt() -> Select[tuple[ApiToken]]:
    # The user with it: every authenticated request needs both (one round trip). Built
    # once, for every request runs it. Of the token, only what ``authenticate`` reads:
    # its label and origin are loaded when a sessions list or a logout asks for them.
    return (select(ApiToken)
            .options(load_only(ApiToken.user_id, ApiToken.expires_at, ApiToken.last_used_at,
                               ApiToken.revoked_at),
                     joinedload(ApiToken.user, innerjoin=True))
            .where(ApiToken.token_hash == bindparam("token_hash")))


def revoke(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        session.flush()


def revoke_all(session: Session, user: User, *, keep: ApiToken | None = None) -> int:
    stmt = (
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        stmt = stmt.where(ApiToken.id != keep.id)
    return session.execute(stmt).rowcount


def list_sessions(session: Session, user: User, page: PageRequest) -> Page[ApiToken]:
    """The user's tokens that still work, newest first."""
    stmt = select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > clock.now())
    return paginate(session, stmt, page, created_at=ApiToken.created_at, row_id=ApiToken.id)


def revoke_own(session: Session, user: User, token_id: uuid.UUID) -> None:
    """End one of the user's own sessions; anybody else's does not exist for them."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such session."))
    revoke(session, token)
