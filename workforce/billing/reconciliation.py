"""Reconciliation: what the ledger says was paid (and is still in transit) per payout
item, against the transfers Stripe made, for a period.

Every difference is reported, none is corrected here: money moves only through the
processor (which finishes an item whose transfer it did not record, by its key or
transfer group) and through webhooks re-read at Stripe. Finance is told about its
organisation's differences. A transfer that names no payout item of ours but went to a
trainer's connected account is a difference of every organisation the trainer has money
with (someone paid them outside the ledger); one to an account nobody here has belongs
to no organisation and is only logged (and returned by the scheduler's pass).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workforce.accounts.models import User
from workforce.billing.gateways import GatewayError, PayoutGateway, Transfer
from workforce.billing.models import (
    ItemState,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    PayoutAccount,
    PayoutItem,
    PayoutMethod,
    SourceType,
)
from workforce.billing.payouts.finance import notify_finance
from workforce.billing.payouts.keys import item_named_by
from workforce.billing.payouts.stripe_events import reversed_in_parts
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.notifications.texts import moment

log = logging.getLogger(__name__)

LOOKUP_BATCH = 500

Progress = Callable[[int], None]


class DifferenceKind(StrEnum):
    # The ledger says paid; Stripe has no such transfer.
    MISSING_TRANSFER = "missing_transfer"
    # Amount or currency differ between the item and its transfer.
    AMOUNT_MISMATCH = "amount_mismatch"
    # A transfer that names no payout item of ours (to a trainer's account: shown to
    # each organisation the trainer has money with).
    UNKNOWN_TRANSFER = "unknown_transfer"
    # A transfer for an item the ledger still shows in transit (or failed): a crash
    # between the transfer and its commit; the processor's next pass records it.
    UNRECORDED_TRANSFER = "unrecorded_transfer"
    # A second transfer for an item already paid by another.
    DUPLICATE_TRANSFER = "duplicate_transfer"
    # Reversed at Stripe, still paid here (a webhook not received).
    REVERSED_NOT_RECORDED = "reversed_not_recorded"
    # Reversed here, not at Stripe.
    REVERSAL_NOT_AT_STRIPE = "reversal_not_at_stripe"
    # The item's state and its ledger entries disagree.
    LEDGER_MISMATCH = "ledger_mismatch"


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    detail: str
    organisation_id: uuid.UUID | None = None
    payout_item_id: uuid.UUID | None = None
    transfer_id: str | None = None
    ledger_amount: int | None = None
    stripe_amount: int | None = None
    currency: str | None = None
    # The trainer whose connected account received a transfer unknown to the ledger.
    trainer_id: uuid.UUID | None = None


@dataclass
class ReconciliationResult:
    period_from: datetime
    period_to: datetime
    items_checked: int = 0
    transfers_checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.differences


def reconcile_for(
    session: Session, staff: User, gateway: PayoutGateway | None, *,
    period_from: datetime, period_to: datetime,
) -> ReconciliationResult:
    """The staff member's organisation's differences for the period, on demand."""
    return reconcile_period(session, gateway, period_from=period_from, period_to=period_to,
                            organisation_id=staff.organisation_id)


def reconcile_period(
    session: Session, gateway: PayoutGateway | None, *, period_from: datetime,
    period_to: datetime, organisation_id: uuid.UUID | None = None, notify: bool = False,
    progress: Progress | None = None,
) -> ReconciliationResult:
    """``reconcile`` for a period someone asked for (finance, an operator's command):
    refused without Stripe, or for an empty period."""
    if gateway is None:
        raise Invalid(_("Reconciliation compares with Stripe, which is not configured."),
                      code="gateway-not-configured")
    if period_to <= period_from:
        raise Invalid(_("The period is empty."), errors={"to": [_("Must be after 'from'.")]})
    return reconcile(session, gateway, period_from=period_from, period_to=period_to,
                     organisation_id=organisation_id, notify=notify, progress=progress)


def reconcile(
    session: Session,
    gateway: PayoutGateway,
    *,
    period_from: datetime,
    period_to: datetime,
    organisation_id: uuid.UUID | None = None,
    notify: bool = False,
    progress: Progress | None = None,
) -> ReconciliationResult:
    """Compare the payout items sent (or waiting in transit with a key) in
    [period_from, period_to) with Stripe's transfers created in the same period;
    transfers just outside it are fetched one by one, so an edge never shows as a
    difference. With ``notify``, each organisation's finance users are told;
    ``progress`` hears of each transfer read from Stripe (the long part)."""
    result = ReconciliationResult(period_from, period_to)
    transfers: dict[str, Transfer] = {}
    for transfer in gateway.list_transfers(created_from=period_from, created_to=period_to):
        transfers[transfer.id] = transfer
        if progress is not None:
            progress(1)
    result.transfers_checked = len(transfers)
    items = _items_in_period(session, period_from, period_to, organisation_id)
    # Items that Stripe's transfers name but that were sent outside the period.
    named = {_item_id(t) for t in transfers.values()} - {item.id for item in items} - {None}
    items += _items_by_id(session, named, organisation_id)  # type: ignore[arg-type]
    result.items_checked = len(items)
    ids = [i.id for i in items]
    recorded = _Recorded(_entries(session, SourceType.PAYOUT_PAID, ids),
                         _entries(session, SourceType.PAYOUT_REVERSED, ids),
                         _in_parts(session, ids))
    for item in items:
        result.differences += _check_item(item, transfers, gateway, recorded)
    claimed = {item.transfer_id for item in items if item.transfer_id}
    unclaimed = [t for t in transfers.values() if t.id not in claimed]
    result.differences += _not_recorded(session, unclaimed, items, organisation_id)
    if notify:
        _tell(session, result)
    return result


def _items_in_period(
    session: Session, start: datetime, end: datetime, organisation_id: uuid.UUID | None
) -> list[PayoutItem]:
    stmt = select(PayoutItem).where(
        PayoutItem.method == PayoutMethod.STRIPE,
        or_(
            and_(PayoutItem.transfer_id.is_not(None), PayoutItem.sent_at >= start,
                 PayoutItem.sent_at < end),
            and_(PayoutItem.state == ItemState.APPROVED,
                 PayoutItem.key_created_at >= start, PayoutItem.key_created_at < end),
        ),
    )
    if organisation_id is not None:
        stmt = stmt.where(PayoutItem.organisation_id == organisation_id)
    # Fresh rows: the processor may have changed them in its own sessions meanwhile.
    return list(session.scalars(
        stmt.order_by(PayoutItem.id).execution_options(populate_existing=True)))


def _items_by_id(
    session: Session, ids: set[uuid.UUID], organisation_id: uuid.UUID | None
) -> list[PayoutItem]:
    found: list[PayoutItem] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), LOOKUP_BATCH):
        stmt = select(PayoutItem).where(PayoutItem.id.in_(ordered[start:start + LOOKUP_BATCH]))
        if organisation_id is not None:
            stmt = stmt.where(PayoutItem.organisation_id == organisation_id)
        found += session.scalars(stmt.execution_options(populate_existing=True))
    return found


def _entries(session: Session, source: SourceType, item_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(item_ids), LOOKUP_BATCH):
        found.update(session.scalars(
            select(JournalEntry.source_id).where(
                JournalEntry.source_type == source,
                JournalEntry.source_id.in_(item_ids[start:start + LOOKUP_BATCH]),
            )
        ))
    return found


@dataclass(frozen=True)
class _Recorded:
    """What the ledger holds for the items checked: which have their paid and their
    reversed entry, and what partial reversals returned to payable."""

    paid: set[uuid.UUID]
    reversed: set[uuid.UUID]
    reversed_in_parts: dict[uuid.UUID, int]


def _in_parts(session: Session, item_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    found: dict[uuid.UUID, int] = {}
    for start in range(0, len(item_ids), LOOKUP_BATCH):
        found.update(reversed_in_parts(session, item_ids[start:start + LOOKUP_BATCH]))
    return found


def _item_id(transfer: Transfer) -> uuid.UUID | None:
    return item_named_by(transfer.metadata, transfer.transfer_group)


def _check_item(
    item: PayoutItem, transfers: dict[str, Transfer], gateway: PayoutGateway,
    recorded: _Recorded,
) -> list[Difference]:
    found: list[Difference] = []

    def difference(kind: DifferenceKind, detail: str, transfer: Transfer | None = None) -> None:
        found.append(Difference(
            kind, detail, item.organisation_id, item.id, item.transfer_id or (
                transfer.id if transfer else None),
            item.amount, transfer.amount if transfer else None, item.currency,
        ))

    paid_here = item.state in (ItemState.PAID, ItemState.REVERSED)
    if paid_here != (item.id in recorded.paid):
        difference(DifferenceKind.LEDGER_MISMATCH,
                   f"The item is {item.state.value} but its paid entry is "
                   f"{'present' if item.id in recorded.paid else 'missing'}.")
    if (item.state is ItemState.REVERSED) != (item.id in recorded.reversed):
        difference(DifferenceKind.LEDGER_MISMATCH,
                   f"The item is {item.state.value} but its reversal entry is "
                   f"{'present' if item.id in recorded.reversed else 'missing'}.")
    if not item.transfer_id:
        return found  # in transit: a transfer naming it is checked with the transfers
    transfer = transfers.get(item.transfer_id) or _retrieve(gateway, item.transfer_id)
    if transfer is None:
        difference(DifferenceKind.MISSING_TRANSFER,
                   f"The ledger records transfer {item.transfer_id}; Stripe has no such "
                   "transfer.")
        return found
    if transfer.amount != item.amount or transfer.currency != item.currency:
        difference(DifferenceKind.AMOUNT_MISMATCH,
                   f"The item is {item.amount} {item.currency}; the transfer is "
                   f"{transfer.amount} {transfer.currency}.", transfer)
    if transfer.reversed and item.state is not ItemState.REVERSED:
        difference(DifferenceKind.REVERSED_NOT_RECORDED,
                   f"Stripe reversed transfer {transfer.id}; the ledger still shows it "
                   f"{item.state.value}.", transfer)
    elif (not transfer.reversed and transfer.amount_reversed
          != recorded.reversed_in_parts.get(item.id, 0)):
        difference(DifferenceKind.REVERSED_NOT_RECORDED,
                   f"Stripe reversed {transfer.amount_reversed} of transfer {transfer.id}; "
                   f"the ledger returned {recorded.reversed_in_parts.get(item.id, 0)} of it "
                   "to payable (a partial reversal).", transfer)
    if item.state is ItemState.REVERSED and not transfer.reversed:
        difference(DifferenceKind.REVERSAL_NOT_AT_STRIPE,
                   f"The ledger shows transfer {transfer.id} reversed; Stripe does not.",
                   transfer)
    return found


def _retrieve(gateway: PayoutGateway, transfer_id: str) -> Transfer | None:
    try:
        return gateway.retrieve_transfer(transfer_id)
    except GatewayError as exc:
        if exc.retryable:
            raise
        return None


def _not_recorded(
    session: Session, transfers: list[Transfer], items: list[PayoutItem],
    organisation_id: uuid.UUID | None,
) -> list[Difference]:
    """Transfers no item recorded: for an item they name (a second transfer, or one the
    processor has not recorded yet), or for none that is checked."""
    by_item = {item.id: item for item in items}
    found, unknown = [], []
    for transfer in transfers:
        item_id = _item_id(transfer)
        item = by_item.get(item_id) if item_id else None
        if item is None:
            unknown.append(transfer)
        else:
            found.append(_unclaimed(transfer, item))
    return found + _unknown(session, unknown, organisation_id)


def _unknown(
    session: Session, transfers: list[Transfer], organisation_id: uuid.UUID | None,
) -> list[Difference]:
    """Transfers that name no payout item (of the organisation, when one is given). One
    that names another organisation's item is that organisation's to see. One to a
    trainer's connected account is shown to every organisation the trainer has money
    with: someone paid them outside the ledger. One to an account nobody here has is
    the platform's (no organisation), and is only there when no organisation is given."""
    if organisation_id is not None:
        named = {_item_id(t) for t in transfers} - {None}
        elsewhere = set(session.scalars(
            select(PayoutItem.id).where(PayoutItem.id.in_(named)))) if named else set()
        transfers = [t for t in transfers if _item_id(t) not in elsewhere]
    trainers = _trainers_by_account(session, {t.destination for t in transfers})
    organisations = _organisations_of(session, set(trainers.values()))
    found = []
    for transfer in transfers:
        trainer_id = trainers.get(transfer.destination)
        detail = (f"Transfer {transfer.id} of {transfer.amount} {transfer.currency} to "
                  f"{transfer.destination}"
                  + (", a trainer's payout account," if trainer_id else "")
                  + " names no payout item: it is not in the ledger.")
        owing = organisations.get(trainer_id) if trainer_id else None
        for organisation in owing or [None]:
            if organisation_id is not None and organisation != organisation_id:
                continue
            found.append(Difference(
                DifferenceKind.UNKNOWN_TRANSFER, detail, organisation, _item_id(transfer),
                transfer.id, None, transfer.amount, transfer.currency, trainer_id,
            ))
    return found


def _trainers_by_account(session: Session, destinations: set[str]) -> dict[str, uuid.UUID]:
    if not destinations:
        return {}
    return {account: trainer for account, trainer in session.execute(
        select(PayoutAccount.stripe_account_id, PayoutAccount.trainer_id)
        .where(PayoutAccount.stripe_account_id.in_(sorted(destinations)))
    )}


def _organisations_of(session: Session,
                      trainer_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The organisations each trainer has ledger accounts with (earned or was paid)."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not trainer_ids:
        return found
    for trainer_id, organisation_id in session.execute(
        select(LedgerAccount.owner_id, LedgerAccount.organisation_id).distinct()
        .where(LedgerAccount.owner_type == OwnerType.TRAINER,
               LedgerAccount.owner_id.in_(sorted(trainer_ids)))
        .order_by(LedgerAccount.owner_id, LedgerAccount.organisation_id)
    ):
        found.setdefault(trainer_id, []).append(organisation_id)
    return found


def _unclaimed(transfer: Transfer, item: PayoutItem) -> Difference:
    kind = (DifferenceKind.DUPLICATE_TRANSFER if item.transfer_id
            else DifferenceKind.UNRECORDED_TRANSFER)
    detail = (
        f"Transfer {transfer.id} is a second transfer for an item paid by {item.transfer_id}."
        if item.transfer_id else
        f"Transfer {transfer.id} was made for an item the ledger shows {item.state.value}."
    )
    return Difference(kind, detail, item.organisation_id, item.id, transfer.id, item.amount,
                      transfer.amount, transfer.currency)


def _tell(session: Session, result: ReconciliationResult) -> None:
    per_org: dict[uuid.UUID, list[Difference]] = {}
    for difference in result.differences:
        if difference.organisation_id is None:
            log.warning("transfer unknown to the ledger", extra={
                "transfer_id": difference.transfer_id, "detail": difference.detail})
            continue
        per_org.setdefault(difference.organisation_id, []).append(difference)
    for organisation_id, differences in per_org.items():
        kinds = Counter(d.kind.value for d in differences)
        notify_finance(
            session, organisation_id, "payout.reconciliation", {
                "differences": len(differences), "period_from": moment(result.period_from),
                "period_to": moment(result.period_to),
                "kinds": ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items())),
            },
            {"period_from": result.period_from.isoformat(),
             "period_to": result.period_to.isoformat(), "differences": len(differences),
             "kinds": dict(kinds)},
        )
