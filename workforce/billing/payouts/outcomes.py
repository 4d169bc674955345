"""The outcomes of payout items: paid (by a transfer or by hand), failed, retried; and a
run completed once no item waits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from workforce import clock, db
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.billing import ledger, payout_accounts
from workforce.billing.gateways import Transfer
from workforce.billing.models import (
    AccountKind,
    ItemState,
    PayoutAccount,
    PayoutItem,
    PayoutMethod,
    RunState,
    SourceType,
)
from workforce.billing.payouts import events
from workforce.billing.payouts.approval import post_approved
from workforce.billing.payouts.keys import round_source
from workforce.billing.payouts.lifecycle import ITEMS, OPEN_ITEM_STATES, RUNS
from workforce.billing.payouts.queries import locked_item_where, locked_run
from workforce.errors import Conflict, NotFound
from workforce.i18n import _
from workforce.notifications.services import Notice, tell, tell_many
from workforce.notifications.texts import money


def record_paid(
    session: Session, item: PayoutItem, *, transfer: Transfer | None = None,
    reference: str | None = None,
) -> None:
    """The money reached the trainer (a transfer, or a bank payment finance recorded):
    in transit to paid, once, and the trainer is told. ``record_paid_many`` of one."""
    record_paid_many(session, [Payment(item, transfer, reference)])


@dataclass(frozen=True)
class Payment:
    """An item paid: by ``transfer``, or by hand with a bank ``reference``."""

    item: PayoutItem
    transfer: Transfer | None = None
    reference: str | None = None


def record_paid_many(session: Session, payments: Sequence[Payment]) -> None:
    """``record_paid`` of several items (locked by the caller), a statement each for all
    of them: their accounts, entries, postings and balances, the items, the webhook
    events and the notices. Core statements built once, no unit of work: the payout
    processor records its payments a batch at a time, at up to 100 a second
    (bench/RESULTS.md, item 27 and round 6). Each item is given the values written, as
    committed ones."""
    if not payments:
        return
    now = clock.now()
    for payment in payments:
        ITEMS.check(payment.item.state, ItemState.PAID)
    kinds = (AccountKind.IN_TRANSIT, AccountKind.PAID)
    refs = ledger.trainer_account_refs_many(session, [
        (p.item.organisation_id, p.item.trainer_id, p.item.currency) for p in payments],
        kinds)
    entries = []
    for payment in payments:
        item = payment.item
        in_transit, paid = refs[(item.organisation_id, item.trainer_id, item.currency)]
        entries.append(ledger.Entry(
            source_type=SourceType.PAYOUT_PAID, source_id=item.id,
            reason=f"Payout of {item.money} paid" + (
                f" (transfer {payment.transfer.id})" if payment.transfer
                else f" (reference {payment.reference})"),
            organisation_id=item.organisation_id, trainer_id=item.trainer_id,
            legs=[ledger.Leg(in_transit, item.amount), ledger.Leg(paid, -item.amount)]))
    ledger.post_entries(session, entries)
    rows = [_paid_values(payment, now) for payment in payments]
    db.update_rows(session, PayoutItem.__table__, rows)
    for payment, row in zip(payments, rows, strict=True):
        for name, value in row.items():
            if name != "id":
                set_committed_value(payment.item, name, value)
    items = [payment.item for payment in payments]
    events.items_paid(session, items)
    tell_many(session, "payout.paid", [
        Notice(item.trainer_id,
               {"amount": money(item.money), "stripe": item.method is PayoutMethod.STRIPE,
                "reference": payment.reference},
               {"payout_item_id": str(item.id), "amount": item.amount,
                "currency": item.currency})
        for item, payment in zip(items, payments, strict=True)],
        deliver_now=False)  # a run's items by the hundred: the outbox job sends them


def _paid_values(payment: Payment, now: datetime) -> dict[str, Any]:
    item = payment.item
    return {
        "id": item.id, "state": ItemState.PAID,
        "transfer_id": payment.transfer.id if payment.transfer else item.transfer_id,
        "manual_reference": (payment.reference if payment.reference is not None
                             else item.manual_reference),
        "sent_at": item.sent_at or now, "paid_at": now,
        "failure_code": None, "failure_message": None, "updated_at": now,
    }


def record_failed(session: Session, item: PayoutItem, *, code: str, message: str) -> None:
    """The gateway refused the item for good: in transit back to payable, available at
    once, and the trainer is told why."""
    ITEMS.move(item, ItemState.FAILED)
    item.failure_code = code[:100]
    item.failure_message = message
    in_transit, payable = ledger.trainer_accounts(
        session, item.organisation_id, item.trainer_id,
        (AccountKind.IN_TRANSIT, AccountKind.PAYABLE), item.currency,
    )
    ledger.post_entry(
        session, source_type=SourceType.PAYOUT_FAILED,
        source_id=round_source(item.id, item.attempts),
        reason=f"Payout of {item.money} failed: {message}",
        organisation_id=item.organisation_id, trainer_id=item.trainer_id,
        legs=[ledger.Leg(in_transit, item.amount), ledger.Leg(payable, -item.amount)],
    )
    events.item_failed(session, item)
    tell(
        session, item.trainer_id, "payout.failed",
        {"amount": money(item.money), "reason": message},
        {"payout_item_id": str(item.id), "reason": message, "code": code},
        deliver_now=False,  # as for a payment: the senders keep to their one connection
    )


def record_manual_payment(
    session: Session, actor: User, item_id: uuid.UUID, reference: str
) -> PayoutItem:
    """Finance paid a manual-method item from the bank file: paid, with the reference.
    Once: recording it again is a 409 naming the state."""
    item = _locked_item(session, actor, item_id)
    if item.method is not PayoutMethod.MANUAL:
        raise Conflict(_("This payout is sent through Stripe, not paid by hand."),
                       code="not-manual")
    if item.state is ItemState.APPROVED:
        _refuse_if_held(session, item)
    before = item.state
    record_paid(session, item, reference=reference)
    return _by_hand(session, actor, item, "payout_item.paid_manually", before,
                    reference=reference)


def record_manual_failure(
    session: Session, actor: User, item_id: uuid.UUID, reason: str
) -> PayoutItem:
    """Finance could not pay a manual-method item (the bank refused it, the details are
    wrong): failed, its money back to payable, the trainer told the reason. Finance may
    retry it later like any failed item. Audited."""
    item = _locked_item(session, actor, item_id)
    if item.method is not PayoutMethod.MANUAL:
        raise Conflict(_("This payout is sent through Stripe; its failures come from Stripe."),
                       code="not-manual")
    before = item.state
    # Each attempt at paying by hand is a round, as each key is for Stripe items: the
    # failure and a later retry's approval need ledger sources of their own.
    item.attempts += 1
    record_failed(session, item, code="manual_payment_failed", message=reason)
    return _by_hand(session, actor, item, "payout_item.failed_manually", before,
                    reason=reason)


def _by_hand(session: Session, actor: User, item: PayoutItem, action: str,
             before: ItemState, **recorded: str) -> PayoutItem:
    """Audit what finance recorded by hand, and complete the run if it was the last."""
    audit.record(
        session, actor, action, object_type="payout_item", object_id=item.id,
        organisation_id=item.organisation_id, before={"state": before.value},
        after={"state": item.state.value, **recorded, "amount": item.amount,
               "currency": item.currency},
    )
    complete_if_done(session, item.run_id)
    return item


def retry_item(session: Session, actor: User, item_id: uuid.UUID) -> PayoutItem:
    """Send a failed item again. Its money went back to payable when it failed, so it is
    approved again (payable to in transit) after checking that the payable still covers
    it (a later run may have paid it already: 409 ``not-covered``). The next send uses a
    new idempotency key: the gateway would answer the old one with the old refusal."""
    item = _locked_item(session, actor, item_id)
    ITEMS.move(item, ItemState.APPROVED)
    _refuse_if_held(session, item)
    payable = ledger.find_payable(session, item.organisation_id, item.trainer_id,
                                  item.currency, lock=True)
    assert payable is not None  # the item's approval posted to it
    available = ledger.available(session, payable, clock.now())
    if item.amount > available:
        raise Conflict(
            _("Only %(available)s of %(amount)s is payable now: the money went out with another "
              "payout or was adjusted.", available=max(available, 0), amount=item.amount),
            code="not-covered",
        )
    failed = {"code": item.failure_code, "message": item.failure_message}
    post_approved(session, item, payable, source_id=round_source(item.id, item.attempts))
    item.idempotency_key = None
    item.key_created_at = None
    item.failure_code = item.failure_message = None
    run = locked_run(session, item.run_id)
    if run.state is RunState.COMPLETED:
        RUNS.move(run, RunState.PROCESSING)
        run.completed_at = None
    session.flush()
    audit.record(
        session, actor, "payout_item.retried", object_type="payout_item", object_id=item.id,
        organisation_id=item.organisation_id,
        before={"state": ItemState.FAILED.value, "failure": failed},
        after={"state": item.state.value, "amount": item.amount, "currency": item.currency},
    )
    return item


def payout_blocked(account: PayoutAccount | None, method: PayoutMethod,
                   now: datetime) -> tuple[str, str] | None:
    """Why an item of ``method`` may not be paid to ``account`` now, as (code, detail),
    or None. Payout details that changed since the run was approved are still in their
    hold (someone who took over the trainer's sign-in may have put their own account
    there), or the trainer no longer takes payouts this way."""
    if account is None or account.method is not method:
        return "account-changed", _(
            "The trainer's payout method changed since this payout was approved, so it is "
            "not paid this way (record a manual one as failed); the money goes out with "
            "the next run."
        )
    if payout_accounts.on_hold(account, now):
        until = clock.as_utc(account.hold_until).isoformat()
        return "account-on-hold", _(
            "The trainer's payout details changed recently; payouts are held until %(until)s. "
            "Do not pay before then (the trainer was told and may object).", until=until,
        )
    return None


def _refuse_if_held(session: Session, item: PayoutItem) -> None:
    account = session.get(PayoutAccount, item.payout_account_id)
    blocked = payout_blocked(account, item.method, clock.now())
    if blocked is not None:
        code, detail = blocked
        raise Conflict(detail, code=code)


def _locked_item(session: Session, staff: User, item_id: uuid.UUID) -> PayoutItem:
    item = locked_item_where(session, PayoutItem.id == item_id)
    if item is None or item.organisation_id != staff.organisation_id:
        raise NotFound(_("No such payout item."))
    return item


def complete_if_done(session: Session, run_id: uuid.UUID) -> bool:
    """Mark the run completed once no item waits for money to move."""
    run = locked_run(session, run_id)
    if run.state not in (RunState.APPROVED, RunState.PROCESSING):
        return run.state is RunState.COMPLETED
    waiting = session.scalar(
        select(func.count()).select_from(PayoutItem)
        .where(PayoutItem.run_id == run_id, PayoutItem.state.in_(OPEN_ITEM_STATES))
    )
    if waiting:
        return False
    RUNS.move(run, RunState.COMPLETED)
    run.completed_at = clock.now()
    session.flush()
    return True
