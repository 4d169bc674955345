"""OWASP API10:2023, unsafe consumption of APIs: a Stripe webhook is signed, but its
payload is still only a claim (old, out of order, or about an object that is not what
it says). Through the HTTP webhook endpoint with the Stripe stand-in: nothing is made
ready and no money moves on a payload; what Stripe says when asked decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.payout_helpers import (
    API,
    NOW,
    PERIOD_END,
    approved_run,
    assert_ledger_sound,
    balances,
    configure,
    earn,
    finance_user,
    schedule,
    stripe_app,
    stripe_trainer,
)
from tests.stripe_standin import StripeStandin, stripe_standin
from workforce.accounts.models import AuditEvent, User
from workforce.billing import payout_accounts, payouts, processing
from workforce.billing.models import ItemState, JournalEntry, PayoutAccount, PayoutItem
from workforce.db import Database
from workforce.notifications.models import Notification

__all__ = ["stripe_app", "stripe_standin"]  # the fixtures, imported for pytest

HOOK = f"{API}/webhooks/stripe"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def onboarded_trainer(session: Session, standin: StripeStandin, *,
                      enabled: bool) -> tuple[User, str]:
    """A trainer whose payout account is a connected account at the stand-in, its
    readiness and requirements as Stripe has them (as onboarding leaves them)."""
    trainer, account_id = stripe_trainer(standin, ready=enabled)
    payout_accounts.update_from_stripe(session, standin.gateway().retrieve_account(account_id))
    session.commit()
    return trainer, account_id


def deliver(client: ApiClient, standin: StripeStandin, type_: str, obj: dict,
            account: str | None = None) -> None:
    body, headers = standin.signed_event(type_, obj, account)
    response = client.post(HOOK, data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["duplicate"] is False


def state(session: Session) -> tuple:
    """What an event could change: accounts' readiness, items, the ledger, notices."""
    session.expire_all()
    return (
        tuple(session.execute(select(PayoutAccount.id, PayoutAccount.payouts_enabled,
                                     PayoutAccount.requirements, PayoutAccount.hold_until)
                              .order_by(PayoutAccount.id)).all()),
        tuple(session.execute(select(PayoutItem.id, PayoutItem.state)
                              .order_by(PayoutItem.id)).all()),
        session.scalar(select(func.count()).select_from(JournalEntry)),
        session.scalar(select(func.count()).select_from(Notification)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def paid_through_stripe(session: Session, database: Database, standin: StripeStandin,
                        *trainers: tuple[User, int]) -> dict[uuid.UUID, PayoutItem]:
    """An approved run paid to each trainer through the stand-in (real transfers)."""
    fin = finance_user()
    for trainer, amount in trainers:
        earn(trainer, fin.organisation_id, amount)
    run = approved_run(session, fin)
    result = processing.process_run(database, run.id, standin.gateway(), rate=1000,
                                    sleep=lambda _: None)
    assert result.paid == len(trainers)
    session.expire_all()
    return {item.trainer_id: item for item in session.scalars(
        select(PayoutItem).where(PayoutItem.run_id == run.id))}


def test_a_signed_account_update_claiming_readiness_does_not_make_an_account_ready(
    stripe_app, client: ApiClient, session: Session, stripe_standin: StripeStandin
) -> None:
    trainer, account_id = onboarded_trainer(session, stripe_standin, enabled=False)
    claimed = {**stripe_standin.account(account_id), "payouts_enabled": True,
               "requirements": {"currently_due": [], "past_due": [], "eventually_due": []}}
    before = state(session)

    deliver(client, stripe_standin, "account.updated", claimed, account=account_id)

    assert stripe_standin.requests_to(f"GET /v1/accounts/{account_id}")  # asked Stripe
    assert state(session) == before
    account = session.scalars(select(PayoutAccount).where(
        PayoutAccount.trainer_id == trainer.id)).one()
    assert account.payouts_enabled is False
    assert "external_account" in account.requirements["currently_due"]
    # A run built now leaves the trainer out as not ready.
    fin = finance_user()
    earn(trainer, fin.organisation_id, 1200)
    run, _ = payouts.ensure_run(session, fin, schedule(session, fin.organisation_id),
                                PERIOD_END)
    session.commit()
    left_out = client.get(f"{API}/payout-runs/{run.id}/exclusions",
                          as_user=fin).get_json()["items"]
    assert [(e["trainer_id"], e["reason"]) for e in left_out] == [
        (str(trainer.id), "account_not_ready")]

    # Once Stripe itself says so, the same claim is true and the account is ready.
    stripe_standin.set_account(account_id, payouts_enabled=True)
    deliver(client, stripe_standin, "account.updated", claimed, account=account_id)
    session.expire_all()
    assert account.payouts_enabled is True


def test_a_signed_reversal_stripe_does_not_confirm_moves_no_money(
    stripe_app, client: ApiClient, session: Session, database: Database,
    stripe_standin: StripeStandin,
) -> None:
    trainer, _ = onboarded_trainer(session, stripe_standin, enabled=True)
    item = paid_through_stripe(session, database, stripe_standin, (trainer, 1700))[trainer.id]
    org = item.organisation_id
    transfer_id = item.transfer_id
    assert transfer_id
    before = state(session)

    claimed = {**stripe_standin.transfer(transfer_id), "reversed": True,
               "amount_reversed": 1700}
    deliver(client, stripe_standin, "transfer.reversed", claimed)
    assert stripe_standin.requests_to(f"GET /v1/transfers/{transfer_id}")
    assert state(session) == before

    # Stripe reversed part of it; the payload claims all: only Stripe's part moves.
    stripe_standin.reverse_transfer(transfer_id, amount=200)
    deliver(client, stripe_standin, "transfer.reversed", claimed)
    session.expire_all()
    assert session.get(PayoutItem, item.id).state is ItemState.PAID
    assert balances(session, org, trainer.id) == {"payable": 200, "in_transit": 0, "paid": 1500}
    assert session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "payout.reversed")) == 1

    # Reversed in full at Stripe: now the money goes back to payable, once.
    stripe_standin.reverse_transfer(transfer_id)
    deliver(client, stripe_standin, "transfer.reversed", claimed)
    deliver(client, stripe_standin, "transfer.reversed", claimed)
    assert balances(session, org, trainer.id) == {"payable": 1700, "in_transit": 0, "paid": 0}
    assert_ledger_sound(session)


