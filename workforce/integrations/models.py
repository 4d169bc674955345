"""Webhook endpoints, the events written for them and each delivery's attempts.

An event is written in the transaction of the change it reports, with one delivery row
per endpoint that wants it (the outbox); the scheduler sends the deliveries after that
transaction commits, so a rollback sends nothing and a commit loses nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce.db import Base, IdMixin, TimestampMixin, json_type, str_enum


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where an organisation wants its events, and the secret they are signed with.

    The secret must be read back to sign, so it is stored as issued (unlike tokens,
    which are only compared). After a rotation the previous secret signs too, beside
    the new one, until ``previous_secret_expires_at``.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_organisation_id_created_at", "organisation_id",
              "created_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(json_type(), default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failed attempt since the last success: three days on, it is disabled.
    failing_since: Mapped[datetime | None]

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous
        one while its overlap lasts."""
        secrets = [self.secret]
        if (self.previous_secret is not None and self.previous_secret_expires_at is not None
                and now < self.previous_secret_expires_at):
            secrets.append(self.previous_secret)
        return secrets


class WebhookEvent(IdMixin, Base):
    """Something that happened in an organisation, as integrators receive it. Its id is
    the ``webhook-id`` of every delivery and retry of it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_organisation_id_created_at", "organisation_id",
              "created_at"),
        # Events that must be written once whoever gets there first (a task completed).
        UniqueConstraint("organisation_id", "once_key"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[datetime]
    once_key: Mapped[str | None] = mapped_column(String(200))


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: three days of failed attempts


class WebhookDelivery(IdMixin, Base):
    """One event for one endpoint: the outbox row the scheduler sends and retries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    state: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    # Retries stop three days after this (a re-send by hand starts it again).
    first_due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    # Set when a sender claims the delivery, before its request goes out; cleared when
    # the outcome is recorded. Nobody else sends it until then, or until this moment
    # passes (the sender crashed): see ``delivery``.
    claimed_until: Mapped[datetime | None]

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class AttemptOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookAttempt(IdMixin, Base):
    """One request sent (or refused before sending) for a delivery."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint_id_attempted_at", "endpoint_id", "attempted_at"),
        Index("ix_webhook_attempts_delivery_id", "delivery_id"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime]
    outcome: Mapped[AttemptOutcome] = mapped_column(str_enum(AttemptOutcome))
    response_status: Mapped[int | None]
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
