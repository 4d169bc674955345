"""The webhook events of payouts, written in the transaction of the change: a run
approved, an item paid, an item failed (schemas: ``api/webhook_endpoints_schemas.py``)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.billing.models import ItemState, PayoutItem, PayoutRun
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit, emit_many, iso, money


def run_approved(session: Session, run: PayoutRun, *, approved: int, cancelled: int) -> None:
    totals = session.execute(
        select(PayoutItem.currency, func.sum(PayoutItem.amount))
        .where(PayoutItem.run_id == run.id, PayoutItem.state == ItemState.APPROVED)
        .group_by(PayoutItem.currency).order_by(PayoutItem.currency)
    ).all()
    emit(session, run.organisation_id, EventType.PAYOUT_RUN_APPROVED, {
        "run_id": str(run.id), "schedule_id": str(run.schedule_id),
        "period_end": iso(run.period_end), "approved_at": iso(run.approved_at),
        "items_approved": approved, "items_cancelled": cancelled,
        "totals": [money(int(total), currency) for currency, total in totals],
    })


def _item(item: PayoutItem) -> dict[str, object]:
    return {"item_id": str(item.id), "run_id": str(item.run_id),
            "trainer_id": str(item.trainer_id), "amount": money(item.amount, item.currency),
            "method": item.method.value}


def items_paid(session: Session, items: list[PayoutItem]) -> None:
    """An event each, a statement for each organisation's (a run's items share one)."""
    by_organisation: dict[uuid.UUID, list[PayoutItem]] = {}
    for item in items:
        by_organisation.setdefault(item.organisation_id, []).append(item)
    for organisation_id, paid in by_organisation.items():
        emit_many(session, organisation_id, EventType.PAYOUT_ITEM_PAID, [{
            **_item(item), "paid_at": iso(item.paid_at), "transfer_id": item.transfer_id,
            "reference": item.manual_reference,
        } for item in paid])


def item_failed(session: Session, item: PayoutItem) -> None:
    emit(session, item.organisation_id, EventType.PAYOUT_ITEM_FAILED, {
        **_item(item), "failed_at": iso(clock.now()),
        "failure_code": item.failure_code or "", "failure_message": item.failure_message or "",
    })
