from __future__ import annotations

from workforce import clock
from workforce.db import Database
from workforce.integrations import delivery, retention
from workforce.integrations.transport import Transport
from workforce.settings import Settings

PURGE_BATCH = 500


def deliver_webhooks(database: Database, transport: Transport) -> int:
    """Send the due webhook deliveries; returns how many attempts were made."""
    return delivery.deliver_due(database, transport).attempts


def purge_old_events(database: Database, settings: Settings) -> int:
    """Delete the webhook events past their retention, a batch per unit of work; how
    many were deleted."""
    total = 0
    while True:
        deleted = database.run(retention.purge_old_events, now=clock.now(),
                               retention=settings.webhook_event_retention,
                               limit=PURGE_BATCH)
        total += deleted
        if deleted < PURGE_BATCH:
            return total
