"""Delivery of the e-mail outbox, after commit and from the scheduler."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.db import Database
from workforce.notifications.models import EmailStatus, OutboundEmail
from workforce.notifications.senders import Email, EmailSender

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 100
EXPIRED = "Its one-time link expired before it could be sent; the secret was erased."


class Outbox:
    def __init__(self, database: Database, sender: EmailSender) -> None:
        self.database = database
        self.sender = sender

    def deliver(self, ids: Sequence[uuid.UUID] | None = None) -> int:
        """Send pending e-mails (these ids, or the oldest batch); returns how many went out.

        Rows are locked while they are sent (``SKIP LOCKED`` on PostgreSQL), so the
        scheduler and an after-commit delivery never send the same message twice. The
        scheduler's pass (no ids) first gives up every message whose secret expired
        unsent, so that no token outlives its lifetime in the table by more than a pass.
        """
        sent = 0
        # Not run again on a deadlock (Database.run): what it sent would go twice; the
        # scheduler's next pass sends what is left.
        with self.database.unit_of_work() as session:
            now = clock.now()
            if ids is None:
                _give_up_expired(session, now)
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
                if email.secret is not None and email.secret_expires_at <= now:
                    email.give_up(EXPIRED)
                    continue
                sent += self._send(email)
        return sent

    def _send(self, email: OutboundEmail) -> int:
        email.attempts += 1
        try:
            self.sender.send(Email(email.to_address, email.subject, email.rendered_body(),
                                   email.rendered_html()))
        except Exception as exc:
            # The exception's text, never the body: the body may carry the secret.
            email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if email.attempts >= MAX_ATTEMPTS:
                email.give_up(email.last_error)
            log.warning("email delivery failed", extra={"email_id": str(email.id)})
            return 0
        email.status = EmailStatus.SENT
        email.sent_at = clock.now()
        email.secret = None
        return 1


def _give_up_expired(session: Session, now: datetime) -> None:
    """Every unsent message whose secret expired, in one statement; rows another
    deliverer is sending right now are left to it."""
    expired = (
        select(OutboundEmail.id)
        .where(OutboundEmail.status == EmailStatus.PENDING,
               OutboundEmail.secret.is_not(None), OutboundEmail.secret_expires_at <= now)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        update(OutboundEmail).where(OutboundEmail.id.in_(expired.scalar_subquery()))
        .values(status=EmailStatus.FAILED, last_error=EXPIRED, secret=None)
        .execution_options(synchronize_session=False)
    )
