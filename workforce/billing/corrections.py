"""Money granted or corrected by hand: bonuses (vendor managers), adjustments and
reversals (finance). Each posts to the ledger, is audited, and tells the trainer.

Nothing here may take a trainer's payable balance below what is on hold: a movement
out of payable (a negative adjustment, the reversal of an earning) is checked against
the available part after locking the payable account's row, so two corrections at once
cannot both spend the same money. Accounts are locked in id order, the order
``ledger.post`` updates them in, so corrections never deadlock with each other or with
earnings.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import Organisation, Role, User
from workforce.billing import ledger
from workforce.billing.models import (
    AccountKind,
    Adjustment,
    Bonus,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    Posting,
    SourceType,
)
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import gettext
from workforce.money import Money, check_currency
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import MembershipState, Project, ProjectMember

MAX_AMOUNT = 100_000_000
REASON_MAX = 2_000
KEY_MAX = 200
# Membership states of a trainer who has worked on a project.
_WORKED = (MembershipState.ACTIVE, MembershipState.LEFT, MembershipState.REMOVED)
# What finance may reverse by hand; payouts follow their own lifecycle instead.
REVERSIBLE_SOURCES = ledger.EARNED_SOURCES

# --- shared checks -------------------------------------------------------------------


def _organisation_of(session: Session, staff: User) -> Organisation:
    organisation = (
        session.get(Organisation, staff.organisation_id) if staff.organisation_id else None
    )
    if organisation is None:
        raise NotFound(gettext("No such organisation."))
    return organisation


def _check_money(amount: int, currency: str, *, allow_negative: bool) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise Invalid(gettext("The amount is a whole number of minor units."),
                      errors={"amount": [gettext("Not a valid integer.")]})
    low = -MAX_AMOUNT if allow_negative else 1
    if amount == 0 or not low <= amount <= MAX_AMOUNT:
        raise Invalid(gettext("The amount is out of range."),
                      errors={"amount": [gettext("Must be between %(low)s and %(max_amount)s, not "
                                                 "0.", low=low, max_amount=MAX_AMOUNT)]})
    try:
        return check_currency(currency)
    except ValueError as exc:
        raise Invalid(str(exc), errors={"currency": [str(exc)]}) from exc


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise Invalid(gettext("Give a reason."), errors={"reason": [gettext("1 to %(reason_max)s "
                                                                   "characters.",
                                                                   reason_max=REASON_MAX)]})
    return reason


def worked_for(session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID) -> bool:
    """Whether the trainer was ever staffed on one of the organisation's projects, or
    has had money from it (an assessment stipend, say)."""
    member = exists().where(
        ProjectMember.trainer_id == trainer_id, ProjectMember.state.in_(_WORKED),
        ProjectMember.project_id == Project.id, Project.organisation_id == organisation_id,
    )
    paid = exists().where(
        JournalEntry.trainer_id == trainer_id, JournalEntry.organisation_id == organisation_id
    )
    return bool(session.scalar(select(member | paid)))


def _trainer_of(session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID) -> User:
    trainer = session.get(User, trainer_id)
    if (
        trainer is None or trainer.role is not Role.TRAINER
        or not worked_for(session, organisation_id, trainer_id)
    ):
        # The same answer for an unknown id and someone else's trainer: nothing leaks.
        raise Invalid(
            gettext("This trainer has not worked for your organisation."),
            errors={"trainer_id": [gettext("Not a trainer who has worked for your organisation.")]},
        )
    return trainer


def _lock(session: Session, accounts: list[LedgerAccount]) -> None:
    session.execute(
        select(LedgerAccount.id)
        .where(LedgerAccount.id.in_([a.id for a in accounts]))
        .order_by(LedgerAccount.id)
        .with_for_update()
    )
    for account in accounts:
        session.refresh(account, ["balance"])


def _hold_until(organisation: Organisation):
    return clock.now() + timedelta(days=organisation.payout_hold_days)


# --- bonuses -------------------------------------------------------------------------


def create_bonus(
    session: Session,
    manager: User,
    *,
    trainer_id: uuid.UUID,
    amount: int,
    currency: str,
    reason: str,
    idempotency_key: str,
    project_id: uuid.UUID | None = None,
) -> tuple[Bonus, bool]:
    """Grant a bonus, paid into the trainer's payable (after the organisation's hold
    period). Returns the bonus and whether it is new: the same idempotency key again
    returns the first bonus and pays nothing (409 ``idempotency-key-reused`` when the
    other values differ), whatever races."""
    organisation = _organisation_of(session, manager)
    currency = _check_money(amount, currency, allow_negative=False)
    reason = _check_reason(reason)
    key = idempotency_key.strip()
    if not 1 <= len(key) <= KEY_MAX:
        raise Invalid(gettext("Give an idempotency key."),
                      errors={"idempotency_key": [gettext("1 to %(key_max)s characters.",
                                                          key_max=KEY_MAX)]})
    wanted = {"trainer_id": trainer_id, "amount": amount, "currency": currency,
              "reason": reason, "project_id": project_id}
    existing = _find_bonus(session, organisation.id, key)
    if existing is not None:
        return _replayed(existing, wanted), False
    trainer = _trainer_of(session, organisation.id, trainer_id)
    if project_id is not None:
        project = session.get(Project, project_id)
        if project is None or project.organisation_id != organisation.id:
            raise Invalid(gettext("No such project in your organisation."),
                          errors={"project_id": [gettext("Not a project of your organisation.")]})
    bonus = Bonus(
        organisation_id=organisation.id, trainer_id=trainer.id, project_id=project_id,
        amount=amount, currency=currency, reason=reason, idempotency_key=key,
        created_by_id=manager.id, created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(bonus)
            session.flush()  # the (organisation, key) unique key decides a race here
    except IntegrityError:
        found = _find_bonus(session, organisation.id, key)
        if found is None:
            raise
        return _replayed(found, wanted), False

    expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE,
                                          currency)
    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, currency)
    ledger.post_entry(
        session, source_type=SourceType.BONUS, source_id=bonus.id,
        reason=f"Bonus: {reason}", organisation_id=organisation.id, trainer_id=trainer.id,
        project_id=project_id, occurred_at=bonus.created_at,
        legs=[ledger.Leg(expense, amount),
              ledger.Leg(payable, -amount, available_at=_hold_until(organisation))],
    )
    audit.record(
        session, manager, "bonus.granted", object_type="bonus", object_id=bonus.id,
        organisation_id=organisation.id,
        after={**wanted, "idempotency_key": key, "organisation": organisation.name},
    )
    money = Money(amount, currency)
    tell(
        session, trainer.id, "earnings.bonus",
        {"organisation": organisation.name, "amount": texts.money(money), "reason": reason},
        {"bonus_id": str(bonus.id), "amount": amount, "currency": currency},
    )
    return bonus, True


def _find_bonus(session: Session, organisation_id: uuid.UUID, key: str) -> Bonus | None:
    return session.scalars(
        select(Bonus).where(Bonus.organisation_id == organisation_id,
                            Bonus.idempotency_key == key)
    ).one_or_none()


def _replayed(bonus: Bonus, wanted: dict) -> Bonus:
    first = {"trainer_id": bonus.trainer_id, "amount": bonus.amount,
             "currency": bonus.currency, "reason": bonus.reason, "project_id": bonus.project_id}
    if first != wanted:
        differs = sorted(name for name in wanted if wanted[name] != first[name])
        raise Conflict(
            gettext("This idempotency key was used for a different bonus: %(differs)s differ.",
                    differs=", ".join(differs)),
            code="idempotency-key-reused", bonus_id=str(bonus.id), differs=differs,
        )
    return bonus


def list_bonuses(
    session: Session, staff: User, page: PageRequest, *, trainer_id: uuid.UUID | None = None
) -> Page[Bonus]:
    """The organisation's bonuses, newest first."""
    stmt = select(Bonus).where(Bonus.organisation_id == staff.organisation_id)
    if trainer_id is not None:
        stmt = stmt.where(Bonus.trainer_id == trainer_id)
    return paginate(session, stmt, page, created_at=Bonus.created_at, row_id=Bonus.id)


