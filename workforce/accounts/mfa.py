"""The second factor: TOTP (RFC 6238, with pyotp) and one-time recovery codes.

Staff with a role that moves money or grants access (``SECOND_FACTOR_ROLES``: finance
and admin) must use it; anyone else may. Until such a user has confirmed an
authenticator, their tokens open only the routes that enrol one (``enforce``).

- Enrolment: a new secret and its ``otpauth://`` URI are shown once; a first code from
  the authenticator confirms it, and ten recovery codes are shown once.
- Login: after the password, a current code (or a recovery code). A code is accepted
  one time step either side of now (clocks drift), and never twice: the factor keeps
  the step of the last code it took, and only a later step is accepted (the check is one
  conditional UPDATE, so two logins racing with one code cannot both pass).
- Recovery codes are stored as SHA-256 hashes (64 random bits each), each used once;
  regenerating them (with a current code) replaces the whole set.
- An admin may remove a colleague's factor (locked out: lost phone, no codes left);
  audited, and the colleague's sessions end. They enrol again at their next login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit, tokens
from workforce.accounts.models import SECOND_FACTOR_ROLES, RecoveryCode, TotpFactor, User
from workforce.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from workforce.i18n import gettext
from workforce.notifications.services import tell

ISSUER = "workforce"
RECOVERY_CODE_COUNT = 10
ENROL_PATH = "/api/v1/me/mfa/totp"
ENROLMENT_REQUIRED = "mfa-enrolment-required"


@dataclass(frozen=True)
class Enrolment:
    """A pending authenticator: shown once, confirmed with a first code."""

    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class Status:
    required: bool
    enrolled: bool
    enrolled_at: datetime | None
    recovery_codes_left: int


def required_for(user: User) -> bool:
    return user.role in SECOND_FACTOR_ROLES


def _factor(session: Session, user_id: uuid.UUID) -> TotpFactor | None:
    return session.scalars(select(TotpFactor).where(TotpFactor.user_id == user_id)).one_or_none()


def _confirmed(session: Session, user_id: uuid.UUID) -> TotpFactor | None:
    factor = _factor(session, user_id)
    return factor if factor is not None and factor.confirmed_at is not None else None


def is_enrolled(session: Session, user: User) -> bool:
    return session.scalar(select(TotpFactor.id).where(
        TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None))) is not None


def enforce(session: Session, user: User) -> None:
    """A finance or admin user without a confirmed authenticator may only enrol one."""
    if required_for(user) and not is_enrolled(session, user):
        raise Forbidden(
            gettext("The %(role)s role signs in with a second factor: enrol an authenticator app "
                    "first (POST %(enrol_path)s, then %(enrol_path)s/confirm); until then this "
                    "token opens only that.", role=user.role.value, enrol_path=ENROL_PATH),
            code=ENROLMENT_REQUIRED,
        )


def status(session: Session, user: User) -> Status:
    factor = _confirmed(session, user.id)
    left = session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0
    return Status(required=required_for(user), enrolled=factor is not None,
                  enrolled_at=factor.confirmed_at if factor else None,
                  recovery_codes_left=left)


# --- enrolment -----------------------------------------------------------------------


def start_enrolment(session: Session, user: User) -> Enrolment:
    """A new secret for the caller's authenticator (replacing one not yet confirmed)."""
    factor = _factor(session, user.id)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict(gettext("An authenticator is enrolled already; an admin can remove it if "
                               "it is lost."), code="mfa-already-enrolled")
    secret = pyotp.random_base32()
    if factor is None:
        factor = TotpFactor(user_id=user.id)
        session.add(factor)
    factor.secret, factor.created_at, factor.last_step = secret, clock.now(), None
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm_enrolment(session: Session, user: User, code: str) -> list[str]:
    """Confirm the pending authenticator with a code from it; the recovery codes."""
    factor = _factor(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        raise Conflict(gettext("There is no enrolment to confirm; start one at POST "
                               "%(enrol_path)s.", enrol_path=ENROL_PATH),
                       code="no-pending-enrolment")
    if not _accept_code(session, factor, code):
        raise Invalid(gettext("The code is wrong or was used already."),
                      errors={"code": [gettext("Wrong, expired or already used code.")]})
    factor.confirmed_at = clock.now()
    audit.record(session, user, "user.mfa_enrolled", object_type="user", object_id=user.id,
                 organisation_id=user.organisation_id)
    tell(session, user.id, "account.mfa_enrolled", {})
    return _new_recovery_codes(session, user)


def regenerate_recovery_codes(session: Session, user: User, code: str) -> list[str]:
    """A new set of recovery codes (a current TOTP code proves the caller has the
    authenticator); the old set stops working."""
    factor = _confirmed(session, user.id)
    if factor is None:
        raise Conflict(gettext("No authenticator is enrolled."), code="mfa-not-enrolled")
    if not _accept_code(session, factor, code):
        raise Invalid(gettext("The code is wrong or was used already."),
                      errors={"code": [gettext("Wrong, expired or already used code.")]})
    audit.record(session, user, "user.recovery_codes_regenerated", object_type="user",
                 object_id=user.id, organisation_id=user.organisation_id)
    return _new_recovery_codes(session, user)


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    now = clock.now()
    codes = ["-".join(secrets.token_hex(2) for _ in range(4))
             for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(code), created_at=now)
                    for code in codes)
    session.flush()
    return codes


