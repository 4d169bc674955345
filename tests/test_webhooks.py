"""Stripe webhooks: accepted only with a valid signature over the raw body, stored once
per event id (also when two deliveries race), and ``account.updated`` keeps payout
accounts' readiness current, re-read from Stripe when Stripe is configured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.payout_helpers import configure, stripe_app, stripe_trainer
from tests.races import race
from tests.stripe_standin import (
    CONNECT_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    StripeStandin,
    sign,
    stripe_standin,
)
from workforce.accounts.models import AuditEvent, User
from workforce.app import create_app
from workforce.billing import webhooks
from workforce.billing.models import PayoutAccount, StripeEvent
from workforce.billing.payouts import stripe_events
from workforce.db import Database
from workforce.notifications.models import Notification
from workforce.notifications.senders import MemorySender
from workforce.settings import Settings

__all__ = ["stripe_app", "stripe_standin"]  # the fixtures, imported for pytest

HOOK = "/api/v1/webhooks/stripe"
CONNECT_HOOK = "/api/v1/webhooks/stripe/connect"


@pytest.fixture
def secret_only(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """Webhooks verified, but no Stripe API key: payloads are all there is."""
    configure(monkeypatch, app, stripe_webhook_secret=WEBHOOK_SECRET)
    yield app


def deliver(client: ApiClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(HOOK, data=body, headers=headers)


def events(session: Session) -> list[StripeEvent]:
    return list(session.scalars(select(StripeEvent)))


def readiness_notices(session: Session, trainer: User) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "payout_account.readiness")))


def account_of(session: Session, trainer: User) -> PayoutAccount:
    account = session.scalar(select(PayoutAccount).where(PayoutAccount.trainer_id == trainer.id))
    assert account is not None
    return account


# --- account.updated ------------------------------------------------------------------


def test_account_updated_flips_readiness_once(secret_only, client: ApiClient,
                                              session: Session, stripe_standin):
    trainer, account_id = stripe_trainer(stripe_standin)
    ready = stripe_standin.set_account(account_id, payouts_enabled=True)
    body, headers = stripe_standin.signed_event("account.updated", ready, account=account_id)

    first = deliver(client, body, headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"received": True, "duplicate": False}
    account = account_of(session, trainer)
    assert account.payouts_enabled is True and account.requirements["currently_due"] == []
    [notice] = readiness_notices(session, trainer)
    assert notice.title == "Your payout account is ready"

    again = deliver(client, body, headers)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    [event] = events(session)
    assert (event.type, event.account) == ("account.updated", account_id)
    assert event.processed_at is not None
    assert len(readiness_notices(session, trainer)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "payout_account.readiness_changed",
        AuditEvent.object_id == str(account.id))) == 1


def test_account_losing_readiness_tells_the_trainer(secret_only, client: ApiClient,
                                                    session: Session, stripe_standin):
    trainer, account_id = stripe_trainer(stripe_standin, ready=True)
    blocked = stripe_standin.set_account(account_id, payouts_enabled=False)
    body, headers = stripe_standin.signed_event("account.updated", blocked, account=account_id)
    assert deliver(client, body, headers).status_code == 200
    account = account_of(session, trainer)
    assert account.payouts_enabled is False
    assert "external_account" in account.requirements["currently_due"]
    [notice] = readiness_notices(session, trainer)
    assert "external_account" in notice.body


def test_account_is_reread_from_stripe(stripe_app, client: ApiClient, session: Session,
                                       stripe_standin):
    trainer, account_id = stripe_trainer(stripe_standin)
    # An old (or forged-but-signed) payload says ready; Stripe says otherwise.
    claimed = {**stripe_standin.account(account_id), "payouts_enabled": True}
    body, headers = stripe_standin.signed_event("account.updated", claimed, account=account_id)
    assert deliver(client, body, headers).status_code == 200
    assert account_of(session, trainer).payouts_enabled is False
    assert stripe_standin.requests_to(f"GET /v1/accounts/{account_id}")

    stripe_standin.set_account(account_id, payouts_enabled=True)
    stale = {**stripe_standin.account(account_id), "payouts_enabled": False}
    body, headers = stripe_standin.signed_event("account.updated", stale, account=account_id)
    assert deliver(client, body, headers).status_code == 200
    assert account_of(session, trainer).payouts_enabled is True


def test_stripe_down_during_reread_stores_nothing_and_redelivery_works(
    stripe_app, client: ApiClient, session: Session, stripe_standin,
):
    trainer, account_id = stripe_trainer(stripe_standin)
    stripe_standin.set_account(account_id, payouts_enabled=True)
    body, headers = stripe_standin.signed_event(
        "account.updated", stripe_standin.account(account_id), account=account_id)
    stripe_standin.fail_next("GET /v1/accounts/*", status=500)
    assert_problem(deliver(client, body, headers), 503, code="stripe-unavailable")
    assert events(session) == [] and account_of(session, trainer).payouts_enabled is False

    assert deliver(client, body, headers).status_code == 200
    assert len(events(session)) == 1 and account_of(session, trainer).payouts_enabled is True


def test_unknown_account_and_ignored_types_are_stored_and_answered(
    secret_only, client: ApiClient, session: Session, stripe_standin,
):
    stranger = stripe_standin.add_account(payouts_enabled=True)
    body, headers = stripe_standin.signed_event(
        "account.updated", stripe_standin.account(stranger), account=stranger)
    assert deliver(client, body, headers).status_code == 200
    body, headers = stripe_standin.signed_event("customer.created", {"id": "cus_1",
                                                                     "object": "customer"})
    response = deliver(client, body, headers)
    assert response.status_code == 200 and response.get_json()["duplicate"] is False
    stored = {e.type: e for e in events(session)}
    assert set(stored) == {"account.updated", "customer.created"}
    assert stored["customer.created"].processed_at is None
    assert stored["customer.created"].payload["data"]["object"]["id"] == "cus_1"


# --- two endpoints, a secret each -----------------------------------------------------


def test_connect_events_verify_with_the_connect_endpoints_secret(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    """Stripe sends connected accounts' events to the Connect endpoint, signed with its
    own secret, and the platform's own events to the account endpoint with another:
    both kinds are accepted at once, each at its route with its secret."""
    trainer, account_id = stripe_trainer(stripe_standin)
    ready = stripe_standin.set_account(account_id, payouts_enabled=True)
    body, headers = stripe_standin.signed_event(
        "account.updated", ready, account=account_id, secret=CONNECT_WEBHOOK_SECRET)
    # Not at the account endpoint: its secret is another.
    assert_problem(deliver(client, body, headers), 400, code="bad-signature")
    assert account_of(session, trainer).payouts_enabled is False

    response = client.post(CONNECT_HOOK, data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert account_of(session, trainer).payouts_enabled is True
    [event] = events(session)
    assert (event.type, event.account) == ("account.updated", account_id)

    platform, platform_headers = stripe_standin.signed_event(
        "transfer.reversed", {"id": "tr_unknown", "object": "transfer"})
    assert_problem(client.post(CONNECT_HOOK, data=platform, headers=platform_headers), 400,
                   code="bad-signature")
    assert deliver(client, platform, platform_headers).status_code == 200
    assert {e.type for e in events(session)} == {"account.updated", "transfer.reversed"}


def test_the_connect_endpoint_without_its_secret_is_unavailable(
    secret_only, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    _, account_id = stripe_trainer(stripe_standin)
    body, headers = stripe_standin.signed_event(
        "account.updated", stripe_standin.account(account_id), account=account_id,
        secret=CONNECT_WEBHOOK_SECRET)
    problem = assert_problem(client.post(CONNECT_HOOK, data=body, headers=headers), 503,
                             code="webhooks-not-configured")
    assert "WORKFORCE_STRIPE_CONNECT_WEBHOOK_SECRET" in problem["detail"]
    assert events(session) == []


# --- refused deliveries ---------------------------------------------------------------


def _ready_event(standin: StripeStandin) -> tuple[User, str, bytes]:
    trainer, account_id = stripe_trainer(standin)
    ready = standin.set_account(account_id, payouts_enabled=True)
    body, _ = standin.signed_event("account.updated", ready, account=account_id)
    return trainer, account_id, body


@pytest.mark.parametrize("case", ["wrong secret", "missing", "stale", "tampered", "garbage",
                                  "no v1", "empty body"])
def test_bad_signatures_are_refused_and_write_nothing(secret_only, client: ApiClient,
                                                      session: Session, stripe_standin, case):
    trainer, _, body = _ready_event(stripe_standin)
    headers = {"Content-Type": "application/json"}
    if case == "wrong secret":
        headers["Stripe-Signature"] = sign(body, "whsec_someone_else")
    elif case == "stale":
        headers["Stripe-Signature"] = sign(body, WEBHOOK_SECRET,
                                           timestamp=int(time.time()) - 301)
    elif case == "tampered":
        headers["Stripe-Signature"] = sign(body, WEBHOOK_SECRET)
        body = body.replace(b'"payouts_enabled": true', b'"payouts_enabled": false', 1)
        body = body.replace(b'"type": "account.updated"', b'"type": "account.updatet"', 1)
    elif case == "garbage":
        headers["Stripe-Signature"] = "not a signature"
    elif case == "no v1":
        headers["Stripe-Signature"] = sign(body, WEBHOOK_SECRET).split(",")[0]
    elif case == "empty body":
        headers["Stripe-Signature"] = sign(b"", WEBHOOK_SECRET)
        body = b""
    response = deliver(client, body, headers)
    problem = assert_problem(response, 400, code="bad-signature")
    assert "signature" in problem["detail"].lower()
    assert events(session) == []
    assert account_of(session, trainer).payouts_enabled is False
    assert readiness_notices(session, trainer) == []


def test_signature_just_within_tolerance_is_accepted(secret_only, client: ApiClient,
                                                     session: Session, stripe_standin):
    trainer, _, body = _ready_event(stripe_standin)
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 240)}
    assert deliver(client, body, headers).status_code == 200
    assert account_of(session, trainer).payouts_enabled is True


def test_signed_with_a_rolled_secret_alongside(secret_only, client: ApiClient,
                                               session: Session, stripe_standin):
    # While a secret is rolled Stripe signs with both: one good v1 is enough.
    _, _, body = _ready_event(stripe_standin)
    good = sign(body, WEBHOOK_SECRET)
    old = sign(body, "whsec_old", timestamp=int(good.split(",")[0][2:]))
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": f"{old},{good.split(',')[1]}"}
    assert deliver(client, body, headers).status_code == 200


def test_without_a_secret_webhooks_are_unavailable(client: ApiClient, session: Session,
                                                   stripe_standin):
    _, _, body = _ready_event(stripe_standin)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, "")}
    assert_problem(deliver(client, body, headers), 503, code="webhooks-not-configured")
    assert events(session) == []


# --- the dispatch table ---------------------------------------------------------------


def test_registered_handlers_get_the_event_account_and_gateway(
    stripe_app, client: ApiClient, session: Session, stripe_standin,
    monkeypatch: pytest.MonkeyPatch,
):
    seen: list[tuple[str, str | None, Any]] = []

    def handler(session: Session, event: dict[str, Any], account: str | None,
                gateway: Any) -> None:
        seen.append((event["data"]["object"]["id"], account, gateway))

    monkeypatch.setitem(webhooks.HANDLERS, "transfer.reversed", handler)
    body, headers = stripe_standin.signed_event(
        "transfer.reversed", {"id": "tr_1", "object": "transfer"}, account="acct_9")
    assert deliver(client, body, headers).status_code == 200
    assert deliver(client, body, headers).status_code == 200
    assert seen == [("tr_1", "acct_9", stripe_app.extensions["workforce"].gateway)]


def test_a_failing_handler_stores_nothing(secret_only, client: ApiClient, session: Session,
                                          stripe_standin, monkeypatch: pytest.MonkeyPatch):
    def handler(session: Session, event: dict[str, Any], account: str | None,
                gateway: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(webhooks.HANDLERS, "payout.failed", handler)
    body, headers = stripe_standin.signed_event("payout.failed", {"id": "po_1"},
                                                account="acct_9")
    assert deliver(client, body, headers).status_code == 500
    assert events(session) == []  # Stripe delivers it again later


def test_the_app_factory_registers_the_handlers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
):
    """Every process built by the app factory (the API, the scheduler, the CLI) handles
    the same events, whatever modules it imported."""
    monkeypatch.setattr(webhooks, "HANDLERS", {})
    # A database of its own: the factory configures the sessions of the one it is given.
    create_app(settings, database=Database("sqlite://"), email_sender=MemorySender(),
               configure_logging=False)
    assert dict(webhooks.HANDLERS) == {
        "account.updated": webhooks.handle_account_updated,
        "transfer.reversed": stripe_events.on_transfer_reversed,
        "payout.paid": stripe_events.on_payout_paid,
        "payout.failed": stripe_events.on_payout_failed,
    }


# --- races (PostgreSQL) ---------------------------------------------------------------


def test_racing_deliveries_of_one_event_are_handled_once(
    live_app: Flask, live_session: Session, monkeypatch: pytest.MonkeyPatch,
):
    standin = StripeStandin(api_key=None)  # no server: only the events are needed
    configure(monkeypatch, live_app, stripe_webhook_secret=WEBHOOK_SECRET,
              stripe_api_key="")
    trainer, account_id = stripe_trainer(standin)
    ready = standin.set_account(account_id, payouts_enabled=True)
    body, headers = standin.signed_event("account.updated", ready, account=account_id)

    results = race(live_app, [
        lambda client: client.post(HOOK, data=body, headers=headers) for _ in range(8)
    ])

    assert [r.status_code for r in results] == [200] * 8, results[0].get_data(as_text=True)
    assert sorted(r.get_json()["duplicate"] for r in results) == [False] + [True] * 7
    live_session.expire_all()
    event_id = standin_event_id(body)
    assert live_session.scalar(select(func.count()).select_from(StripeEvent).where(
        StripeEvent.event_id == event_id)) == 1
    assert len(readiness_notices(live_session, trainer)) == 1
    assert account_of(live_session, trainer).payouts_enabled is True


def standin_event_id(body: bytes) -> str:
    import json

    return json.loads(body)["id"]
