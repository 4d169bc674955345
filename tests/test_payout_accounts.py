"""Trainers' payout accounts through the API: Stripe Connect onboarding against the
stand-in, manual bank details shown masked, and the hold (with notices) that follows any
change of where the money goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory, token_for
from tests.payout_helpers import configure
from tests.stripe_standin import StripeStandin, stripe_standin
from workforce import clock
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.billing import payout_accounts
from workforce.billing.models import PayoutAccount, PayoutMethod
from workforce.notifications.models import Notification, OutboundEmail
from workforce.notifications.senders import MemorySender

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

ME = "/api/v1/me/payout-account"
STRIPE = ME + "/stripe"
MANUAL = ME + "/manual"
IBAN = "DE89370400440532013000"
OTHER_IBAN = "GB82WEST12345698765432"
HOLD = timedelta(hours=72)


@pytest.fixture
def stripe_app(app: Flask, stripe_standin: StripeStandin,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The test app with Stripe configured, pointed at the stand-in."""
    configure(monkeypatch, app, stripe_api_key=stripe_standin.api_key,
              stripe_api_base=stripe_standin.url,
              stripe_webhook_secret=stripe_standin.webhook_secret,
              public_base_url="https://workforce.example")
    yield app


def manual_body(**changes: object) -> dict[str, object]:
    return {"holder_name": "Ada Lovelace", "bank_name": "Deutsche Bank", "country": "DE",
            "iban": IBAN, **changes}


def long_token(user: User) -> str:
    """A token that outlives the time travel of a test."""
    return token_for(user, lifetime=timedelta(days=30))


def stored(session: Session, trainer: User) -> PayoutAccount | None:
    return payout_accounts.find_payout_account(session, trainer.id)


def audit_actions(session: Session, account: PayoutAccount) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(account.id))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ))


# --- before anything exists -----------------------------------------------------------


def test_no_account_yet_is_404(client: ApiClient):
    assert_problem(client.get(ME, as_user=UserFactory()), 404, code="not-found")


def test_staff_have_no_payout_account(client: ApiClient):
    manager = StaffFactory(role=Role.FINANCE)
    assert_problem(client.get(ME, as_user=manager), 403, code="role-forbidden")
    assert_problem(client.request("PUT", MANUAL, as_user=manager, json=manual_body()), 403)


def test_stripe_not_configured(client: ApiClient, session: Session):
    trainer = UserFactory()
    assert_problem(client.post(STRIPE, as_user=trainer), 409, code="stripe-not-configured")
    assert stored(session, trainer) is None


# --- Stripe Connect -------------------------------------------------------------------


def test_connect_stripe_end_to_end(stripe_app, client: ApiClient, session: Session,
                                   stripe_standin: StripeStandin):
    trainer = UserFactory(country="DE")
    response = client.post(STRIPE, as_user=trainer)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    [account_id] = stripe_standin.accounts
    at_stripe = stripe_standin.account(account_id)
    assert (at_stripe["type"], at_stripe["email"], at_stripe["country"]) == (
        "express", trainer.email, "DE"
    )
    [request] = stripe_standin.requests_to("POST /v1/accounts")
    assert str(trainer.id) in (request.idempotency_key or "")
    link = stripe_standin.account_links[-1]
    assert body["onboarding_url"] == link["url"]
    assert link["account"] == account_id
    assert link["refresh_url"].startswith("https://workforce.example/")
    assert link["return_url"].startswith("https://workforce.example/")

    account = body["account"]
    assert account["method"] == "stripe" and account["stripe_account_id"] == account_id
    assert account["ready"] is False and account["payouts_enabled"] is False
    assert "external_account" in account["requirements"]["currently_due"]
    # The first setup holds nothing.
    assert account["hold_until"] is None and account["on_hold"] is False
    assert client.get(ME, as_user=trainer).get_json() == account
    assert audit_actions(session, stored(session, trainer)) == ["payout_account.created"]


