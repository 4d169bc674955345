"""The in-app inbox and the e-mail outbox."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import User
from workforce.db import after_commit, ordered_id, rows_insert
from workforce.errors import Invalid, NotFound
from workforce.i18n import DEFAULT_LOCALE, _, locale_of
from workforce.notifications.models import (
    SECRET_PLACEHOLDER,
    EmailOptOut,
    EmailStatus,
    Notification,
    OutboundEmail,
)
from workforce.notifications.render import Text, render, say
from workforce.notifications.texts import (
    EMAIL_REQUIRED,
    NO_SUCH_KIND,
    NOTICES,
    TOPIC_REQUIRED,
    Topic,
)
from workforce.pagination import Page, PageRequest, paginate

OUTBOX_KEY = "workforce.outbox"
TITLE_MAX = 200


# --- notices: in-app and by e-mail, in the reader's language ----------------------------


def tell(
    session: Session, user_id: uuid.UUID, kind: str, params: Mapping[str, Any],
    data: dict[str, Any] | None = None, *, deliver_now: bool = True,
) -> uuid.UUID:
    """Tell the user of a notice of the registry (``notifications.texts``): in the inbox,
    put into words when read, and by e-mail in their saved language unless they turned
    this kind off (never possible for money or access). ``deliver_now=False`` for notices
    written by the thousand (see ``queue_email``). The notification's id."""
    return tell_many(session, kind, [Notice(user_id, params, data)],
                     deliver_now=deliver_now)[0]


@dataclass(frozen=True)
class Notice:
    """One user's notice of a kind: its parameters and data."""

    user_id: uuid.UUID
    params: Mapping[str, Any]
    data: dict[str, Any] | None = None


def tell_many(
    session: Session, kind: str, notices: list[Notice], *, deliver_now: bool = True,
) -> list[uuid.UUID]:
    """``tell`` each user their notice of ``kind``; the notifications' ids in order.

    The users, their opt-outs, the notifications and the e-mails are read and written a
    statement each for all of them, by Core statements built once, not by the unit of
    work: the payout processor tells a trainer of each payment, up to 100 a second
    (bench/RESULTS.md, item 27 and round 6). The session's pending changes are flushed
    first, so that what they refer to exists."""
    if not notices:
        return []
    session.flush()
    wanted = list(dict.fromkeys(notice.user_id for notice in notices))
    users = {user.id: user for user in session.execute(_users_stmt(), {"ids": wanted})}
    unknown = [user_id for user_id in wanted if user_id not in users]
    if unknown:
        raise NoResultFound(f"no user {unknown[0]}")
    opted_out = _opted_out(session, kind, wanted)
    now = clock.now()
    rows, emails = [], []
    for notice in notices:
        user = users[notice.user_id]
        english = render(kind, dict(notice.params), DEFAULT_LOCALE, user.timezone)
        rows.append({
            "id": ordered_id(),  # the inbox reads in order of (time, id)
            "user_id": user.id, "kind": kind, "title": _fit(english.title),
            "body": english.body, "data": notice.data or {}, "params": dict(notice.params),
            "created_at": now, "read_at": None})
        if user.id not in opted_out:
            locale = locale_of(user)
            text = english if locale == DEFAULT_LOCALE else render(
                kind, dict(notice.params), locale, user.timezone)
            emails.append(_email_of(user.email, text))
    session.execute(rows_insert(Notification.__table__), rows)
    queue_emails(session, emails, deliver_now=deliver_now)
    return [row["id"] for row in rows]


@functools.cache
def _users_stmt() -> Any:
    table = User.__table__
    return select(table.c.id, table.c.email, table.c.timezone, table.c.locale).where(
        table.c.id.in_(bindparam("ids", expanding=True)))


