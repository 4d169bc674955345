from __future__ import annotations

from workforce.db import Database
from workforce.integrations import delivery
from workforce.integrations.transport import Transport


def deliver_webhooks(database: Database, transport: Transport) -> int:
    """Send the due webhook deliveries; returns how many attempts were made."""
    return delivery.deliver_due(database, transport).attempts
