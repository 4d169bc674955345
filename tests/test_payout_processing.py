"""Processing approved payout items through the Stripe stand-in: one transfer per item
with a saved idempotency key, backoff on retryable errors, failures back to payable,
retries with a new key, an insufficient balance that stops the run, keys older than
Stripe's 24 hours, outcomes from webhooks, and reconciliation."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import UserFactory, payout_account
from tests.payout_helpers import (
    API,
    NOW,
    PERIOD_END,
    approved_run,
    assert_ledger_sound,
    balances,
    configure,
    entries,
    finance_user,
    item_of,
    schedule,
    stripe_trainer_owed,
    trainer_owed,
)
from tests.stripe_standin import StripeStandin, stripe_standin
from workforce import clock
from workforce.app import create_app
from workforce.billing import jobs, payouts, processing, reconciliation, webhooks
from workforce.billing.models import (
    ItemState,
    PayoutAccount,
    PayoutItem,
    PayoutRun,
    RunState,
    SourceType,
)
from workforce.billing.reconciliation import DifferenceKind
from workforce.db import Database
from workforce.errors import IllegalTransition
from workforce.jobs import NOTHING_TO_DO, run_job
from workforce.notifications.models import Notification
from workforce.notifications.senders import MemorySender
from workforce.settings import Settings

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

TRANSFERS = "POST /v1/transfers"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def gateway(stripe_standin: StripeStandin):
    return stripe_standin.gateway(timeout=1.0)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def process(database: Database, gateway, sleeps: list[float]):
    """Process a run as the processor does, without really sleeping between retries."""

    def run(run_id: uuid.UUID, **kwargs) -> processing.ProcessResult:
        return processing.process_run(database, run_id, gateway, rate=1000,
                                      sleep=sleeps.append, **kwargs)

    return run


def test_each_item_is_sent_once_with_its_saved_key(
    session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    first = stripe_trainer_owed(stripe_standin, org, 1500)
    second = stripe_trainer_owed(stripe_standin, org, 2750)
    manual = trainer_owed(org, 900, method="manual")
    run = approved_run(session, fin)

    result = process(run.id)
    assert (result.paid, result.failed, result.deferred) == (2, 0, 0)
    transfers = {t["transfer_group"]: t for t in stripe_standin.transfers}
    assert len(transfers) == 2
    for trainer, amount in ((first, 1500), (second, 2750)):
        item = item_of(session, trainer)
        group = f"payout-item-{item.id}"
        transfer = transfers[group]
        assert (transfer["amount"], transfer["currency"]) == (amount, "usd")
        assert transfer["metadata"] == {"payout_item_id": str(item.id), "run_id": str(run.id)}
        assert transfer["destination"] == session.get(
            PayoutAccount, item.payout_account_id).stripe_account_id
        assert item.state is ItemState.PAID and item.transfer_id == transfer["id"]
        assert item.idempotency_key == group and item.attempts == 1
        assert balances(session, org, trainer.id) == {
            "payable": 0, "in_transit": 0, "paid": amount}
        note = session.scalars(select(Notification).where(
            Notification.user_id == trainer.id, Notification.kind == "payout.paid")).one()
        assert "Stripe" in note.body
    assert [r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS)] == sorted(
        [f"payout-item-{item_of(session, t).id}" for t in (first, second)])
    # The manual item waits for finance; the run is not complete until it is paid.
    assert item_of(session, manual).state is ItemState.APPROVED
    assert session.get(PayoutRun, run.id).state is RunState.PROCESSING

    again = process(run.id)
    assert again.handled == 0
    assert len(stripe_standin.requests_to(TRANSFERS)) == 2
    assert len(entries(session, SourceType.PAYOUT_PAID)) == 2
    assert_ledger_sound(session)


def test_a_run_in_preview_is_not_processed(session: Session, stripe_standin, process) -> None:
    fin = finance_user()
    stripe_trainer_owed(stripe_standin, fin.organisation_id, 100)
    run, _ = payouts.ensure_run(session, fin, schedule(session, fin.organisation_id),
                                PERIOD_END)
    session.commit()
    with pytest.raises(IllegalTransition):
        process(run.id)
    assert stripe_standin.requests_to(TRANSFERS) == []


def test_retryable_errors_back_off_and_the_same_key_is_sent_again(
    session: Session, stripe_standin: StripeStandin, process, sleeps: list[float]
) -> None:
    fin = finance_user()
    trainer = stripe_trainer_owed(stripe_standin, fin.organisation_id, 500)
    run = approved_run(session, fin)
    stripe_standin.fail_next(TRANSFERS, status=500, times=1)
    stripe_standin.fail_next(TRANSFERS, status=429, times=1, retry_after=1)
    stripe_standin.drop_next_response(TRANSFERS)  # made at Stripe, the answer lost

    result = process(run.id)
    assert result.paid == 1
    keys = {r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS)}
    assert keys == {f"payout-item-{item_of(session, trainer).id}"}
    assert len(stripe_standin.requests_to(TRANSFERS)) == 4
    assert len(stripe_standin.transfers) == 1
    assert len(sleeps) == 3 and all(0 <= s <= processing.BACKOFF_CAP for s in sleeps)
    assert item_of(session, trainer).transfer_id == stripe_standin.transfers[0]["id"]
    assert_ledger_sound(session)


def test_an_item_still_failing_with_retryable_errors_waits_for_the_next_pass(
    session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 500)
    run = approved_run(session, fin)
    stripe_standin.fail_next(TRANSFERS, status=503, times=processing.MAX_ATTEMPTS)

    result = process(run.id)
    assert (result.paid, result.deferred) == (0, 1)
    item = item_of(session, trainer)
    assert item.state is ItemState.APPROVED
    assert item.failure_message.startswith("Will retry")
    assert balances(session, org, trainer.id)["in_transit"] == 500

    assert process(run.id).paid == 1
    assert len(stripe_standin.transfers) == 1
    assert {r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS)} == {
        item.idempotency_key}
    assert item_of(session, trainer).failure_message is None
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED
    assert_ledger_sound(session)


def test_a_final_refusal_fails_the_item_and_finance_can_retry_it(
    client: ApiClient, session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    # Ready by our records, but Stripe has not activated transfers for the account.
    trainer = stripe_trainer_owed(stripe_standin, org, 800, enabled_at_stripe=False)
    run = approved_run(session, fin)

    result = process(run.id)
    assert result.failed == 1
    item = item_of(session, trainer)
    assert item.state is ItemState.FAILED
    assert item.failure_code == "insufficient_capabilities_for_transfer"
    assert balances(session, org, trainer.id) == {"payable": 800, "in_transit": 0, "paid": 0}
    note = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "payout.failed")).one()
    assert "capabilities" in note.body and note.data["code"] == item.failure_code
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED
    report = client.get(f"{API}/payout-runs/{run.id}/report", as_user=fin).get_json()
    assert [f["failure_code"] for f in report["failures"]] == [item.failure_code]
    assert {(r["state"], r["amount"]) for r in report["by_state"]} == {("failed", 800)}

    account = session.get(PayoutAccount, item.payout_account_id).stripe_account_id
    stripe_standin.set_account(account, payouts_enabled=True)
    retried = client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["state"] == "approved"
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 800, "paid": 0}
    assert session.get(PayoutRun, run.id).state is RunState.PROCESSING
    assert_problem(client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin), 409,
                   code="illegal-transition")

    assert process(run.id).paid == 1
    item = item_of(session, trainer)
    assert item.state is ItemState.PAID and item.attempts == 2
    assert item.idempotency_key == f"payout-item-{item.id}-2"
    # The refusal was final only once no transfer was found in the item's group, and
    # the replacing key is sent only after looking again.
    lookups = stripe_standin.requests_to("GET /v1/transfers")
    assert [r.params["transfer_group"] for r in lookups] == [f"payout-item-{item.id}"] * 2
    assert len(stripe_standin.transfers) == 1
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 0, "paid": 800}
    assert len(entries(session, SourceType.PAYOUT_APPROVED, trainer.id)) == 2
    assert len(entries(session, SourceType.PAYOUT_FAILED, trainer.id)) == 1
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED
    assert_ledger_sound(session)


def test_a_failed_item_paid_by_a_later_run_cannot_be_retried(
    client: ApiClient, session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 800, enabled_at_stripe=False)
    run = approved_run(session, fin)
    process(run.id)
    item = item_of(session, trainer)
    later = schedule(session, org, name="Later", weekday=0, hour=8)
    approved_run(session, fin, later, NOW - timedelta(minutes=30))

    response = client.post(f"{API}/payout-items/{item.id}/retry", as_user=fin)
    assert_problem(response, 409, code="not-covered")
    assert item_of_id(session, item.id).state is ItemState.FAILED
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 800, "paid": 0}
    assert_ledger_sound(session)


def item_of_id(session: Session, item_id: uuid.UUID) -> PayoutItem:
    session.expire_all()
    return session.get(PayoutItem, item_id)


def test_an_account_put_on_hold_after_approval_is_not_paid(
    session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 600)
    run = approved_run(session, fin)
    account = session.scalars(select(PayoutAccount).where(
        PayoutAccount.trainer_id == trainer.id)).one()
    account.hold_until = NOW + timedelta(days=3)  # the details changed meanwhile
    session.commit()

    assert process(run.id).failed == 1
    assert item_of(session, trainer).failure_code == "account_on_hold"
    assert stripe_standin.requests_to(TRANSFERS) == []
    assert len(stripe_standin.requests_to("GET /v1/transfers")) == 1  # none made before
    assert balances(session, org, trainer.id)["payable"] == 600
    assert_ledger_sound(session)


def test_a_transfer_made_before_the_account_changed_is_recorded_not_failed(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """The processor made the transfer and died; then the trainer changed their payout
    account (a hold, a new Stripe account). The rerun must not send the money back to
    payable: the transfer exists, so the item is paid."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 900)
    run = approved_run(session, fin)
    item = item_of(session, trainer)
    item.attempts = 1
    item.idempotency_key = payouts.idempotency_key_for(item.id, 1)
    item.key_created_at = clock.now()
    account = session.get(PayoutAccount, item.payout_account_id)
    made = gateway.create_transfer(
        amount=900, currency="USD", destination=account.stripe_account_id,
        transfer_group=payouts.transfer_group(item.id),
        metadata={"payout_item_id": str(item.id), "run_id": str(run.id)},
        idempotency_key=item.idempotency_key,
    )
    account.stripe_account_id = stripe_standin.add_account(payouts_enabled=True)
    session.commit()  # same key, other destination: Stripe refuses it as an idempotency error

    assert process(run.id).paid == 1
    assert item_of(session, trainer).transfer_id == made.id
    assert len(stripe_standin.transfers) == 1
    assert entries(session, SourceType.PAYOUT_FAILED) == []
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 0, "paid": 900}
    assert_ledger_sound(session)


