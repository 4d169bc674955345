"""Telling trainers why a payout run left them out, and what to do about it.

When a run is approved its exclusions are final: each trainer owed money but left out
gets one notice for the run, in the app and by e-mail through the outbox (as other money
news that needs them to act; the outbox job sends these within a minute), naming per
currency the amount, the reason, what to do, and when the next run is. Approval happens
once per run, so the notice does too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import Organisation, User
from workforce.billing import payout_accounts
from workforce.billing.models import (
    ExclusionReason,
    PayoutAccount,
    PayoutExclusion,
    PayoutMethod,
    PayoutRun,
)
from workforce.money import Money
from workforce.notifications.services import notify, queue_email

NOTICE_BATCH = 500
KIND = "payout.left_out"

Minimum = Callable[[str], int]


def tell(session: Session, run: PayoutRun, *, minimum: Minimum,
         next_run_at: datetime) -> int:
    """Tell every trainer the run leaves out why (``minimum``: the run's minimum per
    currency); returns how many were told."""
    organisation = session.get(Organisation, run.organisation_id)
    assert organisation is not None
    told = 0
    for trainer, account, exclusions in _left_out(session, run.id):
        lines = [f"- {Money(e.amount, e.currency)}: "
                 f"{_why(e, account, organisation.name, minimum)}" for e in exclusions]
        title = f"Not paid in {organisation.name}'s payout run"
        body = (f"{organisation.name}'s payout run for the period ending "
                f"{_when(run.period_end)} did not pay you:\n" + "\n".join(lines)
                + f"\nThe money stays owed to you. The next payout run is on "
                f"{_when(next_run_at)}.")
        notify(session, trainer.id, KIND, title, body, {
            "run_id": str(run.id), "organisation_id": str(run.organisation_id),
            "next_payout_at": next_run_at.isoformat(),
            "left_out": [{"currency": e.currency, "amount": e.amount,
                          "reason": e.reason.value} for e in exclusions],
        })
        if trainer.is_active:
            # A run may leave out thousands: the outbox job sends these, not the approval.
            queue_email(session, trainer.email, title, body, deliver_now=False)
        told += 1
    return told


def _left_out(
    session: Session, run_id: uuid.UUID,
) -> Iterator[tuple[User, PayoutAccount | None, list[PayoutExclusion]]]:
    """The run's exclusions per trainer (with their payout account), a batch of
    trainers at a time."""
    after: uuid.UUID | None = None
    while True:
        stmt = (select(PayoutExclusion.trainer_id).where(PayoutExclusion.run_id == run_id)
                .distinct().order_by(PayoutExclusion.trainer_id).limit(NOTICE_BATCH))
        if after is not None:
            stmt = stmt.where(PayoutExclusion.trainer_id > after)
        trainer_ids = list(session.scalars(stmt))
        if not trainer_ids:
            return
        rows = session.execute(
            select(PayoutExclusion, User, PayoutAccount)
            .join(User, User.id == PayoutExclusion.trainer_id)
            .outerjoin(PayoutAccount, PayoutAccount.trainer_id == PayoutExclusion.trainer_id)
            .where(PayoutExclusion.run_id == run_id,
                   PayoutExclusion.trainer_id.in_(trainer_ids))
            .order_by(PayoutExclusion.trainer_id, PayoutExclusion.currency)
        ).all()
        for _, group in groupby(rows, key=lambda row: row[1].id):
            found = list(group)
            yield found[0][1], found[0][2], [row[0] for row in found]
        after = trainer_ids[-1]


def _why(exclusion: PayoutExclusion, account: PayoutAccount | None, organisation: str,
         minimum: Minimum) -> str:
    reason = exclusion.reason
    if reason is ExclusionReason.NO_PAYOUT_ACCOUNT:
        return ("you have no payout account. Set one up (Stripe, or bank details) in your "
                "payout settings.")
    if reason is ExclusionReason.ACCOUNT_NOT_READY:
        if account is not None and account.method is PayoutMethod.STRIPE:
            return ("your Stripe account cannot receive payouts yet. Open your payout "
                    "settings to finish Stripe's onboarding.")
        return "your bank details are missing. Add them in your payout settings."
    if reason is ExclusionReason.ON_HOLD:
        if account is not None and payout_accounts.on_hold(account, clock.now()):
            return (f"your payouts are held until {_when(account.hold_until)} because your "
                    "payout details changed. If you did not change them, contact support "
                    "now.")
        return (f"it is still in {organisation}'s hold period; it goes out with the first "
                "run after the hold ends.")
    if reason is ExclusionReason.AFTER_PERIOD:
        return ("it became payable after this run's period ended; it goes out with the "
                "next run.")
    return (f"it is below {organisation}'s payout minimum of "
            f"{Money(minimum(exclusion.currency), exclusion.currency)}; it carries over "
            "until what you are owed reaches the minimum.")


def _when(moment: datetime | None) -> str:
    return f"{clock.as_utc(moment):%Y-%m-%d %H:%M} UTC" if moment else "later"
