"""Where a trainer is paid: a Stripe Connect Express account or manual bank details.

A trainer has at most one ``PayoutAccount``. The first setup pays from the next run;
any later change of where the money goes (another method, other bank details, another
Stripe account) holds the trainer's payouts until
``hold_until`` and tells the trainer in the app and by e-mail, so that someone who took
over the login cannot quietly redirect the next payout.

Readiness: a Stripe account is ready when Stripe says ``payouts_enabled`` (kept current
from ``account.updated`` webhooks, or re-read on request); manual details are ready once
they exist.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import Role, User
from workforce.billing.gateways import ConnectedAccount, PayoutGateway
from workforce.billing.models import EarningEvent, PayoutAccount, PayoutMethod
from workforce.errors import Conflict, Forbidden, Invalid, NotFound
from workforce.i18n import _
from workforce.notifications import services as notifications
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import Project, ProjectMember

# What of Stripe's ``requirements`` a trainer needs to see (the rest is noise to them).
REQUIREMENT_KEYS = ("currently_due", "past_due", "eventually_due", "disabled_reason",
                    "current_deadline")
WEBHOOK_ACTOR = audit.SystemActor("stripe-webhook")


@dataclass(frozen=True)
class StripeOnboarding:
    account: PayoutAccount
    onboarding_url: str
    created: bool


def find_payout_account(session: Session, trainer_id: uuid.UUID) -> PayoutAccount | None:
    return session.scalar(select(PayoutAccount).where(PayoutAccount.trainer_id == trainer_id))


def find_by_stripe_account(session: Session, stripe_account_id: str) -> PayoutAccount | None:
    return session.scalar(
        select(PayoutAccount).where(PayoutAccount.stripe_account_id == stripe_account_id)
    )


def get_own_payout_account(session: Session, trainer: User) -> PayoutAccount:
    _require_trainer(trainer)
    account = find_payout_account(session, trainer.id)
    if account is None:
        raise NotFound(_("You have not set up a payout account yet."))
    return account


def list_for_organisation(
    session: Session, staff: User, page: PageRequest, *, trainer_id: uuid.UUID | None = None,
) -> Page[PayoutAccount]:
    """Payout accounts of the trainers who worked for the caller's organisation (earned
    there or were staffed on its projects), for finance to see who can be paid."""
    stmt = _within_reach(staff)
    if trainer_id is not None:
        stmt = stmt.where(PayoutAccount.trainer_id == trainer_id)
    return paginate(session, stmt, page, created_at=PayoutAccount.created_at,
                    row_id=PayoutAccount.id)


def get_for_organisation(session: Session, staff: User,
                         account_id: uuid.UUID) -> PayoutAccount:
    """One payout account of a trainer who worked for the caller's organisation."""
    account = session.scalar(_within_reach(staff).where(PayoutAccount.id == account_id))
    if account is None:
        raise NotFound(_("No such payout account."))
    return account


def _within_reach(staff: User) -> Any:
    if staff.organisation_id is None:
        raise Forbidden(_("Only staff of an organisation see its trainers' payout accounts."))
    earned = select(EarningEvent.trainer_id).where(
        EarningEvent.organisation_id == staff.organisation_id
    )
    staffed = (
        select(ProjectMember.trainer_id)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(Project.organisation_id == staff.organisation_id)
    )
    return select(PayoutAccount).where(
        or_(PayoutAccount.trainer_id.in_(earned), PayoutAccount.trainer_id.in_(staffed))
    )


def is_ready(account: PayoutAccount | None) -> bool:
    """Can money be sent to this account now (ignoring any hold)?"""
    if account is None:
        return False
    if account.method is PayoutMethod.MANUAL:
        return bool(account.bank_details)
    return bool(account.stripe_account_id) and account.payouts_enabled


