"""E-mail verification: a new trainer shows the address is theirs before they apply to
projects or claim work.

The token travels only in the e-mail (held apart from the stored body until sent, like
invitations and reset tokens) and is stored as its SHA-256 hash. A new one (a resend)
retires the earlier ones, and an unsent message carrying one of those is not sent.
Accounts that came through an invitation count as verified: the invitation reached the
address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import tokens
from workforce.accounts.models import EmailVerification, User
from workforce.errors import Conflict, Forbidden, Invalid
from workforce.i18n import _
from workforce.notifications.models import SECRET_PLACEHOLDER
from workforce.notifications.services import email_user, tell, withdraw_secret_emails
from workforce.notifications.texts import moment

CONFIRM_PATH = "/api/v1/auth/email-verification/confirm"
RESEND_PATH = "/api/v1/me/email-verification"
UNVERIFIED = "email-unverified"


@dataclass(frozen=True)
class MailLink:
    """How long an e-mailed token works, and the address the e-mail tells to use it."""

    lifetime: timedelta
    base_url: str


def is_verified(user: User) -> bool:
    return user.email_verified_at is not None


def mark_verified(user: User) -> None:
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()


def unverified_message(user: User) -> str:
    return _("Verify your e-mail address %(email)s first: use the token we e-mailed you "
             "(POST %(confirm)s), or ask for a new one (POST %(resend)s).",
             email=user.email, confirm=CONFIRM_PATH, resend=RESEND_PATH)


def require_verified(user: User) -> None:
    """Applying to projects and claiming work need a verified address (403)."""
    if not is_verified(user):
        raise Forbidden(unverified_message(user), code=UNVERIFIED)


def send_verification(session: Session, user: User, link: MailLink) -> EmailVerification:
    """E-mail a new one-time token; the earlier ones stop working."""
    if is_verified(user):
        raise Conflict(_("The e-mail address is verified already."),
                       code="email-already-verified")
    now = clock.now()
    _retire_pending(session, user, now)
    raw, digest = tokens.new_secret("wfv_")
    verification = EmailVerification(user_id=user.id, token_hash=digest, created_at=now,
                                     expires_at=now + link.lifetime)
    session.add(verification)
    email_user(
        session, user, "email.verification",
        {"name": user.display_name, "secret": SECRET_PLACEHOLDER,
         "url": f"{link.base_url}{CONFIRM_PATH}", "expires_at": moment(verification.expires_at)},
        secret=raw, secret_expires_at=verification.expires_at,
    )
    session.flush()
    return verification


def _retire_pending(session: Session, user: User, now: datetime) -> None:
    pending = set(session.scalars(
        select(EmailVerification.token_hash).where(
            EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None),
            EmailVerification.expires_at > now)))
    if not pending:
        return
    session.execute(
        update(EmailVerification)
        .where(EmailVerification.token_hash.in_(pending))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    withdraw_secret_emails(
        session, user.email,
        secret_matches=lambda secret: tokens.hash_secret(secret) in pending,
        reason="Not sent: a newer verification e-mail replaced it.",
    )


def verify_email(session: Session, raw_token: str) -> User:
    """Mark the address behind the token verified; the token works once."""
    verification = session.scalars(
        select(EmailVerification)
        .where(EmailVerification.token_hash == tokens.hash_secret(raw_token))
        .with_for_update()
    ).one_or_none()
    now = clock.now()
    if verification is None or verification.used_at is not None or verification.expires_at <= now:
        raise Invalid(
            _("The verification token is unknown, used or expired; ask for a new one."),
            errors={"token": [_("Unknown, used or expired token.")]},
        )
    verification.used_at = now
    user = session.get_one(User, verification.user_id)
    mark_verified(user)
    tell(session, user.id, "account.email_verified", {})
    session.flush()
    return user
