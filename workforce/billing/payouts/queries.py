"""Reading payout runs and items: views with totals, lists, reports."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce.accounts.models import User
from workforce.billing.models import (
    ExclusionReason,
    ItemState,
    PayoutExclusion,
    PayoutItem,
    PayoutRun,
    RunState,
)
from workforce.errors import NotFound
from workforce.i18n import _
from workforce.pagination import Page, PageRequest, paginate

FAILURES_IN_REPORT = 500


def get_run(session: Session, staff: User, run_id: uuid.UUID) -> PayoutRun:
    run = session.get(PayoutRun, run_id)
    if run is None or run.organisation_id != staff.organisation_id:
        raise NotFound(_("No such payout run."))
    return run


def locked_run(session: Session, run_id: uuid.UUID) -> PayoutRun:
    run = session.scalars(
        select(PayoutRun).where(PayoutRun.id == run_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if run is None:
        raise NotFound(_("No such payout run."))
    return run


def locked_item_where(session: Session, condition: Any) -> PayoutItem | None:
    return session.scalars(
        select(PayoutItem).where(condition).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def list_runs(
    session: Session, staff: User, page: PageRequest, *, state: RunState | None = None,
    schedule_id: uuid.UUID | None = None,
) -> Page[dict[str, Any]]:
    stmt = select(PayoutRun).where(PayoutRun.organisation_id == staff.organisation_id)
    if state is not None:
        stmt = stmt.where(PayoutRun.state == state)
    if schedule_id is not None:
        stmt = stmt.where(PayoutRun.schedule_id == schedule_id)
    found = paginate(session, stmt, page, created_at=PayoutRun.created_at, row_id=PayoutRun.id)
    return Page([run_view(session, run) for run in found.items], found.next_cursor)


def preview(session: Session, staff: User, run_id: uuid.UUID) -> dict[str, Any]:
    """The run with its totals per currency, counts per state and the left-out summary."""
    return run_view(session, get_run(session, staff, run_id))


def run_view(session: Session, run: PayoutRun) -> dict[str, Any]:
    by_state = [
        {"state": state, "currency": currency, "items": int(count), "amount": int(amount)}
        for state, currency, count, amount in session.execute(
            select(PayoutItem.state, PayoutItem.currency, func.count(), func.sum(PayoutItem.amount))
            .where(PayoutItem.run_id == run.id)
            .group_by(PayoutItem.state, PayoutItem.currency)
            .order_by(PayoutItem.currency, PayoutItem.state)
        )
    ]
    totals: dict[str, dict[str, Any]] = {}
    for row in by_state:
        if row["state"] is ItemState.CANCELLED:
            continue
        total = totals.setdefault(row["currency"], {"currency": row["currency"], "items": 0,
                                                    "amount": 0})
        total["items"] += row["items"]
        total["amount"] += row["amount"]
    exclusions = [
        {"reason": reason, "currency": currency, "trainers": int(count), "amount": int(amount)}
        for reason, currency, count, amount in session.execute(
            select(PayoutExclusion.reason, PayoutExclusion.currency, func.count(),
                   func.sum(PayoutExclusion.amount))
            .where(PayoutExclusion.run_id == run.id)
            .group_by(PayoutExclusion.reason, PayoutExclusion.currency)
            .order_by(PayoutExclusion.currency, PayoutExclusion.reason)
        )
    ]
    return {
        "id": run.id, "schedule_id": run.schedule_id, "schedule_name": run.schedule.name,
        "organisation_id": run.organisation_id, "period_end": run.period_end,
        "state": run.state, "created_at": run.created_at, "created_by_id": run.created_by_id,
        "approved_at": run.approved_at, "approved_by_id": run.approved_by_id,
        "cancelled_at": run.cancelled_at, "completed_at": run.completed_at,
        "halted_reason": run.halted_reason,
        "totals": sorted(totals.values(), key=lambda t: t["currency"]),
        "by_state": by_state,
        "item_count": sum(row["items"] for row in by_state),
        "exclusion_count": sum(row["trainers"] for row in exclusions),
        "exclusions": exclusions,
    }


def list_items(
    session: Session, staff: User, run_id: uuid.UUID, page: PageRequest, *,
    state: ItemState | None = None,
) -> Page[dict[str, Any]]:
    """The run's items (newest first; one run's items share their creation time, so
    the order is by id), with each trainer's name."""
    run = get_run(session, staff, run_id)
    stmt = select(PayoutItem).where(PayoutItem.run_id == run.id)
    if state is not None:
        stmt = stmt.where(PayoutItem.state == state)
    found = paginate(session, stmt, page, created_at=PayoutItem.created_at, row_id=PayoutItem.id)
    names = trainer_names(session, {item.trainer_id for item in found.items})
    return Page([item_view(item, names) for item in found.items], found.next_cursor)


