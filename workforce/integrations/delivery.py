"""Sending the webhook outbox: signed (Standard Webhooks), retried with backoff for three
days, and an endpoint that fails for three days disabled with word to its admins.

Each delivery is claimed in a transaction of its own: its row locked (``SKIP LOCKED`` on
PostgreSQL, so two schedulers share the due deliveries without waiting on each other)
and claimed with a conditional UPDATE (which on SQLite takes the write lock, so a second
process finds it claimed), then sent while the lock is held, and the attempt recorded in
the same transaction. A delivery is never sent twice at once; a crash before the commit
leaves it due, and the retry carries the same ``webhook-id``.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
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
from workforce.notifications.services import notify, queue_email

log = logging.getLogger(__name__)

DELIVERER = audit.SystemActor("webhook-deliverer")
RETRY_FOR = timedelta(days=3)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
JITTER = 0.2
BATCH_SIZE = 50
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


def deliver_due(database: Database, transport: Transport, *, limit: int = BATCH_SIZE
                ) -> PassResult:
    """Send up to ``limit`` due deliveries, each once; what became of them. Not run again
    on a lost race (``Database.run``): what it sent would go twice; the next pass sends
    what is left."""
    result = PassResult()
    for _ in range(limit):
        with database.unit_of_work() as session:
            delivery = _claim_next(session, clock.now())
            if delivery is None:
                break
            if _attempt(session, delivery, transport):
                result.delivered += 1
            else:
                result.failed += 1
    if result.attempts:
        log.info("webhooks sent", extra={"delivered": result.delivered,
                                          "failed": result.failed})
    return result


def _claim_next(session: Session, now: datetime) -> WebhookDelivery | None:
    while True:
        candidate = session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.state == DeliveryState.PENDING,
                   WebhookDelivery.next_attempt_at <= now,
                   WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).first()
        if candidate is None:
            return None
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == candidate,
                   WebhookDelivery.state == DeliveryState.PENDING,
                   WebhookDelivery.next_attempt_at <= now)
            .values(attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            return session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.id == candidate)
                .execution_options(populate_existing=True)
            ).one()


def _attempt(session: Session, delivery: WebhookDelivery, transport: Transport) -> bool:
    endpoint, event = delivery.endpoint, delivery.event
    now = clock.now()
    body = payload(event)
    status: int | None = None
    duration_ms = 0
    error: str | None = None
    try:
        answer = transport.post(endpoint.url, body.encode(),
                                signed_headers(endpoint, event, body, now))
        status, duration_ms = answer.status, answer.duration_ms
        if not 200 <= status < 300:
            error = f"The endpoint answered {status}" + (
                " (redirects are not followed)." if 300 <= status < 400 else ".")
    except Refused as exc:
        error = f"Refused before sending: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    session.add(WebhookAttempt(
        delivery_id=delivery.id, endpoint_id=endpoint.id, event_id=event.id,
        attempted_at=now, outcome=AttemptOutcome.FAILED if error else AttemptOutcome.SUCCEEDED,
        response_status=status, duration_ms=duration_ms,
        error=error[:ERROR_MAX] if error else None,
    ))
    if error is None:
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
    body = (f"The webhook endpoint {endpoint.url} has failed every delivery since "
            f"{since.isoformat()} and was disabled. Its undelivered events wait: fix the "
            "receiver, then enable the endpoint again (PATCH "
            f"/api/v1/webhook-endpoints/{endpoint.id} with enabled: true), or re-send "
            "events by hand.")
    for admin in admins:
        queue_email(session, admin.email, "A webhook endpoint was disabled", body)
        notify(session, admin.id, "webhook_endpoint.disabled",
               "A webhook endpoint was disabled", body,
               {"endpoint_id": str(endpoint.id)})
