"""The wellbeing package's scheduled work: each job opens one unit of work and calls a
service, which keeps two schedulers from doing anything twice (unique keys)."""

from __future__ import annotations

import logging

from workforce import clock
from workforce.db import Database
from workforce.wellbeing import checkins

log = logging.getLogger(__name__)


def prompt_due_check_ins(database: Database) -> int:
    """Tell trainers whose check-in became due (once per period between check-ins)."""
    with database.unit_of_work() as session:
        told = checkins.prompt_due_check_ins(session, now=clock.now())
    if told:
        log.info("prompt_due_check_ins told %d", told, extra={"handled": told})
    return told
