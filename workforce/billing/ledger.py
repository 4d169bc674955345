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

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from workforce import calendar, clock, db
from workforce.billing.models import (
    AccountKind,
    EarningDay,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    Posting,
    SourceType,
)
from workforce.errors import Conflict, NotFound
from workforce.i18n import _

TRAINER_KINDS = (AccountKind.PAYABLE, AccountKind.IN_TRANSIT, AccountKind.PAID)
DAY_ZONE = "UTC"  # ``EarningDay`` rows sum UTC days, whatever the trainer's zone
# What a trainer earns by (year to date counts these, less their reversals).
EARNED_SOURCES = frozenset({
    SourceType.ASSESSMENT_STIPEND, SourceType.TASK_APPROVAL, SourceType.TIMESHEET,
    SourceType.KILL_FEE, SourceType.TOP_UP, SourceType.COUNSELLING_ALLOWANCE,
    SourceType.FLAGGED_WORK, SourceType.BONUS, SourceType.ADJUSTMENT,
})


@dataclass(frozen=True)
class AccountRef:
    """What a posting needs of an account, read without loading it as an entity."""

    id: uuid.UUID
    kind: AccountKind
    currency: str


@dataclass(frozen=True)
class Leg:
    """One posting to be made: ``amount`` signed (debit positive) on ``account``."""

    account: LedgerAccount | AccountRef
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
    stmt = _accounts_of(organisation_id, owner_type, owner_id, currency).where(
        LedgerAccount.kind == kind)
    found = session.scalars(stmt).one_or_none()
    if found is not None:
        return found
    return _create_account(session, stmt, organisation_id, owner_type, owner_id, kind,
                           currency)


def _accounts_of(organisation_id: uuid.UUID, owner_type: OwnerType, owner_id: uuid.UUID,
                 currency: str) -> Select[tuple[LedgerAccount]]:
    return select(LedgerAccount).where(
        LedgerAccount.organisation_id == organisation_id,
        LedgerAccount.owner_type == owner_type,
        LedgerAccount.owner_id == owner_id,
        LedgerAccount.currency == currency,
    )


def _create_account(
    session: Session, stmt: Select[tuple[LedgerAccount]], organisation_id: uuid.UUID,
    owner_type: OwnerType, owner_id: uuid.UUID, kind: AccountKind, currency: str,
) -> LedgerAccount:
    """Create the account ``stmt`` (of that one account) did not find; if a concurrent
    transaction created it first, its row (the unique key decides)."""
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


def trainer_accounts(
    session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID,
    kinds: Sequence[AccountKind], currency: str,
) -> list[LedgerAccount]:
    """The trainer's accounts of ``kinds`` (in that order) with the organisation in one
    currency, read in one query; any missing is created as ``get_account`` does."""
    stmt = _accounts_of(organisation_id, OwnerType.TRAINER, trainer_id, currency)
    found = {account.kind: account for account in session.scalars(
        _trainer_accounts_stmt(), {"organisation_id": organisation_id,
                                   "trainer_id": trainer_id, "currency": currency,
                                   "kinds": list(kinds)})}
    return [
        found[kind] if kind in found else _create_account(
            session, stmt.where(LedgerAccount.kind == kind), organisation_id,
            OwnerType.TRAINER, trainer_id, kind, currency)
        for kind in kinds
    ]


def trainer_account_refs(
    session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID,
    kinds: Sequence[AccountKind], currency: str,
) -> list[AccountRef]:
    """``trainer_accounts`` as references (id, kind, currency), read through the Core in
    one statement built once; any missing is created by ``trainer_accounts``. What the
    payout processor posts with (bench/RESULTS.md, item 27)."""
    key = (organisation_id, trainer_id, currency)
    return trainer_account_refs_many(session, [key], kinds)[key]


TrainerCurrency = tuple[uuid.UUID, uuid.UUID, str]  # organisation, trainer, currency


