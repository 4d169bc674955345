from __future__ import annotations

import logging

from workforce.assessments import attempts
from workforce.db import Database

log = logging.getLogger(__name__)


def close_expired_attempts(database: Database) -> int:
    """Close attempts whose time ran out, a batch per unit of work so that locks are
    held briefly, until none is left; returns how many were closed."""
    total = 0
    while True:
        closed = database.run(attempts.close_expired_attempts, limit=attempts.CLOSE_BATCH)
        if closed:
            log.info("closed expired attempts", extra={"closed": closed})
        total += closed
        if closed < attempts.CLOSE_BATCH:
            return total
