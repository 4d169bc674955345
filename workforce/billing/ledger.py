"""The double-entry ledger: accounts, posting an entry once per source, reversals, and
the check that every stored balance equals the sum of its postings.

Signs: a posting's amount is positive for a debit and negative for a credit, and an
entry's postings sum to zero per currency. A trainer's accounts (payable, in transit,
paid) are credit-normal, so their figures for people are the negated balance.

Money moves like this (Dr = debit, Cr = credit):

- earning (task, timesheet, stipend, kill fee, bonus, top-up): Dr organisation expense,
  Cr trainer payable (available after the organisation's hold period);
- payout approved: Dr trainer payable, Cr trainer in transit;
- payout paid: Dr trainer in transit, Cr trainer paid (the trainer's paid account is
  the record of the cash that left the organisation);
- payout failed or cancelled: Dr trainer in transit, Cr trainer payable;
- payout reversed after it was paid: Dr trainer paid, Cr trainer payable;
- negative adjustment: Dr trainer payable, Cr organisation expense.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from workforce import clock
from workforce.billing.models import (
    AccountKind,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    Posting,
    SourceType,
)
from workforce.errors import Conflict, NotFound

TRAINER_KINDS = (AccountKind.PAYABLE, AccountKind.IN_TRANSIT, AccountKind.PAID)


@dataclass(frozen=True)
class Leg:
    """One posting to be made: ``amount`` signed (debit positive) on ``account``."""

    account: LedgerAccount
    amount: int
    available_at: datetime | None = None


class UnbalancedEntry(ValueError):
    """A programming error: an entry whose legs do not sum to zero per currency."""


class SourceReused(ValueError):
    """A programming error: a source posted again with other accounts or amounts. A
    repeat must be the same event; a new movement needs a source of its own."""


def get_account(
    session: Session,
    organisation_id: uuid.UUID,
    owner_type: OwnerType,
    owner_id: uuid.UUID,
    kind: AccountKind,
    currency: str,
) -> LedgerAccount:
    """The account, created on first use (two transactions creating it at once end
    with one row: the unique key decides)."""
    stmt = select(LedgerAccount).where(
        LedgerAccount.organisation_id == organisation_id,
        LedgerAccount.owner_type == owner_type,
        LedgerAccount.owner_id == owner_id,
        LedgerAccount.kind == kind,
        LedgerAccount.currency == currency,
    )
    found = session.scalars(stmt).one_or_none()
    if found is not None:
        return found
    account = LedgerAccount(
        organisation_id=organisation_id, owner_type=owner_type, owner_id=owner_id,
        kind=kind, currency=currency, balance=0, created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:
        return session.scalars(stmt).one()
    return account


def trainer_account(
    session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID,
    kind: AccountKind, currency: str,
) -> LedgerAccount:
    return get_account(session, organisation_id, OwnerType.TRAINER, trainer_id, kind, currency)


def organisation_account(
    session: Session, organisation_id: uuid.UUID, kind: AccountKind, currency: str
) -> LedgerAccount:
    return get_account(
        session, organisation_id, OwnerType.ORGANISATION, organisation_id, kind, currency
    )


def find_entry(
    session: Session, source_type: SourceType, source_id: uuid.UUID
) -> JournalEntry | None:
    return session.scalars(
        select(JournalEntry).where(
            JournalEntry.source_type == source_type, JournalEntry.source_id == source_id
        )
    ).one_or_none()


def post(
    session: Session,
    *,
    source_type: SourceType,
    source_id: uuid.UUID,
    reason: str,
    organisation_id: uuid.UUID,
    legs: Sequence[Leg],
    trainer_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    reverses_id: uuid.UUID | None = None,
) -> JournalEntry:
    """Post an entry for a source event, once: a second call for the same source (in
    this transaction or a concurrent one) returns the first entry and moves nothing.
    The second call must carry the same legs (``SourceReused`` otherwise)."""
    _check_balanced(legs)
    existing = find_entry(session, source_type, source_id)
    if existing is not None:
        return _same_movement(session, existing, legs)
    now = clock.now()
    entry = JournalEntry(
        source_type=source_type, source_id=source_id, reason=reason[:500],
        organisation_id=organisation_id, trainer_id=trainer_id, project_id=project_id,
        reverses_id=reverses_id, occurred_at=occurred_at or now, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()  # the unique source key decides a race here
            for leg in legs:
                session.add(Posting(
                    entry_id=entry.id, account_id=leg.account.id, amount=leg.amount,
                    currency=leg.account.currency, available_at=leg.available_at,
                    created_at=now,
                ))
            session.flush()
            _move_balances(session, legs)
    except IntegrityError:
        found = find_entry(session, source_type, source_id)
        if found is None:
            raise
        return _same_movement(session, found, legs)
    return entry


def _same_movement(session: Session, entry: JournalEntry, legs: Sequence[Leg]) -> JournalEntry:
    posted = sorted(tuple(row) for row in session.execute(
        select(Posting.account_id, Posting.amount).where(Posting.entry_id == entry.id)
    ))
    wanted = sorted((leg.account.id, leg.amount) for leg in legs)
    if posted != wanted:
        raise SourceReused(
            f"{entry.source_type.value} {entry.source_id} was posted with {posted}, "
            f"not {wanted}"
        )
    return entry


def _check_balanced(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedEntry("an entry needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount == 0:
            raise UnbalancedEntry("a posting of zero")
        totals[leg.account.currency] += leg.amount
    if any(totals.values()):
        raise UnbalancedEntry(f"postings do not sum to zero: {dict(totals)}")


def _move_balances(session: Session, legs: Sequence[Leg]) -> None:
    # In SQL, so that concurrent entries on one account add up; in id order, so that
    # two entries touching the same accounts never wait on each other in a cycle.
    by_account: dict[uuid.UUID, int] = defaultdict(int)
    for leg in legs:
        by_account[leg.account.id] += leg.amount
    for account_id in sorted(by_account):
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id)
            .values(balance=LedgerAccount.balance + by_account[account_id])
            .execution_options(synchronize_session=False)
        )
    for leg in legs:
        session.expire(leg.account, ["balance"])


def reverse(session: Session, entry_id: uuid.UUID, *, reason: str) -> JournalEntry:
    """A correction: an entry with every posting of ``entry_id`` negated, linked to it.
    A thing is reversed at most once (409 ``already-reversed``)."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound("No such journal entry.")
    if entry.source_type is SourceType.REVERSAL:
        raise Conflict(
            "A reversal is not reversed; post a new entry.", code="reversal-of-reversal"
        )
    if find_entry(session, SourceType.REVERSAL, entry.id) is not None:
        raise Conflict("This entry has been reversed already.", code="already-reversed")
    postings = session.scalars(select(Posting).where(Posting.entry_id == entry.id)).all()
    legs = [Leg(p.account, -p.amount) for p in postings]
    return post(
        session, source_type=SourceType.REVERSAL, source_id=entry.id, reason=reason,
        organisation_id=entry.organisation_id, legs=legs, trainer_id=entry.trainer_id,
        project_id=entry.project_id, reverses_id=entry.id,
    )


