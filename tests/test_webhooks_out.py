"""Webhooks out: endpoints, the event outbox written with the change, signed delivery to
a real receiver on 127.0.0.1 (verified with standardwebhooks), retries with the same id,
secret rotation, disabling after three days, the send-time address check, re-sending by
hand, and every event against its schema in the OpenAPI document."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
import time_machine
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    OrganisationFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    staff,
    token_for,
)
from tests.webhook_receiver import Receiver, receiving
from workforce import clock
from workforce.accounts.models import Organisation, Role, User
from workforce.api.webhook_endpoints_schemas import event_schema_name
from workforce.db import Database
from workforce.integrations import delivery
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit, emit_many
from workforce.integrations.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from workforce.integrations.transport import Answer, Transport
from workforce.jobs import run_job
from workforce.notifications.models import Notification
from workforce.notifications.senders import MemorySender

API = "/api/v1"
START = datetime(2031, 5, 5, 9, 0, tzinfo=UTC)
JOB = "integrations.deliver_webhooks"


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as moving:
        yield moving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def admin(client: ApiClient) -> User:
    user = StaffFactory(role=Role.ADMIN)
    client._tokens[user.id] = token_for(user, lifetime=timedelta(days=4000))
    return user


def register(client: ApiClient, admin: User, url: str, types: list[str] | None = None,
             **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/webhook-endpoints", as_user=admin, json={
        "url": url, "event_types": types or [t.value for t in EventType],
        "description": "Our pipeline", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver(app: Flask) -> str:
    return run_job(JOB, app.extensions["workforce"])


def emitted(database: Database, organisation_id: uuid.UUID,
            type_: EventType = EventType.IMPORT_FINISHED) -> uuid.UUID:
    """An event committed through a unit of work of its own."""
    with database.unit_of_work() as session:
        event_id = emit(session, organisation_id, type_, {"note": "test"})
        assert event_id is not None
        return event_id


def delivery_of(session: Session, event_id: uuid.UUID) -> WebhookDelivery:
    session.expire_all()
    return session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.event_id == event_id)).one()


def until_due(traveller: time_machine.Coordinates, session: Session,
              event_id: uuid.UUID) -> None:
    traveller.move_to(delivery_of(session, event_id).next_attempt_at + timedelta(seconds=1))


# --- endpoints ---------------------------------------------------------------------------


def test_an_endpoint_is_registered_with_a_secret_shown_once(
    client: ApiClient, admin: User, session: Session,
) -> None:
    issued = register(client, admin, "https://hooks.example.com/workforce",
                      ["task.completed", "payout_item.paid"])
    assert issued["secret"].startswith("whsec_")
    endpoint = issued["endpoint"]
    assert endpoint["event_types"] == ["payout_item.paid", "task.completed"]
    shown = client.get(f"{API}/webhook-endpoints/{endpoint['id']}", as_user=admin).get_json()
    assert "secret" not in shown and issued["secret"] not in str(shown)
    page = client.get(f"{API}/webhook-endpoints", as_user=admin).get_json()
    assert [e["id"] for e in page["items"]] == [endpoint["id"]]
    changed = client.patch(f"{API}/webhook-endpoints/{endpoint['id']}", as_user=admin,
                           json={"enabled": False, "description": "Paused by us"})
    assert changed.get_json()["enabled"] is False
    assert client.delete(f"{API}/webhook-endpoints/{endpoint['id']}",
                         as_user=admin).status_code == 204
    assert_problem(client.get(f"{API}/webhook-endpoints/{endpoint['id']}", as_user=admin),
                   404)


@pytest.mark.parametrize(("url", "why"), [
    ("http://hooks.example.com/x", "https"),
    ("https://10.0.0.8/x", "private"),
    ("https://localhost.internal/x", "public host"),
    ("http://192.168.1.4:8080/x", "https"),
])
def test_an_endpoint_url_must_be_public_https(client: ApiClient, admin: User, url: str,
                                              why: str) -> None:
    response = client.post(f"{API}/webhook-endpoints", as_user=admin,
                           json={"url": url, "event_types": ["task.completed"]})
    problem = assert_problem(response, 422)
    assert why in " ".join(problem["errors"]["url"])


def test_unknown_event_types_are_refused_naming_the_field(client: ApiClient,
                                                          admin: User) -> None:
    response = client.post(f"{API}/webhook-endpoints", as_user=admin, json={
        "url": "https://hooks.example.com/x", "event_types": ["task.exploded"]})
    assert "event_types.0" in assert_problem(response, 422)["errors"]


def test_the_catalogue_lists_every_event_type(client: ApiClient, admin: User) -> None:
    listed = client.get(f"{API}/webhook-event-types", as_user=admin).get_json()["items"]
    assert {t["type"] for t in listed} == {t.value for t in EventType}


# --- the outbox --------------------------------------------------------------------------


def test_an_event_of_a_rolled_back_transaction_is_never_sent(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver,
) -> None:
    register(client, admin, receiver.url)
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        emit(uow, admin.organisation_id, EventType.IMPORT_FINISHED, {"rows": 1})
        raise RuntimeError("the change failed after the event was written")
    assert deliver(app) == "nothing to do"
    assert receiver.received == []
    assert session.scalars(select(WebhookEvent)).all() == []


def test_a_failed_request_writes_no_event(
    app: Flask, client: ApiClient, admin: User, session: Session, receiver: Receiver,
) -> None:
    """Through the API: a pause refused (a project already paused) writes nothing."""
    register(client, admin, receiver.url)
    manager = StaffFactory(role=Role.VENDOR_MANAGER, organisation=admin.organisation)
    project = ProjectFactory(manager=manager)
    pause = {"reason": "Client review."}
    assert client.post(f"{API}/projects/{project.id}/pause", as_user=manager,
                       json=pause).status_code == 200
    assert_problem(client.post(f"{API}/projects/{project.id}/pause", as_user=manager,
                               json=pause), 409)
    deliver(app)
    assert [r.headers["webhook-id"] for r in receiver.received] == [
        str(e.id) for e in session.scalars(select(WebhookEvent))]
    assert len(receiver.received) == 1


def test_a_committed_event_is_delivered_signed(
    app: Flask, client: ApiClient, admin: User, database: Database, receiver: Receiver,
    traveller: time_machine.Coordinates,
) -> None:
    secret = register(client, admin, receiver.url)["secret"]
    event_id = emitted(database, admin.organisation_id)
    assert deliver(app) == "webhook delivery attempts: 1"
    [got] = receiver.received
    assert got.verifies_with(secret)
    assert got.headers["webhook-id"] == str(event_id)
    assert got.headers["webhook-timestamp"] == str(int(START.timestamp()))
    body = got.body.decode()
    assert f'"id":"{event_id}"' in body and '"type":"import.finished"' in body
    assert deliver(app) == "nothing to do"


def test_an_endpoint_gets_only_the_types_it_asked_for(
    app: Flask, client: ApiClient, admin: User, database: Database, receiver: Receiver,
) -> None:
    register(client, admin, receiver.url, ["task.completed"])
    emitted(database, admin.organisation_id, EventType.IMPORT_FINISHED)
    other = OrganisationFactory()
    emitted(database, other.id, EventType.TASK_COMPLETED)
    deliver(app)
    assert receiver.received == []


def test_events_emitted_together_reach_each_endpoint_that_asked_once(
    app: Flask, client: ApiClient, admin: User, database: Database, receiver: Receiver,
) -> None:
    """``emit_many`` (a batch of payouts paid): an event each, a delivery of each to every
    endpoint that asked for the type, none to the one that did not."""
    register(client, admin, receiver.url, ["payout_item.paid"])
    register(client, admin, receiver.url + "other", ["task.completed"])
    with database.unit_of_work() as session:
        ids = emit_many(session, admin.organisation_id, EventType.PAYOUT_ITEM_PAID,
                        [{"n": n} for n in range(3)])
    assert len(set(ids)) == 3
    deliver(app)
    assert sorted(receiver.ids()) == sorted(str(i) for i in ids)  # not to the other


def test_fails_twice_then_succeeds_one_accepted_delivery_with_one_id(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates,
) -> None:
    issued = register(client, admin, receiver.url)
    receiver.answers = [500, 503]
    event_id = emitted(database, admin.organisation_id)
    deliver(app)
    assert delivery_of(session, event_id).state is DeliveryState.PENDING
    assert deliver(app) == "nothing to do"  # not due again yet
    until_due(traveller, session, event_id)
    deliver(app)
    until_due(traveller, session, event_id)
    deliver(app)
    assert receiver.ids() == [str(event_id)] * 3
    assert all(r.verifies_with(issued["secret"]) for r in receiver.received)
    found = delivery_of(session, event_id)
    assert (found.state, found.attempts) == (DeliveryState.DELIVERED, 3)
    attempts = client.get(f"{API}/webhook-endpoints/{issued['endpoint']['id']}/attempts",
                          as_user=admin).get_json()["items"]
    assert [(a["outcome"], a["response_status"]) for a in attempts] == [
        ("succeeded", 200), ("failed", 503), ("failed", 500)]
    assert attempts[1]["error"] == "The endpoint answered 503."
    deliver(app)
    assert len(receiver.received) == 3


def test_a_redirect_is_a_failure_and_is_not_followed(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver,
) -> None:
    register(client, admin, receiver.url)
    receiver.answers = [302]
    event_id = emitted(database, admin.organisation_id)
    deliver(app)
    assert len(receiver.received) == 1
    assert delivery_of(session, event_id).state is DeliveryState.PENDING


def test_the_backoff_doubles_with_jitter_up_to_six_hours() -> None:
    for attempt, base in ((1, 30), (2, 60), (5, 480), (12, 6 * 3600), (40, 6 * 3600)):
        wait = delivery.backoff(attempt).total_seconds()
        assert base * 0.8 <= wait <= base * 1.2


def test_after_three_days_of_failures_the_endpoint_is_disabled_and_admins_told(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates, mail: MemorySender,
) -> None:
    other_admin = StaffFactory(role=Role.ADMIN, organisation=admin.organisation)
    endpoint_id = register(client, admin, receiver.url)["endpoint"]["id"]
    receiver.answers = [500] * 100
    event_id = emitted(database, admin.organisation_id)
    passes = 0
    while delivery_of(session, event_id).state is DeliveryState.PENDING:
        deliver(app)
        passes += 1
        endpoint = session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        if delivery_of(session, event_id).state is DeliveryState.PENDING:
            assert endpoint is not None and endpoint.enabled
            until_due(traveller, session, event_id)
    assert clock.now() - START >= timedelta(days=3)
    assert 15 <= passes <= 25 and len(receiver.received) == passes
    assert len(set(receiver.ids())) == 1
    shown = client.get(f"{API}/webhook-endpoints/{endpoint_id}", as_user=admin).get_json()
    assert shown["enabled"] is False and "failed" in shown["disabled_reason"]
    told = {m.to for m in mail.sent if "webhook endpoint was disabled" in m.subject}
    assert told == {admin.email, other_admin.email}
    assert session.scalars(select(Notification.user_id).where(
        Notification.kind == "webhook_endpoint.disabled")).all()
    emitted(database, admin.organisation_id)  # a disabled endpoint gets no deliveries
    deliver(app)
    assert len(receiver.received) == passes


def test_a_success_starts_the_failure_count_afresh(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates,
) -> None:
    endpoint_id = uuid.UUID(register(client, admin, receiver.url)["endpoint"]["id"])
    receiver.answers = [500]
    emitted(database, admin.organisation_id)
    deliver(app)
    session.expire_all()
    assert session.get(WebhookEndpoint, endpoint_id).failing_since == START  # type: ignore[union-attr]
    traveller.move_to(START + timedelta(days=2))
    deliver(app)
    session.expire_all()
    assert session.get(WebhookEndpoint, endpoint_id).failing_since is None  # type: ignore[union-attr]


# --- secrets ------------------------------------------------------------------------------


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    app: Flask, client: ApiClient, admin: User, database: Database, receiver: Receiver,
    traveller: time_machine.Coordinates,
) -> None:
    issued = register(client, admin, receiver.url)
    endpoint_id, old = issued["endpoint"]["id"], issued["secret"]
    rotated = client.post(f"{API}/webhook-endpoints/{endpoint_id}/secret/rotate",
                          as_user=admin, json={"overlap_seconds": 3600}).get_json()
    new = rotated["secret"]
    assert new != old and rotated["endpoint"]["previous_secret_expires_at"] is not None
    emitted(database, admin.organisation_id)
    deliver(app)
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verifies_with(old) and during.verifies_with(new)
    traveller.move_to(START + timedelta(hours=1, seconds=1))
    emitted(database, admin.organisation_id)
    deliver(app)
    after = receiver.received[-1]
    assert after.verifies_with(new) and not after.verifies_with(old)
    shown = client.get(f"{API}/webhook-endpoints/{endpoint_id}", as_user=admin).get_json()
    assert shown["previous_secret_expires_at"] is None


# --- the destination at send time ---------------------------------------------------------


def test_a_name_that_now_resolves_to_a_private_address_is_refused_at_send_time(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
) -> None:
    endpoint_id = register(client, admin, "https://hooks.example.com/in")["endpoint"]["id"]
    event_id = emitted(database, admin.organisation_id)
    sent: list[str] = []

    def rebound(host: str, port: int) -> list[str]:
        sent.append(host)
        return ["10.1.2.3"]

    result = delivery.deliver_due(database, Transport(timeout=2, resolver=rebound))
    assert (result.delivered, result.failed) == (0, 1)
    assert sent == ["hooks.example.com"]
    [attempt] = client.get(f"{API}/webhook-endpoints/{endpoint_id}/attempts",
                           as_user=admin).get_json()["items"]
    assert attempt["outcome"] == "failed" and attempt["response_status"] is None
    assert "10.1.2.3" in attempt["error"] and "not a public address" in attempt["error"]
    assert delivery_of(session, event_id).state is DeliveryState.PENDING


def test_loopback_endpoints_are_refused_without_the_development_setting(
    client: ApiClient, admin: User, database: Database, receiver: Receiver,
) -> None:
    register(client, admin, receiver.url)
    emitted(database, admin.organisation_id)
    result = delivery.deliver_due(database, Transport(timeout=2, allow_loopback=False))
    assert result.failed == 1 and receiver.received == []


# --- claims, crashes and the request's deadline ------------------------------------------


class Crash(BaseException):
    """The sender's process dies (as SIGKILL would: nothing after it runs)."""