# --- adjustments ---------------------------------------------------------------------


def create_adjustment(
    session: Session,
    finance: User,
    *,
    trainer_id: uuid.UUID,
    amount: int,
    currency: str,
    reason: str,
) -> Adjustment:
    """Correct a trainer's payable by ``amount`` (negative: take back). A negative
    adjustment larger than the available payable (the balance less what is on hold)
    is refused with 409 ``would-go-negative`` and writes nothing."""
    organisation = _organisation_of(session, finance)
    currency = _check_money(amount, currency, allow_negative=True)
    reason = _check_reason(reason)
    trainer = _trainer_of(session, organisation.id, trainer_id)
    if amount < 0:
        payable = ledger.find_payable(session, organisation.id, trainer.id, currency)
        if payable is None:
            raise _would_go_negative(0, amount, currency)
    else:
        payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                         AccountKind.PAYABLE, currency)
    expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE,
                                          currency)
    _lock(session, [expense, payable])
    now = clock.now()
    if amount < 0:
        available = ledger.available(session, payable, now)
        if available + amount < 0:
            raise _would_go_negative(available, amount, currency)
    before = -payable.balance
    adjustment = Adjustment(
        organisation_id=organisation.id, trainer_id=trainer.id, amount=amount,
        currency=currency, reason=reason, created_by_id=finance.id, created_at=now,
    )
    session.add(adjustment)
    session.flush()  # the id is the entry's source
    ledger.post_entry(
        session, source_type=SourceType.ADJUSTMENT, source_id=adjustment.id,
        reason=f"Adjustment: {reason}", organisation_id=organisation.id,
        trainer_id=trainer.id, occurred_at=now,
        # Money added is available at once: finance corrects what is already owed.
        legs=[ledger.Leg(expense, amount), ledger.Leg(payable, -amount)],
    )
    after = {"trainer_id": trainer.id, "amount": amount, "currency": currency,
             "reason": reason}
    audit.record(
        session, finance, "adjustment.created", object_type="adjustment",
        object_id=adjustment.id, organisation_id=organisation.id,
        before={"payable": before}, after={**after, "payable": -payable.balance},
    )
    money = Money(amount, currency)
    tell(
        session, trainer.id, "earnings.adjustment",
        {"organisation": organisation.name, "amount": texts.money(money), "reason": reason},
        {"adjustment_id": str(adjustment.id), "amount": amount, "currency": currency},
    )
    return adjustment