def test_connecting_again_gives_a_fresh_link_for_the_same_account(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    trainer = UserFactory()
    first = client.post(STRIPE, as_user=trainer).get_json()
    second = client.post(STRIPE, as_user=trainer).get_json()
    assert second["account"]["stripe_account_id"] == first["account"]["stripe_account_id"]
    assert second["onboarding_url"] != first["onboarding_url"]
    assert len(stripe_standin.accounts) == 1 and len(stripe_standin.account_links) == 2
    assert second["account"]["hold_until"] is None


def test_stripe_failure_writes_nothing_and_the_retry_reuses_the_account(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    trainer = UserFactory()
    stripe_standin.fail_next("POST /v1/account_links", status=500)
    response = client.post(STRIPE, as_user=trainer)
    assert_problem(response, 503, code="stripe-unavailable")
    assert stored(session, trainer) is None
    # Stripe made the account; the retry's idempotency key brings the same one back.
    assert len(stripe_standin.accounts) == 1
    response = client.post(STRIPE, as_user=trainer)
    assert response.status_code == 200
    assert list(stripe_standin.accounts) == [response.get_json()["account"]["stripe_account_id"]]


def test_stripe_refusal_is_a_bad_gateway(stripe_app, client: ApiClient, session: Session,
                                         stripe_standin: StripeStandin):
    trainer = UserFactory()
    stripe_standin.fail_next("POST /v1/accounts", status=400, code="country_unsupported",
                             message="Country XX is not supported.")
    assert_problem(client.post(STRIPE, as_user=trainer), 502, code="stripe-error")
    assert stored(session, trainer) is None


# --- manual details -------------------------------------------------------------------


def test_manual_details_are_stored_and_shown_masked(client: ApiClient, session: Session):
    trainer = UserFactory()
    spaced = "de89 3704 0044 0532 0130 00"
    response = client.request("PUT", MANUAL, as_user=trainer, json=manual_body(iban=spaced))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["method"] == "manual" and body["ready"] is True
    assert body["bank"]["iban"].startswith("DE") and body["bank"]["iban"].endswith("3000")
    assert IBAN not in response.get_data(as_text=True)
    # The hidden middle digits appear nowhere in the bank details (ids are random, and
    # could contain them by chance).
    assert "0532" not in json.dumps(body["bank"])
    assert body["bank"]["holder_name"] == "Ada Lovelace"
    assert body["hold_until"] is None
    # Finance's export needs the whole number: it is stored, normalised.
    assert stored(session, trainer).bank_details["iban"] == IBAN
    again = client.get(ME, as_user=trainer)
    assert again.get_json() == body and IBAN not in again.get_data(as_text=True)


def test_account_number_and_bank_code(client: ApiClient, session: Session):
    trainer = UserFactory()
    response = client.request("PUT", MANUAL, as_user=trainer, json={
        "holder_name": "Ada Lovelace", "bank_name": "Chase", "country": "US",
        "account_number": "000123456789", "bank_code": "110000000",
    })
    assert response.status_code == 200, response.get_json()
    bank = response.get_json()["bank"]
    assert bank["account_number"].endswith("6789") and "123456789" not in bank["account_number"]
    assert bank["bank_code"] == "110000000" and "iban" not in bank
    assert "000123456789" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("changes", "field"), [
    ({"iban": "DE89370400440532013001"}, "iban"),  # checksum
    ({"iban": "DE41370400440532013"}, "iban"),  # check digits right, too short for Germany
    ({"iban": "not an iban"}, "iban"),
    ({"iban": IBAN, "account_number": "123456"}, "iban"),
    ({"iban": None, "account_number": "12345678"}, "bank_code"),
    ({"iban": None}, "account_number"),
    ({"country": "FR"}, "country"),  # the IBAN is German
    ({"country": "XX"}, "country"),
    ({"holder_name": ""}, "holder_name"),
    ({"holder_name": None}, "holder_name"),
    ({"bank_name": "x" * 201}, "bank_name"),
    ({"swift": "DEUTDEFF"}, "swift"),
])
def test_bad_bank_details_write_nothing(client: ApiClient, session: Session, changes, field):
    trainer = UserFactory()
    body = {k: v for k, v in manual_body(**changes).items() if v is not None}
    problem = assert_problem(client.request("PUT", MANUAL, as_user=trainer, json=body), 422)
    assert field in problem["errors"], problem
    assert stored(session, trainer) is None
    assert IBAN not in str(problem)


# --- changes hold payouts -------------------------------------------------------------


def test_changing_bank_details_holds_payouts_and_tells_the_trainer(
    client: ApiClient, session: Session, mail: MemorySender,
):
    trainer = UserFactory()
    assert client.request("PUT", MANUAL, as_user=trainer, json=manual_body()).status_code == 200
    assert session.scalar(select(Notification).where(Notification.user_id == trainer.id)) is None

    changed_at = clock.now()
    with time_machine.travel(changed_at, tick=False):
        response = client.request("PUT", MANUAL, as_user=trainer, json=manual_body(
            iban=OTHER_IBAN, country="GB"))
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["on_hold"] is True
    account = stored(session, trainer)
    assert clock.as_utc(account.hold_until) == changed_at + HOLD
    assert clock.as_utc(account.details_changed_at) == changed_at

    [notice] = session.scalars(select(Notification).where(Notification.user_id == trainer.id))
    assert notice.kind == "payout_account.changed"
    assert "held until" in notice.body
    assert [m.subject for m in mail.sent if m.to == trainer.email] == [
        "Your payout details changed"
    ]
    assert session.scalar(select(OutboundEmail).where(OutboundEmail.to_address == trainer.email))
    assert audit_actions(session, account) == [
        "payout_account.created", "payout_account.details_changed",
    ]
    event = session.scalar(select(AuditEvent).where(
        AuditEvent.action == "payout_account.details_changed"))
    assert event.actor_id == trainer.id
    assert IBAN not in str(event.before) and OTHER_IBAN not in str(event.after)
    assert event.before["bank_details"] != event.after["bank_details"]

    with time_machine.travel(changed_at + HOLD + timedelta(seconds=1), tick=False):
        later = client.get(ME, token=long_token(trainer)).get_json()
        assert later["on_hold"] is False
        assert not payout_accounts.on_hold(stored(session, trainer))


def test_saving_the_same_details_again_holds_nothing(client: ApiClient, session: Session):
    trainer = UserFactory()
    client.request("PUT", MANUAL, as_user=trainer, json=manual_body())
    spaced = "DE89 3704 0044 0532 0130 00"
    response = client.request("PUT", MANUAL, as_user=trainer, json=manual_body(iban=spaced))
    assert response.get_json()["hold_until"] is None
    assert audit_actions(session, stored(session, trainer)) == ["payout_account.created"]


def test_switching_methods_holds_payouts(stripe_app, client: ApiClient, session: Session,
                                         stripe_standin: StripeStandin):
    trainer = UserFactory()
    client.request("PUT", MANUAL, as_user=trainer, json=manual_body())
    to_stripe = client.post(STRIPE, as_user=trainer).get_json()["account"]
    assert to_stripe["method"] == "stripe" and to_stripe["on_hold"] is True
    assert to_stripe["bank"] is None  # the bank details are not shown for Stripe
    assert to_stripe["ready"] is False

    first_hold = stored(session, trainer).hold_until
    with time_machine.travel(clock.now() + timedelta(hours=1), tick=False):
        back = client.request("PUT", MANUAL, token=long_token(trainer),
                              json=manual_body()).get_json()
    assert back["method"] == "manual" and back["ready"] is True and back["on_hold"] is True
    assert stored(session, trainer).hold_until > first_hold

    # Back to Stripe again: the same Stripe account, its readiness read afresh.
    stripe_standin.set_account(to_stripe["stripe_account_id"], payouts_enabled=True)
    again = client.post(STRIPE, as_user=trainer).get_json()["account"]
    assert again["stripe_account_id"] == to_stripe["stripe_account_id"]
    assert again["ready"] is True
    assert len(stripe_standin.accounts) == 1
    assert audit_actions(session, stored(session, trainer)).count(
        "payout_account.details_changed") == 3


def test_readiness_for_payout_runs(session: Session):
    from tests.factories import payout_account

    trainer, other, pending = UserFactory(), UserFactory(), UserFactory()
    manual = payout_account(trainer)
    held = payout_account(other, hold_until=clock.now() + timedelta(hours=1))
    not_ready = payout_account(pending, method=PayoutMethod.STRIPE, ready=False)
    assert payout_accounts.is_ready(manual) and not payout_accounts.on_hold(manual)
    assert payout_accounts.is_ready(held) and payout_accounts.on_hold(held)
    assert not payout_accounts.is_ready(not_ready)
    assert not payout_accounts.is_ready(None)


# --- finance's view -------------------------------------------------------------------


def test_finance_sees_the_accounts_of_trainers_who_worked_for_them(
    client: ApiClient, session: Session,
):
    from tests.factories import ProjectFactory, payout_account, staff

    project = ProjectFactory()
    finance = StaffFactory(role=Role.FINANCE,
                           organisation=session.get(Organisation, project.organisation_id))
    ours, pending, elsewhere, idle = (UserFactory() for _ in range(4))
    staff(project, ours, pending)
    staff(ProjectFactory(), elsewhere)
    mine = payout_account(ours)
    payout_account(pending, method=PayoutMethod.STRIPE, ready=False)
    payout_account(elsewhere)
    payout_account(idle)

    response = client.get("/api/v1/payout-accounts", as_user=finance)
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert {item["trainer_id"] for item in items} == {str(ours.id), str(pending.id)}
    assert {item["trainer_id"]: item["ready"] for item in items} == {
        str(ours.id): True, str(pending.id): False,
    }
    assert IBAN not in response.get_data(as_text=True)

    only = client.get(f"/api/v1/payout-accounts?trainer_id={ours.id}", as_user=finance)
    assert [item["id"] for item in only.get_json()["items"]] == [str(mine.id)]
    other = client.get(f"/api/v1/payout-accounts?trainer_id={elsewhere.id}", as_user=finance)
    assert other.get_json()["items"] == []
    assert_problem(client.get("/api/v1/payout-accounts", as_user=ours), 403,
                   code="role-forbidden")


# --- readiness re-read from Stripe, until webhooks arrive ----------------------------

REFRESH = ME + "/refresh"


def test_a_trainer_refreshes_readiness_from_stripe(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    """Back from onboarding, before (or without) Stripe's ``account.updated``: the
    trainer asks, the account is re-read at Stripe, changed once, told and audited."""
    trainer = UserFactory()
    connected = client.post(STRIPE, as_user=trainer).get_json()["account"]
    account_id = connected["stripe_account_id"]
    assert client.post(REFRESH, as_user=trainer).get_json()["ready"] is False

    stripe_standin.set_account(account_id, payouts_enabled=True)
    response = client.post(REFRESH, as_user=trainer)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ready"] is True and body["requirements"]["currently_due"] == []
    assert client.get(ME, as_user=trainer).get_json()["ready"] is True
    assert stripe_standin.requests_to(f"GET /v1/accounts/{account_id}")
    account = stored(session, trainer)
    assert audit_actions(session, account) == ["payout_account.created",
                                               "payout_account.readiness_changed"]
    changed = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "payout_account.readiness_changed")).one()
    assert changed.actor_id == trainer.id
    notices = session.scalars(select(Notification.title).where(
        Notification.user_id == trainer.id,
        Notification.kind == "payout_account.readiness")).all()
    assert notices == ["Your payout account is ready"]
    client.post(REFRESH, as_user=trainer)  # nothing new: nothing more said
    assert len(audit_actions(session, account)) == 2