class CrashingAfterThePost(Transport):
    """Sends for real, then the sender crashes before it can record the outcome."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        super().post(url, body, headers)
        raise Crash


def test_a_sender_crashed_after_the_post_is_retried_with_the_same_id_after_its_lease(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates,
) -> None:
    """At least once: the receiver accepted, the sender died before its commit; nobody
    else sends the delivery while the crashed sender's claim lasts, and after it the
    delivery goes again with the same ``webhook-id``, which the receiver de-duplicates."""
    issued = register(client, admin, receiver.url)
    event_id = emitted(database, admin.organisation_id)
    crashing = CrashingAfterThePost(timeout=2, allow_loopback=True)
    with pytest.raises(Crash):
        delivery.deliver_due(database, crashing)
    assert receiver.ids() == [str(event_id)]
    claimed = delivery_of(session, event_id)
    assert (claimed.state, claimed.attempts) == (DeliveryState.PENDING, 1)
    assert claimed.claimed_until is not None
    assert deliver(app) == "nothing to do"  # the crashed sender's claim still holds
    traveller.move_to(clock.as_utc(claimed.claimed_until) + timedelta(seconds=1))
    assert deliver(app) == "webhook delivery attempts: 1"
    assert receiver.ids() == [str(event_id)] * 2
    assert all(r.verifies_with(issued["secret"]) for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1  # the same event, byte for byte
    found = delivery_of(session, event_id)
    assert (found.state, found.attempts, found.claimed_until) == (
        DeliveryState.DELIVERED, 2, None)
    attempts = client.get(f"{API}/webhook-endpoints/{issued['endpoint']['id']}/attempts",
                          as_user=admin).get_json()["items"]
    assert [a["outcome"] for a in attempts] == ["succeeded"]


def test_a_sender_whose_claim_ran_out_leaves_the_delivery_to_the_one_that_took_it(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates,
) -> None:
    """A sender stalled past its lease (its process paused, say): another sender takes the
    delivery over and delivers it; the stalled one's failure, recorded late, is kept as
    an attempt but neither reschedules the delivery nor counts against the endpoint."""
    issued = register(client, admin, receiver.url)
    event_id = emitted(database, admin.organisation_id)
    receiver.answers = [200, 500]  # the one that took over, then the stalled one

    class Stalled(Transport):
        def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
            claimed_until = delivery_of(session, event_id).claimed_until
            traveller.move_to(clock.as_utc(claimed_until) + timedelta(seconds=1))
            assert deliver(app) == "webhook delivery attempts: 1"
            return super().post(url, body, headers)

    result = delivery.deliver_due(database, Stalled(timeout=2, allow_loopback=True))
    assert (result.delivered, result.failed) == (0, 1)
    assert receiver.ids() == [str(event_id)] * 2
    found = delivery_of(session, event_id)
    assert (found.state, found.attempts, found.claimed_until) == (
        DeliveryState.DELIVERED, 2, None)
    assert session.get(WebhookEndpoint, uuid.UUID(issued["endpoint"]["id"])
                       ).failing_since is None
    attempts = client.get(f"{API}/webhook-endpoints/{issued['endpoint']['id']}/attempts",
                          as_user=admin).get_json()["items"]
    assert sorted(a["outcome"] for a in attempts) == ["failed", "succeeded"]


@contextmanager
def dripping() -> Iterator[str]:
    """A server on 127.0.0.1 that answers a byte at a time, never finishing: each wait is
    short of the timeout, the whole is endless."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            with contextlib.suppress(OSError):
                while not stop.wait(0.05):
                    connection.sendall(b"X-Drip: 1\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_a_request_is_cut_off_at_its_deadline_which_the_claim_outlasts() -> None:
    """The timeout bounds each wait; the deadline, the whole request: a receiver that
    drips its answer cannot keep a delivery's request going past its claim."""
    transport = Transport(timeout=0.3, allow_loopback=True)
    assert delivery.lease(transport) > timedelta(seconds=transport.deadline)
    with dripping() as url, pytest.raises(TimeoutError, match=r"within 0\.9 s"):
        transport.post(url, b"{}", {"content-type": "application/json"})


# --- retention ----------------------------------------------------------------------------

PURGE = "integrations.purge_old_webhook_events"


def test_events_past_their_retention_are_deleted_with_their_deliveries(
    app: Flask, client: ApiClient, admin: User, database: Database, session: Session,
    receiver: Receiver, traveller: time_machine.Coordinates,
) -> None:
    """Events pile up for organisations with no endpoint, and delivered ones for those
    with one: after the retention (30 days) the scheduler deletes them, with their
    deliveries and attempts; an event still waiting for a delivery is kept."""
    register(client, admin, receiver.url, ["import.finished"])
    unheard = emitted(database, OrganisationFactory().id)  # an organisation with no endpoint
    delivered = emitted(database, admin.organisation_id)
    deliver(app)
    waiting = emitted(database, admin.organisation_id)  # not sent yet (never due below)
    with database.unit_of_work() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.event_id == waiting)
                  .values(next_attempt_at=START + timedelta(days=400)))
    traveller.move_to(START + timedelta(days=29))
    recent = emitted(database, admin.organisation_id, EventType.TASK_COMPLETED)
    assert run_job(PURGE, app.extensions["workforce"]) == "nothing to do"
    traveller.move_to(START + timedelta(days=30, seconds=1))
    assert run_job(PURGE, app.extensions["workforce"]) == "old webhook events deleted: 2"
    session.expire_all()
    kept = set(session.scalars(select(WebhookEvent.id)))
    assert {waiting, recent} <= kept and not {unheard, delivered} & kept
    assert session.scalars(select(WebhookDelivery.event_id)).all() == [waiting]
    assert session.scalars(select(WebhookAttempt.event_id)).all() == []
    assert run_job(PURGE, app.extensions["workforce"]) == "nothing to do"


