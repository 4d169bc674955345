"""The wellbeing package's scheduled work: each job opens units of work and calls a
service; the services lock rows (``SKIP LOCKED`` on PostgreSQL) or rely on unique keys,
so two schedulers never handle anything twice."""

from __future__ import annotations

import logging

from workforce import clock
from workforce.db import Database
from workforce.wellbeing import checkins, sessions

log = logging.getLogger(__name__)

BATCH = 200


def close_sessions_at_limits(database: Database) -> int:
    """Every minute: stop the running sessions that reached an exposure limit. Pages
    through the running sessions on sensitive projects, one unit of work per page."""
    now = clock.now()
    after = None
    closed = 0
    while True:
        batch = database.run(sessions.close_sessions_at_limits, now=now, limit=BATCH,
                             after=after)
        closed += batch.closed
        after = batch.last
        if batch.examined < BATCH:
            break
    if closed:
        log.info("close_sessions_at_limits closed %d", closed, extra={"handled": closed})
    return closed


def prompt_due_check_ins(database: Database) -> int:
    """Tell trainers whose check-in became due (once per period between check-ins)."""
    told = database.run(checkins.prompt_due_check_ins, now=clock.now())
    if told:
        log.info("prompt_due_check_ins told %d", told, extra={"handled": told})
    return told
