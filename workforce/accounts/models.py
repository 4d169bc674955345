from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce import clock
from workforce.db import Base, IdMixin, OrderedIdMixin, TimestampMixin, json_type, str_enum


class Role(StrEnum):
    ADMIN = "admin"
    VENDOR_MANAGER = "vendor_manager"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    TRAINER = "trainer"

    @property
    def is_staff(self) -> bool:
        return self is not Role.TRAINER


STAFF_ROLES = frozenset(r for r in Role if r.is_staff)
# Who does each job in an organisation (the API's role checks and the services' queries
# read these; an admin may do every job but grading, which stays blind).
MANAGERS = frozenset({Role.VENDOR_MANAGER, Role.ADMIN})
REVIEWERS = MANAGERS | {Role.REVIEWER}
FINANCE_STAFF = frozenset({Role.FINANCE, Role.ADMIN})
GRADERS = frozenset({Role.REVIEWER, Role.VENDOR_MANAGER})
# Roles that move money or grant access sign in with a second factor (TOTP).
SECOND_FACTOR_ROLES = FINANCE_STAFF


class Organisation(IdMixin, TimestampMixin, Base):
    """A vendor that runs projects; staff belong to exactly one."""

    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # Onboarding is work: when set, every published assessment must carry a stipend.
    requires_paid_assessments: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A project suspended at shorter notice owes its active trainers a kill fee.
    notice_period_days: Mapped[int] = mapped_column(default=7, server_default="7")
    # Earnings wait this many days after approval before they can be paid out.
    payout_hold_days: Mapped[int] = mapped_column(default=0, server_default="0")

    users: Mapped[list[User]] = relationship(back_populates="organisation")
    wage_floors: Mapped[list[WageFloor]] = relationship(back_populates="organisation")


class WageFloor(IdMixin, TimestampMixin, Base):
    """The least an organisation pays per hour of work, in one currency (minor units).

    A row without ``country`` is the currency's default; a row with one (ISO 3166-1
    alpha-2) is the floor for trainers who live there. Each is unique per organisation
    and currency (partial unique indexes: NULLs are distinct in a plain one).
    """

    __tablename__ = "wage_floors"
    __table_args__ = (
        Index(
            "uq_wage_floors_default", "organisation_id", "currency", unique=True,
            sqlite_where=text("country IS NULL"), postgresql_where=text("country IS NULL"),
        ),
        Index(
            "uq_wage_floors_country", "organisation_id", "currency", "country", unique=True,
            sqlite_where=text("country IS NOT NULL"),
            postgresql_where=text("country IS NOT NULL"),
        ),
        CheckConstraint("hourly_amount > 0", name="hourly_amount_positive"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2))
    hourly_amount: Mapped[int]

    organisation: Mapped[Organisation] = relationship(back_populates="wage_floors")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Staff are scoped to one organisation; trainers work across organisations.
        CheckConstraint(
            "(role = 'trainer' AND organisation_id IS NULL)"
            " OR (role <> 'trainer' AND organisation_id IS NOT NULL)",
            name="organisation_matches_role",
        ),
    )

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    languages: Mapped[list[str]] = mapped_column(json_type(), default=list)
    # The shipped locale (BCP 47, workforce.i18n.LOCALES) the service speaks to them in;
    # None: their request's Accept-Language, and English when they are not the one asking.
    locale: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The account an API key acts through (integrations/keys.py): never a person, never
    # active (so it can neither log in nor be told anything), never in staff lists.
    is_api_key: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_changed_at: Mapped[datetime | None]
    # When the address was shown to be theirs (a verification link, or the invitation
    # that reached it); a trainer without it may not apply to projects or claim work.
    email_verified_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(IdMixin, Base):
    """An opaque bearer token; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Where the login came from, so that its owner can tell their sessions apart.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    client_address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class Invitation(IdMixin, TimestampMixin, Base):
    """An admin's invitation for a staff member, accepted with a password."""

    __tablename__ = "invitations"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= clock.now() else "pending"


class OneTimeTokenMixin:
    """A token e-mailed to a user that works once until it expires; only its SHA-256
    hash is stored."""

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PasswordReset(IdMixin, OneTimeTokenMixin, Base):
    __tablename__ = "password_resets"


class EmailVerification(IdMixin, OneTimeTokenMixin, Base):
    """The token that shows a new address is its user's."""

    __tablename__ = "email_verifications"


class TotpFactor(IdMixin, Base):
    """A user's TOTP authenticator: pending until a first code confirms it.

    ``last_step`` is the time step of the last code accepted, so that a code is never
    accepted twice (RFC 6238 section 5.2)."""

    __tablename__ = "totp_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(IdMixin, Base):
    """A one-time code that stands in for a TOTP code; only its SHA-256 hash is stored."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditEvent(OrderedIdMixin, Base):
    """Who did what to which object, when, with the values before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_organisation_id_created_at", "organisation_id", "created_at"),
        Index("ix_audit_events_object", "object_type", "object_id"),
    )

    created_at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    after: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    request_id: Mapped[str | None] = mapped_column(String(64))
