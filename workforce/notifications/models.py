from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workforce.db import Base, IdMixin, OrderedIdMixin, TimestampMixin, json_type, str_enum


class Notification(OrderedIdMixin, Base):
    """One message in a user's in-app inbox.

    A notice of the registry (``notifications.texts``) keeps its ``params`` and is put
    into words in the reader's language when it is read; ``title`` and ``body`` hold its
    English words (older rows, written before notices had parameters, hold only those).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    params: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class EmailOptOut(Base):
    """A kind of notice the user asked not to be e-mailed (never one about money or
    access: ``notifications.texts.REQUIRED_TOPICS``). The in-app notice still comes."""

    __tablename__ = "email_opt_outs"
    __table_args__ = (PrimaryKeyConstraint("user_id", "kind"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


SECRET_PLACEHOLDER = "{secret}"  # noqa: S105 - where the secret goes, not a secret


class OutboundEmail(IdMixin, TimestampMixin, Base):
    """An e-mail written in the same transaction as the change it reports.

    It is handed to the sender only after that transaction commits, and retried
    by the outbox job until it is sent or has failed too often.

    A one-time secret the message carries (an invitation or password-reset token) is
    not written into ``body``, which holds ``SECRET_PLACEHOLDER`` instead: ``secret``
    holds it until the message is sent, fails for good, is withdrawn or the secret
    expires, whichever comes first; then it is erased. Whoever reads the table or a
    backup later finds no token that works.
    """

    __tablename__ = "outbound_emails"
    __table_args__ = (Index("ix_outbound_emails_status_created_at", "status", "created_at"),)

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(str_enum(EmailStatus), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    secret: Mapped[str | None] = mapped_column(String(200))
    secret_expires_at: Mapped[datetime | None]

    def rendered_body(self) -> str:
        """The body as the recipient reads it (with its secret, while there is one)."""
        return self.body.replace(SECRET_PLACEHOLDER, self.secret or "")

    def rendered_html(self) -> str | None:
        """The HTML part likewise, if the message has one."""
        if self.html_body is None:
            return None
        return self.html_body.replace(SECRET_PLACEHOLDER, self.secret or "")

    def give_up(self, reason: str) -> None:
        """Never send it: failed, with the reason, and its secret erased."""
        self.status = EmailStatus.FAILED
        self.last_error = reason
        self.secret = None
