"""Writing webhook events: the one function the domain services call at the moment a
change happens, in the change's own transaction (no Flask, no sending here)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workforce import clock, db
from workforce.integrations.catalogue import EventType
from workforce.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def emit(
    session: Session, organisation_id: uuid.UUID, type_: EventType, data: dict[str, Any],
    *, once_key: str | None = None,
) -> uuid.UUID | None:
    """Write the event and a delivery for each enabled endpoint of the organisation that
    asked for its type; the event's id. They are sent by the scheduler once this
    transaction commits.

    With ``once_key`` the event is written once per organisation and key (the caller
    holds a lock that orders writers, such as the task's row); None when it exists."""
    session.flush()
    if once_key is not None and session.scalar(
        select(WebhookEvent.id).where(WebhookEvent.organisation_id == organisation_id,
                                      WebhookEvent.once_key == once_key)
    ) is not None:
        return None
    return _write(session, organisation_id, type_, [data], once_key)[0]


def emit_many(
    session: Session, organisation_id: uuid.UUID, type_: EventType,
    datas: list[dict[str, Any]],
) -> list[uuid.UUID]:
    """``emit`` of several events of one type and organisation (a batch of payouts paid),
    in a statement for the events and one for their deliveries; their ids in order."""
    if not datas:
        return []
    session.flush()
    return _write(session, organisation_id, type_, datas, None)


def _write(
    session: Session, organisation_id: uuid.UUID, type_: EventType,
    datas: list[dict[str, Any]], once_key: str | None,
) -> list[uuid.UUID]:
    """The events and their deliveries, written at once by Core statements built once,
    not by the unit of work (a payout run emits one an item: bench/RESULTS.md, item 27);
    the caller flushed the session's pending changes, so that what they refer to
    exists."""
    now = clock.now()
    type_value = EventType(type_).value
    ids = [uuid.uuid4() for _ in datas]
    session.execute(db.rows_insert(WebhookEvent.__table__), [
        {"id": event_id, "organisation_id": organisation_id, "type": type_value,
         "data": data, "created_at": now, "once_key": once_key}
        for event_id, data in zip(ids, datas, strict=True)])
    endpoints = subscribed_endpoints(session, organisation_id, type_value)
    if endpoints:
        session.execute(db.rows_insert(WebhookDelivery.__table__), [
            {"id": uuid.uuid4(), "event_id": event_id, "endpoint_id": endpoint_id,
             "created_at": now, "first_due_at": now, "next_attempt_at": now}
            for event_id in ids for endpoint_id in endpoints])
    return ids


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