def test_an_insufficient_balance_stops_the_run_with_an_alert(
    client: ApiClient, session: Session, database: Database, stripe_standin: StripeStandin,
    gateway, process,
) -> None:
    """Must hold 7: the run stops, finance is alerted, and the refused item has no
    ledger entry beyond its approval."""
    fin = finance_user()
    colleague = finance_user(fin.organisation)
    org = fin.organisation_id
    trainers = [stripe_trainer_owed(stripe_standin, org, 1000) for _ in range(3)]
    run = approved_run(session, fin)
    stripe_standin.set_balance("usd", 1500)

    result = process(run.id)
    assert result.paid == 1 and result.halted_reason
    assert "insufficient" in result.halted_reason.lower()
    halted = session.get(PayoutRun, run.id)
    session.refresh(halted)
    assert halted.halted_reason == result.halted_reason
    assert len(stripe_standin.requests_to(TRANSFERS)) == 2  # the third was never tried
    items = sorted((item_of(session, t) for t in trainers), key=lambda i: i.id)
    assert [i.state for i in items] == [ItemState.PAID, ItemState.APPROVED, ItemState.APPROVED]
    refused = items[1]
    assert refused.idempotency_key is None  # the old key would get the refusal again
    assert entries(session, SourceType.PAYOUT_FAILED) == []
    assert len(entries(session, SourceType.PAYOUT_PAID)) == 1
    for trainer in trainers:
        if trainer.id != items[0].trainer_id:
            assert balances(session, org, trainer.id)["in_transit"] == 1000
    alerts = session.scalars(select(Notification).where(
        Notification.kind == "payout_run.halted")).all()
    assert sorted(a.user_id for a in alerts) == sorted([fin.id, colleague.id])
    assert_ledger_sound(session)

    # The scheduler's pass leaves a halted run alone, and so does a plain rerun.
    assert processing.process_approved_runs(database, gateway, rate=1000) == 0
    assert process(run.id).handled == 0
    assert len(stripe_standin.requests_to(TRANSFERS)) == 2

    # Finance tops up and asks for the run again.
    stripe_standin.set_balance("usd", None)
    resumed = client.post(f"{API}/payout-runs/{run.id}/process", as_user=fin)
    assert resumed.status_code == 202, resumed.get_json()
    assert resumed.get_json()["halted_reason"] is None
    assert process(run.id).paid == 2
    refused = item_of_id(session, refused.id)
    assert refused.state is ItemState.PAID
    assert refused.idempotency_key == f"payout-item-{refused.id}-2"
    assert len(stripe_standin.transfers) == 3
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED
    assert_ledger_sound(session)


