"""API keys: an organisation's credentials for machines."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce import clock
from workforce.accounts.models import User
from workforce.db import Base, json_type


class ApiKey(Base):
    """A key of an organisation, stored as the SHA-256 of its secret.

    Its id is also the id of its account (``users`` row with ``is_api_key``), through
    which it acts: the services take that account as the caller, and the audit log
    names the key as the actor."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"),
                                                       index=True)
    name: Mapped[str] = mapped_column(String(80))
    scopes: Mapped[list[str]] = mapped_column(json_type())
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The secret's first characters, shown in lists so a leaked key can be recognised.
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    account: Mapped[User] = relationship(foreign_keys=[id])

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= clock.now():
            return "expired"
        return "active"