@dataclass(frozen=True)
class BalanceMismatch:
    account_id: uuid.UUID
    stored: int
    recomputed: int


def check_balances(session: Session) -> list[BalanceMismatch]:
    """Every account whose stored balance differs from the sum of its postings (none,
    when the ledger is sound), and every entry that does not sum to zero per currency
    (reported with ``account_id`` set to the entry's id)."""
    sums = {
        account_id: total for account_id, total in session.execute(
            select(Posting.account_id, func.sum(Posting.amount)).group_by(Posting.account_id)
        )
    }
    mismatches = [
        BalanceMismatch(account.id, account.balance, int(sums.get(account.id, 0)))
        for account in session.scalars(select(LedgerAccount))
        if account.balance != int(sums.get(account.id, 0))
    ]
    unbalanced = session.execute(
        select(Posting.entry_id, func.sum(Posting.amount))
        .group_by(Posting.entry_id, Posting.currency)
        .having(func.sum(Posting.amount) != 0)
    ).all()
    mismatches += [BalanceMismatch(entry_id, int(total), 0) for entry_id, total in unbalanced]
    return mismatches


# --- holds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """Credits of a payable account still inside the organisation's hold period."""

    amount: int
    release_at: datetime | None


NO_HOLD = Hold(0, None)


def held_credits(
    session: Session,
    account_ids: Sequence[uuid.UUID],
    now: datetime,
    *,
    excluding_entry: uuid.UUID | None = None,
) -> dict[uuid.UUID, Hold]:
    """Per payable account: the credits still inside their hold period (not reversed),
    and the earliest release among them."""
    if not account_ids:
        return {}
    reversal = aliased(JournalEntry)
    stmt = (
        select(Posting.account_id, func.sum(Posting.amount), func.min(Posting.available_at))
        .where(
            Posting.account_id.in_(list(account_ids)), Posting.amount < 0,
            Posting.available_at > now,
            ~exists().where(reversal.reverses_id == Posting.entry_id),
        )
        .group_by(Posting.account_id)
    )
    if excluding_entry is not None:
        stmt = stmt.where(Posting.entry_id != excluding_entry)
    return {
        account_id: Hold(-int(total), clock.as_utc(first) if first else None)
        for account_id, total, first in session.execute(stmt)
    }
