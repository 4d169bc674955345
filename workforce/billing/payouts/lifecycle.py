"""The lifecycles of payout runs and items: the allowed moves, as tables."""

from __future__ import annotations

from workforce.billing.models import ItemState, PayoutItem, PayoutRun, RunState
from workforce.errors import IllegalTransition

R, It = RunState, ItemState

RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    R.PREVIEW: frozenset({R.APPROVED, R.CANCELLED}),
    # An approved run whose items are all covered elsewhere (none left) completes at once.
    R.APPROVED: frozenset({R.PROCESSING, R.COMPLETED}),
    R.PROCESSING: frozenset({R.COMPLETED}),
    # A failed item that finance retries reopens its run.
    R.COMPLETED: frozenset({R.PROCESSING}),
    R.CANCELLED: frozenset(),
}

ITEM_TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
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
}

# An item still waiting for money to move; a run with none left is complete.
OPEN_ITEM_STATES = (It.PENDING, It.APPROVED, It.SENT)


def move_run(run: PayoutRun, target: RunState) -> None:
    """Set the run's state, or raise ``IllegalTransition`` (409) naming the current one."""
    if target not in RUN_TRANSITIONS[run.state]:
        raise IllegalTransition(
            f"A payout run cannot go from {run.state.value} to {target.value}.",
            current_state=run.state.value,
        )
    run.state = target


def move_item(item: PayoutItem, target: ItemState) -> None:
    """Set the item's state, or raise ``IllegalTransition`` (409) naming the current one."""
    if target not in ITEM_TRANSITIONS[item.state]:
        raise IllegalTransition(
            f"A payout item cannot go from {item.state.value} to {target.value}.",
            current_state=item.state.value,
        )
    item.state = target