def trainer_account_refs_many(
    session: Session, keys: Sequence[TrainerCurrency], kinds: Sequence[AccountKind],
) -> dict[TrainerCurrency, list[AccountRef]]:
    """``trainer_account_refs`` of several trainers (a batch of payouts), read in one
    statement; for each (organisation, trainer, currency), its accounts of ``kinds``."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[uuid.UUID, uuid.UUID, str, AccountKind], uuid.UUID] = {}
    if wanted:
        for id_, kind, organisation_id, owner_id, currency in session.execute(
            _trainer_account_ids_stmt(), {
                "organisations": list({key[0] for key in wanted}),
                "trainers": list({key[1] for key in wanted}),
                "currencies": list({key[2] for key in wanted}),
                "kinds": [kind.value for kind in kinds]}):
            found[(organisation_id, owner_id, currency, AccountKind(kind))] = id_
    refs = {}
    for organisation_id, trainer_id, currency in wanted:
        ids = [found.get((organisation_id, trainer_id, currency, kind)) for kind in kinds]
        refs[(organisation_id, trainer_id, currency)] = (
            [AccountRef(id_, kind, currency) for id_, kind in zip(ids, kinds, strict=True)]
            if all(ids) else
            [AccountRef(account.id, account.kind, account.currency) for account in
             trainer_accounts(session, organisation_id, trainer_id, kinds, currency)])
    return refs


# The statements of every posting, built once with bound parameters: payouts post one
# entry an item, and building a statement and its cache key costs about what running it
# does (bench/RESULTS.md, round 4). Those that write are Core statements (no entity, no
# unit of work: bench/RESULTS.md, item 27).


@functools.cache
def _trainer_account_ids_stmt() -> Any:
    table = LedgerAccount.__table__
    return select(table.c.id, table.c.kind, table.c.organisation_id, table.c.owner_id,
                  table.c.currency).where(
        table.c.organisation_id.in_(bindparam("organisations", expanding=True)),
        table.c.owner_type == OwnerType.TRAINER.value,
        table.c.owner_id.in_(bindparam("trainers", expanding=True)),
        table.c.currency.in_(bindparam("currencies", expanding=True)),
        table.c.kind.in_(bindparam("kinds", expanding=True)))


@functools.cache
def _trainer_accounts_stmt() -> Any:
    return _accounts_of(bindparam("organisation_id"), OwnerType.TRAINER,
                        bindparam("trainer_id"), bindparam("currency")).where(
        LedgerAccount.kind.in_(bindparam("kinds", expanding=True)))


@functools.cache
def _entry_stmt(dialect: str) -> Any:
    table = JournalEntry.__table__
    columns = ("id", "source_type", "source_id", "reason", "organisation_id", "trainer_id",
               "project_id", "reverses_id", "occurred_at", "created_at")
    return (
        db.insert_for(dialect)(table)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=[table.c.source_type, table.c.source_id])
        .returning(table.c.id)
    )


@functools.cache
def _balances_stmt(accounts: int) -> Any:
    """One UPDATE for the balances of ``accounts`` accounts (ids ``a0``.., amounts
    ``d0``..): their rows are locked first in id order (the sub-select's ``ORDER BY id
    FOR UPDATE``), so two entries touching the same accounts never wait on each other
    in a cycle, as when each balance had its own statement in that order."""
    table = LedgerAccount.__table__
    ids = [bindparam(f"a{n}", type_=table.c.id.type) for n in range(accounts)]
    amounts = [bindparam(f"d{n}", type_=table.c.balance.type) for n in range(accounts)]
    locked = (select(table.c.id).where(table.c.id.in_(ids)).order_by(table.c.id)
              .with_for_update())
    return (
        update(table)
        .where(table.c.id.in_(locked.scalar_subquery()))
        .values(balance=table.c.balance + case(
            *[(table.c.id == id_, amount) for id_, amount in zip(ids, amounts, strict=True)]))
    )


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


def post(session: Session, **entry: Any) -> JournalEntry:
    """Post an entry for a source event, once: a second call for the same source (in
    this transaction or a concurrent one) returns the first entry and moves nothing.
    The second call must carry the same legs (``SourceReused`` otherwise). Takes
    ``post_entry``'s keywords and loads the entry it returns (one SELECT more: the
    services call ``post_entry``, since none of them reads the entry)."""
    return session.get_one(JournalEntry, post_entry(session, **entry))


def post_entry(
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
) -> uuid.UUID:
    """``post``, returning the entry's id rather than the entry (no entity is loaded):
    ``post_entries`` of one entry."""
    return post_entries(session, [Entry(
        source_type=source_type, source_id=source_id, reason=reason,
        organisation_id=organisation_id, legs=legs, trainer_id=trainer_id,
        project_id=project_id, occurred_at=occurred_at, reverses_id=reverses_id)])[0]


@dataclass(frozen=True)
class Entry:
    """An entry to post: ``post_entry``'s keywords."""

    source_type: SourceType
    source_id: uuid.UUID
    reason: str
    organisation_id: uuid.UUID
    legs: Sequence[Leg]
    trainer_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
    reverses_id: uuid.UUID | None = None


