"""The scheduler's work on trainers' own data: preparing the archives asked for,
deleting them after their day, and carrying out erasures whose grace period is over.
Each batch is one unit of work; rows are locked with ``SKIP LOCKED``, so two schedulers
never handle one row twice."""

from __future__ import annotations

import logging
from collections.abc import Callable

from workforce import clock
from workforce.db import Database
from workforce.privacy import erasure, exports
from workforce.privacy.storage import ExportStore
from workforce.settings import Settings
from workforce.storage import FileStore

log = logging.getLogger(__name__)

# Archives can be large: a few per unit of work.
EXPORT_BATCH = 5
BATCH = 100


def _drain(database: Database, work: Callable[..., int], batch: int, *args: object,
           **kwargs: object) -> int:
    total = 0
    while True:
        handled = database.run(work, *args, now=clock.now(), limit=batch, **kwargs)
        total += handled
        if handled < batch:
            return total


def prepare_data_exports(database: Database, store: ExportStore, settings: Settings,
                         files: FileStore) -> int:
    return _drain(database, exports.prepare_requested_exports, EXPORT_BATCH, store,
                  lifetime=settings.data_export_lifetime, files=files)


def delete_expired_exports(database: Database, store: ExportStore) -> int:
    return _drain(database, exports.delete_expired_exports, BATCH, store)


def carry_out_erasures(database: Database, store: ExportStore, files: FileStore) -> int:
    """One batch of erasures whose grace period is over, those still waiting for money
    owed among them (looked at again on every run); how many were completed."""
    return database.run(erasure.carry_out_due_erasures, store, now=clock.now(), limit=BATCH,
                        files=files)
