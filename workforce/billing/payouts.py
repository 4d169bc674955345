"""Payout schedules, runs and items: building a run for a period, preview, approval,
cancellation, the outcomes of each item (paid, failed, reversed), retries and reports.

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

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import Select, and_, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import calendar, clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor, SystemActor
from workforce.accounts.models import Role, User
from workforce.billing import ledger, left_out, payout_accounts, webhooks
from workforce.billing.corrections import MAX_AMOUNT
from workforce.billing.gateways import Transfer
from workforce.billing.models import (
    AccountKind,
    ExclusionReason,
    ItemState,
    LedgerAccount,
    OwnerType,
    PayoutAccount,
    PayoutExclusion,
    PayoutItem,
    PayoutMethod,
    PayoutReversal,
    PayoutRun,
    PayoutSchedule,
    RunState,
    SourceType,
)
from workforce.errors import Conflict, IllegalTransition, Invalid, NotFound
from workforce.money import Money, check_currency
from workforce.notifications.services import notify
from workforce.pagination import Page, PageRequest, decode_cursor, encode_cursor, paginate

SCHEDULER = SystemActor("scheduler")
BUILD_BATCH = 2000
APPROVE_BATCH = 500
# The least paid out in a currency without a minimum of its own: anything owed.
DEFAULT_MINIMUM = 1

Progress = Callable[[int], None]

# --- lifecycles ------------------------------------------------------------------------

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


# --- keys derived from the item ---------------------------------------------------------

_ROUND_NAMESPACE = uuid.UUID("5c1f6d0e-8a55-4a51-9d0b-3b7b0f4f2a10")


def transfer_group(item_id: uuid.UUID) -> str:
    """The transfer group of every request for the item: at most one transfer per item
    ever succeeds, so this finds it whatever key it was made with."""
    return f"payout-item-{item_id}"


def idempotency_key_for(item_id: uuid.UUID, generation: int) -> str:
    """The item's ``generation``-th key. A new key is issued only after the gateway gave
    a final refusal under the previous one (a failure retried by finance, an insufficient
    balance), because the gateway answers a reused key with its first answer again."""
    base = transfer_group(item_id)
    return base if generation <= 1 else f"{base}-{generation}"


def round_source(item_id: uuid.UUID, generation: int) -> uuid.UUID:
    """The ledger source of the failure of key ``generation`` and of the retry after it
    (0 for the first approval: the item's own id)."""
    if generation <= 0:
        return item_id
    return uuid.uuid5(_ROUND_NAMESPACE, f"{item_id}:{generation}")


# --- schedules ---------------------------------------------------------------------------


def _check_schedule(
    *, weekday: int, hour: int, minute: int, timezone: str, minimums: dict[str, int]
) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    if not 0 <= weekday <= 6:
        errors["weekday"] = ["Must be 0 (Monday) to 6 (Sunday)."]
    if not 0 <= hour <= 23:
        errors["hour"] = ["Must be 0 to 23."]
    if not 0 <= minute <= 59:
        errors["minute"] = ["Must be 0 to 59."]
    try:
        calendar.zone_name(timezone)
    except ValueError as exc:
        errors["timezone"] = [str(exc)]
    checked: dict[str, int] = {}
    for currency, amount in minimums.items():
        try:
            code = check_currency(currency)
        except ValueError as exc:
            errors.setdefault("minimums", []).append(str(exc))
            continue
        if isinstance(amount, bool) or not isinstance(amount, int) or not (
            0 <= amount <= MAX_AMOUNT
        ):
            errors.setdefault("minimums", []).append(
                f"{currency}: a whole number of minor units, from 0 to {MAX_AMOUNT}."
            )
            continue
        checked[code] = amount
    if errors:
        raise Invalid("The payout schedule is not valid.", errors=errors)
    return checked


def create_schedule(
    session: Session,
    actor: User,
    *,
    name: str,
    weekday: int,
    hour: int,
    minute: int = 0,
    timezone: str,
    minimums: dict[str, int] | None = None,
    auto_approve: bool = False,
    active: bool = True,
) -> PayoutSchedule:
    """A weekly payout moment for the actor's organisation."""
    checked = _check_schedule(
        weekday=weekday, hour=hour, minute=minute, timezone=timezone, minimums=minimums or {}
    )
    schedule = PayoutSchedule(
        organisation_id=actor.organisation_id, name=name, weekday=weekday, hour=hour,
        minute=minute, timezone=timezone, minimums=checked, auto_approve=auto_approve,
        active=active,
    )
    session.add(schedule)
    session.flush()  # the id the audit record names
    audit.record(
        session, actor, "payout_schedule.created", object_type="payout_schedule",
        object_id=schedule.id, organisation_id=schedule.organisation_id,
        after=_schedule_state(schedule),
    )
    return schedule


def update_schedule(
    session: Session, actor: User, schedule_id: uuid.UUID, **changes: Any
) -> PayoutSchedule:
    """Change any of a schedule's fields; runs already created keep their period."""
    schedule = get_schedule(session, actor, schedule_id)
    before = _schedule_state(schedule)
    merged = {**before, **{k: v for k, v in changes.items() if k in before}}
    merged["minimums"] = _check_schedule(
        weekday=merged["weekday"], hour=merged["hour"], minute=merged["minute"],
        timezone=merged["timezone"], minimums=merged["minimums"] or {},
    )
    for key, value in merged.items():
        setattr(schedule, key, value)
    session.flush()
    after = _schedule_state(schedule)
    if after != before:
        audit.record(
            session, actor, "payout_schedule.updated", object_type="payout_schedule",
            object_id=schedule.id, organisation_id=schedule.organisation_id,
            before=before, after=after,
        )
    return schedule


def get_schedule(session: Session, staff: User, schedule_id: uuid.UUID) -> PayoutSchedule:
    schedule = session.get(PayoutSchedule, schedule_id)
    if schedule is None or schedule.organisation_id != staff.organisation_id:
        raise NotFound("No such payout schedule.")
    return schedule


def list_schedules(session: Session, staff: User, page: PageRequest) -> Page[PayoutSchedule]:
    stmt = select(PayoutSchedule).where(PayoutSchedule.organisation_id == staff.organisation_id)
    return paginate(
        session, stmt, page, created_at=PayoutSchedule.created_at, row_id=PayoutSchedule.id
    )


def _schedule_state(schedule: PayoutSchedule) -> dict[str, Any]:
    return {
        "name": schedule.name, "weekday": schedule.weekday, "hour": schedule.hour,
        "minute": schedule.minute, "timezone": schedule.timezone,
        "minimums": dict(schedule.minimums or {}), "auto_approve": schedule.auto_approve,
        "active": schedule.active,
    }


def latest_due(schedule: PayoutSchedule, now: datetime) -> datetime:
    """The schedule's latest weekly moment at or before ``now``, in UTC: wall-clock time
    in the schedule's zone, read as ``calendar`` reads it across daylight-saving changes."""
    return calendar.latest_weekly(schedule.timezone, schedule.weekday,
                                  time(schedule.hour, schedule.minute), now)


def next_due(schedule: PayoutSchedule, now: datetime) -> datetime:
    """The schedule's first weekly moment after ``now``, in UTC: when its next run is
    built."""
    return calendar.next_weekly(schedule.timezone, schedule.weekday,
                                time(schedule.hour, schedule.minute), now)


def minimum_for(schedule: PayoutSchedule, currency: str) -> int:
    """The least the schedule pays out in ``currency`` (anything owed without one)."""
    return max(DEFAULT_MINIMUM, (schedule.minimums or {}).get(currency, DEFAULT_MINIMUM))


# --- runs: creation and building ------------------------------------------------------


def create_due_runs(
    session: Session, *, now: datetime, limit: int | None = None,
    progress: Progress | None = None,
) -> int:
    """For each active schedule, create the run of its latest due period if none exists;
    returns how many runs were created.

    Only the latest period: a scheduler that was down across one or more payout moments
    creates one run when it comes back (coalescing), and that run pays everything
    available by its period end, so nothing owed is skipped. A schedule's moments before
    it was set up are not due. Whoever else creates the same run at the same moment
    (another scheduler, finance pressing "run now"), the unique (schedule, period) key
    leaves one."""
    created = 0
    for period_end, schedule in due_periods(session, now=now):
        _, new = ensure_run(session, SCHEDULER, schedule, period_end, progress=progress)
        created += new
        if limit is not None and created >= limit:
            break
    return created


def due_periods(session: Session, *, now: datetime) -> list[tuple[datetime, PayoutSchedule]]:
    """The (period end, schedule) of every active schedule whose latest due period has
    no run yet."""
    due = []
    for schedule in session.scalars(
        select(PayoutSchedule).where(PayoutSchedule.active.is_(True)).order_by(PayoutSchedule.id)
    ):
        period_end = latest_due(schedule, now)
        if period_end < schedule.created_at:
            continue
        if find_run(session, schedule.id, period_end) is None:
            due.append((period_end, schedule))
    return due


def run_now(
    session: Session, actor: User, schedule_id: uuid.UUID, *, progress: Progress | None = None
) -> tuple[PayoutRun, bool]:
    """The run of the schedule's current period (its latest moment up to now), created
    and built if it does not exist; ``(run, created)``."""
    schedule = get_schedule(session, actor, schedule_id)
    return ensure_run(session, actor, schedule, latest_due(schedule, clock.now()),
                      progress=progress)


def find_run(session: Session, schedule_id: uuid.UUID, period_end: datetime) -> PayoutRun | None:
    return session.scalars(
        select(PayoutRun).where(
            PayoutRun.schedule_id == schedule_id, PayoutRun.period_end == period_end
        )
    ).one_or_none()


def ensure_run(
    session: Session, actor: Actor, schedule: PayoutSchedule, period_end: datetime,
    *, progress: Progress | None = None,
) -> tuple[PayoutRun, bool]:
    """The run for (schedule, period end): the existing one, or a new one built in this
    transaction (and approved at once on an auto-approve schedule)."""
    existing = find_run(session, schedule.id, period_end)
    if existing is not None:
        return existing, False
    run = PayoutRun(
        schedule_id=schedule.id, organisation_id=schedule.organisation_id,
        period_end=period_end, state=RunState.PREVIEW,
        created_by_id=actor.id if isinstance(actor, User) else None,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()  # the unique (schedule, period) key decides a race here
    except IntegrityError:
        found = find_run(session, schedule.id, period_end)
        if found is None:
            raise
        return found, False
    build = build_run(session, run, schedule, progress=progress)
    audit.record(
        session, actor, "payout_run.created", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id,
        after={"schedule_id": schedule.id, "period_end": period_end, "items": build.items,
               "exclusions": build.exclusions},
    )
    if schedule.auto_approve:
        approve_run(session, actor, run.id, organisation_id=run.organisation_id)
    elif build.items:
        notify_finance(
            session, run.organisation_id, "payout_run.ready",
            f"Payout run for {schedule.name} is ready for approval",
            f"{build.items} payouts wait for approval; {build.exclusions} trainers are "
            "left out (see the run's preview).",
            {"run_id": str(run.id)},
        )
    return run, True


@dataclass
class BuildResult:
    items: int = 0
    exclusions: int = 0


def build_run(
    session: Session, run: PayoutRun, schedule: PayoutSchedule, *,
    progress: Progress | None = None,
) -> BuildResult:
    """Fill a new run with one item per trainer and currency whose money available by
    the period end reaches the schedule's minimum, and an exclusion (with its reason)
    for every other trainer owed money.

    The balances come from ``ledger_accounts`` in batches (keyset over the account id),
    the held part from the postings of that batch's accounts only, and the rows go in
    with one multi-row insert per batch: memory stays flat however many trainers."""
    now = clock.now()
    result = BuildResult()
    minimums = {code: minimum_for(schedule, code) for code in schedule.minimums or {}}
    last: uuid.UUID | None = None
    while True:
        stmt = _payable_batch(run.organisation_id, last)
        rows = session.execute(stmt).all()
        if not rows:
            break
        held = ledger.held_credits(session, [row.account_id for row in rows], run.period_end)
        still_held = _held_now(session, rows, held, minimums, now)
        items, exclusions = [], []
        for row in rows:
            owed = -row.balance
            on_hold = held.get(row.account_id, ledger.NO_HOLD).amount
            available = max(0, min(owed, owed - on_hold))
            minimum = minimums.get(row.currency, DEFAULT_MINIMUM)
            reason, detail = _exclusion(
                row, available, minimum,
                _Late(on_hold, still_held.get(row.account_id, ledger.NO_HOLD), run.period_end),
                now,
            )
            if reason is None:
                items.append({
                    "id": uuid.uuid4(), "run_id": run.id,
                    "organisation_id": run.organisation_id, "trainer_id": row.trainer_id,
                    "payout_account_id": row.payout_account_id, "method": row.method,
                    "amount": available, "currency": row.currency,
                    "state": ItemState.PENDING, "attempts": 0,
                    "created_at": now, "updated_at": now,
                })
            else:
                exclusions.append({
                    "id": uuid.uuid4(), "run_id": run.id, "trainer_id": row.trainer_id,
                    "amount": owed, "currency": row.currency, "reason": reason,
                    "detail": detail,
                })
        if items:
            _insert_items(session, run, items, now)
        if exclusions:
            session.execute(insert(PayoutExclusion), exclusions)
        result.items += len(items)
        result.exclusions += len(exclusions)
        if progress is not None:
            progress(len(rows))
        last = rows[-1].account_id
        if len(rows) < BUILD_BATCH:
            break
    return result


# A batch's items in one statement, each column sent as one array. A list of parameter
# sets is executed as one INSERT per row (pipelined, but each planned and run on its
# own): for 100,000 items that was 12 of a 30-second build.
_POSTGRESQL_ITEMS = text("""
INSERT INTO payout_items (id, run_id, organisation_id, trainer_id, payout_account_id,
                          method, amount, currency, state, attempts, created_at, updated_at)
SELECT r.id, :run_id, :organisation_id, r.trainer_id, r.payout_account_id, r.method,
       r.amount, r.currency, :state, 0, :now, :now
FROM unnest(CAST(:ids AS uuid[]), CAST(:trainers AS uuid[]), CAST(:accounts AS uuid[]),
            CAST(:methods AS varchar[]), CAST(:amounts AS integer[]),
            CAST(:currencies AS varchar[]))
     AS r(id, trainer_id, payout_account_id, method, amount, currency)
""")


def _insert_items(
    session: Session, run: PayoutRun, items: list[dict[str, Any]], now: datetime
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(PayoutItem), items)
        return
    session.execute(_POSTGRESQL_ITEMS, {
        "run_id": run.id, "organisation_id": run.organisation_id,
        "state": ItemState.PENDING.value, "now": now,
        "ids": [item["id"] for item in items],
        "trainers": [item["trainer_id"] for item in items],
        "accounts": [item["payout_account_id"] for item in items],
        "methods": [PayoutMethod(item["method"]).value for item in items],
        "amounts": [item["amount"] for item in items],
        "currencies": [item["currency"] for item in items],
    })


def _payable_batch(organisation_id: uuid.UUID, after: uuid.UUID | None) -> Select[Any]:
    stmt = (
        select(
            LedgerAccount.id.label("account_id"),
            LedgerAccount.owner_id.label("trainer_id"),
            LedgerAccount.currency,
            LedgerAccount.balance,
            PayoutAccount.id.label("payout_account_id"),
            PayoutAccount.method,
            PayoutAccount.payouts_enabled,
            PayoutAccount.stripe_account_id,
            PayoutAccount.bank_details,
            PayoutAccount.hold_until,
        )
        .outerjoin(PayoutAccount, PayoutAccount.trainer_id == LedgerAccount.owner_id)
        .where(
            LedgerAccount.organisation_id == organisation_id,
            LedgerAccount.owner_type == OwnerType.TRAINER,
            LedgerAccount.kind == AccountKind.PAYABLE,
            # Credit-normal: a negative balance is money owed to the trainer.
            LedgerAccount.balance < 0,
        )
        .order_by(LedgerAccount.id)
        .limit(BUILD_BATCH)
    )
    if after is not None:
        stmt = stmt.where(LedgerAccount.id > after)
    return stmt


def account_ready(
    method: PayoutMethod | None, payouts_enabled: bool, stripe_account_id: str | None,
    bank_details: dict[str, Any] | None,
) -> bool:
    """Whether money can be sent: a Stripe account with payouts enabled, or manual bank
    details on file."""
    if method is PayoutMethod.STRIPE:
        return bool(payouts_enabled and stripe_account_id)
    if method is PayoutMethod.MANUAL:
        return bool(bank_details)
    return False


@dataclass(frozen=True)
class _Late:
    """Money of a payable account that was not available by the period end: ``total``,
    of which ``held`` is still in its hold period now; the rest became payable between
    the period end and now (earned after the period, or its hold ended after it)."""

    total: int
    held: ledger.Hold
    period_end: datetime

    @property
    def after_period(self) -> int:
        return self.total - self.held.amount

    def detail(self) -> str:
        parts = []
        if self.held.amount:
            when = self.held.release_at.isoformat() if self.held.release_at else "later"
            parts.append(f"{self.held.amount} in the hold period (the first released {when})")
        if self.after_period:
            parts.append(f"{self.after_period} payable only since the period ended "
                         f"({self.period_end.isoformat()})")
        return " and ".join(parts)


def _held_now(
    session: Session, rows: Sequence[Any], held: dict[uuid.UUID, ledger.Hold],
    minimums: dict[str, int], now: datetime,
) -> dict[uuid.UUID, ledger.Hold]:
    """What is still in its hold period now, read only for the accounts whose money not
    available by the period end may leave them out of the run (a few, usually)."""
    late = [
        row.account_id for row in rows
        if held.get(row.account_id, ledger.NO_HOLD).amount
        and -row.balance - held[row.account_id].amount
        < minimums.get(row.currency, DEFAULT_MINIMUM)
    ]
    return ledger.held_credits(session, late, now)


def _exclusion(
    row: Any, available: int, minimum: int, late: _Late, now: datetime,
) -> tuple[ExclusionReason | None, str]:
    if row.payout_account_id is None:
        return ExclusionReason.NO_PAYOUT_ACCOUNT, "No payout account connected."
    if not account_ready(row.method, row.payouts_enabled, row.stripe_account_id,
                         row.bank_details):
        return ExclusionReason.ACCOUNT_NOT_READY, (
            "Stripe onboarding is not complete (payouts not enabled)."
            if row.method is PayoutMethod.STRIPE else "No bank details on file."
        )
    hold_until = clock.as_utc(row.hold_until) if row.hold_until else None
    if hold_until is not None and hold_until > now:
        return ExclusionReason.ON_HOLD, (
            f"Payout details changed recently; payouts are held until {hold_until.isoformat()}."
        )
    if available < minimum:
        if available == 0 and late.held.amount:
            return ExclusionReason.ON_HOLD, f"Nothing available by the period end: {late.detail()}."
        if available == 0 and late.total:
            # Not a hold: the money arrived after the period this run pays for.
            return ExclusionReason.AFTER_PERIOD, (
                f"{late.total} minor units became payable after the period ended "
                f"({late.period_end.isoformat()}): earned after it, or held until after it. "
                "They go out with the next run."
            )
        return ExclusionReason.BELOW_MINIMUM, (
            f"{available} available, below the minimum of {minimum}"
            + (f" ({late.detail()} more)." if late.total else ".")
        )
    return None, ""


# --- runs: reading ------------------------------------------------------------------------


def get_run(session: Session, staff: User, run_id: uuid.UUID) -> PayoutRun:
    run = session.get(PayoutRun, run_id)
    if run is None or run.organisation_id != staff.organisation_id:
        raise NotFound("No such payout run.")
    return run


def _locked_run(session: Session, run_id: uuid.UUID) -> PayoutRun:
    run = session.scalars(
        select(PayoutRun).where(PayoutRun.id == run_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if run is None:
        raise NotFound("No such payout run.")
    return run


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
    names = _names(session, {item.trainer_id for item in found.items})
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
    if page.cursor:
        _, after = decode_cursor(page.cursor)
        stmt = stmt.where(PayoutExclusion.id > after)
    rows = list(session.scalars(stmt.order_by(PayoutExclusion.id).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    names = _names(session, {row.trainer_id for row in rows})
    views = [
        {"id": row.id, "trainer_id": row.trainer_id, "trainer_name": names.get(row.trainer_id),
         "amount": row.amount, "currency": row.currency, "reason": row.reason,
         "detail": row.detail}
        for row in rows
    ]
    cursor = encode_cursor(run.created_at, rows[-1].id) if more else None
    return Page(views, cursor)


def _names(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    return dict(session.execute(
        select(User.id, User.display_name).where(User.id.in_(user_ids))
    ).all())


# --- approval and cancellation -------------------------------------------------------------


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
    run = _locked_run(session, run_id)
    if run.organisation_id != scope:
        raise NotFound("No such payout run.")
    move_run(run, RunState.APPROVED)
    now = clock.now()
    approved, cancelled = _approve_items(session, run)
    run.approved_by_id = actor.id if isinstance(actor, User) else None
    run.approved_at = now
    if not approved:
        move_run(run, RunState.COMPLETED)
        run.completed_at = now
    session.flush()
    audit.record(
        session, actor, "payout_run.approved", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, before={"state": RunState.PREVIEW.value},
        after={"state": run.state.value, "items_approved": approved,
               "items_cancelled": cancelled, "totals": run_view(session, run)["totals"]},
    )
    schedule = run.schedule
    left_out.tell(session, run, minimum=lambda currency: minimum_for(schedule, currency),
                  next_run_at=next_due(schedule, now))
    who = actor.display_name if isinstance(actor, User) else "The schedule (auto-approve)"
    notify_finance(
        session, run.organisation_id, "payout_run.approved", "A payout run was approved",
        f"{who} approved the payout run for the period ending {run.period_end.isoformat()}: "
        f"{approved} payouts go out"
        + (f", {cancelled} no longer covered were left for the next run." if cancelled
           else "."),
        {"run_id": str(run.id)}, except_user=actor.id if isinstance(actor, User) else None,
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
                move_item(item, ItemState.CANCELLED)
                item.failure_code = "not_covered"
                item.failure_message = (
                    f"Only {max(available, 0)} of {item.amount} is payable now; the money "
                    "moved after the preview. What remains payable waits for the next run."
                )
                cancelled += 1
                continue
            move_item(item, ItemState.APPROVED)
            _post_approved(session, item, payable, source_id=item.id)
            approved += 1
        last = rows[-1][0].id
        if len(rows) < APPROVE_BATCH:
            break
    return approved, cancelled


def _post_approved(
    session: Session, item: PayoutItem, payable: LedgerAccount, *, source_id: uuid.UUID
) -> None:
    in_transit = ledger.trainer_account(
        session, item.organisation_id, item.trainer_id, AccountKind.IN_TRANSIT, item.currency
    )
    ledger.post(
        session, source_type=SourceType.PAYOUT_APPROVED, source_id=source_id,
        reason=f"Payout of {_money(item)} approved", organisation_id=item.organisation_id,
        trainer_id=item.trainer_id,
        legs=[ledger.Leg(payable, item.amount), ledger.Leg(in_transit, -item.amount)],
    )


def cancel_run(session: Session, actor: User, run_id: uuid.UUID) -> PayoutRun:
    """Cancel a run in preview (nothing moved yet; the money stays payable). An approved
    run cannot be cancelled: its items are paid, or fail and can be retried."""
    get_run(session, actor, run_id)
    run = _locked_run(session, run_id)
    move_run(run, RunState.CANCELLED)
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
        session, run.organisation_id, "payout_run.cancelled", "A payout run was cancelled",
        f"{actor.display_name} cancelled the payout run for the period ending "
        f"{run.period_end.isoformat()}; the money stays payable for the next run.",
        {"run_id": str(run.id)}, except_user=actor.id,
    )
    return run


def request_processing(session: Session, actor: User, run_id: uuid.UUID) -> PayoutRun:
    """Finance asks for an approved run to be sent (again): a run halted with an alert
    (say, the platform balance was too low) is resumed, and the scheduler's processing
    job, which runs every minute, sends what waits. A run in preview or cancelled is a
    409 naming its state."""
    get_run(session, actor, run_id)
    run = _locked_run(session, run_id)
    if run.state not in (RunState.APPROVED, RunState.PROCESSING, RunState.COMPLETED):
        raise IllegalTransition(
            f"A payout run in {run.state.value} is not processed; approve it first.",
            current_state=run.state.value,
        )
    if run.halted_reason:
        audit.record(
            session, actor, "payout_run.resumed", object_type="payout_run", object_id=run.id,
            organisation_id=run.organisation_id, before={"halted_reason": run.halted_reason},
            after={"halted_reason": None},
        )
        run.halted_reason = None
        session.flush()
    return run


# --- outcomes ------------------------------------------------------------------------------


def record_paid(
    session: Session, item: PayoutItem, *, transfer: Transfer | None = None,
    reference: str | None = None,
) -> None:
    """The money reached the trainer (a transfer, or a bank payment finance recorded):
    in transit to paid, once, and the trainer is told."""
    now = clock.now()
    move_item(item, ItemState.PAID)
    if transfer is not None:
        item.transfer_id = transfer.id
    if reference is not None:
        item.manual_reference = reference
    item.sent_at = item.sent_at or now
    item.paid_at = now
    item.failure_code = item.failure_message = None
    in_transit, paid = ledger.trainer_accounts(
        session, item.organisation_id, item.trainer_id,
        (AccountKind.IN_TRANSIT, AccountKind.PAID), item.currency,
    )
    ledger.post(
        session, source_type=SourceType.PAYOUT_PAID, source_id=item.id,
        reason=f"Payout of {_money(item)} paid"
        + (f" (transfer {transfer.id})" if transfer else f" (reference {reference})"),
        organisation_id=item.organisation_id, trainer_id=item.trainer_id,
        legs=[ledger.Leg(in_transit, item.amount), ledger.Leg(paid, -item.amount)],
    )
    how = ("to your Stripe account" if item.method is PayoutMethod.STRIPE
           else "to your bank account")
    notify(
        session, item.trainer_id, "payout.paid", f"Payout of {_money(item)} sent",
        f"We sent {_money(item)} {how}."
        + (" Stripe pays it out to your bank on your Stripe payout schedule."
           if item.method is PayoutMethod.STRIPE else f" Reference: {reference}."),
        {"payout_item_id": str(item.id), "amount": item.amount, "currency": item.currency},
    )


def record_failed(session: Session, item: PayoutItem, *, code: str, message: str) -> None:
    """The gateway refused the item for good: in transit back to payable, available at
    once, and the trainer is told why."""
    move_item(item, ItemState.FAILED)
    item.failure_code = code[:100]
    item.failure_message = message
    in_transit, payable = ledger.trainer_accounts(
        session, item.organisation_id, item.trainer_id,
        (AccountKind.IN_TRANSIT, AccountKind.PAYABLE), item.currency,
    )
    ledger.post(
        session, source_type=SourceType.PAYOUT_FAILED,
        source_id=round_source(item.id, item.attempts),
        reason=f"Payout of {_money(item)} failed: {message}",
        organisation_id=item.organisation_id, trainer_id=item.trainer_id,
        legs=[ledger.Leg(in_transit, item.amount), ledger.Leg(payable, -item.amount)],
    )
    notify(
        session, item.trainer_id, "payout.failed", f"Payout of {_money(item)} failed",
        f"Your payout of {_money(item)} could not be sent: {message} The money is back in "
        "your payable balance and goes out with the next payout once the problem is fixed.",
        {"payout_item_id": str(item.id), "reason": message, "code": code},
    )


def record_manual_payment(
    session: Session, actor: User, item_id: uuid.UUID, reference: str
) -> PayoutItem:
    """Finance paid a manual-method item from the bank file: paid, with the reference.
    Once: recording it again is a 409 naming the state."""
    item = _locked_item(session, actor, item_id)
    if item.method is not PayoutMethod.MANUAL:
        raise Conflict("This payout is sent through Stripe, not paid by hand.",
                       code="not-manual")
    if item.state is ItemState.APPROVED:
        _refuse_if_held(session, item)
    before = {"state": item.state.value}
    record_paid(session, item, reference=reference)
    audit.record(
        session, actor, "payout_item.paid_manually", object_type="payout_item",
        object_id=item.id, organisation_id=item.organisation_id, before=before,
        after={"state": item.state.value, "reference": reference, "amount": item.amount,
               "currency": item.currency},
    )
    complete_if_done(session, item.run_id)
    return item


def record_manual_failure(
    session: Session, actor: User, item_id: uuid.UUID, reason: str
) -> PayoutItem:
    """Finance could not pay a manual-method item (the bank refused it, the details are
    wrong): failed, its money back to payable, the trainer told the reason. Finance may
    retry it later like any failed item. Audited."""
    item = _locked_item(session, actor, item_id)
    if item.method is not PayoutMethod.MANUAL:
        raise Conflict("This payout is sent through Stripe; its failures come from Stripe.",
                       code="not-manual")
    before = {"state": item.state.value}
    # Each attempt at paying by hand is a round, as each key is for Stripe items: the
    # failure and a later retry's approval need ledger sources of their own.
    item.attempts += 1
    record_failed(session, item, code="manual_payment_failed", message=reason)
    audit.record(
        session, actor, "payout_item.failed_manually", object_type="payout_item",
        object_id=item.id, organisation_id=item.organisation_id, before=before,
        after={"state": item.state.value, "reason": reason, "amount": item.amount,
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
    move_item(item, ItemState.APPROVED)
    _refuse_if_held(session, item)
    payable = ledger.find_payable(session, item.organisation_id, item.trainer_id,
                                  item.currency, lock=True)
    assert payable is not None  # the item's approval posted to it
    available = ledger.available(session, payable, clock.now())
    if item.amount > available:
        raise Conflict(
            f"Only {max(available, 0)} of {item.amount} is payable now: the money went out "
            "with another payout or was adjusted.", code="not-covered",
        )
    failed = {"code": item.failure_code, "message": item.failure_message}
    _post_approved(session, item, payable, source_id=round_source(item.id, item.attempts))
    item.idempotency_key = None
    item.key_created_at = None
    item.failure_code = item.failure_message = None
    run = _locked_run(session, item.run_id)
    if run.state is RunState.COMPLETED:
        move_run(run, RunState.PROCESSING)
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
        return "account-changed", (
            "The trainer's payout method changed since this payout was approved, so it is "
            "not paid this way (record a manual one as failed); the money goes out with "
            "the next run."
        )
    if payout_accounts.on_hold(account, now):
        until = clock.as_utc(account.hold_until).isoformat()
        return "account-on-hold", (
            f"The trainer's payout details changed recently; payouts are held until {until}. "
            "Do not pay before then (the trainer was told and may object)."
        )
    return None


def _refuse_if_held(session: Session, item: PayoutItem) -> None:
    account = session.get(PayoutAccount, item.payout_account_id)
    blocked = payout_blocked(account, item.method, clock.now())
    if blocked is not None:
        code, detail = blocked
        raise Conflict(detail, code=code)


def _locked_item(session: Session, staff: User, item_id: uuid.UUID) -> PayoutItem:
    item = session.scalars(
        select(PayoutItem).where(PayoutItem.id == item_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if item is None or item.organisation_id != staff.organisation_id:
        raise NotFound("No such payout item.")
    return item


def get_item(session: Session, staff: User, item_id: uuid.UUID) -> dict[str, Any]:
    item = session.get(PayoutItem, item_id)
    if item is None or item.organisation_id != staff.organisation_id:
        raise NotFound("No such payout item.")
    return item_view(item, _names(session, {item.trainer_id}))


def complete_if_done(session: Session, run_id: uuid.UUID) -> bool:
    """Mark the run completed once no item waits for money to move."""
    run = _locked_run(session, run_id)
    if run.state not in (RunState.APPROVED, RunState.PROCESSING):
        return run.state is RunState.COMPLETED
    waiting = session.scalar(
        select(func.count()).select_from(PayoutItem)
        .where(PayoutItem.run_id == run_id, PayoutItem.state.in_(OPEN_ITEM_STATES))
    )
    if waiting:
        return False
    move_run(run, RunState.COMPLETED)
    run.completed_at = clock.now()
    session.flush()
    return True


def item_named_by(metadata: dict[str, Any] | None, group: str | None) -> uuid.UUID | None:
    """The payout item a transfer names: in its metadata, else in its transfer group."""
    raw = (metadata or {}).get("payout_item_id")
    if raw is None and group and group.startswith("payout-item-"):
        raw = group.removeprefix("payout-item-")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _locked_item_where(session: Session, condition: Any) -> PayoutItem | None:
    return session.scalars(
        select(PayoutItem).where(condition).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def item_paid_by(session: Session, transfer: Transfer) -> PayoutItem | None:
    """The item ``transfer`` pays, locked: the one that recorded it, or else the item it
    names (in the item's own transfer group) still waiting in transit without a
    transfer, because the processor has not heard Stripe's answer yet (an answer lost,
    a crash). None for a transfer that is not a payout item's."""
    item = _locked_item_where(session, PayoutItem.transfer_id == transfer.id)
    if item is not None:
        return item
    item_id = item_named_by(transfer.metadata, transfer.transfer_group)
    if item_id is None or transfer.transfer_group != transfer_group(item_id):
        return None
    # Locking waits for a processor sending the item now; it may record the transfer.
    item = _locked_item_where(session, PayoutItem.id == item_id)
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
        move_item(item, ItemState.REVERSED)
        _announce_reversal(session, item, transfer, "payout_item.reversed",
                           "the whole payout")
    elif transfer.amount_reversed > recorded:
        part = transfer.amount_reversed - recorded
        reversal = PayoutReversal(payout_item_id=item.id, transfer_id=transfer.id,
                                  amount=part, reversed_total=transfer.amount_reversed,
                                  created_at=clock.now())
        session.add(reversal)
        session.flush()  # the id the entry names as its source
        _return_reversed(session, item, transfer, part, source_id=reversal.id)
        _announce_reversal(session, item, transfer, "payout_item.partially_reversed",
                           str(Money(part, item.currency)))
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
    ledger.post(
        session, source_type=SourceType.PAYOUT_REVERSED, source_id=source_id,
        reason=f"Payout of {_money(item)}: {Money(amount, item.currency)} reversed "
        f"(transfer {transfer.id})",
        organisation_id=item.organisation_id, trainer_id=item.trainer_id,
        legs=[ledger.Leg(paid, amount), ledger.Leg(payable, -amount)],
    )


def _announce_reversal(session: Session, item: PayoutItem, transfer: Transfer, action: str,
                       what: str) -> None:
    data = {"payout_item_id": str(item.id), "transfer_id": transfer.id,
            "amount_reversed": transfer.amount_reversed}
    audit.record(
        session, SystemActor("stripe"), action, object_type="payout_item",
        object_id=item.id, organisation_id=item.organisation_id,
        before={"state": ItemState.PAID.value},
        after={"state": item.state.value, "transfer_id": transfer.id,
               "amount_reversed": transfer.amount_reversed},
    )
    notify(
        session, item.trainer_id, "payout.reversed", f"Payout of {_money(item)} reversed",
        f"Stripe reversed {what} of your payout of {_money(item)}. That money is back in "
        "your payable balance and goes out with the next payout.", data,
    )
    notify_finance(
        session, item.organisation_id, action, "A payout was reversed",
        f"Transfer {transfer.id} ({_money(item)}) was reversed at Stripe ({what}); that "
        "money is payable to the trainer again and goes out with the next run. If it "
        "should not, take it back with a negative adjustment.", data,
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
    try:
        what = str(Money(int(amount), currency)) if amount is not None else "Your payout"
    except (TypeError, ValueError):
        what = "Your payout"
    data = {"stripe_payout_id": payout.get("id"), "amount": amount, "currency": currency}
    if paid:
        notify(
            session, payout_account.trainer_id, "payout.arrived", f"{what} paid to your bank",
            f"Stripe paid {what} out to your bank account.", data,
        )
        return True
    reason = payout.get("failure_message") or payout.get("failure_code") or "no reason given"
    notify(
        session, payout_account.trainer_id, "payout.bank_failed",
        "Stripe could not pay your bank",
        f"Stripe could not pay {what} to your bank: {reason}. Update your bank details in "
        "Stripe; the money stays in your Stripe balance meanwhile.", {**data, "reason": reason},
    )
    return True


# --- reports ---------------------------------------------------------------------------------


FAILURES_IN_REPORT = 500


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
    names = _names(session, {item.trainer_id for item in failed})
    return {
        "run": view,
        "by_state": view["by_state"],
        "exclusions": view["exclusions"],
        "failures": [item_view(item, names) for item in failed],
    }


@dataclass(frozen=True)
class BankRow:
    item_id: uuid.UUID
    trainer_id: uuid.UUID
    trainer_name: str
    amount: int
    currency: str
    method: PayoutMethod
    state: ItemState
    bank_details: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    # Why this item must not be paid to the details now (then none are given).
    blocked: str | None = None


EXPORT_BATCH = 1000


def export_rows(session: Session, run_id: uuid.UUID) -> Iterator[BankRow]:
    """The run's items with the trainers' full bank details, in batches (keyset over the
    item id): the manual method's bank file. The caller checks access and audits."""
    last: uuid.UUID | None = None
    now = clock.now()
    while True:
        stmt = (
            select(PayoutItem, User.display_name, PayoutAccount)
            .join(User, User.id == PayoutItem.trainer_id)
            .join(PayoutAccount, PayoutAccount.id == PayoutItem.payout_account_id)
            .where(PayoutItem.run_id == run_id)
            .order_by(PayoutItem.id)
            .limit(EXPORT_BATCH)
        )
        if last is not None:
            stmt = stmt.where(PayoutItem.id > last)
        rows = session.execute(stmt).all()
        for item, name, account in rows:
            blocked = payout_blocked(account, item.method, now)
            yield BankRow(
                item.id, item.trainer_id, name, item.amount, item.currency, item.method,
                item.state, {} if blocked else dict(account.bank_details or {}),
                item.manual_reference, blocked[1] if blocked else None,
            )
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1][0].id


def record_export(session: Session, staff: User, run_id: uuid.UUID) -> PayoutRun:
    """Check access to the run and audit that its bank file (with full bank details) was
    downloaded."""
    run = get_run(session, staff, run_id)
    audit.record(
        session, staff, "payout_run.exported", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, after={"format": "csv"},
    )
    return run


# --- helpers ---------------------------------------------------------------------------------


def finance_user_ids(session: Session, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(
        select(User.id).where(
            User.organisation_id == organisation_id, User.role == Role.FINANCE,
            User.is_active.is_(True),
        )
    ))


def notify_finance(
    session: Session, organisation_id: uuid.UUID, kind: str, title: str, body: str,
    data: dict[str, Any], *, except_user: uuid.UUID | None = None,
) -> int:
    """Tell every active finance user of the organisation; returns how many."""
    told = 0
    for user_id in finance_user_ids(session, organisation_id):
        if user_id != except_user:
            notify(session, user_id, kind, title[:200], body, data)
            told += 1
    return told


def _money(item: PayoutItem) -> str:
    return str(Money(item.amount, item.currency))


BANK_FILE_COLUMNS = (
    # No e-mail address: the bank needs none, and the file travels (OWASP API3).
    "payout_item_id", "trainer_id", "trainer_name", "method", "state", "currency",
    "amount_minor", "amount", "holder_name", "bank_name", "country", "iban",
    "account_number", "bank_code", "reference", "note",
)
_BANK_KEYS = ("holder_name", "bank_name", "country", "iban", "account_number", "bank_code")


def bank_file(session: Session, run_id: uuid.UUID) -> Iterator[str]:
    """The run's items as CSV lines, header first: the manual method's bank file. The
    bank details are in full, because finance pays from this file; the download is
    audited (``record_export``). Details still in the hold that follows a change (or of
    a trainer who changed method) are left out, the ``note`` saying why: the file is
    read when finance pays, maybe days after approval. A cell a spreadsheet would run
    as a formula gets a leading apostrophe."""
    yield _csv_line(BANK_FILE_COLUMNS)
    for row in export_rows(session, run_id):
        details = [str(row.bank_details.get(key) or "") for key in _BANK_KEYS]
        yield _csv_line((
            str(row.item_id), str(row.trainer_id), row.trainer_name, row.method.value,
            row.state.value, row.currency, str(row.amount),
            f"{Money(row.amount, row.currency).to_decimal()}", *details, row.reference or "",
            row.blocked or "",
        ))


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(c) for c in cells])
    return buffer.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- webhooks ----------------------------------------------------------------------------
# Registered with the webhook receiver when this module is imported (the API imports it).


def on_transfer_reversed(session: Session, event: dict[str, Any], account: str | None) -> None:
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
    current = webhooks.gateway()
    if current is None:
        return  # without Stripe configured, no transfer of ours can exist
    handle_transfer_reversed(session, current.retrieve_transfer(str(transfer_id)))


def on_payout_paid(session: Session, event: dict[str, Any], account: str | None) -> None:
    handle_connected_payout(session, account, (event.get("data") or {}).get("object", {}),
                            paid=True)


def on_payout_failed(session: Session, event: dict[str, Any], account: str | None) -> None:
    handle_connected_payout(session, account, (event.get("data") or {}).get("object", {}),
                            paid=False)


webhooks.register("transfer.reversed", on_transfer_reversed)
webhooks.register("payout.paid", on_payout_paid)
webhooks.register("payout.failed", on_payout_failed)
