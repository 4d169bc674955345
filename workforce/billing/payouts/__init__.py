"""Payout schedules, runs and items, one module per concern; the names most callers use
are here too.

Money moves only through ``ledger.post``, once per source. An item is one trainer and
one currency in one run; its entries are keyed by the item's id:

- approved: ``PAYOUT_APPROVED`` (Dr trainer payable, Cr trainer in transit);
- paid: ``PAYOUT_PAID`` (Dr in transit, Cr trainer paid). The trainer's ``paid`` account
  per organisation *is* the record of the cash that left the organisation, so the entry
  has these two legs only (a clearing leg would need a cash account to balance against,
  and would repeat the sum of the ``paid`` accounts);
- failed: ``PAYOUT_FAILED`` (Dr in transit, Cr payable, available at once);
- reversed after it was paid: ``PAYOUT_REVERSED`` (Dr paid, Cr payable); a part of it
  reversed while the rest stays paid posts the same under its ``PayoutReversal``'s id.

An item pays at most once (one transfer per item, ever), so ``PAYOUT_PAID`` and
``PAYOUT_REVERSED`` use the item's id. A failed item that finance retries goes round
again: its second approval and any second failure need sources of their own, derived
from the item's id and the failed key generation (``round_source``).
"""

from workforce.billing.payouts.approval import approve_run, cancel_run, request_processing
from workforce.billing.payouts.build import SCHEDULER, create_due_runs, ensure_run, run_now
from workforce.billing.payouts.keys import idempotency_key_for, round_source, transfer_group
from workforce.billing.payouts.outcomes import (
    record_manual_failure,
    record_manual_payment,
    record_paid,
    retry_item,
)
from workforce.billing.payouts.queries import run_view
from workforce.billing.payouts.schedules import create_schedule, latest_due

__all__ = [
    "SCHEDULER", "approve_run", "cancel_run", "create_due_runs", "create_schedule",
    "ensure_run", "idempotency_key_for", "latest_due", "record_manual_failure",
    "record_manual_payment", "record_paid", "request_processing", "retry_item",
    "round_source", "run_now", "run_view", "transfer_group",
]