def test_the_retention_is_a_setting() -> None:
    from workforce.settings import Settings, SettingsError

    settings = Settings.from_env({"WORKFORCE_WEBHOOK_EVENT_RETENTION": "86400"})
    assert settings.webhook_event_retention == timedelta(days=1)
    with pytest.raises(SettingsError, match="WEBHOOK_EVENT_RETENTION"):
        Settings.from_env({"WORKFORCE_WEBHOOK_EVENT_RETENTION": "0"})


# --- re-sending by hand --------------------------------------------------------------------


def test_an_event_is_resent_by_hand_with_its_own_id(
    app: Flask, client: ApiClient, admin: User, database: Database, receiver: Receiver,
) -> None:
    endpoint_id = register(client, admin, receiver.url)["endpoint"]["id"]
    event_id = emitted(database, admin.organisation_id)
    deliver(app)
    events = client.get(f"{API}/webhook-events", as_user=admin,
                        query_string={"type": "import.finished"}).get_json()["items"]
    assert [e["id"] for e in events] == [str(event_id)]
    response = client.post(f"{API}/webhook-endpoints/{endpoint_id}/resend", as_user=admin,
                           json={"event_id": str(event_id)})
    assert response.status_code == 202
    assert response.get_json()["state"] == "pending"
    deliver(app)
    assert receiver.ids() == [str(event_id)] * 2


