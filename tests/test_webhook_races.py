"""Webhook delivery under real concurrency, on PostgreSQL (the live database): two
deliverers, each with its own engine and connections, running the delivery job at the
same time over the same due deliveries send each one once, and together send them all."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.factories import StaffFactory
from tests.races import Window, race
from tests.webhook_receiver import Receiver, receiving
from workforce.accounts.models import Role
from workforce.db import Database
from workforce.integrations import delivery, endpoints
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit
from workforce.integrations.models import DeliveryState, WebhookDelivery
from workforce.integrations.transport import Answer, Transport

EVENTS = 12


class Counted(Transport):
    """The real transport, noting the ``webhook-id`` of each request it sends to ``url``
    (the live database may hold other tests' deliveries)."""

    def __init__(self, url: str) -> None:
        super().__init__(timeout=5, allow_loopback=True)
        self.url = url
        self.sent: list[str] = []

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        if url == self.url:
            self.sent.append(headers["webhook-id"])
        return super().post(url, body, headers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def engines(live_database: Database) -> Iterator[tuple[Database, Database]]:
    """Two deliverers' databases: an engine (and pool) each, as in two processes."""
    url = live_database.engine.url.render_as_string(hide_password=False)
    pair = (Database(url), Database(url))
    try:
        yield pair
    finally:
        for database in pair:
            database.dispose()


def due_events(live_database: Database, live_session: Session, receiver: Receiver
               ) -> list[str]:
    admin = StaffFactory(role=Role.ADMIN)
    with live_database.unit_of_work() as session:
        endpoints.create_endpoint(session, admin, url=receiver.url,
                                  event_types=["import.finished"], allow_loopback=True)
    ids = []
    for n in range(EVENTS):
        with live_database.unit_of_work() as session:
            found = emit(session, admin.organisation_id, EventType.IMPORT_FINISHED,
                         {"rows": n})
            assert found is not None
            ids.append(str(found))
    return ids


def test_two_deliverers_at_once_send_each_delivery_once_and_all_of_them(
    live_app: Flask, live_database: Database, live_session: Session, receiver: Receiver,
    engines: tuple[Database, Database],
) -> None:
    """The first deliverer stops with the first due delivery's row locked by its claim;
    the second starts only then and must get past that row (``SKIP LOCKED``) to claim,
    send and record another while the first still holds it: the window. A second that
    waited on the lock, or found nothing, misses the window and the test fails. Then
    both run on to the end side by side."""
    ids = due_events(live_database, live_session, receiver)
    first_db, second_db = engines
    first, second = Counted(receiver.url), Counted(receiver.url)
    window = Window()
    holding = threading.Event()

    def hold_the_first_claim(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "SKIP LOCKED" in statement and not holding.is_set():
            holding.set()
            window.hold_until(lambda: len(second.sent) > 0,
                              "the second deliverer sent nothing past the first's lock")

    event.listen(first_db.engine, "after_cursor_execute", hold_the_first_claim)

    def run_first(_client: object) -> delivery.PassResult:
        return delivery.deliver_due(first_db, first)

    def run_second(_client: object) -> delivery.PassResult:
        assert holding.wait(10), "the first deliverer never claimed"
        return delivery.deliver_due(second_db, second)

    try:
        results = race(live_app, [run_first, run_second])
    finally:
        event.remove(first_db.engine, "after_cursor_execute", hold_the_first_claim)

    assert window.hit.is_set()
    # The first holds the first due delivery; the second sent others meanwhile.
    assert first.sent[0] == ids[0] and ids[0] not in second.sent
    assert first.sent and second.sent
    assert Counter(receiver.ids()) == Counter({event_id: 1 for event_id in ids})
    assert Counter(first.sent + second.sent) == Counter(receiver.ids())
    assert sum(r.delivered for r in results) >= EVENTS
    live_session.expire_all()
    states = live_session.execute(
        select(WebhookDelivery.state, WebhookDelivery.attempts, WebhookDelivery.claimed_until)
        .where(WebhookDelivery.event_id.in_([uuid.UUID(i) for i in ids]))).all()
    assert states == [(DeliveryState.DELIVERED, 1, None)] * EVENTS
