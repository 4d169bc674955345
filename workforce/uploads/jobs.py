"""The scheduler's work on uploaded files: deleting those past their retention and those
no answer named within a day, a batch per unit of work (``SKIP LOCKED``: two schedulers
never delete one file twice)."""

from __future__ import annotations

from workforce import clock
from workforce.db import Database
from workforce.storage import FileStore
from workforce.uploads import retention

BATCH = 100


def delete_expired_files(database: Database, store: FileStore) -> int:
    total = 0
    while True:
        handled = database.run(retention.delete_due, store, now=clock.now(), limit=BATCH)
        total += handled
        if handled < BATCH:
            return total
