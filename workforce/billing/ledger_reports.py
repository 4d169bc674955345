"""What finance reads of the ledger: the organisation's journal entries with their
postings, the balance check, entries for a period as CSV rows, and costs per project.

Everything is scoped to the caller's organisation. Periods bound when entries were
posted (``created_at``): ``since`` included, ``until`` not.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workforce import clock
from workforce.accounts.models import User
from workforce.billing import ledger
from workforce.billing.earnings import decimal_text, safe_cell
from workforce.billing.models import (
    AccountKind,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    Posting,
    SourceType,
)
from workforce.money import Money
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import Project

EXPORT_BATCH = 1_000

# --- entries -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    entry: JournalEntry
    reversed_by_id: uuid.UUID | None


def list_entries(
    session: Session,
    staff: User,
    page: PageRequest,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source_type: SourceType | None = None,
    trainer_id: uuid.UUID | None = None,
) -> Page[EntryView]:
    """The organisation's journal entries with their postings, newest first."""
    stmt = _period(
        select(JournalEntry).where(JournalEntry.organisation_id == staff.organisation_id),
        since, until,
    ).options(selectinload(JournalEntry.postings).selectinload(Posting.account))
    if source_type is not None:
        stmt = stmt.where(JournalEntry.source_type == source_type)
    if trainer_id is not None:
        stmt = stmt.where(JournalEntry.trainer_id == trainer_id)
    found = paginate(session, stmt, page, created_at=JournalEntry.created_at,
                     row_id=JournalEntry.id)
    ids = [e.id for e in found.items]
    reversals = dict(session.execute(
        select(JournalEntry.reverses_id, JournalEntry.id)
        .where(JournalEntry.reverses_id.in_(ids))
    ).all()) if ids else {}
    return Page([EntryView(e, reversals.get(e.id)) for e in found.items], found.next_cursor)