def test_a_run_halted_by_another_processor_stops_before_the_next_item(
    session: Session, database: Database, stripe_standin: StripeStandin, gateway,
) -> None:
    """Another processor halts the run while an item is being sent: that item is
    recorded, and no other item is picked (the item query refuses a halted run)."""
    fin = finance_user()
    trainers = [stripe_trainer_owed(stripe_standin, fin.organisation_id, 1000) for _ in range(3)]
    run = approved_run(session, fin)
    reason = "Insufficient platform balance: halted elsewhere"

    class HaltedMeanwhile:
        def __getattr__(self, name: str):
            return getattr(gateway, name)

        def create_transfer(self, **kwargs):
            other = database.session()
            try:
                other.get(PayoutRun, run.id).halted_reason = reason
                other.commit()
            finally:
                other.close()
            return gateway.create_transfer(**kwargs)

    result = processing.process_run(database, run.id, HaltedMeanwhile(), rate=1000)
    assert (result.paid, result.halted_reason, result.completed) == (1, reason, False)
    assert len(stripe_standin.requests_to(TRANSFERS)) == 1
    states = sorted(item_of(session, t).state.value for t in trainers)
    assert states == sorted([ItemState.PAID.value] + [ItemState.APPROVED.value] * 2)
    assert_ledger_sound(session)