def post_entries(session: Session, entries: Sequence[Entry]) -> list[uuid.UUID]:
    """Post each entry once, as ``post`` does, and return their ids in order: the
    entries, their postings and the balances are written by Core statements built once,
    a statement each for all of them (the payout processor records a batch of payments
    at a time: bench/RESULTS.md, round 6), never by the unit of work. The session's
    pending changes are flushed first, so that what they refer to exists."""
    for entry in entries:
        _check_balanced(entry.legs)
    if not entries:
        return []
    now = clock.now()
    session.flush()  # nothing to do unless the caller left changes pending
    rows = [{
        "id": uuid.uuid4(), "source_type": entry.source_type, "source_id": entry.source_id,
        "reason": entry.reason[:500], "organisation_id": entry.organisation_id,
        "trainer_id": entry.trainer_id, "project_id": entry.project_id,
        "reverses_id": entry.reverses_id, "occurred_at": entry.occurred_at or now,
        "created_at": now} for entry in entries]
    # One statement both checks and writes: the unique source key decides, here and
    # against a concurrent transaction (whose insert this one waits for), without an
    # error to recover from. An entry whose source was posted before moves nothing.
    written = set(session.execute(_entry_stmt(session.get_bind().dialect.name), rows)
                  .scalars())
    new = [(entry, row) for entry, row in zip(entries, rows, strict=True)
           if row["id"] in written]
    if new:
        session.execute(db.rows_insert(Posting.__table__), [
            {"id": uuid.uuid4(), "entry_id": row["id"], "account_id": leg.account.id,
             "amount": leg.amount, "currency": leg.account.currency,
             "available_at": leg.available_at, "created_at": now}
            for entry, row in new for leg in entry.legs
        ])
        _move_balances(session, [leg for entry, _row in new for leg in entry.legs])
        for entry, row in new:
            _count_earnings(session, entry.source_type, entry.reverses_id,
                            row["occurred_at"], entry.legs)
    # The others were posted before, or earlier in this batch (so after its postings).
    return [row["id"] if row["id"] in written else _posted_before(session, entry).id
            for entry, row in zip(entries, rows, strict=True)]


def _posted_before(session: Session, entry: Entry) -> JournalEntry:
    found = find_entry(session, entry.source_type, entry.source_id)
    if found is None:  # entries are never deleted: the conflicting one is there
        raise RuntimeError(
            f"{entry.source_type.value} {entry.source_id} conflicted but is not found")
    return _same_movement(session, found, entry.legs)


def _insert(session: Session) -> Any:
    return db.insert_for(session.get_bind().dialect.name)


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
    params: dict[str, Any] = {}
    for n, (account_id, amount) in enumerate(by_account.items()):
        params[f"a{n}"], params[f"d{n}"] = account_id, amount
    session.execute(_balances_stmt(len(by_account)), params)
    # Any of the accounts loaded in this session reads its balance afresh.
    for account_id in by_account:
        loaded = session.identity_map.get(identity_key(LedgerAccount, account_id))
        if loaded is not None:
            session.expire(loaded, ["balance"])