def _period(stmt, since: datetime | None, until: datetime | None):
    if since is not None:
        stmt = stmt.where(JournalEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(JournalEntry.created_at < until)
    return stmt


# --- the balance check ---------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    kind: str  # "account": stored balance differs; "entry": postings do not sum to zero
    id: uuid.UUID
    stored: int
    recomputed: int


@dataclass(frozen=True)
class CheckResult:
    checked_at: datetime
    mismatches: list[Mismatch]

    @property
    def sound(self) -> bool:
        return not self.mismatches


def check(session: Session, staff: User) -> CheckResult:
    """Recompute every balance from the postings (the whole ledger) and report the
    differences that concern the caller's organisation."""
    found = ledger.check_balances(session)
    ids = [m.account_id for m in found]
    accounts = set(session.scalars(
        select(LedgerAccount.id).where(
            LedgerAccount.id.in_(ids), LedgerAccount.organisation_id == staff.organisation_id)
    )) if ids else set()
    entries = set(session.scalars(
        select(JournalEntry.id).where(
            JournalEntry.id.in_(ids), JournalEntry.organisation_id == staff.organisation_id)
    )) if ids else set()
    mismatches = [
        Mismatch("account" if m.account_id in accounts else "entry", m.account_id,
                 m.stored, m.recomputed)
        for m in found if m.account_id in accounts or m.account_id in entries
    ]
    return CheckResult(clock.now(), mismatches)


# --- the export ----------------------------------------------------------------------

EXPORT_COLUMNS = (
    "entry_id", "posted_at", "occurred_at", "source_type", "source_id", "reverses_id",
    "reason", "trainer_id", "project_id", "posting_id", "account_id", "owner_type",
    "owner_id", "account_kind", "currency", "amount", "amount_minor", "available_at",
)


def export_rows(
    open_session: Callable[[], AbstractContextManager[Session]],
    organisation_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[list[str]]:
    """The organisation's postings in the period as CSV rows (header first), oldest
    entry first, read in batches (keyset on the entry's posting time and id) with a
    session of their own, so the rows can be streamed after the request has ended."""
    yield list(EXPORT_COLUMNS)
    after: tuple[datetime, uuid.UUID] | None = None
    with open_session() as session:
        while True:
            stmt = _period(
                select(JournalEntry).where(JournalEntry.organisation_id == organisation_id),
                since, until,
            ).options(selectinload(JournalEntry.postings).selectinload(Posting.account))
            if after is not None:
                stmt = stmt.where(or_(
                    JournalEntry.created_at > after[0],
                    and_(JournalEntry.created_at == after[0], JournalEntry.id > after[1]),
                ))
            batch = list(session.scalars(
                stmt.order_by(JournalEntry.created_at, JournalEntry.id).limit(EXPORT_BATCH)
            ))
            for entry in batch:
                for posting in sorted(entry.postings, key=lambda p: (p.amount < 0, p.id)):
                    yield _export_row(entry, posting)
            if len(batch) < EXPORT_BATCH:
                return
            after = (batch[-1].created_at, batch[-1].id)
            session.expunge_all()  # one batch in memory at a time


def _export_row(entry: JournalEntry, posting: Posting) -> list[str]:
    account = posting.account
    return [
        str(entry.id), _iso(entry.created_at), _iso(entry.occurred_at),
        entry.source_type.value, str(entry.source_id), _text(entry.reverses_id),
        safe_cell(entry.reason), _text(entry.trainer_id), _text(entry.project_id),
        str(posting.id), str(account.id), account.owner_type.value, str(account.owner_id),
        account.kind.value, posting.currency, decimal_text(posting.amount, posting.currency),
        str(posting.amount), _iso(posting.available_at) if posting.available_at else "",
    ]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _iso(value: datetime) -> str:
    return clock.as_utc(value).isoformat()


# --- costs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectCost:
    project_id: uuid.UUID | None
    project_name: str | None
    amount: int
    currency: str


@dataclass(frozen=True)
class CostReport:
    since: datetime | None
    until: datetime | None
    organisation: list[Money]
    projects: list[ProjectCost]


def cost_report(
    session: Session, staff: User, *, since: datetime | None = None,
    until: datetime | None = None,
) -> CostReport:
    """What the organisation spent on work in the period, per currency, in total and
    per project (``project_id`` null: costs of no project, such as assessment
    stipends). Net of reversals and negative adjustments; payouts are not costs."""
    expense_ids = list(session.scalars(
        select(LedgerAccount.id).where(
            LedgerAccount.organisation_id == staff.organisation_id,
            LedgerAccount.owner_type == OwnerType.ORGANISATION,
            LedgerAccount.kind == AccountKind.EXPENSE,
        )
    ))
    if not expense_ids:
        return CostReport(since, until, [], [])
    # By posting time, on the (account_id, created_at) index of the expense accounts.
    stmt = (
        select(JournalEntry.project_id, Posting.currency, func.sum(Posting.amount))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id.in_(expense_ids))
        .group_by(JournalEntry.project_id, Posting.currency)
    )
    if since is not None:
        stmt = stmt.where(Posting.created_at >= since)
    if until is not None:
        stmt = stmt.where(Posting.created_at < until)
    rows = [(project_id, currency, int(total)) for project_id, currency, total
            in session.execute(stmt) if total]
    names = dict(session.execute(
        select(Project.id, Project.name)
        .where(Project.id.in_({p for p, _, _ in rows if p is not None}))
    ).all())
    totals: dict[str, int] = defaultdict(int)
    for _, currency, amount in rows:
        totals[currency] += amount
    projects = sorted(
        (ProjectCost(p, names.get(p) if p else None, amount, currency)
         for p, currency, amount in rows),
        key=lambda c: (c.project_name is None, c.project_name or "", c.currency),
    )
    return CostReport(
        since, until,
        [Money(amount, currency) for currency, amount in sorted(totals.items()) if amount],
        projects,
    )
