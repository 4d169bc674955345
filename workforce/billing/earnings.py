"""What trainers see of their money: a summary per currency, line items, monthly and
payout statements, and year-to-date totals.

Figures are from the trainer's point of view (money owed to them is positive): the
trainer's ledger accounts are credit-normal, so a balance is shown negated.

- ``payable``, ``in_transit`` and ``paid_to_date`` come from the stored account
  balances (one small query however long the history), kept equal to the postings by
  ``ledger`` and checked by ``ledger.check_balances``.
- ``on_hold`` is the part of payable still inside an organisation's hold period: the
  credits to payable whose ``available_at`` is in the future, unless their entry was
  reversed; never more than the payable balance. ``payable`` is the rest.
- ``payouts``: per organisation owing in the currency, its next payout run and minimum
  (``next_payout_at``: the soonest of them).
- ``pending_review`` is an estimate of work handed in and not yet approved: submitted
  tasks on per-task projects at the rate recorded on submission, and the closed time
  entries of open and submitted timesheets at the rate each entry started under,
  rounded once per timesheet as its approval will be.
- A line item is one journal entry that moved the trainer's payable balance: earnings,
  bonuses, adjustments, reversals, and payouts leaving it (or failed payouts coming
  back). Items, periods and statements are dated by when the entry was posted
  (``posted_at``); for earnings that is the moment they were earned (``occurred_at``).
- Year to date is net earnings this calendar year in the trainer's time zone: work,
  stipends, kill fees, top-ups, allowances, bonuses and adjustments, less reversals
  of them (by ``occurred_at``); payouts do not change it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from workforce import calendar, clock, db
from workforce.accounts.models import Organisation, User
from workforce.billing import ledger
from workforce.billing.models import (
    AccountKind,
    ItemState,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    PayoutItem,
    PayoutReversal,
    PayoutSchedule,
    Posting,
    SourceType,
)
from workforce.billing.payouts.keys import round_source
from workforce.billing.payouts.schedules import minimum_for, next_due
from workforce.errors import NotFound
from workforce.i18n import gettext
from workforce.money import Money, minor_units
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    PayModel,
    Project,
    ProjectRate,
    TimeEntry,
    Timesheet,
    TimesheetState,
)
from workforce.projects.timesheets import amount_for

# Movements of a payout item, in lifecycle order; never corrected by hand.
PAYOUT_STEPS = (
    SourceType.PAYOUT_APPROVED, SourceType.PAYOUT_PAID, SourceType.PAYOUT_FAILED,
    SourceType.PAYOUT_CANCELLED, SourceType.PAYOUT_REVERSED,
)
PAYOUT_SOURCES = frozenset(PAYOUT_STEPS)
# Payout items whose money left payable for good (a failed or cancelled one returned it).
_PAID_OUT_STATES = (ItemState.APPROVED, ItemState.SENT, ItemState.PAID)

# --- accounts and holds --------------------------------------------------------------


def trainer_accounts(
    session: Session, trainer_id: uuid.UUID, kinds: Iterable[AccountKind] | None = None
) -> list[LedgerAccount]:
    """The trainer's ledger accounts (every organisation and currency), of ``kinds``."""
    stmt = select(LedgerAccount).where(
        LedgerAccount.owner_id == trainer_id, LedgerAccount.owner_type == OwnerType.TRAINER
    )
    if kinds is not None:
        stmt = stmt.where(LedgerAccount.kind.in_(list(kinds)))
    return list(session.scalars(stmt.order_by(LedgerAccount.id)))


# --- the summary ---------------------------------------------------------------------


@dataclass(frozen=True)
class NextPayout:
    """When an organisation that owes the trainer in a currency next pays, and the
    least it pays out: its soonest active schedule (none: both None)."""

    organisation_id: uuid.UUID
    organisation_name: str
    minimum: int | None
    next_payout_at: datetime | None