def test_resending_another_organisations_event_is_404(
    client: ApiClient, admin: User, database: Database, receiver: Receiver,
) -> None:
    endpoint_id = register(client, admin, receiver.url)["endpoint"]["id"]
    foreign = emitted(database, OrganisationFactory().id)
    assert_problem(client.post(f"{API}/webhook-endpoints/{endpoint_id}/resend",
                               as_user=admin, json={"event_id": str(foreign)}), 404)


# --- the events, from the services, against the OpenAPI document ------------------------


def _validator(app: Flask, type_: str) -> Any:
    spec = app.extensions["workforce"].api.spec.to_dict()
    components = _json_schema(spec["components"])
    name = event_schema_name(EventType(type_))
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                            "components": components})


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema says it."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    found = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in found:
            found["type"] = [found["type"], "null"]
        if "enum" in found and None not in found["enum"]:
            found["enum"] = [*found["enum"], None]
        if "$ref" in found or "allOf" in found:
            found = {"anyOf": [found, {"type": "null"}]}
    return found


def assert_events_match_the_document(app: Flask, session: Session) -> set[str]:
    """Every event written so far, as sent, validates against its documented schema;
    the types seen."""
    seen = set()
    for event in session.scalars(select(WebhookEvent)):
        body = __import__("json").loads(delivery.payload(event))
        errors = [str(e) for e in _validator(app, event.type).iter_errors(body)]
        assert not errors, (event.type, errors, body)
        seen.add(event.type)
    return seen


