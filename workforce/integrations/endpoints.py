"""Webhook endpoints of an organisation (its admins): registering, changing, rotating
the signing secret, deleting; the attempts made and the events written; re-sending an
event by hand."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _
from workforce.integrations.catalogue import EventType
from workforce.integrations.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from workforce.integrations.transport import endpoint_url_problem
from workforce.pagination import Page, PageRequest, paginate

SECRET_PREFIX = "whsec_"  # noqa: S105 - Standard Webhooks' prefix, not a secret
SECRET_BYTES = 32
# How long an old secret keeps signing after a rotation, by default and at most.
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
MAX_ENDPOINTS = 20


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class IssuedEndpoint:
    """An endpoint with its secret, shown this once."""

    endpoint: WebhookEndpoint
    secret: str


def _check(url: str | None, event_types: Iterable[str] | None, *, allow_loopback: bool
           ) -> list[str] | None:
    errors: dict[str, list[str]] = {}
    if url is not None and (problem := endpoint_url_problem(
            url, allow_loopback=allow_loopback)) is not None:
        errors["url"] = [_("The URL %(problem)s.", problem=problem)]
    types = None
    if event_types is not None:
        types = list(dict.fromkeys(event_types))
        unknown = [t for t in types if t not in EventType._value2member_map_]
        if unknown:
            errors["event_types"] = [f"Unknown event type: {t}." for t in unknown]
        elif not types:
            errors["event_types"] = [_("Name at least one event type.")]
    if errors:
        raise Invalid(_("The endpoint is not valid."), errors=errors)
    return sorted(types) if types is not None else None


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "event_types": list(endpoint.event_types),
            "description": endpoint.description, "enabled": endpoint.enabled}


def create_endpoint(
    session: Session, admin: User, *, url: str, event_types: list[str],
    description: str = "", enabled: bool = True, allow_loopback: bool = False,
) -> IssuedEndpoint:
    """Register an endpoint; its signing secret is returned this once (audited, without
    the secret)."""
    types = _check(url, event_types, allow_loopback=allow_loopback)
    existing = session.scalars(select(WebhookEndpoint.id).where(
        WebhookEndpoint.organisation_id == admin.organisation_id)).all()
    if len(existing) >= MAX_ENDPOINTS:
        raise Conflict(_("An organisation has at most %(max_endpoints)s webhook endpoints.",
                         max_endpoints=MAX_ENDPOINTS),
                       code="too-many-endpoints")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organisation_id=admin.organisation_id, url=url, event_types=types,
        description=description, enabled=enabled, secret=secret)
    session.add(endpoint)
    session.flush()
    audit.record(session, admin, "webhook_endpoint.created", object_type="webhook_endpoint",
                 object_id=endpoint.id, organisation_id=endpoint.organisation_id,
                 after=_snapshot(endpoint))
    return IssuedEndpoint(endpoint, secret)


def list_endpoints(session: Session, admin: User, page: PageRequest) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.organisation_id == admin.organisation_id)
    return paginate(session, stmt, page, created_at=WebhookEndpoint.created_at,
                    row_id=WebhookEndpoint.id)


def get_endpoint(session: Session, admin: User, endpoint_id: uuid.UUID, *,
                 lock: bool = False) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.organisation_id == admin.organisation_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    endpoint = session.scalars(stmt).one_or_none()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def update_endpoint(
    session: Session, admin: User, endpoint_id: uuid.UUID, *,
    allow_loopback: bool = False, **changes: Any,
) -> WebhookEndpoint:
    """Change the URL, event types, description or enabled state (audited). Enabling an
    endpoint starts its failure count afresh; deliveries waiting for it go out again."""
    types = _check(changes.get("url"), changes.get("event_types"),
                   allow_loopback=allow_loopback)
    endpoint = get_endpoint(session, admin, endpoint_id, lock=True)
    before = _snapshot(endpoint)
    for name in ("url", "description"):
        if name in changes:
            setattr(endpoint, name, changes[name])
    if types is not None:
        endpoint.event_types = types
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = changes["enabled"]
        endpoint.disabled_reason = None if endpoint.enabled else "Disabled by an admin."
        endpoint.failing_since = None
    session.flush()
    audit.record(session, admin, "webhook_endpoint.updated", object_type="webhook_endpoint",
                 object_id=endpoint.id, organisation_id=endpoint.organisation_id,
                 before=before, after=_snapshot(endpoint))
    return endpoint


def delete_endpoint(session: Session, admin: User, endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint with its deliveries and attempts (audited)."""
    endpoint = get_endpoint(session, admin, endpoint_id, lock=True)
    audit.record(session, admin, "webhook_endpoint.deleted", object_type="webhook_endpoint",
                 object_id=endpoint.id, organisation_id=endpoint.organisation_id,
                 before=_snapshot(endpoint))
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, admin: User, endpoint_id: uuid.UUID, *,
                  overlap: timedelta = DEFAULT_OVERLAP) -> IssuedEndpoint:
    """A new signing secret, returned this once. The current one keeps signing beside it
    (two signatures in ``webhook-signature``) for ``overlap``, so receivers can switch
    without losing a delivery; a rotation during an overlap ends the older one."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Invalid(_("The overlap is out of range."), errors={"overlap_seconds": [
            _("Between 0 and %(most)s seconds.", most=int(MAX_OVERLAP.total_seconds()))]})
    endpoint = get_endpoint(session, admin, endpoint_id, lock=True)
    now = clock.now()
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret if overlap else None
    endpoint.previous_secret_expires_at = now + overlap if overlap else None
    endpoint.secret = secret
    session.flush()
    audit.record(session, admin, "webhook_endpoint.secret_rotated",
                 object_type="webhook_endpoint", object_id=endpoint.id,
                 organisation_id=endpoint.organisation_id,
                 after={"previous_secret_expires_at": endpoint.previous_secret_expires_at})
    return IssuedEndpoint(endpoint, secret)


def previous_secret_expiry(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """When the previous secret stops signing, while it still does."""
    expires = endpoint.previous_secret_expires_at
    return expires if expires is not None and now < expires else None


def list_attempts(session: Session, admin: User, endpoint_id: uuid.UUID, page: PageRequest
                  ) -> Page[WebhookAttempt]:
    """Every attempt made for the endpoint, newest first."""
    get_endpoint(session, admin, endpoint_id)
    stmt = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    return paginate(session, stmt, page,
                    order=(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc()))


def list_events(session: Session, admin: User, page: PageRequest, *,
                type_: str | None = None) -> Page[WebhookEvent]:
    """The organisation's events, newest first (optionally of one type)."""
    stmt = select(WebhookEvent).where(WebhookEvent.organisation_id == admin.organisation_id)
    if type_ is not None:
        stmt = stmt.where(WebhookEvent.type == type_)
    return paginate(session, stmt, page, created_at=WebhookEvent.created_at,
                    row_id=WebhookEvent.id)