def item_view(item: PayoutItem, names: dict[uuid.UUID, str] | None = None) -> dict[str, Any]:
    return {
        "id": item.id, "run_id": item.run_id, "trainer_id": item.trainer_id,
        "trainer_name": (names or {}).get(item.trainer_id),
        "method": item.method, "amount": item.amount, "currency": item.currency,
        "state": item.state, "transfer_id": item.transfer_id, "attempts": item.attempts,
        "failure_code": item.failure_code, "failure_message": item.failure_message,
        "manual_reference": item.manual_reference, "sent_at": item.sent_at,
        "paid_at": item.paid_at, "created_at": item.created_at,
    }


def list_exclusions(
    session: Session, staff: User, run_id: uuid.UUID, page: PageRequest, *,
    reason: ExclusionReason | None = None,
) -> Page[dict[str, Any]]:
    """Who was left out of the run and why (ordered by id: exclusions have no time)."""
    run = get_run(session, staff, run_id)
    stmt = select(PayoutExclusion).where(PayoutExclusion.run_id == run.id)
    if reason is not None:
        stmt = stmt.where(PayoutExclusion.reason == reason)
    found = paginate(session, stmt, page, order=(PayoutExclusion.id,))
    names = trainer_names(session, {row.trainer_id for row in found.items})
    views = [
        {"id": row.id, "trainer_id": row.trainer_id, "trainer_name": names.get(row.trainer_id),
         "amount": row.amount, "currency": row.currency, "reason": row.reason,
         "detail": row.detail}
        for row in found.items
    ]
    return Page(views, found.next_cursor)


def trainer_names(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    return dict(session.execute(
        select(User.id, User.display_name).where(User.id.in_(user_ids))
    ).all())


def get_item(session: Session, staff: User, item_id: uuid.UUID) -> dict[str, Any]:
    item = session.get(PayoutItem, item_id)
    if item is None or item.organisation_id != staff.organisation_id:
        raise NotFound(_("No such payout item."))
    return item_view(item, trainer_names(session, {item.trainer_id}))


def report(session: Session, staff: User, run_id: uuid.UUID) -> dict[str, Any]:
    """Counts and amounts per state and currency, the failures with their reasons (the
    first 500; the items list filters by state for more), and the left-out summary."""
    return run_report(session, get_run(session, staff, run_id))


def run_report(session: Session, run: PayoutRun) -> dict[str, Any]:
    view = run_view(session, run)
    failed = list(session.scalars(
        select(PayoutItem)
        .where(PayoutItem.run_id == run.id,
               PayoutItem.state.in_((ItemState.FAILED, ItemState.CANCELLED)),
               PayoutItem.failure_code.is_not(None))
        .order_by(PayoutItem.id)
        .limit(FAILURES_IN_REPORT)
    ))
    names = trainer_names(session, {item.trainer_id for item in failed})
    return {
        "run": view,
        "by_state": view["by_state"],
        "exclusions": view["exclusions"],
        "failures": [item_view(item, names) for item in failed],
    }
