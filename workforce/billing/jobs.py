"""The payouts' scheduled work. Each job opens its own units of work and calls a service;
every rule lives in the services, which rely on unique keys and row locks (never on
there being one scheduler) so two schedulers can run them at once.

- ``create_due_runs``: every few minutes. One unit of work per run, so a large run's
  build does not hold the others back and a failure leaves the others created.
- ``process_approved_runs``: every minute; sends approved items, resumes after crashes
  and retries items left approved after retryable errors.
- ``reconcile``: daily; compares the last days' payouts with the transfers at Stripe and
  tells finance about every difference.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from workforce import clock
from workforce.billing import counselling, fair_pay, processing, reconciliation
from workforce.billing.gateways import PayoutGateway
from workforce.billing.models import PayoutSchedule
from workforce.billing.payouts import build
from workforce.db import Database
from workforce.settings import Settings

log = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=3)
# Transfers of the last minutes may still be on their way into the ledger.
RECONCILE_SETTLE = timedelta(minutes=15)


def create_due_runs(database: Database, *, now: datetime | None = None) -> int:
    """Create (and build) the run of every schedule's latest due period that has none."""
    now = now or clock.now()
    due = database.run(lambda session: [(period_end, schedule.id) for period_end, schedule
                                        in build.due_periods(session, now=now)])
    created = sum(database.run(_create_run, schedule_id, period_end)
                  for period_end, schedule_id in due)
    if created:
        log.info("payout runs created", extra={"handled": created})
    return created


def _create_run(session: Session, schedule_id: uuid.UUID, period_end: datetime) -> bool:
    schedule = session.get(PayoutSchedule, schedule_id)
    if schedule is None or not schedule.active:
        return False
    return build.ensure_run(session, build.SCHEDULER, schedule, period_end)[1]


def process_approved_runs(database: Database, gateway: PayoutGateway | None,
                          settings: Settings) -> int:
    """Send the approved items of every approved run (not halted) through the gateway."""
    handled = processing.process_approved_runs(
        database, gateway, rate=settings.payout_requests_per_second,
        concurrency=settings.payout_concurrency,
    )
    if handled:
        log.info("payout items processed", extra={"handled": handled})
    return handled


def reconcile(database: Database, gateway: PayoutGateway | None, *,
              now: datetime | None = None) -> int:
    """Reconcile the last few days' payouts with Stripe; returns how many differences
    were found (each organisation's finance users are told about theirs)."""
    if gateway is None:
        return 0
    now = now or clock.now()
    result = database.run(reconciliation.reconcile, gateway, period_from=now - RECONCILE_WINDOW,
                          period_to=now - RECONCILE_SETTLE, notify=True)
    return len(result.differences)


# --- fair pay and the counselling allowance --------------------------------------------


def settle_fair_pay(database: Database, *, now: datetime | None = None) -> int:
    """Settle every per-task week whose review period has passed (and re-measure weeks
    with work approved since), one unit of work per week; then clear under-priced marks
    that a rate now in force meets. Returns how many top-ups were posted."""
    now = now or clock.now()
    due = database.run(fair_pay.due_weeks, now=now)
    posted = sum(database.run(fair_pay.settle_week, key, now=now) is not None for key in due)
    database.run(fair_pay.review_underpriced, now=now)
    if posted:
        log.info("wage-floor top-ups posted", extra={"handled": posted})
    return posted


def grant_counselling_allowances(database: Database, *, now: datetime | None = None) -> int:
    """Post the counselling allowance of every trainer whose month's exposure passed
    their organisation's mark, one unit of work each. Returns how many were posted."""
    now = now or clock.now()
    keys = database.run(counselling.candidates, now=now)
    posted = sum(database.run(counselling.grant_if_due, key, now=now) is not None
                 for key in keys)
    if posted:
        log.info("counselling allowances posted", extra={"handled": posted})
    return posted