def resend(session: Session, admin: User, endpoint_id: uuid.UUID, event_id: uuid.UUID
           ) -> WebhookDelivery:
    """Send an event of the organisation to the endpoint again (or for the first time),
    with the event's own id: due now, retried for three days like any delivery. The
    scheduler sends it within a minute."""
    endpoint = get_endpoint(session, admin, endpoint_id, lock=True)
    # Held (shared) until the commit, so the event is not deleted for its age meanwhile.
    event = session.scalars(select(WebhookEvent).where(
        WebhookEvent.id == event_id,
        WebhookEvent.organisation_id == admin.organisation_id).with_for_update(read=True)
    ).one_or_none()
    if event is None:
        raise NotFound(_("No such event."))
    if not endpoint.enabled:
        raise Conflict(_("The endpoint is disabled; enable it first."), code="endpoint-disabled")
    now = clock.now()
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event.id,
                                      WebhookDelivery.endpoint_id == endpoint.id)
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if delivery is None:
        delivery = WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, created_at=now)
        session.add(delivery)
    delivery.state = DeliveryState.PENDING
    delivery.first_due_at = delivery.next_attempt_at = now
    delivery.delivered_at = None
    session.flush()
    audit.record(session, admin, "webhook_event.resent", object_type="webhook_event",
                 object_id=event.id, organisation_id=event.organisation_id,
                 after={"endpoint_id": str(endpoint.id), "type": event.type})
    return delivery
