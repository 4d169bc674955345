from __future__ import annotations

import logging
from datetime import timedelta

from workforce.accounts import services
from workforce.db import Database

log = logging.getLogger(__name__)

# Expired tokens are kept a while so "why was I logged out" can still be answered.
KEEP_EXPIRED = timedelta(days=30)


def purge_expired_credentials(database: Database) -> int:
    removed = database.run(services.purge_expired_credentials, older_than=KEEP_EXPIRED)
    log.info("purged expired credentials", extra={"removed": removed})
    return removed
