"""Sending the webhook outbox: signed (Standard Webhooks), retried with backoff for three
days, and an endpoint that fails for three days disabled with word to its admins.

A delivery is sent in three steps, and no transaction is open across the request:

1. **Claim**, in a short transaction: the next due delivery's row is locked (``SKIP
   LOCKED`` on PostgreSQL, so two schedulers share the due deliveries without waiting on
   each other) and claimed with a conditional UPDATE (on SQLite it takes the write lock,
   so a second process finds it claimed) that counts the attempt and sets
   ``claimed_until``: a lease that outlasts the transport's deadline for a whole
   request. Nobody else sends the delivery while the lease lasts.
2. **Send**, outside any transaction.
3. **Record** the attempt, in a second short transaction, and the outcome on the
   delivery (delivered, or due again after the backoff) with the lease cleared; only
   while the claim is still this sender's (its attempt number), so a sender whose lease
   ran out never undoes the work of the one that took the delivery over.

Delivery is at least once: a sender that crashes after the receiver accepted but before
step 3 leaves the delivery claimed, and once the lease has run out it is sent again,
with the same ``webhook-id`` (the event's id), which receivers use to drop repeats.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import Role, User
from workforce.db import Database
from workforce.integrations.models import (
    AttemptOutcome,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from workforce.integrations.transport import Refused, Transport
from workforce.notifications.services import tell
from workforce.notifications.texts import moment

log = logging.getLogger(__name__)

DELIVERER = audit.SystemActor("webhook-deliverer")
RETRY_FOR = timedelta(days=3)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
JITTER = 0.2
BATCH_SIZE = 50
# A claim lasts the transport's deadline for a whole request and this much more.
LEASE_MARGIN = timedelta(minutes=2)
ERROR_MAX = 1000


@dataclass
class PassResult:
    delivered: int = 0
    failed: int = 0

    @property
    def attempts(self) -> int:
        return self.delivered + self.failed


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): 30 s doubling up to 6 hours,
    each within 20% either way, so that many endpoints failing together do not retry in
    step."""
    base = min(LONGEST_WAIT, FIRST_RETRY * 2 ** min(attempt - 1, 20))
    return base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311


def payload(event: WebhookEvent) -> str:
    """The body: the event as integrators receive it, the same bytes on every retry."""
    return json.dumps({
        "id": str(event.id), "type": event.type,
        "timestamp": clock.as_utc(event.created_at).isoformat(),
        "organisation_id": str(event.organisation_id), "data": event.data,
    }, separators=(",", ":"), sort_keys=True)


def signed_headers(endpoint: WebhookEndpoint, event: WebhookEvent, body: str,
                   now: datetime) -> dict[str, str]:
    """Standard Webhooks headers: one signature per secret in force (two during a
    rotation's overlap), separated by spaces."""
    msg_id = str(event.id)
    signatures = [Webhook(secret).sign(msg_id, now, body)
                  for secret in endpoint.signing_secrets(now)]
    return {
        "content-type": "application/json",
        "user-agent": "workforce-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class Claim:
    """A delivery claimed for one attempt, with the request to send."""

    delivery_id: uuid.UUID
    attempt: int  # the delivery's attempt count with this one: whose claim it is
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Sent:
    """What became of a request."""

    at: datetime
    status: int | None
    duration_ms: int
    error: str | None


def lease(transport: Transport) -> timedelta:
    """How long a claim keeps other senders off a delivery: the whole request's deadline
    and a margin (name resolution, a slow start, clocks a little apart)."""
    return timedelta(seconds=transport.deadline) + LEASE_MARGIN


def deliver_due(database: Database, transport: Transport, *, limit: int = BATCH_SIZE
                ) -> PassResult:
    """Send up to ``limit`` due deliveries, each once; what became of them. Not run again
    on a lost race (``Database.run``): what it sent would go twice; the next pass sends
    what is left."""
    result = PassResult()
    for _ in range(limit):
        claim = claim_next(database, lease(transport))
        if claim is None:
            break
        if record(database, claim, send(transport, claim)):
            result.delivered += 1
        else:
            result.failed += 1
    if result.attempts:
        log.info("webhooks sent", extra={"delivered": result.delivered,
                                          "failed": result.failed})
    return result


def claim_next(database: Database, lease: timedelta) -> Claim | None:
    """Claim the next due delivery nobody holds, for ``lease``, and commit the claim."""
    with database.unit_of_work() as session:
        now = clock.now()
        while (candidate := _next_due(session, now)) is not None:
            claimed = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == candidate, _due(now))
                .values(attempts=WebhookDelivery.attempts + 1, claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                return _claim_of(session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.id == candidate)
                    .execution_options(populate_existing=True)).one(), now)
        return None


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(WebhookDelivery.state == DeliveryState.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.claimed_until.is_(None),
                    WebhookDelivery.claimed_until <= now))


