"""OWASP API6:2023, unrestricted access to sensitive business flows: what a fraudster
would try with the money flows, each through the API as a person would.

- Someone who took over a trainer's sign-in changes the payout details: the next payout
  is held (a run built meanwhile leaves the trainer out), the change is audited without
  the account number, and the trainer is told in the app and by e-mail (at the address
  the attacker cannot change). A change after a run was approved keeps the new details
  out of the bank file and refuses the manual payment until the hold is over; a Stripe
  item is not sent.
- A bonus request replayed pays once; the same key with another trainer or amount is
  refused.
- Approving a run twice, recording a manual payment twice, failing a paid item (to get
  its money back to payable), retrying an item another run paid, adjusting or reversing
  below zero: each is a 409 naming the rule, and the ledger does not move.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    UserFactory,
    staff,
)
from tests.payout_helpers import (
    API,
    NOW,
    approved_run,
    approved_run_by_api,
    assert_ledger_sound,
    balances,
    entries,
    finance_user,
    item_of,
    schedule,
    sign_in_for_days,
    stripe_trainer_owed,
    trainer_owed,
)
from tests.stripe_standin import StripeStandin, stripe_standin
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing import processing
from workforce.billing.models import (
    Bonus,
    ItemState,
    JournalEntry,
    PayoutAccount,
    PayoutItem,
    PayoutMethod,
    SourceType,
)
from workforce.db import Database
from workforce.notifications.models import Notification
from workforce.notifications.senders import MemorySender

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

NEW_IBAN = "GB82WEST12345698765432"
OLD_IBAN = "DE89370400440532013000"  # the factories' manual account
HOLD = timedelta(hours=72)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def take_over_payout_details(client: ApiClient, trainer: User) -> dict:
    """What an attacker holding the trainer's token does: their own bank account."""
    response = client.request("PUT", f"{API}/me/payout-account/manual", as_user=trainer, json={
        "holder_name": "Mallory", "bank_name": "Elsewhere Bank", "country": "GB",
        "iban": NEW_IBAN})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def money_state(session: Session) -> tuple:
    """Everything a money flow can change: ledger entries, items and bonuses."""
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(JournalEntry)),
        tuple(session.execute(select(PayoutItem.id, PayoutItem.state, PayoutItem.amount)
                              .order_by(PayoutItem.id)).all()),
        session.scalar(select(func.count()).select_from(Bonus)),
    )


# --- payout-detail changes --------------------------------------------------------------


def test_a_payout_detail_change_holds_the_next_payout_and_is_audited_and_notified(
    client: ApiClient, session: Session, mail: MemorySender
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 5000, method="manual")
    bystander = trainer_owed(org, 700, method="manual")
    sign_in_for_days(client, trainer, fin)

    changed = take_over_payout_details(client, trainer)
    assert changed["on_hold"] is True
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "payout_account.details_changed")).one()
    assert event.actor_id == trainer.id
    assert event.before["bank_details"] != event.after["bank_details"]
    assert NEW_IBAN not in str(event.after) and OLD_IBAN not in str(event.before)
    notice = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "payout_account.changed")).one()
    assert "held until" in notice.body and "did not make this change" in notice.body
    assert [m.subject for m in mail.sent if m.to == trainer.email] == [
        "Your payout details changed"]

    # The run built during the hold leaves the trainer out, with the reason.
    run = client.post(f"{API}/payout-schedules/{schedule(session, org).id}/runs",
                      as_user=fin).get_json()
    left_out = client.get(f"{API}/payout-runs/{run['id']}/exclusions",
                          as_user=fin).get_json()["items"]
    assert [(e["trainer_id"], e["reason"], e["amount"]) for e in left_out] == [
        (str(trainer.id), "on_hold", 5000)]
    assert "changed recently" in left_out[0]["detail"]
    items = client.get(f"{API}/payout-runs/{run['id']}/items", as_user=fin).get_json()["items"]
    assert [i["trainer_id"] for i in items] == [str(bystander.id)]
    assert client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin).status_code == 200
    assert balances(session, org, trainer.id) == {"payable": 5000, "in_transit": 0, "paid": 0}

    # Once the hold is over (and the trainer did not object), the next run pays them.
    with time_machine.travel(NOW + HOLD + timedelta(days=7), tick=False):
        later = client.post(f"{API}/payout-schedules/{run['schedule_id']}/runs",
                            as_user=fin).get_json()
        assert later["totals"] == [{"currency": "USD", "items": 1, "amount": 5000}]
    assert_ledger_sound(session)