def test_the_events_of_the_services_match_their_documented_schemas(
    app: Flask, client: ApiClient, session: Session,
) -> None:
    from tests.payout_helpers import NOW, approved_run, finance_user, trainer_owed
    from tests.support_helpers import flagged, sensitive_project
    from tests.task_helpers import import_file, jsonl, review, row, submitted, working

    trainer, second = UserFactory(), UserFactory()
    project = sensitive_project(trainer, second, review_sample_percent=100)
    manager = StaffFactory(role=Role.VENDOR_MANAGER,
                           organisation=session.get(Organisation, project.organisation_id))
    for user in (trainer, second, manager):
        client._tokens[user.id] = token_for(user, lifetime=timedelta(days=3000))
    assert import_file(client, manager, project, jsonl([row("clip-1"), row("clip-2")])
                       ).status_code == 201
    lease = working(client, trainer, project)
    submitted(client, trainer, lease["id"])
    assert review(client, manager, lease["id"], "approve").status_code == 200
    other = working(client, second, project)
    submitted(client, second, other["id"])
    assert review(client, manager, other["id"], "reject", rejection_category="incorrect",
                  message="Guangzhou, not Hong Kong.").status_code == 200
    flag_lease = working(client, trainer, project)
    receipt = flagged(client, trainer, flag_lease["id"])
    assert client.post(f"{API}/flags/{receipt['flag']['id']}/confirm", as_user=manager,
                       json={"scope": "task"}).status_code == 200
    assert client.post(f"{API}/projects/{project.id}/pause", as_user=manager,
                       json={"reason": "Client review."}).status_code == 200
    assert client.post(f"{API}/projects/{project.id}/resume",
                       as_user=manager).status_code == 200
    soon = (clock.now() + timedelta(days=30)).isoformat()
    assert client.post(f"{API}/projects/{project.id}/suspension", as_user=manager,
                       json={"reason": "Ended.", "effective_at": soon}).status_code == 201
    with time_machine.travel(NOW, tick=False):
        fin = finance_user()
        paid, failed = (trainer_owed(fin.organisation_id, 5000, method="manual")
                        for _ in range(2))
        run = approved_run(session, fin)
        client._tokens[fin.id] = token_for(fin, lifetime=timedelta(days=1))
        items = {i["trainer_id"]: i["id"] for i in client.get(
            f"{API}/payout-runs/{run.id}/items", as_user=fin).get_json()["items"]}
        assert client.post(f"{API}/payout-items/{items[str(paid.id)]}/manual-payment",
                           as_user=fin, json={"reference": "BANK-1"}).status_code == 200
        assert client.post(f"{API}/payout-items/{items[str(failed.id)]}/manual-failure",
                           as_user=fin, json={"reason": "Closed."}).status_code == 200
    seen = assert_events_match_the_document(app, session)
    assert seen == {t.value for t in EventType}
    flag_event = session.scalars(select(WebhookEvent).where(
        WebhookEvent.type == "flag.confirmed")).one()
    assert str(trainer.id) not in str(flag_event.data)
    assert "beating" not in str(flag_event.data)


def test_a_task_is_completed_once_when_its_last_answer_is_approved(
    client: ApiClient, session: Session,
) -> None:
    trainers = [UserFactory(), UserFactory()]
    project = ProjectFactory(review_sample_percent=100)
    staff(project, *trainers)
    manager = StaffFactory(role=Role.VENDOR_MANAGER,
                           organisation=session.get(Organisation, project.organisation_id))
    task = TaskFactory(project=project, redundancy=2)
    from tests.task_helpers import claimed, review, submitted

    leases = [claimed(client, t, project) for t in trainers]
    for trainer, lease in zip(trainers, leases, strict=True):
        submitted(client, trainer, lease["id"], answer=f"answer of {lease['id']}")
    completed = lambda: session.scalars(select(WebhookEvent).where(  # noqa: E731
        WebhookEvent.type == "task.completed")).all()
    review(client, manager, leases[0]["id"], "approve")
    assert completed() == []
    review(client, manager, leases[1]["id"], "approve")
    [event] = completed()
    assert event.data["task_id"] == str(task.id) and event.data["aggregate"] is None
    assert sorted(a["assignment_id"] for a in event.data["answers"]) == sorted(
        lease["id"] for lease in leases)
