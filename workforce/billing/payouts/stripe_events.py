"""What Stripe tells us after the fact, as webhook handlers: a transfer reversed (money
back from paid to payable), a trainer's Stripe balance paid out to their bank or not.
``billing.webhooks.register_handlers`` maps the event types to the ``on_`` functions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.billing import ledger
from workforce.billing.gateways import PayoutGateway, Transfer
from workforce.billing.models import (
    AccountKind,
    ItemState,
    PayoutAccount,
    PayoutItem,
    PayoutMethod,
    PayoutReversal,
    SourceType,
)
from workforce.billing.payouts.finance import notify_finance
from workforce.billing.payouts.keys import item_named_by, transfer_group
from workforce.billing.payouts.lifecycle import ITEMS
from workforce.billing.payouts.outcomes import complete_if_done, record_paid
from workforce.billing.payouts.queries import locked_item_where
from workforce.money import Money
from workforce.notifications.services import tell
from workforce.notifications.texts import money


def item_paid_by(session: Session, transfer: Transfer) -> PayoutItem | None:
    """The item ``transfer`` pays, locked: the one that recorded it, or else the item it
    names (in the item's own transfer group) still waiting in transit without a
    transfer, because the processor has not heard Stripe's answer yet (an answer lost,
    a crash). None for a transfer that is not a payout item's."""
    item = locked_item_where(session, PayoutItem.transfer_id == transfer.id)
    if item is not None:
        return item
    item_id = item_named_by(transfer.metadata, transfer.transfer_group)
    if item_id is None or transfer.transfer_group != transfer_group(item_id):
        return None
    # Locking waits for a processor sending the item now; it may record the transfer.
    item = locked_item_where(session, PayoutItem.id == item_id)
    if item is None or item.method is not PayoutMethod.STRIPE:
        return None
    if item.transfer_id == transfer.id:
        return item
    waiting = item.state is ItemState.APPROVED and item.transfer_id is None
    return item if waiting else None


def handle_transfer_reversed(session: Session, transfer: Transfer) -> PayoutItem | None:
    """A transfer was reversed at Stripe (``transfer`` as the gateway reports it now, not
    as a webhook claimed). What Stripe reversed goes back to the trainer's payable (paid
    to payable), as each part is heard of: a partial reversal records its part once
    (``PayoutReversal``, unique per reversed total, so a redelivered event moves nothing)
    and the item stays paid; the reversal that completes the transfer's moves the rest
    and the item is reversed. The money then goes out with the next run; finance takes
    it back with a negative adjustment if it should not. Trainer and finance are told.

    A transfer the processor has not recorded yet is recorded first (it was made: the
    item was paid, then reversed). Stripe tells us of a reversal once; were it dropped,
    the processor's next pass would replay the key, hear the old answer and record the
    money as paid while it is back in the platform's balance."""
    item = item_paid_by(session, transfer)
    if item is None or item.state is ItemState.REVERSED or not transfer.amount_reversed:
        return item
    if item.transfer_id is None:
        record_paid(session, item, transfer=transfer)
    recorded = reversed_in_parts(session, [item.id]).get(item.id, 0)
    if transfer.reversed:
        _return_reversed(session, item, transfer, item.amount - recorded, source_id=item.id)
        ITEMS.move(item, ItemState.REVERSED)
        _announce_reversal(session, item, transfer, "payout_item.reversed", None)
    elif transfer.amount_reversed > recorded:
        part = transfer.amount_reversed - recorded
        reversal = PayoutReversal(payout_item_id=item.id, transfer_id=transfer.id,
                                  amount=part, reversed_total=transfer.amount_reversed,
                                  created_at=clock.now())
        session.add(reversal)
        session.flush()  # the id the entry names as its source
        _return_reversed(session, item, transfer, part, source_id=reversal.id)
        _announce_reversal(session, item, transfer, "payout_item.partially_reversed",
                           Money(part, item.currency))
    # The processor may never come back to a run whose last waiting item this was.
    complete_if_done(session, item.run_id)
    return item