@dataclass
class CurrencySummary:
    currency: str
    pending_review: int = 0
    on_hold: int = 0
    next_release_at: datetime | None = None
    payable: int = 0
    in_transit: int = 0
    paid_to_date: int = 0
    year_to_date: int = 0
    payouts: list[NextPayout] = field(default_factory=list)

    @property
    def next_payout_at(self) -> datetime | None:
        return min((p.next_payout_at for p in self.payouts if p.next_payout_at), default=None)


@dataclass(frozen=True)
class EarningsSummary:
    as_of: datetime
    year: int
    timezone: str
    currencies: list[CurrencySummary]


def summary(session: Session, trainer: User) -> EarningsSummary:
    """The trainer's money per currency, summed over the organisations that owe it."""
    now = clock.now()
    rows: dict[str, CurrencySummary] = {}

    def row(currency: str) -> CurrencySummary:
        return rows.setdefault(currency, CurrencySummary(currency))

    accounts = trainer_accounts(session, trainer.id)
    payables = [a for a in accounts if a.kind is AccountKind.PAYABLE]
    holds = ledger.held_credits(session, [a.id for a in payables], now)
    for account in accounts:
        figures, owed = row(account.currency), -account.balance
        if account.kind is AccountKind.IN_TRANSIT:
            figures.in_transit += owed
        elif account.kind is AccountKind.PAID:
            figures.paid_to_date += owed
        elif account.kind is AccountKind.PAYABLE:
            hold = holds.get(account.id)
            held = min(hold.amount, max(owed, 0)) if hold else 0
            figures.on_hold += held
            figures.payable += max(owed - held, 0)
            if held and hold and hold.release_at and (
                figures.next_release_at is None or hold.release_at < figures.next_release_at
            ):
                figures.next_release_at = hold.release_at

    for currency, plans in next_payouts(session, payables, now).items():
        row(currency).payouts = plans
    for money in pending_review(session, trainer.id, now):
        row(money.currency).pending_review += money.amount
    zone = calendar.zone_of(trainer.timezone)
    year = calendar.local_date(zone, now).year
    for currency, amount in year_to_date(session, trainer, year).items():
        row(currency).year_to_date += amount
    return EarningsSummary(
        as_of=now, year=year, timezone=str(zone.key),
        currencies=[rows[c] for c in sorted(rows)],
    )


def next_payouts(session: Session, payables: Sequence[LedgerAccount],
                 now: datetime) -> dict[str, list[NextPayout]]:
    """Per currency, for each organisation the trainer has a payable with: its next
    payout moment and minimum (from its soonest active schedule)."""
    organisation_ids = {account.organisation_id for account in payables}
    if not organisation_ids:
        return {}
    soonest: dict[uuid.UUID, tuple[datetime, PayoutSchedule]] = {}
    for schedule in session.scalars(select(PayoutSchedule).where(
            PayoutSchedule.organisation_id.in_(organisation_ids),
            PayoutSchedule.active.is_(True))):
        moment = next_due(schedule, now)
        known = soonest.get(schedule.organisation_id)
        if known is None or moment < known[0]:
            soonest[schedule.organisation_id] = (moment, schedule)
    names = _names(session, Organisation, organisation_ids)
    plans: dict[str, list[NextPayout]] = defaultdict(list)
    for account in sorted(payables, key=lambda a: names.get(a.organisation_id, "")):
        moment, schedule = soonest.get(account.organisation_id, (None, None))
        plans[account.currency].append(NextPayout(
            account.organisation_id, names.get(account.organisation_id, ""),
            minimum_for(schedule, account.currency) if schedule else None, moment,
        ))
    return plans


def pending_review(session: Session, trainer_id: uuid.UUID, now: datetime) -> list[Money]:
    """An estimate of work handed in and not yet approved, one amount per currency."""
    totals: dict[str, int] = defaultdict(int)
    tasks = session.execute(
        select(ProjectRate.currency, func.sum(ProjectRate.amount))
        .select_from(Assignment)
        .join(ProjectRate, ProjectRate.id == Assignment.rate_id)
        .join(Project, Project.id == Assignment.project_id)
        .where(
            Assignment.trainer_id == trainer_id,
            Assignment.state == AssignmentState.SUBMITTED,
            Project.pay_model == PayModel.PER_TASK,
        )
        .group_by(ProjectRate.currency)
    )
    for currency, amount in tasks:
        totals[currency] += int(amount)
    for money in _unapproved_time(session, trainer_id):
        totals[money.currency] += money.amount
    return [Money(amount, currency) for currency, amount in sorted(totals.items()) if amount]


