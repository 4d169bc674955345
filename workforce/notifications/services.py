"""The in-app inbox and the e-mail outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import User
from workforce.db import after_commit
from workforce.errors import NotFound
from workforce.i18n import _
from workforce.notifications.models import (
    SECRET_PLACEHOLDER,
    EmailStatus,
    Notification,
    OutboundEmail,
)
from workforce.pagination import Page, PageRequest, paginate

OUTBOX_KEY = "workforce.outbox"


def notify(
    session: Session,
    user_id: uuid.UUID,
    kind: str,
    title: str,
    body: str,
    data: dict[str, Any] | None = None,
) -> Notification:
    notification = Notification(
        user_id=user_id, kind=kind, title=title, body=body, data=data or {}, created_at=clock.now()
    )
    session.add(notification)
    return notification


def list_notifications(
    session: Session, user: User, page: PageRequest, *, unread_only: bool = False
) -> Page[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(
        session, stmt, page, created_at=Notification.created_at, row_id=Notification.id
    )


def unread_count(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def mark_read(session: Session, user: User, notification_id: uuid.UUID) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(_("No such notification."))
    if notification.read_at is None:
        notification.read_at = clock.now()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def queue_email(
    session: Session, to: str, subject: str, body: str, *,
    secret: str | None = None, secret_expires_at: datetime | None = None,
    deliver_now: bool = True,
) -> OutboundEmail:
    """Write an e-mail to the outbox; it is sent only once this transaction commits: at
    once after the commit, or with ``deliver_now=False`` by the outbox job within a
    minute (for messages written by the thousand, so that a request does not send them
    all before it answers).

    A one-time ``secret`` goes where ``body`` says ``SECRET_PLACEHOLDER``; it is kept
    apart from the body, only until the message is sent or ``secret_expires_at``."""
    if secret is not None and (SECRET_PLACEHOLDER not in body or secret_expires_at is None):
        raise ValueError("a secret needs its placeholder in the body and an expiry")
    email = OutboundEmail(to_address=to, subject=subject, body=body, secret=secret,
                          secret_expires_at=secret_expires_at)
    session.add(email)
    session.flush()  # assigns the id the after-commit delivery looks for
    outbox = session.info.get(OUTBOX_KEY)
    if outbox is not None and deliver_now:
        email_id = email.id
        after_commit(session, lambda: outbox.deliver([email_id]))
    return email


def withdraw_secret_emails(
    session: Session, to: str, *, secret_matches: Callable[[str], bool], reason: str
) -> int:
    """Give up the unsent messages to ``to`` whose secret no longer works (a revoked or
    replaced invitation): never sent, their secret erased. Returns how many."""
    pending = session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.to_address == to, OutboundEmail.status == EmailStatus.PENDING,
               OutboundEmail.secret.is_not(None))
        .with_for_update(skip_locked=True)
    )
    withdrawn = [email for email in pending if secret_matches(email.secret or "")]
    for email in withdrawn:
        email.give_up(reason)
    return len(withdrawn)