def test_refreshing_needs_a_stripe_account_and_stripe(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
    monkeypatch: pytest.MonkeyPatch,
):
    nobody = UserFactory()
    assert_problem(client.post(REFRESH, as_user=nobody), 404)
    manual = UserFactory()
    client.request("PUT", MANUAL, as_user=manual, json=manual_body())
    assert_problem(client.post(REFRESH, as_user=manual), 409, code="not-stripe")

    trainer = UserFactory()
    client.post(STRIPE, as_user=trainer)
    stripe_standin.fail_next("GET /v1/accounts/*", status=500)
    assert_problem(client.post(REFRESH, as_user=trainer), 503, code="stripe-unavailable")
    configure(monkeypatch, stripe_app, stripe_api_key="")
    assert_problem(client.post(REFRESH, as_user=trainer), 409, code="stripe-not-configured")
    assert audit_actions(session, stored(session, trainer)) == ["payout_account.created"]


def test_finance_refreshes_the_accounts_of_trainers_who_worked_for_them(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin,
):
    from tests.factories import ProjectFactory, payout_account, staff

    project = ProjectFactory()
    organisation = session.get(Organisation, project.organisation_id)
    finance = StaffFactory(role=Role.FINANCE, organisation=organisation)
    outsider = StaffFactory(role=Role.FINANCE)
    trainer = UserFactory()
    staff(project, trainer)
    account_id = stripe_standin.add_account(payouts_enabled=True)
    account = payout_account(trainer, method=PayoutMethod.STRIPE, ready=False,
                             stripe_account_id=account_id)
    url = f"/api/v1/payout-accounts/{account.id}/refresh"

    assert_problem(client.post(url, as_user=outsider), 404)
    assert stored(session, trainer).payouts_enabled is False
    response = client.post(url, as_user=finance)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ready"] is True
    changed = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "payout_account.readiness_changed")).one()
    assert changed.actor_id == finance.id