def _unapproved_time(session: Session, trainer_id: uuid.UUID) -> list[Money]:
    # Seconds per (timesheet, rate version), priced and rounded once per timesheet.
    rows = session.execute(
        select(Timesheet.id, Timesheet.currency, TimeEntry.started_at, TimeEntry.ended_at,
               ProjectRate.amount, ProjectRate.currency)
        .join(TimeEntry, TimeEntry.timesheet_id == Timesheet.id)
        .join(ProjectRate, ProjectRate.id == TimeEntry.rate_id)
        .where(
            Timesheet.trainer_id == trainer_id,
            Timesheet.state.in_([TimesheetState.OPEN, TimesheetState.SUBMITTED]),
            TimeEntry.ended_at.is_not(None),
        )
    )
    parts: dict[uuid.UUID, dict[Money, int]] = defaultdict(lambda: defaultdict(int))
    currencies: dict[uuid.UUID, str] = {}
    for sheet_id, currency, started, ended, rate_amount, rate_currency in rows:
        seconds = int((ended - started).total_seconds())
        parts[sheet_id][Money(rate_amount, rate_currency)] += max(seconds, 0)
        currencies[sheet_id] = currency
    return [
        amount_for(list(by_rate.items()), currencies[sheet_id])
        for sheet_id, by_rate in parts.items()
    ]


def year_to_date(session: Session, trainer: User, year: int) -> dict[str, int]:
    """Net earnings per currency in the trainer's local calendar ``year``: whole UTC days
    from the stored daily sums, the two partial days from the entries (``ledger``), so
    the cost does not grow with the trainer's history."""
    start = calendar.local_midnight(trainer.timezone, date(year, 1, 1))
    end = calendar.local_midnight(trainer.timezone, date(year + 1, 1, 1))
    payable_ids = [a.id for a in trainer_accounts(session, trainer.id, [AccountKind.PAYABLE])]
    totals = ledger.earned_between(session, trainer.id, payable_ids, start, end)
    return {currency: -total for currency, total in totals.items() if total}


# --- line items ----------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    """One journal entry that moved the trainer's payable balance, from their side."""

    entry_id: uuid.UUID
    reason: str
    source_type: SourceType
    source_id: uuid.UUID
    reverses_id: uuid.UUID | None
    organisation_id: uuid.UUID
    organisation_name: str
    project_id: uuid.UUID | None
    project_name: str | None
    amount: int
    currency: str
    occurred_at: datetime
    posted_at: datetime
    available_at: datetime | None