def on_hold(account: PayoutAccount, now: datetime | None = None) -> bool:
    """Are payouts held because the details changed recently?"""
    if account.hold_until is None:
        return False
    return clock.as_utc(account.hold_until) > (now or clock.now())


def connect_stripe(
    session: Session, trainer: User, gateway: PayoutGateway | None, *,
    refresh_url: str, return_url: str, hold: timedelta,
) -> StripeOnboarding:
    """Create (once) the trainer's Express account and a fresh onboarding link.

    Calling again returns a new link for the same account. The account is created with
    an idempotency key derived from the trainer, so a retry after a failure (before our
    commit) gets the same Stripe account back instead of a second one.
    """
    _require_trainer(trainer)
    if gateway is None:
        raise Conflict(_("Stripe is not configured; set up manual bank details instead."),
                       code="stripe-not-configured")
    _lock_trainer(session, trainer)
    account = find_payout_account(session, trainer.id)
    created = False
    if account is None or not account.stripe_account_id:
        connected = gateway.create_account(
            email=trainer.email, country=trainer.country,
            idempotency_key=_account_key(trainer),
        )
        created = True
    else:
        connected = None
    before = _snapshot(account)
    if account is None:
        account = PayoutAccount(trainer_id=trainer.id, method=PayoutMethod.STRIPE,
                                requirements={}, bank_details={})
        session.add(account)
    if connected is not None:
        account.stripe_account_id = connected.id
        _apply_readiness(account, connected)
    elif account.method is not PayoutMethod.STRIPE:
        # Back to the Stripe account the trainer had before: its readiness may be stale.
        _apply_readiness(account, gateway.retrieve_account(account.stripe_account_id or ""))
    account.method = PayoutMethod.STRIPE
    session.flush()  # the account id, for the audit record
    _record_change(session, trainer, account, before, hold=hold)
    url = gateway.create_account_link(account.stripe_account_id or "",
                                      refresh_url=refresh_url, return_url=return_url)
    return StripeOnboarding(account, url, created)


def set_manual_details(
    session: Session, trainer: User, details: dict[str, Any], *, hold: timedelta,
) -> PayoutAccount:
    """Store the trainer's bank details for the manual method (finance pays by hand).

    ``details``: holder_name, bank_name, country, and ``iban`` or ``account_number`` with
    ``bank_code``. Saving the same details again changes nothing.
    """
    _require_trainer(trainer)
    bank = normalise_bank_details(details)
    _lock_trainer(session, trainer)
    account = find_payout_account(session, trainer.id)
    before = _snapshot(account)
    if account is None:
        account = PayoutAccount(trainer_id=trainer.id, method=PayoutMethod.MANUAL,
                                requirements={}, bank_details={})
        session.add(account)
    account.method = PayoutMethod.MANUAL
    account.bank_details = bank
    # Manual details need nothing more from anyone: ready as soon as they exist.
    account.payouts_enabled = True
    account.requirements = {}
    session.flush()
    _record_change(session, trainer, account, before, hold=hold)
    return account


def update_from_stripe(
    session: Session, connected: ConnectedAccount, *, actor: audit.Actor = WEBHOOK_ACTOR,
) -> PayoutAccount | None:
    """Bring a payout account's readiness in line with Stripe's account; tell the trainer
    when it becomes ready or stops being ready. None if no trainer has this account."""
    account = session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.stripe_account_id == connected.id)
        .with_for_update()
    )
    if account is None:
        return None
    was_ready, before_requirements = account.payouts_enabled, account.requirements
    _apply_readiness(account, connected)
    if (account.payouts_enabled, account.requirements) == (was_ready, before_requirements):
        return account
    audit.record(
        session, actor, "payout_account.readiness_changed", object_type="payout_account",
        object_id=account.id, organisation_id=None,
        before={"payouts_enabled": was_ready, "requirements": before_requirements},
        after={"payouts_enabled": account.payouts_enabled,
               "requirements": account.requirements},
    )
    if account.payouts_enabled != was_ready and account.method is PayoutMethod.STRIPE:
        _notify_readiness(session, account)
    session.flush()
    return account


