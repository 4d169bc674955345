"""The projects' scheduled work. Each job drains its service in batches, one unit of
work per batch so that row locks are held briefly; the services lock rows (``SKIP
LOCKED`` on PostgreSQL) so two schedulers never handle the same row twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from workforce import clock
from workforce.db import Database
from workforce.projects import budgets, hourly, project_states, reviews, tasks, timesheets

log = logging.getLogger(__name__)

BATCH = 200

BatchService = Callable[..., int]


def drain(database: Database, service: BatchService, *, now: datetime | None = None) -> int:
    """Call ``service(session, now=..., limit=BATCH)`` until a batch comes back short."""
    total = 0
    while True:
        handled = database.run(service, now=now or clock.now(), limit=BATCH)
        total += handled
        if handled < BATCH:
            break
    if total:
        log.info("%s handled %d", service.__name__, total, extra={"handled": total})
    return total


def expire_leases(database: Database) -> int:
    return drain(database, tasks.expire_leases)


def auto_approve_submissions(database: Database) -> int:
    return drain(database, reviews.auto_approve_submissions)


def close_idle_sessions(database: Database) -> int:
    return drain(database, hourly.close_idle_sessions)


def auto_approve_timesheets(database: Database) -> int:
    return drain(database, timesheets.auto_approve_timesheets)


def refresh_budgets(database: Database) -> int:
    return budgets.refresh_budgets(database)


def apply_due_suspensions(database: Database) -> int:
    return drain(database, project_states.apply_due_suspensions)