def _hash_code(code: str) -> str:
    plain = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(plain.encode()).hexdigest()


# --- login ---------------------------------------------------------------------------


def check_login(
    session: Session, user: User, *, otp: str | None, recovery_code: str | None
) -> None:
    """The second step of a login, for a user with a confirmed authenticator (after the
    password was right): a current code, or an unused recovery code."""
    factor = _confirmed(session, user.id)
    if factor is None:
        return
    if recovery_code:
        _use_recovery_code(session, user, recovery_code)
    elif not otp:
        raise Unauthenticated(
            gettext("This account signs in with a second factor: send the password again with "
                    "'otp', the 6-digit code from your authenticator app (or a 'recovery_code')."),
            code="mfa-required",
        )
    elif not _accept_code(session, factor, otp):
        raise Unauthenticated(gettext("The code is wrong, expired or was used already."),
                              code="invalid-otp")


def _use_recovery_code(session: Session, user: User, code: str) -> None:
    used = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        raise Unauthenticated(gettext("The recovery code is wrong or was used already."),
                              code="invalid-recovery-code")
    left = status(session, user).recovery_codes_left
    tell(session, user.id, "account.recovery_code_used", {"left": left})


def _accept_code(session: Session, factor: TotpFactor, code: str) -> bool:
    """Whether the code is current for the factor and later than any code it took;
    if so it becomes the last one taken."""
    step = _matching_step(factor.secret, code.strip(), clock.now())
    if step is None:
        return False
    taken = session.execute(
        update(TotpFactor)
        .where(TotpFactor.id == factor.id,
               or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(factor)
    return bool(taken)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (of now, the one before or the one after) whose code this is."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# --- an admin's help -----------------------------------------------------------------


def remove_factor(session: Session, admin: User, user_id: uuid.UUID) -> None:
    """Remove a colleague's authenticator and recovery codes (audited): they enrol again
    at their next login. Their sessions end."""
    user = session.get(User, user_id)
    if user is None or admin.organisation_id is None or (
            user.organisation_id != admin.organisation_id):
        raise NotFound(gettext("No such user."))
    if user.id == admin.id:
        raise Conflict(gettext("Another admin must remove your own second factor."),
                       code="mfa-own-account")
    factor = _factor(session, user.id)
    if factor is None:
        raise Conflict(gettext("The user has no second factor."), code="mfa-not-enrolled")
    before = {"enrolled_at": factor.confirmed_at.isoformat() if factor.confirmed_at else None}
    session.delete(factor)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    tokens.revoke_all(session, user)
    audit.record(session, admin, "user.mfa_removed", object_type="user", object_id=user.id,
                 organisation_id=user.organisation_id, before=before, after=None)
    tell(session, user.id, "account.mfa_removed", {"admin": admin.display_name})
    session.flush()