def refresh_from_stripe(
    session: Session, actor: User, account: PayoutAccount, gateway: PayoutGateway | None,
) -> PayoutAccount:
    """Re-read the account's readiness from Stripe now, for when an ``account.updated``
    webhook is late or lost (a trainer back from onboarding, finance checking who can be
    paid). A change is audited as the caller's and tells the trainer, as from a webhook."""
    if gateway is None:
        raise Conflict(_("Stripe is not configured on this server."),
                       code="stripe-not-configured")
    if account.method is not PayoutMethod.STRIPE or not account.stripe_account_id:
        raise Conflict(_("This payout account is paid by bank transfer; Stripe has nothing to say "
                         "about it."), code="not-stripe")
    connected = gateway.retrieve_account(account.stripe_account_id)
    refreshed = update_from_stripe(session, connected, actor=actor)
    assert refreshed is not None  # the account is ours, locked by the update
    return refreshed


# --- manual bank details --------------------------------------------------------------

_ACCOUNT_NUMBER = re.compile(r"^[A-Z0-9]{4,34}$")
_BANK_CODE = re.compile(r"^[A-Z0-9]{2,20}$")


def normalise_bank_details(details: dict[str, Any]) -> dict[str, Any]:
    """Checked and normalised bank details, or ``Invalid`` naming every bad field."""
    errors: dict[str, list[str]] = {}
    iban = _compact(details.get("iban"))
    number = _compact(details.get("account_number"))
    bank_code = _compact(details.get("bank_code"))
    country = str(details.get("country") or "").upper()
    bank: dict[str, Any] = {
        "holder_name": details.get("holder_name"),
        "bank_name": details.get("bank_name"),
        "country": country,
    }
    if iban and (number or bank_code):
        errors["iban"] = [_("Give either an IBAN or an account number with a bank code.")]
    elif iban:
        problem = _iban_problem(iban)
        if problem:
            errors["iban"] = [_("Not a valid IBAN: %(problem)s.", problem=problem)]
        elif country and iban[:2] != country:
            errors["country"] = [_("The IBAN is for country %(value)s, not %(country)s.",
                                   value=iban[:2], country=country)]
        bank["iban"] = iban
    else:
        if not number:
            errors["account_number"] = [_("Give an IBAN, or an account number and a bank code.")]
        elif not _ACCOUNT_NUMBER.match(number):
            errors["account_number"] = [_("Use 4 to 34 letters and digits.")]
        if not bank_code:
            errors["bank_code"] = [_("A bank code (routing or sort code) goes with the account "
                                     "number.")]
        elif not _BANK_CODE.match(bank_code):
            errors["bank_code"] = [_("Use 2 to 20 letters and digits.")]
        bank.update(account_number=number, bank_code=bank_code)
    if errors:
        raise Invalid(_("The bank details are not valid: %(fields)s.",
                        fields=", ".join(sorted(errors))), errors=errors)
    return bank


def masked_bank_details(bank: dict[str, Any]) -> dict[str, Any]:
    """Bank details fit to show: the account number reduced to its last four characters."""
    if not bank:
        return {}
    shown = {k: bank.get(k) for k in ("holder_name", "bank_name", "country")}
    if bank.get("iban"):
        shown["iban"] = mask(bank["iban"], keep_start=2)
    if bank.get("account_number"):
        shown["account_number"] = mask(bank["account_number"])
        shown["bank_code"] = bank.get("bank_code")
    return shown


def mask(value: str, *, keep_start: int = 0, keep_end: int = 4) -> str:
    hidden = max(len(value) - keep_start - keep_end, 0)
    visible_end = value[-keep_end:] if len(value) > keep_end else ""
    return value[:keep_start] + "•" * max(hidden, 4) + visible_end


