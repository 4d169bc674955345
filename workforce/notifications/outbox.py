"""Delivery of the e-mail outbox, after commit and from the scheduler."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select

from workforce import clock
from workforce.db import Database
from workforce.notifications.models import EmailStatus, OutboundEmail
from workforce.notifications.senders import Email, EmailSender

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 100


class Outbox:
    def __init__(self, database: Database, sender: EmailSender) -> None:
        self.database = database
        self.sender = sender

    def deliver(self, ids: Sequence[uuid.UUID] | None = None) -> int:
        """Send pending e-mails (these ids, or the oldest batch); returns how many went out.

        Rows are locked while they are sent (``SKIP LOCKED`` on PostgreSQL), so the
        scheduler and an after-commit delivery never send the same message twice.
        """
        sent = 0
        with self.database.unit_of_work() as session:
            stmt = (
                select(OutboundEmail)
                .where(OutboundEmail.status == EmailStatus.PENDING)
                .order_by(OutboundEmail.created_at)
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
            if ids is not None:
                stmt = stmt.where(OutboundEmail.id.in_(list(ids)))
            for email in session.scalars(stmt):
                email.attempts += 1
                try:
                    self.sender.send(Email(email.to_address, email.subject, email.body))
                except Exception as exc:
                    email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    if email.attempts >= MAX_ATTEMPTS:
                        email.status = EmailStatus.FAILED
                    log.warning("email delivery failed", extra={"email_id": str(email.id)})
                    continue
                email.status = EmailStatus.SENT
                email.sent_at = clock.now()
                sent += 1
        return sent