def _next_due(session: Session, now: datetime) -> uuid.UUID | None:
    return session.scalars(
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(_due(now), WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).first()


def _claim_of(delivery: WebhookDelivery, now: datetime) -> Claim:
    endpoint, event = delivery.endpoint, delivery.event
    body = payload(event)
    return Claim(delivery.id, delivery.attempts, endpoint.url, body.encode(),
                 signed_headers(endpoint, event, body, now))


def send(transport: Transport, claim: Claim) -> Sent:
    """POST the claimed delivery; every failure is an outcome, none is raised."""
    at = clock.now()
    try:
        answer = transport.post(claim.url, claim.body, claim.headers)
    except Refused as exc:
        return Sent(at, None, 0, f"Refused before sending: {exc}")
    except (OSError, http.client.HTTPException) as exc:
        return Sent(at, None, 0,
                    f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    error = None
    if not 200 <= answer.status < 300:
        error = f"The endpoint answered {answer.status}" + (
            " (redirects are not followed)." if 300 <= answer.status < 400 else ".")
    return Sent(at, answer.status, answer.duration_ms, error)


def record(database: Database, claim: Claim, sent: Sent) -> bool:
    """Write the attempt and, while the claim is still ours, the delivery's outcome;
    whether it was delivered."""
    with database.unit_of_work() as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id)
            .with_for_update().execution_options(populate_existing=True)
        ).one_or_none()
        if delivery is None:
            return sent.error is None  # its endpoint (or event) was deleted meanwhile
        endpoint = delivery.endpoint
        session.add(WebhookAttempt(
            delivery_id=delivery.id, endpoint_id=endpoint.id, event_id=delivery.event_id,
            attempted_at=sent.at,
            outcome=AttemptOutcome.FAILED if sent.error else AttemptOutcome.SUCCEEDED,
            response_status=sent.status, duration_ms=sent.duration_ms,
            error=sent.error[:ERROR_MAX] if sent.error else None,
        ))
        if delivery.attempts != claim.attempt or delivery.claimed_until is None:
            log.warning("webhook claim lost before its outcome was recorded",
                        extra={"delivery_id": str(delivery.id)})
            return sent.error is None
        delivery.claimed_until = None
        if sent.error is None:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, clock.now()
            endpoint.failing_since = None
            return True
        _failed(session, delivery, endpoint, clock.now())
        return False


def _failed(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint,
            now: datetime) -> None:
    """Retry later, until three days after the first attempt; disable an endpoint that
    has failed for three days."""
    give_up_at = clock.as_utc(delivery.first_due_at) + RETRY_FOR
    if now >= give_up_at:
        delivery.state = DeliveryState.FAILED
    else:
        # The last retry falls on the third day's end, whatever the jitter drew.
        delivery.next_attempt_at = min(now + backoff(delivery.attempts), give_up_at)
    endpoint.failing_since = endpoint.failing_since or now
    if endpoint.enabled and now - clock.as_utc(endpoint.failing_since) >= RETRY_FOR:
        disable_failing(session, endpoint, now)


def disable_failing(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Turn the endpoint off after three days of failures and tell the organisation's
    admins, by e-mail and in the app."""
    since = clock.as_utc(endpoint.failing_since or now)
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Disabled on {now.date().isoformat()}: every delivery failed since "
        f"{since.isoformat()}.")
    audit.record(session, DELIVERER, "webhook_endpoint.disabled",
                 object_type="webhook_endpoint", object_id=endpoint.id,
                 organisation_id=endpoint.organisation_id, before={"enabled": True},
                 after={"enabled": False, "reason": endpoint.disabled_reason})
    admins = session.scalars(select(User).where(
        User.organisation_id == endpoint.organisation_id, User.role == Role.ADMIN,
        User.is_active.is_(True)))
    for admin in admins:
        tell(session, admin.id, "webhook_endpoint.disabled", {
            "url": endpoint.url, "since": moment(since), "endpoint_id": str(endpoint.id),
        }, {"endpoint_id": str(endpoint.id)})
