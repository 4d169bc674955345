"""How long webhook events are kept: an event older than the retention
(``webhook_event_retention``, 30 days by default) is deleted with its deliveries and
their attempts, once none of its deliveries is pending. Events are written whether or
not an endpoint wants them (``GET /webhook-events`` lists them), so without this they
would pile up for every organisation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from workforce.integrations.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)


def purge_old_events(session: Session, *, now: datetime, retention: timedelta,
                     limit: int) -> int:
    """Delete up to ``limit`` events written before ``now - retention`` that wait for no
    delivery (a pending one, of a disabled endpoint say, keeps its event), with their
    deliveries and attempts; how many events were deleted.

    The events' rows are locked (``SKIP LOCKED``): a re-send by hand holds its event's
    row, so an event is either re-sent or deleted, never re-sent as it goes."""
    waiting = exists().where(WebhookDelivery.event_id == WebhookEvent.id,
                             WebhookDelivery.state == DeliveryState.PENDING)
    ids = session.scalars(
        select(WebhookEvent.id)
        .where(WebhookEvent.created_at < now - retention, ~waiting)
        .order_by(WebhookEvent.created_at, WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if ids:
        for table in (WebhookAttempt, WebhookDelivery):
            session.execute(delete(table).where(table.event_id.in_(ids)))
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
    return len(ids)
