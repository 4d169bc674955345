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
from typing import Any

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
from workforce.notifications import services as notifications
from workforce.notifications.texts import amounts, moment

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
        # A run may leave out thousands: the outbox job sends the e-mails, not the approval.
        notifications.tell(session, trainer.id, KIND, {
            "organisation": organisation.name, "period_end": moment(run.period_end),
            "next_run_at": moment(next_run_at), **_why(exclusions, account, minimum),
        }, {
            "run_id": str(run.id), "organisation_id": str(run.organisation_id),
            "next_payout_at": next_run_at.isoformat(),
            "left_out": [{"currency": e.currency, "amount": e.amount,
                          "reason": e.reason.value} for e in exclusions],
        }, deliver_now=False)
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


def _why(exclusions: list[PayoutExclusion], account: PayoutAccount | None,
         minimum: Minimum) -> dict[str, Any]:
    """The notice's parameters: per reason, the amounts it leaves out."""
    said: dict[str, list[Money]] = {}
    for exclusion in exclusions:
        said.setdefault(_reason(exclusion, account), []).append(
            Money(exclusion.amount, exclusion.currency))
    params: dict[str, Any] = {reason: amounts(values) for reason, values in said.items()}
    if "details_changed" in said:
        params["hold_until"] = moment(account.hold_until if account else None)
    if "below_minimum" in said:
        params["minimum"] = amounts([Money(minimum(m.currency), m.currency)
                                     for m in said["below_minimum"]])
    return params


def _reason(exclusion: PayoutExclusion, account: PayoutAccount | None) -> str:
    """Which sentence of the notice says why ``exclusion`` was left out."""
    reason = exclusion.reason
    if reason is ExclusionReason.ACCOUNT_NOT_READY:
        stripe = account is not None and account.method is PayoutMethod.STRIPE
        return "stripe_not_ready" if stripe else "bank_details_missing"
    if reason is ExclusionReason.ON_HOLD:
        held = account is not None and payout_accounts.on_hold(account, clock.now())
        return "details_changed" if held else "in_hold_period"
    return {ExclusionReason.NO_PAYOUT_ACCOUNT: "no_payout_account",
            ExclusionReason.AFTER_PERIOD: "after_period"}.get(reason, "below_minimum")