def list_items(
    session: Session,
    trainer: User,
    page: PageRequest,
    *,
    project_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    currency: str | None = None,
) -> Page[LineItem]:
    """The trainer's line items, newest first; ``since``/``until`` bound when they were
    posted (``since`` included, ``until`` not)."""
    accounts = trainer_accounts(session, trainer.id, [AccountKind.PAYABLE])
    if currency is not None:
        accounts = [a for a in accounts if a.currency == currency]
    if not accounts:
        return Page([], None)
    stmt = _entries_touching(trainer.id, [a.id for a in accounts])
    if project_id is not None:
        stmt = stmt.where(JournalEntry.project_id == project_id)
    if since is not None:
        stmt = stmt.where(JournalEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(JournalEntry.created_at < until)
    # Every entry of the trainer's touches these accounts but for payout moves; the
    # planner assumes few do and would start parallel workers to find a page.
    db.without_parallel_plans(session)
    entries = paginate(
        session, stmt, page, created_at=JournalEntry.created_at, row_id=JournalEntry.id
    )
    return Page(line_items(session, entries.items, accounts), entries.next_cursor)


def _entries_touching(trainer_id: uuid.UUID, account_ids: Sequence[uuid.UUID]):
    # Walks ix_journal_entries_trainer_id_created_at, probing each entry's postings by
    # ix_postings_entry_id: cost follows the page size, not the trainer's history.
    return select(JournalEntry).where(
        JournalEntry.trainer_id == trainer_id,
        exists().where(
            Posting.entry_id == JournalEntry.id, Posting.account_id.in_(list(account_ids))
        ),
    )


def line_items(
    session: Session, entries: Sequence[JournalEntry], accounts: Sequence[LedgerAccount]
) -> list[LineItem]:
    """Items for ``entries``, in their order: each one's movement on ``accounts``."""
    if not entries:
        return []
    account_ids = {a.id for a in accounts}
    moves: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    available: dict[uuid.UUID, datetime] = {}
    # The entries' postings by entry alone, the accounts picked here: with the accounts
    # in the WHERE clause, the plan PostgreSQL keeps for this statement once prepared
    # (the same for every trainer) ANDs in the account's index, which holds the whole
    # history of a long-serving trainer's account (bench/RESULTS.md, round 4).
    for entry_id, account_id, amount, currency, available_at in session.execute(
        select(Posting.entry_id, Posting.account_id, Posting.amount, Posting.currency,
               Posting.available_at)
        .where(Posting.entry_id.in_([e.id for e in entries]))
    ):
        if account_id not in account_ids:
            continue
        moves[entry_id][currency] -= amount
        if available_at is not None and amount < 0:
            available[entry_id] = available_at
    projects = _names(session, Project, {e.project_id for e in entries if e.project_id})
    organisations = _names(session, Organisation, {e.organisation_id for e in entries})
    items = []
    for entry in entries:
        for currency, amount in sorted(moves[entry.id].items()):
            items.append(LineItem(
                entry_id=entry.id, reason=entry.reason, source_type=entry.source_type,
                source_id=entry.source_id, reverses_id=entry.reverses_id,
                organisation_id=entry.organisation_id,
                organisation_name=organisations.get(entry.organisation_id, ""),
                project_id=entry.project_id,
                project_name=projects.get(entry.project_id) if entry.project_id else None,
                amount=amount, currency=currency, occurred_at=entry.occurred_at,
                posted_at=entry.created_at, available_at=available.get(entry.id),
            ))
    return items


def _names(session: Session, model: type, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


# --- statements ----------------------------------------------------------------------


@dataclass(frozen=True)
class StatementTotals:
    """One currency's figures: payable at the start, what came in and went out (as a
    negative number), and payable at the end."""

    currency: str
    opening: int
    credits: int
    debits: int
    closing: int


@dataclass(frozen=True)
class PayoutMovement:
    """A step of a payout item in the ledger: ``amount`` moved from one of the
    trainer's accounts to another (``None``: the money left or came from outside)."""

    entry_id: uuid.UUID
    source_type: SourceType
    reason: str
    from_account: AccountKind | None
    to_account: AccountKind | None
    amount: int
    currency: str
    posted_at: datetime


@dataclass(frozen=True)
class Statement:
    kind: str  # "monthly" or "payout"
    trainer_id: uuid.UUID
    timezone: str
    period_start: datetime | None
    period_end: datetime
    totals: list[StatementTotals]
    items: list[LineItem]
    payout_item: PayoutItem | None = None
    movements: list[PayoutMovement] = field(default_factory=list)


def monthly_statement(session: Session, trainer: User, year: int, month: int) -> Statement:
    """The trainer's payable movements in one calendar month of their time zone, with
    the balances before and after (a month still running: so far)."""
    if not (1970 <= year <= 9998 and 1 <= month <= 12):
        raise NotFound(gettext("There is no statement for that month."))
    zone = calendar.zone_of(trainer.timezone)
    start, end = calendar.month_bounds(zone, date(year, month, 1))
    accounts = trainer_accounts(session, trainer.id, [AccountKind.PAYABLE])
    totals, items = _statement(session, trainer.id, accounts, start, end)
    return Statement(
        kind="monthly", trainer_id=trainer.id, timezone=str(zone.key), period_start=start,
        period_end=end, totals=totals, items=items,
    )


def payout_statement(session: Session, trainer: User, payout_item_id: uuid.UUID) -> Statement:
    """What one payout item paid: the payable movements with its organisation and
    currency since the trainer's previous payout that took money out (approved, sent
    or paid) up to this item's creation, the balances around them, and the item's own
    steps in the ledger (approved, paid, failed...)."""
    item = session.get(PayoutItem, payout_item_id)
    if item is None or item.trainer_id != trainer.id:
        raise NotFound(gettext("No such payout."))
    previous = session.scalars(
        select(PayoutItem.created_at)
        .where(
            PayoutItem.trainer_id == trainer.id,
            PayoutItem.organisation_id == item.organisation_id,
            PayoutItem.currency == item.currency,
            PayoutItem.created_at < item.created_at,
            PayoutItem.state.in_(_PAID_OUT_STATES),
        )
        .order_by(PayoutItem.created_at.desc())
        .limit(1)
    ).first()
    account = ledger.find_payable(session, item.organisation_id, trainer.id, item.currency)
    accounts = [account] if account is not None else []
    totals, items = _statement(session, trainer.id, accounts, previous, item.created_at)
    if not totals:
        totals = [StatementTotals(item.currency, 0, 0, 0, 0)]
    return Statement(
        kind="payout", trainer_id=trainer.id, timezone=calendar.zone_of(trainer.timezone).key,
        period_start=clock.as_utc(previous) if previous else None,
        period_end=item.created_at, totals=totals, items=items, payout_item=item,
        movements=_movements(session, trainer.id, item),
    )


def _statement(
    session: Session,
    trainer_id: uuid.UUID,
    accounts: Sequence[LedgerAccount],
    start: datetime | None,
    end: datetime,
) -> tuple[list[StatementTotals], list[LineItem]]:
    if not accounts:
        return [], []
    ids = [a.id for a in accounts]
    opening: dict[str, int] = defaultdict(int)
    if start is not None:
        for currency, total in session.execute(
            select(Posting.currency, func.sum(Posting.amount))
            .where(Posting.account_id.in_(ids), Posting.created_at < start)
            .group_by(Posting.currency)
        ):
            opening[currency] -= int(total)
    stmt = _entries_touching(trainer_id, ids).where(JournalEntry.created_at < end)
    if start is not None:
        stmt = stmt.where(JournalEntry.created_at >= start)
    entries = list(session.scalars(stmt.order_by(JournalEntry.created_at, JournalEntry.id)))
    items = line_items(session, entries, accounts)
    credits: dict[str, int] = defaultdict(int)
    debits: dict[str, int] = defaultdict(int)
    for item in items:
        (credits if item.amount > 0 else debits)[item.currency] += item.amount
    currencies = sorted({a.currency for a in accounts})
    totals = [
        StatementTotals(
            currency=c, opening=opening[c], credits=credits[c], debits=debits[c],
            closing=opening[c] + credits[c] + debits[c],
        )
        for c in currencies
    ]
    return totals, items


def _movements(session: Session, trainer_id: uuid.UUID, item: PayoutItem) -> list[PayoutMovement]:
    # A failure and the retry after it post under a source derived from the item's id
    # and the key generation (``payouts.round_source``); the first approval, the
    # payment and a reversal under the item's own id; a partial reversal under its row's.
    sources = {round_source(item.id, generation) for generation in range(item.attempts + 2)}
    sources.update(session.scalars(
        select(PayoutReversal.id).where(PayoutReversal.payout_item_id == item.id)))
    entries = session.scalars(
        select(JournalEntry)
        .where(JournalEntry.source_id.in_(sources),
               JournalEntry.source_type.in_(list(PAYOUT_SOURCES)))
    ).all()
    if not entries:
        return []
    entries = sorted(entries, key=lambda e: (e.created_at, PAYOUT_STEPS.index(e.source_type)))
    postings: dict[uuid.UUID, list[tuple[Posting, LedgerAccount]]] = defaultdict(list)
    for posting, account in session.execute(
        select(Posting, LedgerAccount)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id.in_([e.id for e in entries]),
               LedgerAccount.owner_type == OwnerType.TRAINER,
               LedgerAccount.owner_id == trainer_id)
    ):
        postings[posting.entry_id].append((posting, account))
    movements = []
    for entry in entries:
        legs = postings.get(entry.id, [])
        if not legs:
            continue
        debit = next((a.kind for p, a in legs if p.amount > 0), None)
        credit = next((a.kind for p, a in legs if p.amount < 0), None)
        amount = max(abs(p.amount) for p, _ in legs)
        movements.append(PayoutMovement(
            entry_id=entry.id, source_type=entry.source_type, reason=entry.reason,
            from_account=debit, to_account=credit, amount=amount,
            currency=legs[0][0].currency, posted_at=entry.created_at,
        ))
    return movements


# --- statements as CSV ---------------------------------------------------------------

STATEMENT_COLUMNS = (
    "row", "posted_at", "occurred_at", "currency", "amount", "amount_minor", "reason",
    "source_type", "source_id", "organisation", "project", "available_at", "state",
)


def statement_rows(statement: Statement) -> Iterator[list[str]]:
    """The statement as CSV rows (header first): per currency an ``opening`` row, the
    ``item`` rows oldest first, then ``credits``, ``debits`` and ``closing`` rows; a
    payout statement ends with the ``payout`` row (created, paid, amount, state) and a
    ``movement`` row per step of it in the ledger."""
    yield list(STATEMENT_COLUMNS)
    yield from _balance_rows(statement)
    if statement.payout_item is not None:
        yield from _payout_rows(statement.payout_item, statement.movements)


def _balance_rows(statement: Statement) -> Iterator[list[str]]:
    start = _iso(statement.period_start) if statement.period_start else ""
    end = _iso(statement.period_end)
    for totals in statement.totals:
        yield _total_row("opening", start, totals.currency, totals.opening)
    for item in statement.items:
        yield [
            "item", _iso(item.posted_at), _iso(item.occurred_at), item.currency,
            decimal_text(item.amount, item.currency), str(item.amount), safe_cell(item.reason),
            item.source_type.value, str(item.source_id), safe_cell(item.organisation_name),
            safe_cell(item.project_name or ""),
            _iso(item.available_at) if item.available_at else "", "",
        ]
    for totals in statement.totals:
        yield _total_row("credits", end, totals.currency, totals.credits)
        yield _total_row("debits", end, totals.currency, totals.debits)
        yield _total_row("closing", end, totals.currency, totals.closing)


def _payout_rows(item: PayoutItem,
                 movements: Sequence[PayoutMovement]) -> Iterator[list[str]]:
    paid = item.paid_at or item.sent_at
    yield ["payout", _iso(item.created_at), _iso(paid) if paid else "", item.currency,
           decimal_text(item.amount, item.currency), str(item.amount),
           safe_cell(item.failure_message or ""), "", str(item.id), "", "", "",
           item.state.value]
    for step in movements:
        yield ["movement", _iso(step.posted_at), "", step.currency,
               decimal_text(step.amount, step.currency), str(step.amount),
               safe_cell(step.reason), step.source_type.value, str(step.entry_id), "", "",
               "", ""]


def _total_row(label: str, when: str, currency: str, amount: int) -> list[str]:
    return [label, when, "", currency, decimal_text(amount, currency), str(amount),
            "", "", "", "", "", "", ""]


def decimal_text(amount: int, currency: str) -> str:
    """Minor units as the currency's major units: 1250 USD -> ``12.50``."""
    return f"{Money(amount, currency).to_decimal():.{minor_units(currency)}f}"


def safe_cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(value: datetime) -> str:
    return clock.as_utc(value).isoformat()