def test_a_change_after_approval_keeps_the_new_details_out_of_the_bank_file(
    client: ApiClient, session: Session
) -> None:
    """The bank file is read when finance pays, maybe days after approval: the details
    in it must not be ones that changed since and are still in their hold."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 4200, method="manual")
    steady = trainer_owed(org, 900, method="manual")
    sign_in_for_days(client, trainer, fin)
    run = approved_run_by_api(client, session, fin)
    take_over_payout_details(client, trainer)

    response = client.get(f"{API}/payout-runs/{run['id']}/items.csv", as_user=fin)
    assert response.status_code == 200
    rows = {r["trainer_id"]: r for r in csv.DictReader(io.StringIO(response.get_data(True)))}
    held = rows[str(trainer.id)]
    assert NEW_IBAN not in response.get_data(True)
    assert (held["iban"], held["holder_name"], held["bank_name"]) == ("", "", "")
    assert "held until" in held["note"]
    assert rows[str(steady.id)]["iban"] == OLD_IBAN and rows[str(steady.id)]["note"] == ""

    item = item_of(session, trainer)
    before = money_state(session)
    refused = client.post(f"{API}/payout-items/{item.id}/manual-payment", as_user=fin,
                          json={"reference": "BANK-1"})
    problem = assert_problem(refused, 409, code="account-on-hold")
    assert "held until" in problem["detail"]
    assert money_state(session) == before
    assert client.post(f"{API}/payout-items/{item_of(session, steady).id}/manual-payment",
                       as_user=fin, json={"reference": "BANK-2"}).status_code == 200

    # Finance may give the money back to payable at once, or wait out the hold.
    with time_machine.travel(NOW + HOLD + timedelta(minutes=1), tick=False):
        later = client.get(f"{API}/payout-runs/{run['id']}/items.csv", as_user=fin)
        row = {r["trainer_id"]: r for r in csv.DictReader(io.StringIO(later.get_data(True)))}
        assert row[str(trainer.id)]["iban"] == NEW_IBAN and row[str(trainer.id)]["note"] == ""
        paid = client.post(f"{API}/payout-items/{item.id}/manual-payment", as_user=fin,
                           json={"reference": "BANK-3"})
        assert paid.status_code == 200, paid.get_json()
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 0, "paid": 4200}
    assert_ledger_sound(session)


def test_a_failed_item_of_a_held_account_is_not_retried(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 3000, method="manual")
    sign_in_for_days(client, trainer, fin)
    approved_run_by_api(client, session, fin)
    item = item_of(session, trainer)
    failed = client.post(f"{API}/payout-items/{item.id}/manual-failure", as_user=fin,
                         json={"reason": "The bank returned it."})
    assert failed.status_code == 200, failed.get_json()
    take_over_payout_details(client, trainer)

    before = money_state(session)
    assert_problem(client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin), 409,
                   code="account-on-hold")
    assert money_state(session) == before
    assert balances(session, org, trainer.id)["payable"] == 3000
    with time_machine.travel(NOW + HOLD + timedelta(minutes=1), tick=False):
        retried = client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin)
        assert retried.status_code == 200, retried.get_json()
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 3000, "paid": 0}
    assert_ledger_sound(session)


def test_a_stripe_item_whose_account_changed_after_approval_is_not_sent(
    client: ApiClient, session: Session, database: Database, stripe_standin: StripeStandin
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 2500)
    sign_in_for_days(client, trainer, fin)
    run = approved_run_by_api(client, session, fin)
    take_over_payout_details(client, trainer)  # to a bank account of the attacker's

    result = processing.process_run(database, uuid.UUID(run["id"]), stripe_standin.gateway(),
                                    rate=1000, sleep=lambda _: None)
    assert result.failed == 1
    assert stripe_standin.requests_to("POST /v1/transfers") == []
    assert item_of(session, trainer).state is ItemState.FAILED
    assert balances(session, org, trainer.id) == {"payable": 2500, "in_transit": 0, "paid": 0}
    assert_ledger_sound(session)


# --- replays and double spending -------------------------------------------------------


def test_a_replayed_bonus_pays_once(client: ApiClient, session: Session) -> None:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    trainer, other = UserFactory(), UserFactory()
    staff(ProjectFactory(manager=manager), trainer, other)
    sign_in_for_days(client, manager)
    body = {"trainer_id": str(trainer.id), "amount": 2500, "currency": "USD",
            "reason": "Great March", "idempotency_key": "march-bonus"}
    first = client.post(f"{API}/bonuses", as_user=manager, json=body)
    assert first.status_code == 201, first.get_json()
    before = money_state(session)
    for _ in range(3):  # the same request, replayed
        again = client.post(f"{API}/bonuses", as_user=manager, json=body)
        assert (again.status_code, again.get_json()) == (200, first.get_json())
    for change in ({"trainer_id": str(other.id)}, {"amount": 250000}):
        assert_problem(client.post(f"{API}/bonuses", as_user=manager, json={**body, **change}),
                       409, code="idempotency-key-reused")
    assert money_state(session) == before
    assert balances(session, manager.organisation_id, trainer.id)["payable"] == 2500
    assert balances(session, manager.organisation_id, other.id)["payable"] == 0
    assert len(entries(session, SourceType.BONUS)) == 1
    assert session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "earnings.bonus")) == 1


def test_a_run_approved_twice_moves_money_once(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    colleague = finance_user(fin.organisation)
    org = fin.organisation_id
    trainer = trainer_owed(org, 1800)
    run = approved_run_by_api(client, session, fin)
    before = money_state(session)
    for who in (fin, colleague):
        again = client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=who)
        assert assert_problem(again, 409, code="illegal-transition")["current_state"] == (
            "approved")
    assert_problem(client.post(f"{API}/payout-runs/{run['id']}/cancel", as_user=fin), 409,
                   code="illegal-transition")
    assert money_state(session) == before
    assert len(entries(session, SourceType.PAYOUT_APPROVED, trainer.id)) == 1
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 1800, "paid": 0}
    assert_ledger_sound(session)


def test_a_paid_manual_item_is_neither_paid_again_nor_failed_back_to_payable(
    client: ApiClient, session: Session
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 4000, method="manual")
    approved_run_by_api(client, session, fin)
    item = item_of(session, trainer)
    assert client.post(f"{API}/payout-items/{item.id}/manual-payment", as_user=fin,
                       json={"reference": "BANK-1"}).status_code == 200
    before = money_state(session)
    attempts = [
        ("manual-payment", {"reference": "BANK-2"}),
        ("manual-failure", {"reason": "Pretend it bounced."}),  # would re-open payable
        ("retry", None),
    ]
    for action, body in attempts:
        response = client.post(f"{API}/payout-items/{item.id}/{action}", as_user=fin, json=body)
        assert_problem(response, 409, code="illegal-transition")
    assert money_state(session) == before
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 0, "paid": 4000}
    assert_ledger_sound(session)


def test_an_item_another_run_paid_cannot_be_retried(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 800, method="manual")
    approved_run_by_api(client, session, fin)
    item = item_of(session, trainer)
    client.post(f"{API}/payout-items/{item.id}/manual-failure", as_user=fin,
                json={"reason": "Wrong account."})
    # A later run pays the money that went back to payable.
    later = schedule(session, org, name="Later", weekday=0, hour=8)
    approved_run(session, fin, later, NOW - timedelta(minutes=30))

    before = money_state(session)
    response = client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin)
    assert_problem(response, 409, code="not-covered")
    assert money_state(session) == before
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 800, "paid": 0}
    assert_ledger_sound(session)


def test_money_cannot_be_taken_below_zero(client: ApiClient, session: Session) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 1000, method="manual")
    [earning] = session.scalars(select(JournalEntry).where(
        JournalEntry.trainer_id == trainer.id))
    approved_run_by_api(client, session, fin)  # the 1000 is in transit now, nothing payable
    before = money_state(session)
    body = {"trainer_id": str(trainer.id), "amount": -1, "currency": "USD",
            "reason": "Clawback"}
    assert assert_problem(client.post(f"{API}/adjustments", as_user=fin, json=body), 409,
                          code="would-go-negative")["available"] == 0
    reversal = client.post(f"{API}/ledger/entries/{earning.id}/reversal", as_user=fin,
                           json={"reason": "Take back the paid earning."})
    assert_problem(reversal, 409, code="would-go-negative")
    negative_bonus = client.post(f"{API}/bonuses", as_user=StaffFactory(
        role=Role.VENDOR_MANAGER, organisation=fin.organisation), json={
        "trainer_id": str(trainer.id), "amount": -500, "currency": "USD",
        "reason": "Negative", "idempotency_key": "neg"})
    assert "amount" in assert_problem(negative_bonus, 422)["errors"]
    assert money_state(session) == before
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 1000, "paid": 0}
    assert_ledger_sound(session)



def test_a_trainer_who_moved_to_stripe_is_not_paid_to_the_old_bank_details(
    client: ApiClient, session: Session
) -> None:
    """Long after the hold, a manual item approved before the trainer moved to Stripe
    is still not paid to the bank details they left: 409 ``account-changed``."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = trainer_owed(org, 2200, method="manual")
    run = approved_run_by_api(client, session, fin)
    account = session.scalars(select(PayoutAccount).where(
        PayoutAccount.trainer_id == trainer.id)).one()
    account.method, account.stripe_account_id = PayoutMethod.STRIPE, "acct_moved"
    session.commit()

    response = client.get(f"{API}/payout-runs/{run['id']}/items.csv", as_user=fin)
    [row] = csv.DictReader(io.StringIO(response.get_data(True)))
    assert row["iban"] == "" and "method changed" in row["note"]
    item = item_of(session, trainer)
    before = money_state(session)
    assert_problem(client.post(f"{API}/payout-items/{item.id}/manual-payment", as_user=fin,
                               json={"reference": "BANK-1"}), 409, code="account-changed")
    assert money_state(session) == before
    failed = client.post(f"{API}/payout-items/{item.id}/manual-failure", as_user=fin,
                         json={"reason": "Moved to Stripe."})
    assert failed.status_code == 200, failed.get_json()
    assert balances(session, org, trainer.id) == {"payable": 2200, "in_transit": 0, "paid": 0}
    assert_ledger_sound(session)