def _opted_out(session: Session, kind: str, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Who of ``user_ids`` gets no e-mail of ``kind``: everyone when it is not e-mailed,
    no one when it must be, else those who turned it off."""
    notice = NOTICES[kind]
    if not notice.email:
        return set(user_ids)
    if notice.email_required:
        return set()
    return set(session.scalars(_opted_out_many_stmt(), {"kind": kind, "ids": user_ids}))


@functools.cache
def _opted_out_many_stmt() -> Any:
    table = EmailOptOut.__table__
    return select(table.c.user_id).where(
        table.c.kind == bindparam("kind"),
        table.c.user_id.in_(bindparam("ids", expanding=True)))


def email_user(
    session: Session, user: User, kind: str, params: Mapping[str, Any], *,
    secret: str | None = None, secret_expires_at: datetime | None = None,
    deliver_now: bool = True,
) -> uuid.UUID:
    """The notice of ``kind`` e-mailed to ``user`` in their saved language (else
    English), its moments in their time zone; the e-mail's id."""
    return email_to(session, user.email, kind, params, locale=locale_of(user),
                    zone=user.timezone, secret=secret, secret_expires_at=secret_expires_at,
                    deliver_now=deliver_now)


def email_to(
    session: Session, to: str, kind: str, params: Mapping[str, Any], *,
    locale: str | None, zone: str = "UTC", secret: str | None = None,
    secret_expires_at: datetime | None = None, deliver_now: bool = True,
) -> uuid.UUID:
    """The notice of ``kind`` e-mailed to an address (an invitation has no user yet)."""
    email = replace(_email_of(to, render(kind, dict(params), locale, zone)),
                    secret=secret, secret_expires_at=secret_expires_at)
    return queue_emails(session, [email], deliver_now=deliver_now)[0]


def _email_of(to: str, text: Text) -> Email:
    return Email(to, _fit(text.title), text.plain(), html=text.html())


def text_of(notification: Notification, locale: str | None, zone: str) -> Text | None:
    """The notification's words in ``locale``; ``None`` for one stored in words only."""
    if notification.params is None or notification.kind not in NOTICES:
        return None
    return render(notification.kind, notification.params, locale, zone)


@dataclass(frozen=True)
class NotificationView:
    id: uuid.UUID
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def view_of(notification: Notification, user: User, locale: str | None) -> NotificationView:
    """The notification as ``user`` reads it in ``locale``."""
    text = text_of(notification, locale, user.timezone)
    return NotificationView(
        notification.id, notification.kind,
        text.title if text else notification.title, text.body if text else notification.body,
        notification.data, notification.created_at, notification.read_at,
    )


def _fit(title: str) -> str:
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


# --- e-mail preferences -------------------------------------------------------------------


@dataclass(frozen=True)
class EmailPreference:
    kind: str
    topic: Topic
    email: bool
    required: bool


def wants_email(session: Session, user: User, kind: str) -> bool:
    return user.id not in _opted_out(session, kind, [user.id])


def email_preferences(session: Session, user: User) -> list[EmailPreference]:
    """Every kind of notice that reaches the inbox and is e-mailed too, and whether it is
    e-mailed to ``user``."""
    off = set(session.scalars(select(EmailOptOut.kind).where(EmailOptOut.user_id == user.id)))
    return [
        EmailPreference(n.kind, n.topic, n.email_required or n.kind not in off,
                        n.email_required)
        for n in sorted(NOTICES.values(), key=lambda n: n.kind) if n.in_app and n.email
    ]


def set_email_preferences(
    session: Session, user: User, email: Mapping[str, bool]
) -> list[EmailPreference]:
    """Turn e-mail of these kinds on or off. A kind about money or access stays on: 422
    naming it (and nothing changes)."""
    errors: dict[str, list[str]] = {}
    for kind, wanted in email.items():
        notice = NOTICES.get(kind)
        if notice is None or not (notice.in_app and notice.email):
            errors[f"email.{kind}"] = [say(NO_SUCH_KIND)]
        elif not wanted and notice.email_required:
            errors[f"email.{kind}"] = [say(TOPIC_REQUIRED[notice.topic])]
    if errors:
        raise Invalid(say(EMAIL_REQUIRED), code="email-required", errors=errors)
    session.execute(delete(EmailOptOut).where(EmailOptOut.user_id == user.id,
                                              EmailOptOut.kind.in_(list(email))))
    now = clock.now()
    session.add_all(EmailOptOut(user_id=user.id, kind=kind, created_at=now)
                    for kind, wanted in email.items() if not wanted)
    session.flush()
    return email_preferences(session, user)


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


@dataclass(frozen=True)
class Email:
    """A message for the outbox; see ``queue_email``."""

    to: str
    subject: str
    body: str
    html: str | None = None
    secret: str | None = None
    secret_expires_at: datetime | None = None


def queue_email(
    session: Session, to: str, subject: str, body: str, *, html: str | None = None,
    secret: str | None = None, secret_expires_at: datetime | None = None,
    deliver_now: bool = True,
) -> uuid.UUID:
    """Write an e-mail to the outbox (at once, by a Core statement built once); its id.
    It is sent only once this transaction commits: at once after the commit, or with
    ``deliver_now=False`` by the outbox job within a minute (for messages written by
    the thousand, so that a request does not send them all before it answers).

    A one-time ``secret`` goes where ``body`` says ``SECRET_PLACEHOLDER``; it is kept
    apart from the body, only until the message is sent or ``secret_expires_at``."""
    return queue_emails(session, [Email(to, subject, body, html, secret, secret_expires_at)],
                        deliver_now=deliver_now)[0]


def queue_emails(session: Session, emails: list[Email], *,
                 deliver_now: bool = True) -> list[uuid.UUID]:
    """``queue_email`` of several messages, in one statement; their ids in order."""
    for email in emails:
        if email.secret is not None and (SECRET_PLACEHOLDER not in email.body
                                         or email.secret_expires_at is None):
            raise ValueError("a secret needs its placeholder in the body and an expiry")
    if not emails:
        return []
    ids = [uuid.uuid4() for email in emails]
    session.execute(rows_insert(OutboundEmail.__table__), [
        {"id": email_id, "to_address": email.to, "subject": email.subject,
         "body": email.body, "html_body": email.html, "secret": email.secret,
         "secret_expires_at": email.secret_expires_at}
        for email_id, email in zip(ids, emails, strict=True)])
    outbox = session.info.get(OUTBOX_KEY)
    if outbox is not None and deliver_now:
        after_commit(session, lambda: outbox.deliver(ids))
    return ids


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
