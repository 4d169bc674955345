"""Payout runs created and built: one per schedule and period, with an item per trainer
and currency owed at least the minimum, and an exclusion, with its reason, for every
other trainer owed money.

A trainer whose erasure waits for the money owed to them (``privacy.erasure``: their
account is closed, nothing more is earned) is paid whatever they are owed, below the
minimum too: a balance under it would otherwise never be paid, and the erasure would
wait for ever."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor, SystemActor
from workforce.accounts.models import User
from workforce.billing import ledger
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
    PayoutRun,
    PayoutSchedule,
    RunState,
)
from workforce.billing.payouts.approval import approve_run
from workforce.billing.payouts.finance import notify_finance
from workforce.billing.payouts.schedules import (
    DEFAULT_MINIMUM,
    get_schedule,
    latest_due,
    minimum_for,
)
from workforce.privacy.models import ErasureRequest, ErasureState

SCHEDULER = SystemActor("scheduler")
BUILD_BATCH = 2000
Progress = Callable[[int], None]


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
            {"schedule": schedule.name, "items": build.items,
             "exclusions": build.exclusions},
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
            minimum = _minimum(row, minimums)
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
            _ERASURE_WAITING.label("erasure_waiting"),
        )
        .outerjoin(PayoutAccount, PayoutAccount.trainer_id == LedgerAccount.owner_id)
        .where(*_owed(organisation_id))
        .order_by(LedgerAccount.id)
        .limit(BUILD_BATCH)
    )
    if after is not None:
        stmt = stmt.where(LedgerAccount.id > after)
    return stmt


# The trainer's erasure waits for this money (at most one open request per trainer).
_ERASURE_WAITING = exists().where(ErasureRequest.user_id == LedgerAccount.owner_id,
                                  ErasureRequest.state == ErasureState.WAITING)


def _minimum(row: Any, minimums: dict[str, int]) -> int:
    """The least the row's trainer is paid in its currency: the schedule's minimum, or
    anything at all for a trainer whose erasure waits for the money."""
    if row.erasure_waiting:
        return DEFAULT_MINIMUM
    return minimums.get(row.currency, DEFAULT_MINIMUM)


def accounts_owed(session: Session, organisation_id: uuid.UUID) -> int:
    """How many trainers' payable accounts of the organisation are owed money: the rows a
    build reads (the length of a progress bar)."""
    return session.scalar(
        select(func.count()).select_from(LedgerAccount).where(*_owed(organisation_id))
    ) or 0


def _owed(organisation_id: uuid.UUID) -> tuple[Any, ...]:
    return (
        LedgerAccount.organisation_id == organisation_id,
        LedgerAccount.owner_type == OwnerType.TRAINER,
        LedgerAccount.kind == AccountKind.PAYABLE,
        # Credit-normal: a negative balance is money owed to the trainer.
        LedgerAccount.balance < 0,
    )


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
        and -row.balance - held[row.account_id].amount < _minimum(row, minimums)
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