def is_earning(session: Session, source_type: SourceType, reverses_id: uuid.UUID | None) -> bool:
    """An entry that counts in year to date: an earning, or the reversal of one."""
    if source_type in EARNED_SOURCES:
        return True
    if source_type is SourceType.REVERSAL and reverses_id is not None:
        return session.scalar(
            select(JournalEntry.source_type).where(JournalEntry.id == reverses_id)
        ) in EARNED_SOURCES
    return False


def _count_earnings(session: Session, source_type: SourceType, reverses_id: uuid.UUID | None,
                    occurred_at: datetime, legs: Sequence[Leg]) -> None:
    """Add an earning's payable postings to their accounts' ``EarningDay`` of the day it
    occurred, in SQL (concurrent entries add up) and in account-id order (as balances)."""
    by_account: dict[uuid.UUID, int] = defaultdict(int)
    for leg in legs:
        if leg.account.kind is AccountKind.PAYABLE:
            by_account[leg.account.id] += leg.amount
    if not by_account or not is_earning(session, source_type, reverses_id):
        return
    day = calendar.local_date(DAY_ZONE, occurred_at)
    insert = _insert(session)
    for account_id in sorted(by_account):
        stmt = insert(EarningDay).values(
            account_id=account_id, day=day, amount=by_account[account_id])
        session.execute(stmt.on_conflict_do_update(
            index_elements=[EarningDay.account_id, EarningDay.day],
            set_={"amount": EarningDay.amount + stmt.excluded.amount},
        ))


def earned_between(
    session: Session, trainer_id: uuid.UUID, account_ids: Sequence[uuid.UUID],
    start: datetime, end: datetime,
) -> dict[str, int]:
    """The sum per currency of the earnings (less their reversals) posted to
    ``account_ids`` (the trainer's payable accounts) that occurred in [start, end), as
    posted (credits negative): whole UTC days from ``EarningDay``, the partial days at
    either end from the entries themselves."""
    if not account_ids:
        return {}
    first = calendar.local_date(DAY_ZONE, start)  # the first whole day from ``start`` on
    if calendar.local_midnight(DAY_ZONE, first) < start:
        first += calendar.DAY
    last = calendar.local_date(DAY_ZONE, end)  # days before this one lie wholly before ``end``
    totals: dict[str, int] = defaultdict(int)
    if first < last:
        for currency, amount in session.execute(
            select(LedgerAccount.currency, func.sum(EarningDay.amount))
            .join(LedgerAccount, LedgerAccount.id == EarningDay.account_id)
            .where(EarningDay.account_id.in_(list(account_ids)),
                   EarningDay.day >= first, EarningDay.day < last)
            .group_by(LedgerAccount.currency)
        ):
            totals[currency] += int(amount)
        windows = [(start, calendar.local_midnight(DAY_ZONE, first)),
                   (calendar.local_midnight(DAY_ZONE, last), end)]
    else:
        windows = [(start, end)]
    reversed_entry = aliased(JournalEntry)
    for low, high in windows:
        if low >= high:
            continue
        for currency, amount in session.execute(
            select(Posting.currency, func.sum(Posting.amount))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .outerjoin(reversed_entry, reversed_entry.id == JournalEntry.reverses_id)
            .where(
                JournalEntry.trainer_id == trainer_id,
                JournalEntry.occurred_at >= low, JournalEntry.occurred_at < high,
                Posting.account_id.in_(list(account_ids)),
                _is_earning_entry(reversed_entry),
            )
            .group_by(Posting.currency)
        ):
            totals[currency] += int(amount or 0)
    return dict(totals)


def _is_earning_entry(reversed_entry: Any) -> Any:
    """``is_earning`` in SQL, on a query joined (outer) to the entry ``JournalEntry``
    reverses as ``reversed_entry``."""
    earned = list(EARNED_SOURCES)
    return or_(JournalEntry.source_type.in_(earned),
               and_(JournalEntry.source_type == SourceType.REVERSAL,
                    reversed_entry.source_type.in_(earned)))