def reversed_in_parts(session: Session, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per item, what partial reversals returned to payable so far."""
    if not item_ids:
        return {}
    return {item_id: int(total) for item_id, total in session.execute(
        select(PayoutReversal.payout_item_id, func.sum(PayoutReversal.amount))
        .where(PayoutReversal.payout_item_id.in_(list(item_ids)))
        .group_by(PayoutReversal.payout_item_id)
    )}


def _return_reversed(session: Session, item: PayoutItem, transfer: Transfer, amount: int,
                     *, source_id: uuid.UUID) -> None:
    paid, payable = ledger.trainer_accounts(
        session, item.organisation_id, item.trainer_id,
        (AccountKind.PAID, AccountKind.PAYABLE), item.currency,
    )
    ledger.post_entry(
        session, source_type=SourceType.PAYOUT_REVERSED, source_id=source_id,
        reason=f"Payout of {item.money}: {Money(amount, item.currency)} reversed "
        f"(transfer {transfer.id})",
        organisation_id=item.organisation_id, trainer_id=item.trainer_id,
        legs=[ledger.Leg(paid, amount), ledger.Leg(payable, -amount)],
    )


def _announce_reversal(session: Session, item: PayoutItem, transfer: Transfer, action: str,
                       part: Money | None) -> None:
    """Tell the trainer and finance; ``part``: what was reversed, None for all of it."""
    data = {"payout_item_id": str(item.id), "transfer_id": transfer.id,
            "amount_reversed": transfer.amount_reversed}
    audit.record(
        session, SystemActor("stripe"), action, object_type="payout_item",
        object_id=item.id, organisation_id=item.organisation_id,
        before={"state": ItemState.PAID.value},
        after={"state": item.state.value, "transfer_id": transfer.id,
               "amount_reversed": transfer.amount_reversed},
    )
    tell(session, item.trainer_id, "payout.reversed",
         {"amount": money(item.money), "part": money(part)}, data)
    notify_finance(
        session, item.organisation_id, action,
        {"transfer": transfer.id, "amount": money(item.money), "part": money(part)}, data,
    )


def handle_connected_payout(
    session: Session, account: str | None, payout: dict[str, Any], *, paid: bool
) -> bool:
    """Stripe paid (or failed to pay) a trainer's Stripe balance out to their bank. The
    transfer already made the money theirs, so the ledger does not move: the trainer is
    told (and, on failure, finance too). Returns whether the account is known."""
    if not account:
        return False
    payout_account = session.scalars(
        select(PayoutAccount).where(PayoutAccount.stripe_account_id == account)
    ).one_or_none()
    if payout_account is None:
        return False
    amount = payout.get("amount")
    currency = str(payout.get("currency") or "").upper()
    data = {"stripe_payout_id": payout.get("id"), "amount": amount, "currency": currency}
    params = {"amount": money(_money_of(amount, currency))}
    if paid:
        tell(session, payout_account.trainer_id, "payout.arrived", params, data)
        return True
    reason = payout.get("failure_message") or payout.get("failure_code") or "no reason given"
    tell(session, payout_account.trainer_id, "payout.bank_failed",
         {**params, "reason": reason}, {**data, "reason": reason})
    return True


def _money_of(amount: Any, currency: str) -> Money | None:
    """The amount Stripe reported, if it is one."""
    try:
        return Money(int(amount), currency) if amount is not None else None
    except (TypeError, ValueError):
        return None

# --- the handlers (``billing.webhooks.Handler``) -----------------------------------------


def on_transfer_reversed(session: Session, event: dict[str, Any], account: str | None,
                         gateway: PayoutGateway | None) -> None:
    """``transfer.reversed``: money moves only on the transfer as Stripe reports it now
    (re-read), never on the payload; a transfer that is not ours is ignored. Ours is one
    an item recorded, or one naming an item (the processor may not have heard Stripe's
    answer yet); the payload only decides whether to ask Stripe."""
    data = (event.get("data") or {}).get("object", {})
    transfer_id = data.get("id")
    if not transfer_id:
        return
    ours = PayoutItem.transfer_id == str(transfer_id)
    named = item_named_by(data.get("metadata"), data.get("transfer_group"))
    if named is not None:
        ours = ours | (PayoutItem.id == named)
    if session.scalar(select(PayoutItem.id).where(ours)) is None:
        return
    if gateway is None:
        return  # without Stripe configured, no transfer of ours can exist
    handle_transfer_reversed(session, gateway.retrieve_transfer(str(transfer_id)))


def on_payout_paid(session: Session, event: dict[str, Any], account: str | None,
                   gateway: PayoutGateway | None) -> None:
    handle_connected_payout(session, account, (event.get("data") or {}).get("object", {}),
                            paid=True)


def on_payout_failed(session: Session, event: dict[str, Any], account: str | None,
                     gateway: PayoutGateway | None) -> None:
    handle_connected_payout(session, account, (event.get("data") or {}).get("object", {}),
                            paid=False)
