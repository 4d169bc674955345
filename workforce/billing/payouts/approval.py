"""Approving a run (its money moves from payable to in transit), cancelling one, and
asking for one to be sent."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import User
from workforce.billing import ledger, left_out
from workforce.billing.models import (
    AccountKind,
    ItemState,
    LedgerAccount,
    OwnerType,
    PayoutItem,
    PayoutRun,
    RunState,
    SourceType,
)
from workforce.billing.payouts import events
from workforce.billing.payouts.finance import notify_finance
from workforce.billing.payouts.lifecycle import ITEMS, RUNS
from workforce.billing.payouts.queries import get_run, locked_run, run_view
from workforce.billing.payouts.schedules import minimum_for, next_due
from workforce.errors import IllegalTransition, NotFound
from workforce.i18n import gettext
from workforce.notifications.texts import moment

APPROVE_BATCH = 500


def approve_run(
    session: Session, actor: Actor, run_id: uuid.UUID, *,
    organisation_id: uuid.UUID | None = None,
) -> PayoutRun:
    """Approve a run in preview: each item's amount moves from payable to in transit, in
    this transaction. Each item is checked again against the trainer's payable as it is
    now (its account row locked): money may have moved since the preview, and an item
    no longer covered is cancelled with the reason rather than take payable below zero.
    Every trainer the run leaves out is told why (``left_out``). Approving twice is an
    ``IllegalTransition`` (409) naming the state."""
    scope = actor.organisation_id if isinstance(actor, User) else organisation_id
    run = locked_run(session, run_id)
    if run.organisation_id != scope:
        raise NotFound(gettext("No such payout run."))
    RUNS.move(run, RunState.APPROVED)
    now = clock.now()
    approved, cancelled = _approve_items(session, run)
    run.approved_by_id = actor.id if isinstance(actor, User) else None
    run.approved_at = now
    if not approved:
        RUNS.move(run, RunState.COMPLETED)
        run.completed_at = now
    session.flush()
    events.run_approved(session, run, approved=approved, cancelled=cancelled)
    audit.record(
        session, actor, "payout_run.approved", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, before={"state": RunState.PREVIEW.value},
        after={"state": run.state.value, "items_approved": approved,
               "items_cancelled": cancelled, "totals": run_view(session, run)["totals"]},
    )
    schedule = run.schedule
    left_out.tell(session, run, minimum=lambda currency: minimum_for(schedule, currency),
                  next_run_at=next_due(schedule, now))
    notify_finance(
        session, run.organisation_id, "payout_run.approved", {
            "who": actor.display_name if isinstance(actor, User) else None,
            "period_end": moment(run.period_end), "approved": approved, "cancelled": cancelled,
        }, {"run_id": str(run.id)}, except_user=actor.id if isinstance(actor, User) else None,
    )
    return run


def _approve_items(session: Session, run: PayoutRun) -> tuple[int, int]:
    approved = cancelled = 0
    last: uuid.UUID | None = None
    while True:
        stmt = (
            select(PayoutItem, LedgerAccount)
            .join(LedgerAccount, and_(
                LedgerAccount.organisation_id == PayoutItem.organisation_id,
                LedgerAccount.owner_type == OwnerType.TRAINER,
                LedgerAccount.owner_id == PayoutItem.trainer_id,
                LedgerAccount.kind == AccountKind.PAYABLE,
                LedgerAccount.currency == PayoutItem.currency,
            ))
            .where(PayoutItem.run_id == run.id, PayoutItem.state == ItemState.PENDING)
            .order_by(PayoutItem.id)
            .limit(APPROVE_BATCH)
            .with_for_update(of=LedgerAccount)
            .execution_options(populate_existing=True)
        )
        if last is not None:
            stmt = stmt.where(PayoutItem.id > last)
        rows = session.execute(stmt).all()
        if not rows:
            break
        held = ledger.held_credits(session, [account.id for _, account in rows], run.period_end)
        for item, payable in rows:
            available = -payable.balance - held.get(payable.id, ledger.NO_HOLD).amount
            if item.amount > available:
                ITEMS.move(item, ItemState.CANCELLED)
                item.failure_code = "not_covered"
                item.failure_message = (
                    f"Only {max(available, 0)} of {item.amount} is payable now; the money "
                    "moved after the preview. What remains payable waits for the next run."
                )
                cancelled += 1
                continue
            ITEMS.move(item, ItemState.APPROVED)
            post_approved(session, item, payable, source_id=item.id)
            approved += 1
        last = rows[-1][0].id
        if len(rows) < APPROVE_BATCH:
            break
    return approved, cancelled


def post_approved(
    session: Session, item: PayoutItem, payable: LedgerAccount, *, source_id: uuid.UUID
) -> None:
    in_transit = ledger.trainer_account(
        session, item.organisation_id, item.trainer_id, AccountKind.IN_TRANSIT, item.currency
    )
    ledger.post_entry(
        session, source_type=SourceType.PAYOUT_APPROVED, source_id=source_id,
        reason=f"Payout of {item.money} approved", organisation_id=item.organisation_id,
        trainer_id=item.trainer_id,
        legs=[ledger.Leg(payable, item.amount), ledger.Leg(in_transit, -item.amount)],
    )


def cancel_run(session: Session, actor: User, run_id: uuid.UUID) -> PayoutRun:
    """Cancel a run in preview (nothing moved yet; the money stays payable). An approved
    run cannot be cancelled: its items are paid, or fail and can be retried."""
    get_run(session, actor, run_id)
    run = locked_run(session, run_id)
    RUNS.move(run, RunState.CANCELLED)
    run.cancelled_at = clock.now()
    session.execute(
        update(PayoutItem)
        .where(PayoutItem.run_id == run.id, PayoutItem.state == ItemState.PENDING)
        .values(state=ItemState.CANCELLED, updated_at=run.cancelled_at)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(
        session, actor, "payout_run.cancelled", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, before={"state": RunState.PREVIEW.value},
        after={"state": RunState.CANCELLED.value},
    )
    notify_finance(
        session, run.organisation_id, "payout_run.cancelled",
        {"who": actor.display_name, "period_end": moment(run.period_end)},
        {"run_id": str(run.id)}, except_user=actor.id,
    )
    return run


def request_processing(session: Session, actor: User, run_id: uuid.UUID) -> PayoutRun:
    """Finance asks for an approved run to be sent (again): a run halted with an alert
    (say, the platform balance was too low) is resumed, and the scheduler's processing
    job, which runs every minute, sends what waits. A run in preview or cancelled is a
    409 naming its state."""
    get_run(session, actor, run_id)
    run = run_to_process(session, actor, run_id, resume=True)
    assert run is not None  # resumed if halted
    return run


def run_to_process(session: Session, actor: Actor, run_id: uuid.UUID, *,
                   resume: bool) -> PayoutRun | None:
    """The run, locked, if its items may be sent: approved, processing, or completed
    with an item retried since (else 409 naming its state). A run halted with an alert
    is None unless ``resume``, which lifts the halt (audited)."""
    run = locked_run(session, run_id)
    if run.state not in (RunState.APPROVED, RunState.PROCESSING, RunState.COMPLETED):
        raise IllegalTransition(
            gettext("A payout run in %(state)s is not processed; approve it first.",
                    state=run.state.value),
            current_state=run.state.value,
        )
    if run.halted_reason:
        if not resume:
            return None
        audit.record(
            session, actor, "payout_run.resumed", object_type="payout_run", object_id=run.id,
            organisation_id=run.organisation_id, before={"halted_reason": run.halted_reason},
            after={"halted_reason": None},
        )
        run.halted_reason = None
        session.flush()
    return run