def _would_go_negative(available: int, amount: int, currency: str) -> Conflict:
    return Conflict(
        gettext("This would take the trainer's available payable balance (%(money)s) below zero.",
                money=Money(max(available, 0), currency)),
        code="would-go-negative", available=max(available, 0), amount=amount,
        currency=currency,
    )


def list_adjustments(
    session: Session, staff: User, page: PageRequest, *, trainer_id: uuid.UUID | None = None
) -> Page[Adjustment]:
    """The organisation's adjustments, newest first."""
    stmt = select(Adjustment).where(Adjustment.organisation_id == staff.organisation_id)
    if trainer_id is not None:
        stmt = stmt.where(Adjustment.trainer_id == trainer_id)
    return paginate(session, stmt, page, created_at=Adjustment.created_at, row_id=Adjustment.id)


# --- reversals -----------------------------------------------------------------------


def reverse_entry(
    session: Session, actor: Actor, organisation_id: uuid.UUID, entry_id: uuid.UUID,
    *, reason: str,
) -> JournalEntry:
    """Reverse an earning, bonus or adjustment of the organisation, once (409
    ``already-reversed``). Payout movements are not reversed by hand (409
    ``not-reversible``), nor is money the trainer no longer has available (409
    ``would-go-negative``)."""
    reason = _check_reason(reason)
    entry = session.get(JournalEntry, entry_id)
    if entry is None or entry.organisation_id != organisation_id:
        raise NotFound(gettext("No such journal entry."))
    if entry.source_type is SourceType.REVERSAL:
        raise Conflict(gettext("A reversal is not reversed; post a new entry."),
                       code="reversal-of-reversal")
    if entry.source_type not in REVERSIBLE_SOURCES:
        raise Conflict(
            gettext("A %(source_type)s entry follows its payout's lifecycle and is not reversed "
                    "by hand.", source_type=entry.source_type.value), code="not-reversible",
        )
    if ledger.find_entry(session, SourceType.REVERSAL, entry.id) is not None:
        raise Conflict(gettext("This entry has been reversed already."), code="already-reversed")
    legs = session.execute(
        select(Posting, LedgerAccount)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id == entry.id)
    ).all()
    _lock(session, sorted({a.id: a for _, a in legs}.values(), key=lambda a: a.id))
    now = clock.now()
    for posting, account in legs:
        is_payable = (account.owner_type is OwnerType.TRAINER
                      and account.kind is AccountKind.PAYABLE)
        if is_payable and posting.amount < 0:  # reversing takes money out of payable
            available = ledger.available(session, account, now, excluding_entry=entry.id)
            if available + posting.amount < 0:
                raise _would_go_negative(available, posting.amount, account.currency)
    reversal = ledger.reverse(session, entry.id, reason=f"Reversal: {reason}")
    audit.record(
        session, actor, "ledger.entry_reversed", object_type="journal_entry",
        object_id=entry.id, organisation_id=organisation_id,
        before={"source_type": entry.source_type.value, "source_id": entry.source_id},
        after={"reversal_id": reversal.id, "reason": reason},
    )
    if entry.trainer_id is not None:
        tell(
            session, entry.trainer_id, "earnings.reversal",
            {"entry": entry.reason, "reason": reason},
            {"entry_id": str(entry.id), "reversal_id": str(reversal.id)},
        )
    return reversal
