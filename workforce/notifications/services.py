"""The in-app inbox and the e-mail outbox."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import User
from workforce.db import after_commit
from workforce.errors import NotFound
from workforce.notifications.models import Notification, OutboundEmail
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
        raise NotFound("No such notification.")
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


def queue_email(session: Session, to: str, subject: str, body: str, *,
                deliver_now: bool = True) -> OutboundEmail:
    """Write an e-mail to the outbox; it is sent only once this transaction commits: at
    once after the commit, or with ``deliver_now=False`` by the outbox job within a
    minute (for messages written by the thousand, so that a request does not send them
    all before it answers)."""
    email = OutboundEmail(to_address=to, subject=subject, body=body)
    session.add(email)
    session.flush()  # assigns the id the after-commit delivery looks for
    outbox = session.info.get(OUTBOX_KEY)
    if outbox is not None and deliver_now:
        email_id = email.id
        after_commit(session, lambda: outbox.deliver([email_id]))
    return email
