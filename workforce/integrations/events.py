"""Writing webhook events: the one function the domain services call at the moment a
change happens, in the change's own transaction (no Flask, no sending here)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.integrations.catalogue import EventType
from workforce.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def emit(
    session: Session, organisation_id: uuid.UUID, type_: EventType, data: dict[str, Any],
    *, once_key: str | None = None,
) -> WebhookEvent | None:
    """Write the event and a delivery for each enabled endpoint of the organisation that
    asked for its type. They are sent by the scheduler once this transaction commits.

    With ``once_key`` the event is written once per organisation and key (the caller
    holds a lock that orders writers, such as the task's row); None when it exists."""
    if once_key is not None and session.scalar(
        select(WebhookEvent.id).where(WebhookEvent.organisation_id == organisation_id,
                                      WebhookEvent.once_key == once_key)
    ) is not None:
        return None
    now = clock.now()
    event = WebhookEvent(id=uuid.uuid4(), organisation_id=organisation_id,
                         type=EventType(type_).value, data=data, created_at=now,
                         once_key=once_key)
    session.add(event)
    for endpoint_id in subscribed_endpoints(session, organisation_id, event.type):
        session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint_id,
                                    created_at=now, first_due_at=now, next_attempt_at=now))
    return event


def subscribed_endpoints(
    session: Session, organisation_id: uuid.UUID, type_: str
) -> list[uuid.UUID]:
    rows = session.execute(_endpoints_stmt(), {"organisation_id": organisation_id}).all()
    return [endpoint_id for endpoint_id, wanted in rows if type_ in wanted]


@functools.cache
def _endpoints_stmt() -> Any:
    # Built once: every change that emits an event asks (a payout run, once per item).
    return (select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.organisation_id == bindparam("organisation_id"),
                   WebhookEndpoint.enabled.is_(True)))


def iso(moment: datetime | None) -> str | None:
    """A time as events carry it: ISO 8601 in UTC."""
    return None if moment is None else clock.as_utc(moment).isoformat()


def money(amount: int | None, currency: str | None) -> dict[str, Any] | None:
    return None if amount is None or currency is None else {
        "amount": amount, "currency": currency}