def _compact(value: Any) -> str:
    return re.sub(r"[\s-]", "", str(value or "")).upper()


def _iban_problem(iban: str) -> str | None:
    """What is wrong with an IBAN (country, length, structure, check digits), by
    schwifty's registry of national formats; None when it is valid."""
    try:
        IBAN(iban)
    except SchwiftyException as exc:
        return str(exc).rstrip(".").lower()
    return None


# --- changes, holds and notices -------------------------------------------------------


def _snapshot(account: PayoutAccount | None) -> dict[str, Any] | None:
    """Where the money goes, as compared to decide whether details changed (bank details
    as a fingerprint, so the audit log never holds an account number)."""
    if account is None:
        return None
    return {
        "method": account.method.value,
        "stripe_account_id": account.stripe_account_id
        if account.method is PayoutMethod.STRIPE else None,
        "bank_details": _fingerprint(account.bank_details)
        if account.method is PayoutMethod.MANUAL else None,
    }


def _fingerprint(bank: dict[str, Any]) -> str | None:
    if not bank:
        return None
    canonical = "|".join(f"{k}={bank[k]}" for k in sorted(bank))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _record_change(session: Session, trainer: User, account: PayoutAccount,
                   before: dict[str, Any] | None, *, hold: timedelta) -> None:
    after = _snapshot(account)
    if before == after:
        return
    if before is None:
        account.details_changed_at = clock.now()
        audit.record(session, trainer, "payout_account.created", object_type="payout_account",
                     object_id=account.id, organisation_id=None, after=after)
        session.flush()
        return
    _hold(session, trainer, account, hold=hold, actor=trainer, before=before, after=after)


def _hold(session: Session, trainer: User, account: PayoutAccount, *, hold: timedelta,
          actor: audit.Actor, before: dict[str, Any], after: dict[str, Any] | None) -> None:
    now = clock.now()
    previous_hold = account.hold_until
    account.details_changed_at = now
    account.hold_until = now + hold
    audit.record(
        session, actor, "payout_account.details_changed", object_type="payout_account",
        object_id=account.id, organisation_id=None,
        before={**before, "hold_until": previous_hold},
        after={**(after or {}), "hold_until": account.hold_until},
    )
    notifications.tell(session, trainer.id, "payout_account.changed",
                       {"changed_at": moment(now), "hold_until": moment(account.hold_until)},
                       {"payout_account_id": str(account.id),
                        "hold_until": account.hold_until.isoformat()})
    session.flush()


def _notify_readiness(session: Session, account: PayoutAccount) -> None:
    ready = account.payouts_enabled
    due = None if ready else ", ".join(account.requirements.get("currently_due") or [])
    notifications.tell(session, account.trainer_id, "payout_account.readiness",
                       {"ready": ready, "due": due, "unsaid": not ready and not due},
                       {"payout_account_id": str(account.id),
                        "payouts_enabled": account.payouts_enabled})


def _apply_readiness(account: PayoutAccount, connected: ConnectedAccount) -> None:
    account.payouts_enabled = connected.payouts_enabled
    account.requirements = {
        key: connected.requirements.get(key) for key in REQUIREMENT_KEYS
        if key in connected.requirements
    }


def _account_key(trainer: User) -> str:
    # Derived from the trainer (and what is sent), so retries reuse the account, and a
    # changed e-mail does not meet Stripe's "same key, other parameters" refusal.
    sent = hashlib.sha256(f"{trainer.email}|{trainer.country}".encode()).hexdigest()[:12]
    return f"payout-account-{trainer.id}-{sent}"


def _lock_trainer(session: Session, trainer: User) -> None:
    # Changes to one trainer's payout account take turns (two clicks, two tabs).
    session.execute(select(User.id).where(User.id == trainer.id).with_for_update())


def _require_trainer(user: User) -> None:
    if user.role is not Role.TRAINER:
        raise Forbidden(_("Only trainers have payout accounts."))