def test_after_the_keys_lifetime_the_transfer_is_found_not_made_again(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """Must hold 4: the processor saved the key, Stripe made the transfer, and the
    process died before recording it. A day later Stripe has forgotten the key; the
    rerun looks the transfer up by its group and records it; nothing new is created."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 2200)
    run = approved_run(session, fin)
    item = item_of(session, trainer)
    item.attempts = 1
    item.idempotency_key = payouts.idempotency_key_for(item.id, 1)
    item.key_created_at = clock.now()
    session.commit()
    account = session.get(PayoutAccount, item.payout_account_id).stripe_account_id
    made = gateway.create_transfer(
        amount=2200, currency="USD", destination=account,
        transfer_group=payouts.transfer_group(item.id),
        metadata={"payout_item_id": str(item.id), "run_id": str(run.id)},
        idempotency_key=item.idempotency_key,
    )

    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        result = process(run.id)
    assert result.paid == 1
    assert len(stripe_standin.transfers) == 1
    assert len(stripe_standin.requests_to(TRANSFERS)) == 1  # ours, before the "crash"
    assert item_of(session, trainer).transfer_id == made.id
    assert len(entries(session, SourceType.PAYOUT_PAID)) == 1
    assert balances(session, org, trainer.id)["paid"] == 2200
    assert_ledger_sound(session)


def test_after_the_keys_lifetime_with_no_transfer_one_is_made(
    session: Session, stripe_standin: StripeStandin, process
) -> None:
    fin = finance_user()
    trainer = stripe_trainer_owed(stripe_standin, fin.organisation_id, 300)
    run = approved_run(session, fin)
    item = item_of(session, trainer)
    item.attempts = 1
    item.idempotency_key = payouts.idempotency_key_for(item.id, 1)
    item.key_created_at = clock.now()  # saved, then the process died before sending
    session.commit()
    with time_machine.travel(NOW + timedelta(hours=30), tick=False):
        assert process(run.id).paid == 1
    assert len(stripe_standin.transfers) == 1
    assert stripe_standin.requests_to(TRANSFERS)[0].idempotency_key == item.idempotency_key


def test_the_token_bucket_paces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = processing.TokenBucket(5, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(25):
        bucket.acquire()
    # Five at once (the burst), then one every fifth of a second.
    assert now[0] == pytest.approx(4.0)
    assert all(s == pytest.approx(0.2) for s in slept)


def test_a_bucket_without_burst_never_puts_more_than_the_rate_into_a_second() -> None:
    """As the processor paces itself: one request, then one every 1/rate seconds, so
    no sliding second (Stripe's limit) holds more than ``rate`` requests."""
    now = [0.0]
    times: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = processing.TokenBucket(5, burst=1, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(25):
        bucket.acquire()
        times.append(now[0])
    assert now[0] == pytest.approx(4.8)
    assert max(sum(1 for t in times if start <= t < start + 1 - 1e-9)
               for start in times) == 5


def test_the_scheduler_pass_processes_approved_runs(
    session: Session, database: Database, stripe_standin: StripeStandin, gateway
) -> None:
    fin = finance_user()
    trainer = stripe_trainer_owed(stripe_standin, fin.organisation_id, 450)
    run = approved_run(session, fin)
    handled = processing.process_approved_runs(database, gateway, rate=1000)
    assert handled == 1
    assert item_of(session, trainer).state is ItemState.PAID
    assert processing.process_approved_runs(database, gateway, rate=1000) == 0
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED


def test_the_jobs_use_the_apps_gateway(
    app: Flask, session: Session, database: Database, stripe_standin: StripeStandin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fin = finance_user()
    trainer = stripe_trainer_owed(stripe_standin, fin.organisation_id, 450)
    schedule(session, fin.organisation_id, auto_approve=True)
    assert jobs.create_due_runs(database, now=NOW) == 1
    assert jobs.create_due_runs(database, now=NOW) == 0
    services = app.extensions["workforce"]
    assert run_job("billing.process_approved_runs", services) == NOTHING_TO_DO  # no Stripe
    configure(monkeypatch, app, stripe_api_key=stripe_standin.api_key,
              stripe_api_base=stripe_standin.url)
    assert run_job("billing.process_approved_runs", services) == "payout items handled: 1"
    assert item_of(session, trainer).state is ItemState.PAID
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert run_job("billing.reconcile", services) == NOTHING_TO_DO
    assert len(stripe_standin.requests_to("GET /v1/transfers")) == 1  # it asked Stripe


# --- outcomes from webhooks -----------------------------------------------------------------


def deliver(session: Session, standin: StripeStandin, gateway, type_: str, obj: dict,
            account: str | None = None, event_id: str | None = None):
    body, headers = standin.signed_event(type_, obj, account, event_id=event_id)
    received = webhooks.receive(session, body, headers["Stripe-Signature"],
                                secret=standin.webhook_secret, gateway=gateway)
    session.commit()
    return received


def paid_by_transfer(session: Session, standin: StripeStandin, process,
                     amount: int) -> tuple:
    """A trainer paid ``amount`` by a run processed through the stand-in: the finance
    user, the trainer and the transfer."""
    fin = finance_user()
    trainer = stripe_trainer_owed(standin, fin.organisation_id, amount)
    process(approved_run(session, fin).id)
    return fin, trainer, item_of(session, trainer).transfer_id


def test_a_reversed_transfer_goes_back_to_payable_once(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    fin, trainer, transfer_id = paid_by_transfer(session, stripe_standin, process, 1700)
    org = fin.organisation_id

    # A forged event about a transfer not reversed at Stripe moves nothing.
    forged = {**stripe_standin.transfer(transfer_id), "reversed": True, "amount_reversed": 1700}
    deliver(session, stripe_standin, gateway, "transfer.reversed", forged)
    assert item_of(session, trainer).state is ItemState.PAID

    stripe_standin.reverse_transfer(transfer_id)
    current = stripe_standin.transfer(transfer_id)
    first = deliver(session, stripe_standin, gateway, "transfer.reversed", current,
                    event_id="evt_reversed_1")
    assert first.handled
    again = deliver(session, stripe_standin, gateway, "transfer.reversed", current,
                    event_id="evt_reversed_1")
    assert again.duplicate
    # The same news under another event id (Stripe may send both) moves nothing either.
    deliver(session, stripe_standin, gateway, "transfer.reversed", current)

    assert item_of(session, trainer).state is ItemState.REVERSED
    assert len(entries(session, SourceType.PAYOUT_REVERSED)) == 1
    assert balances(session, org, trainer.id) == {"payable": 1700, "in_transit": 0, "paid": 0}
    kinds = {n.kind for n in session.scalars(select(Notification))}
    assert {"payout.reversed", "payout_item.reversed"} <= kinds
    assert_ledger_sound(session)


def test_a_partial_reversal_returns_its_part_to_payable_once(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """Stripe reverses part of a paid transfer: that part goes back to payable (paid to
    payable) once, so reconciliation closes instead of reporting it every day; the
    reversal that completes the transfer's moves only the rest."""
    from workforce.billing import earnings
    from workforce.billing.models import PayoutReversal

    fin, trainer, transfer_id = paid_by_transfer(session, stripe_standin, process, 1700)
    org = fin.organisation_id
    window = {"period_from": NOW - timedelta(hours=1), "period_to": NOW + timedelta(hours=1),
              "organisation_id": org}

    stripe_standin.reverse_transfer(transfer_id, amount=500)
    current = stripe_standin.transfer(transfer_id)
    assert not reconciliation.reconcile(session, gateway, **window).balanced
    deliver(session, stripe_standin, gateway, "transfer.reversed", current,
            event_id="evt_partial_1")
    deliver(session, stripe_standin, gateway, "transfer.reversed", current)  # told twice
    assert item_of(session, trainer).state is ItemState.PAID
    assert balances(session, org, trainer.id) == {"payable": 500, "in_transit": 0,
                                                  "paid": 1200}
    assert len(entries(session, SourceType.PAYOUT_REVERSED)) == 1
    assert reconciliation.reconcile(session, gateway, **window).differences == []
    told = session.scalars(select(Notification).where(
        Notification.user_id == fin.id,
        Notification.kind == "payout_item.partially_reversed")).one()
    assert "$5.00 of it" in told.body and "negative adjustment" in told.body
    assert_ledger_sound(session)

    stripe_standin.reverse_transfer(transfer_id, amount=200)
    deliver(session, stripe_standin, gateway, "transfer.reversed",
            stripe_standin.transfer(transfer_id))
    assert balances(session, org, trainer.id)["payable"] == 700
    stripe_standin.reverse_transfer(transfer_id)  # the rest
    deliver(session, stripe_standin, gateway, "transfer.reversed",
            stripe_standin.transfer(transfer_id))
    assert item_of(session, trainer).state is ItemState.REVERSED
    assert balances(session, org, trainer.id) == {"payable": 1700, "in_transit": 0, "paid": 0}
    assert sorted(r.amount for r in session.scalars(select(PayoutReversal))) == [200, 500]
    assert len(entries(session, SourceType.PAYOUT_REVERSED)) == 3
    assert reconciliation.reconcile(session, gateway, **window).differences == []
    statement = earnings.payout_statement(session, trainer, item_of(session, trainer).id)
    assert sorted((m.source_type.value, m.amount) for m in statement.movements) == [
        ("payout_approved", 1700), ("payout_paid", 1700), ("payout_reversed", 200),
        ("payout_reversed", 500), ("payout_reversed", 1000)]
    assert_ledger_sound(session)


def test_a_transfer_reversed_before_its_answer_was_heard_goes_back_to_payable(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """Found by tests/test_payout_machine.py. Stripe made the transfer, the answer was
    lost and Stripe then failed until the processor gave up: the item waits in transit
    without its transfer. Stripe reverses the transfer and says so once. The reversal
    must reach the ledger then, not be dropped as "not ours" while the processor's next
    pass replays the key, hears the old answer and records the money as paid."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 1300)
    run = approved_run(session, fin)
    stripe_standin.drop_next_response(TRANSFERS)
    stripe_standin.fail_next(TRANSFERS, status=500, times=processing.MAX_ATTEMPTS - 1)
    assert process(run.id).deferred == 1
    item = item_of(session, trainer)
    assert (item.state, item.transfer_id) == (ItemState.APPROVED, None)
    (made,) = stripe_standin.transfers

    stripe_standin.reverse_transfer(made["id"])
    event = deliver(session, stripe_standin, gateway, "transfer.reversed",
                    stripe_standin.transfer(made["id"]), event_id="evt_reversed_early")
    assert event.handled
    item = item_of(session, trainer)
    assert (item.state, item.transfer_id) == (ItemState.REVERSED, made["id"])
    assert balances(session, org, trainer.id) == {"payable": 1300, "in_transit": 0, "paid": 0}
    assert session.get(PayoutRun, run.id).state is RunState.COMPLETED

    # The processor's next pass has nothing left to send, and a redelivery moves nothing.
    sent = len(stripe_standin.requests_to(TRANSFERS))
    assert process(run.id).handled == 0
    deliver(session, stripe_standin, gateway, "transfer.reversed",
            stripe_standin.transfer(made["id"]))
    assert len(stripe_standin.requests_to(TRANSFERS)) == sent
    assert item_of(session, trainer).state is ItemState.REVERSED
    assert len(entries(session, SourceType.PAYOUT_PAID)) == 1
    assert len(entries(session, SourceType.PAYOUT_REVERSED)) == 1
    assert balances(session, org, trainer.id) == {"payable": 1300, "in_transit": 0, "paid": 0}
    assert_ledger_sound(session)


def test_a_reversal_event_naming_another_item_moves_nothing(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """A transfer that names one of our waiting items in its metadata but is not in the
    item's transfer group (made by hand in the dashboard, say) is not the item's."""
    fin = finance_user()
    org = fin.organisation_id
    trainer = stripe_trainer_owed(stripe_standin, org, 700)
    run = approved_run(session, fin)
    item = item_of(session, trainer)
    account = session.get(PayoutAccount, item.payout_account_id).stripe_account_id
    stray = gateway.create_transfer(
        amount=700, currency="USD", destination=account, transfer_group="by-hand",
        metadata={"payout_item_id": str(item.id)}, idempotency_key="by-hand-1")
    stripe_standin.reverse_transfer(stray.id)
    deliver(session, stripe_standin, gateway, "transfer.reversed",
            stripe_standin.transfer(stray.id))
    assert item_of(session, trainer).state is ItemState.APPROVED
    assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 700, "paid": 0}
    assert process(run.id).paid == 1
    assert_ledger_sound(session)


def test_payouts_to_the_trainers_bank_are_told_not_posted(
    session: Session, stripe_standin: StripeStandin, gateway
) -> None:
    trainer = UserFactory()
    account = stripe_standin.add_account(payouts_enabled=True)
    payout_account(trainer, method="stripe", stripe_account_id=account)
    payout = {"id": "po_1", "object": "payout", "amount": 1700, "currency": "usd",
              "status": "paid"}
    deliver(session, stripe_standin, gateway, "payout.paid", payout, account)
    failed = {**payout, "id": "po_2", "status": "failed",
              "failure_message": "The bank account has been closed."}
    deliver(session, stripe_standin, gateway, "payout.failed", failed, account)
    deliver(session, stripe_standin, gateway, "payout.paid", payout, "acct_not_ours")

    notes = session.scalars(
        select(Notification).where(Notification.user_id == trainer.id)
        .order_by(Notification.created_at, Notification.id)).all()
    assert {n.kind for n in notes} == {"payout.arrived", "payout.bank_failed"}
    failure = next(n for n in notes if n.kind == "payout.bank_failed")
    assert "closed" in failure.body
    assert entries(session, SourceType.PAYOUT_PAID) == []


# --- reconciliation -----------------------------------------------------------------------


def test_reconciliation_reports_every_difference(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    paid = stripe_trainer_owed(stripe_standin, org, 1000)
    reversed_there = stripe_trainer_owed(stripe_standin, org, 2000)
    run = approved_run(session, fin)
    process(run.id)
    # Another run: the processor saved the key, Stripe made the transfer, and the
    # process died before recording it.
    crashed = stripe_trainer_owed(stripe_standin, org, 3000)
    later, _ = payouts.ensure_run(session, fin, schedule(session, org, hour=8), NOW)
    payouts.approve_run(session, fin, later.id)
    crashed_item = item_of(session, crashed)
    crashed_item.attempts = 1
    crashed_item.idempotency_key = payouts.idempotency_key_for(crashed_item.id, 1)
    crashed_item.key_created_at = clock.now()
    session.commit()
    gateway.create_transfer(
        amount=3000, currency="USD",
        destination=session.get(PayoutAccount, crashed_item.payout_account_id).stripe_account_id,
        transfer_group=payouts.transfer_group(crashed_item.id),
        metadata={"payout_item_id": str(crashed_item.id), "run_id": str(later.id)},
        idempotency_key=crashed_item.idempotency_key,
    )
    window = {"period_from": NOW - timedelta(hours=1), "period_to": NOW + timedelta(hours=1)}

    clean = reconciliation.reconcile(session, gateway, **window)
    kinds = {(d.kind, d.payout_item_id) for d in clean.differences}
    assert kinds == {(DifferenceKind.UNRECORDED_TRANSFER, crashed_item.id)}

    stripe_standin.reverse_transfer(item_of(session, reversed_there).transfer_id)
    stranger = stripe_standin.add_account(payouts_enabled=True)
    gateway.create_transfer(amount=99, currency="USD", destination=stranger,
                            transfer_group="manual-bonus", metadata={},
                            idempotency_key="by-hand-1")
    result = reconciliation.reconcile(session, gateway, notify=True, **window)
    found = {(d.kind, d.payout_item_id) for d in result.differences}
    assert found == {
        (DifferenceKind.UNRECORDED_TRANSFER, crashed_item.id),
        (DifferenceKind.REVERSED_NOT_RECORDED, item_of(session, reversed_there).id),
        (DifferenceKind.UNKNOWN_TRANSFER, None),
    }
    assert result.transfers_checked == 4
    alert = session.scalars(select(Notification).where(
        Notification.user_id == fin.id, Notification.kind == "payout.reconciliation")).one()
    assert alert.data["differences"] == 2  # the unknown transfer belongs to nobody

    # The next pass records the crashed item's transfer (same key), and it reconciles.
    assert process(later.id).paid == 1
    assert len(stripe_standin.transfers) == 4
    assert item_of(session, paid).state is ItemState.PAID
    after = reconciliation.reconcile(session, gateway, organisation_id=org, **window)
    assert {d.kind for d in after.differences} == {DifferenceKind.REVERSED_NOT_RECORDED}
    assert_ledger_sound(session)


def test_a_transfer_to_a_trainer_outside_the_ledger_is_shown_to_finance(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    """A transfer to a trainer's connected account that names no payout item (made by
    hand in Stripe's dashboard, say) is a difference for each organisation the trainer
    has money with, on demand and in the daily pass, which alerts their finance."""
    fin, trainer, _ = paid_by_transfer(session, stripe_standin, process, 1000)
    org = fin.organisation_id
    elsewhere = finance_user()  # the trainer never worked for them
    account = session.get(PayoutAccount, item_of(session, trainer).payout_account_id)
    by_hand = gateway.create_transfer(
        amount=250, currency="USD", destination=account.stripe_account_id,
        transfer_group="by-hand", metadata={}, idempotency_key="by-hand-250")
    window = {"period_from": NOW - timedelta(hours=1), "period_to": NOW + timedelta(hours=1)}

    ours = reconciliation.reconcile(session, gateway, organisation_id=org, **window)
    [difference] = ours.differences
    assert (difference.kind, difference.transfer_id, difference.trainer_id,
            difference.stripe_amount) == (DifferenceKind.UNKNOWN_TRANSFER, by_hand.id,
                                          trainer.id, 250)
    assert not ours.balanced
    other = reconciliation.reconcile(session, gateway,
                                     organisation_id=elsewhere.organisation_id, **window)
    assert other.differences == []

    daily = reconciliation.reconcile(session, gateway, notify=True, **window)
    assert [(d.kind, d.organisation_id) for d in daily.differences] == [
        (DifferenceKind.UNKNOWN_TRANSFER, org)]
    session.commit()
    alert = session.scalars(select(Notification).where(
        Notification.user_id == fin.id, Notification.kind == "payout.reconciliation")).one()
    assert alert.data["kinds"] == {"unknown_transfer": 1}
    assert session.scalars(select(Notification).where(
        Notification.user_id == elsewhere.id)).all() == []


def test_reconciliation_finds_missing_and_mismatched_transfers(
    session: Session, stripe_standin: StripeStandin, gateway, process
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    trainers = [stripe_trainer_owed(stripe_standin, org, 500 * (n + 1)) for n in range(2)]
    run = approved_run(session, fin)
    process(run.id)
    first, second = (item_of(session, t) for t in trainers)
    taken = second.transfer_id
    second.transfer_id = "tr_never_made"
    session.flush()
    first.transfer_id = taken
    session.commit()
    result = reconciliation.reconcile(
        session, gateway, period_from=NOW - timedelta(hours=1),
        period_to=NOW + timedelta(hours=1), organisation_id=org)
    found = {(d.kind, d.payout_item_id) for d in result.differences}
    assert (DifferenceKind.MISSING_TRANSFER, second.id) in found
    assert (DifferenceKind.AMOUNT_MISMATCH, first.id) in found


def test_reconciliation_on_demand_through_the_api(
    app: Flask, settings: Settings, database: Database, session: Session,
    stripe_standin: StripeStandin, client: ApiClient, process,
) -> None:
    fin = finance_user()
    stripe_trainer_owed(stripe_standin, fin.organisation_id, 700)
    run = approved_run(session, fin)
    process(run.id)
    query = (f"?from={(NOW - timedelta(days=1)).isoformat()}"
             f"&to={(NOW + timedelta(days=1)).isoformat()}").replace("+", "%2B")

    unconfigured = client.get(f"{API}/payout-reconciliations{query}", as_user=fin)
    assert_problem(unconfigured, 422, code="gateway-not-configured")
    assert_problem(client.get(f"{API}/payout-reconciliations", as_user=fin), 422)

    configured = create_app(
        replace(settings, stripe_api_key=stripe_standin.api_key,
                stripe_api_base=stripe_standin.url),
        database=database, email_sender=MemorySender(), configure_logging=False,
    )
    stripe_client = ApiClient(configured.test_client(), session)
    response = stripe_client.get(f"{API}/payout-reconciliations{query}", as_user=fin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["balanced"] is True and body["items_checked"] == 1
    assert body["transfers_checked"] == 1
    backwards = stripe_client.get(
        f"{API}/payout-reconciliations?from={NOW.isoformat()}&to={NOW.isoformat()}".replace(
            "+", "%2B"), as_user=fin)
    assert "to" in assert_problem(backwards, 422)["errors"]
