"""The lifecycles of payout runs and items: the allowed moves, as tables."""

from __future__ import annotations

from workforce.billing.models import ItemState, RunState
from workforce.i18n import lazy_gettext
from workforce.lifecycle import Lifecycle

R, It = RunState, ItemState

RUNS = Lifecycle(lazy_gettext("A payout run"), {
    R.PREVIEW: frozenset({R.APPROVED, R.CANCELLED}),
    # An approved run whose items are all covered elsewhere (none left) completes at once.
    R.APPROVED: frozenset({R.PROCESSING, R.COMPLETED}),
    R.PROCESSING: frozenset({R.COMPLETED}),
    # A failed item that finance retries reopens its run.
    R.COMPLETED: frozenset({R.PROCESSING}),
    R.CANCELLED: frozenset(),
})

ITEMS = Lifecycle(lazy_gettext("A payout item"), {
    # Cancelled with its run, or at approval when the payable no longer covers it.
    It.PENDING: frozenset({It.APPROVED, It.CANCELLED}),
    # A transfer lands in the trainer's Stripe balance at once: the item is paid. (SENT
    # is not used: nothing lies between the gateway's answer and the money being theirs.)
    It.APPROVED: frozenset({It.PAID, It.FAILED}),
    It.SENT: frozenset({It.PAID, It.FAILED, It.REVERSED}),
    It.PAID: frozenset({It.REVERSED}),
    It.FAILED: frozenset({It.APPROVED}),
    It.REVERSED: frozenset(),
    It.CANCELLED: frozenset(),
})

# An item still waiting for money to move; a run with none left is complete.
OPEN_ITEM_STATES = (It.PENDING, It.APPROVED, It.SENT)