def test_a_payload_naming_another_trainers_account_changes_nothing(
    stripe_app, client: ApiClient, session: Session, database: Database,
    stripe_standin: StripeStandin,
) -> None:
    sender, sender_account = onboarded_trainer(session, stripe_standin, enabled=True)
    victim, victim_account = onboarded_trainer(session, stripe_standin, enabled=True)
    items = paid_through_stripe(session, database, stripe_standin, (sender, 900),
                                (victim, 1300))
    waiting, waiting_account = onboarded_trainer(session, stripe_standin, enabled=False)
    before = state(session)

    # An event from the sender's connected account about another trainer's account.
    about_other = {**stripe_standin.account(waiting_account), "payouts_enabled": True}
    deliver(client, stripe_standin, "account.updated", about_other, account=sender_account)
    # A reversal of the victim's transfer, rewritten to name the sender's account.
    victim_transfer = stripe_standin.transfer(items[victim.id].transfer_id or "")
    rewritten = {**victim_transfer, "destination": sender_account, "reversed": True,
                 "amount_reversed": victim_transfer["amount"]}
    deliver(client, stripe_standin, "transfer.reversed", rewritten, account=sender_account)
    assert state(session) == before

    # A bank payout failure of the sender's account tells the sender, nobody else.
    failed = {"id": "po_1", "object": "payout", "amount": 900, "currency": "usd",
              "destination": victim_account, "failure_code": "account_closed",
              "failure_message": "The bank account has been closed."}
    deliver(client, stripe_standin, "payout.failed", failed, account=sender_account)
    told = session.scalars(select(Notification.user_id).where(
        Notification.kind == "payout.bank_failed")).all()
    assert told == [sender.id]
    org = items[sender.id].organisation_id
    for trainer, amount in ((sender, 900), (victim, 1300)):
        assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 0,
                                                      "paid": amount}
    assert session.scalars(select(PayoutAccount.payouts_enabled).where(
        PayoutAccount.trainer_id == waiting.id)).one() is False
    assert_ledger_sound(session)


def test_without_stripe_to_ask_no_money_moves_on_a_payload(
    app: Flask, client: ApiClient, session: Session, database: Database,
    stripe_standin: StripeStandin, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the webhook secret but no API key (Stripe switched off), a reversal cannot
    be checked, so it moves nothing."""
    trainer, _ = onboarded_trainer(session, stripe_standin, enabled=True)
    item = paid_through_stripe(session, database, stripe_standin, (trainer, 600))[trainer.id]
    configure(monkeypatch, app, stripe_webhook_secret=stripe_standin.webhook_secret)
    stripe_standin.reverse_transfer(item.transfer_id or "")
    before = state(session)
    deliver(client, stripe_standin, "transfer.reversed",
            stripe_standin.transfer(item.transfer_id or ""))
    assert state(session) == before