def reverse(session: Session, entry_id: uuid.UUID, *, reason: str) -> JournalEntry:
    """A correction: an entry with every posting of ``entry_id`` negated, linked to it.
    A thing is reversed at most once (409 ``already-reversed``)."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound(_("No such journal entry."))
    if entry.source_type is SourceType.REVERSAL:
        raise Conflict(
            _("A reversal is not reversed; post a new entry."), code="reversal-of-reversal"
        )
    if find_entry(session, SourceType.REVERSAL, entry.id) is not None:
        raise Conflict(_("This entry has been reversed already."), code="already-reversed")
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
    return mismatches + check_earning_days(session)


def check_earning_days(session: Session) -> list[BalanceMismatch]:
    """Every payable account whose ``EarningDay`` rows differ from its earnings
    recomputed from the postings (reported with the account id and the two totals)."""
    reversed_entry = aliased(JournalEntry)
    recomputed: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    for account_id, occurred_at, amount in session.execute(
        select(Posting.account_id, JournalEntry.occurred_at, Posting.amount)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .outerjoin(reversed_entry, reversed_entry.id == JournalEntry.reverses_id)
        .where(
            LedgerAccount.kind == AccountKind.PAYABLE, _is_earning_entry(reversed_entry),
        )
        .execution_options(yield_per=10_000)
    ):
        recomputed[(account_id, calendar.local_date(DAY_ZONE, occurred_at))] += amount
    stored = {(row.account_id, row.day): row.amount
              for row in session.scalars(select(EarningDay))}
    wrong: dict[uuid.UUID, tuple[int, int]] = {}
    for key in stored.keys() | {k for k, v in recomputed.items() if v}:
        if stored.get(key, 0) != recomputed.get(key, 0):
            have, want = wrong.get(key[0], (0, 0))
            wrong[key[0]] = (have + stored.get(key, 0), want + recomputed.get(key, 0))
    return [BalanceMismatch(account_id, have, want)
            for account_id, (have, want) in sorted(wrong.items())]


# --- holds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """Credits of a payable account still inside the organisation's hold period."""

    amount: int
    release_at: datetime | None


NO_HOLD = Hold(0, None)
# The entry that reverses a posting's entry (built once: a hot path's query).
_REVERSAL = aliased(JournalEntry)


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
    stmt = (
        select(Posting.account_id, func.sum(Posting.amount), func.min(Posting.available_at))
        .where(
            Posting.account_id.in_(list(account_ids)), Posting.amount < 0,
            Posting.available_at > now,
            ~exists().where(_REVERSAL.reverses_id == Posting.entry_id),
        )
        .group_by(Posting.account_id)
    )
    if excluding_entry is not None:
        stmt = stmt.where(Posting.entry_id != excluding_entry)
    return {
        account_id: Hold(-int(total), clock.as_utc(first) if first else None)
        for account_id, total, first in session.execute(stmt)
    }


def available(session: Session, payable: LedgerAccount, now: datetime, *,
              excluding_entry: uuid.UUID | None = None) -> int:
    """What may leave a payable account now: its balance less the credits on hold.
    Uncapped on purpose: if what is on hold ever exceeded the balance, nothing is
    available to take (the figure is negative)."""
    hold = held_credits(session, [payable.id], now, excluding_entry=excluding_entry)
    return -payable.balance - hold.get(payable.id, NO_HOLD).amount


def find_payable(
    session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID, currency: str,
    *, lock: bool = False,
) -> LedgerAccount | None:
    """The trainer's payable account with an organisation, without creating it;
    ``lock`` takes its row lock (and reads its balance afresh)."""
    stmt = _accounts_of(organisation_id, OwnerType.TRAINER, trainer_id, currency).where(
        LedgerAccount.kind == AccountKind.PAYABLE)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()
