"""Sign-up, login, tokens, invitations, passwords, users and organisations."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit, mfa, tokens
from workforce.accounts.audit import Actor
from workforce.accounts.models import (
    STAFF_ROLES,
    ApiToken,
    Invitation,
    Organisation,
    PasswordReset,
    Role,
    User,
)
from workforce.accounts.passwords import (
    check_password_rules,
    hash_password,
    needs_rehash,
    verify_password,
)
from workforce.accounts.validation import email_address, normalise_email
from workforce.accounts.verification import MailLink, mark_verified, send_verification
from workforce.errors import Conflict, Invalid, NotFound, Unauthenticated
from workforce.i18n import _, locale_of
from workforce.notifications.models import SECRET_PLACEHOLDER
from workforce.notifications.services import (
    email_to,
    email_user,
    tell,
    withdraw_secret_emails,
)
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate

# Where an invitation is accepted (the e-mail names it; the API serves it).
ACCEPT_INVITATION_PATH = "/api/v1/auth/invitations/accept"


@dataclass(frozen=True)
class Profile:
    display_name: str
    country: str | None = None
    timezone: str = "UTC"
    languages: tuple[str, ...] = ()
    locale: str | None = None


# --- organisations -------------------------------------------------------------------


def create_organisation(session: Session, name: str, slug: str | None = None) -> Organisation:
    slug = slug or slugify(name)
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)):
        raise Conflict(_("An organisation with the slug %(slug)r exists.",
                         slug=slug), code="slug-taken")
    organisation = Organisation(name=name.strip(), slug=slug)
    session.add(organisation)
    session.flush()
    return organisation


def find_organisation_by_slug(session: Session, slug: str) -> Organisation | None:
    return session.scalars(select(Organisation).where(Organisation.slug == slug)).one_or_none()


def get_own_organisation(session: Session, actor: User) -> Organisation:
    if actor.organisation_id is None:
        raise NotFound(_("You do not belong to an organisation."))
    return session.get_one(Organisation, actor.organisation_id)


def rename_organisation(session: Session, admin: User, name: str) -> Organisation:
    organisation = get_own_organisation(session, admin)
    before = {"name": organisation.name}
    organisation.name = name.strip()
    audit.record(
        session, admin, "organisation.renamed", object_type="organisation",
        object_id=organisation.id, organisation_id=organisation.id,
        before=before, after={"name": organisation.name},
    )
    session.flush()
    return organisation


# The organisation's pay policy: what its staff may not do to trainers' pay.
PAY_POLICY_FIELDS = ("requires_paid_assessments", "payout_hold_days", "notice_period_days")


def pay_policy(organisation: Organisation) -> dict[str, Any]:
    return {name: getattr(organisation, name) for name in PAY_POLICY_FIELDS}


def update_pay_policy(session: Session, admin: User, changes: dict[str, Any]) -> Organisation:
    """Change some of the pay policy (audited). A new hold period applies to money earned
    from now on; a new notice period to suspensions announced from now on."""
    unknown = set(changes) - set(PAY_POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not pay-policy fields: {sorted(unknown)}")
    organisation = get_own_organisation(session, admin)
    before = pay_policy(organisation)
    for name, value in changes.items():
        setattr(organisation, name, value)
    audit.record(
        session, admin, "organisation.pay_policy_changed", object_type="organisation",
        object_id=organisation.id, organisation_id=organisation.id,
        before=before, after=pay_policy(organisation),
    )
    session.flush()
    return organisation


# --- users ---------------------------------------------------------------------------


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()


def _new_address(email: str) -> str:
    """The normalised address of a new account or invitation; one that could pass for
    another is refused (the CLI's create-admin included, not only the API)."""
    try:
        return email_address(email)
    except ValueError as exc:
        raise Invalid(_("The e-mail address is refused: %(exc)s", exc=exc),
                      errors={"email": [str(exc)]}) from exc


def _refuse_taken(session: Session, email: str) -> None:
    if find_user_by_email(session, email) is not None:
        raise Conflict(_("An account with this e-mail address exists."), code="email-taken")


def _new_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    profile: Profile,
    organisation_id: uuid.UUID | None,
) -> User:
    email = _new_address(email)
    check_password_rules(password, email=email)
    _refuse_taken(session, email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=profile.display_name.strip(),
        role=role,
        organisation_id=organisation_id,
        country=profile.country,
        timezone=profile.timezone,
        languages=list(profile.languages),
        locale=profile.locale,
        password_changed_at=clock.now(),
    )
    session.add(user)
    try:
        # Two sign-ups racing for one address: the unique key decides, not the check above.
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(_("An account with this e-mail address exists."),
                       code="email-taken") from exc
    return user


def sign_up_trainer(
    session: Session, *, email: str, password: str, profile: Profile,
    verification: MailLink | None,
) -> User:
    """A trainer account, and (with ``verification``) the e-mail that verifies its
    address; until then the trainer may not apply to projects or claim work."""
    user = _new_user(
        session, email=email, password=password, role=Role.TRAINER, profile=profile,
        organisation_id=None,
    )
    tell(session, user.id, "account.welcome", {})
    if verification is not None:
        send_verification(session, user, verification)
    return user


def create_staff_user(
    session: Session,
    actor: Actor,
    *,
    organisation: Organisation,
    email: str,
    password: str,
    role: Role,
    profile: Profile,
) -> User:
    """A staff member created directly (CLI ``create-admin``, demo data)."""
    if role not in STAFF_ROLES:
        raise Invalid(_("Staff must have a staff role."), errors={"role": [_("Not a staff role.")]})
    user = _new_user(
        session, email=email, password=password, role=role, profile=profile,
        organisation_id=organisation.id,
    )
    mark_verified(user)  # made by an operator, who vouches for the address
    audit.record(
        session, actor, "user.created", object_type="user", object_id=user.id,
        organisation_id=organisation.id, after={"role": role, "email": user.email},
    )
    return user


def update_profile(session: Session, user: User, **changes: object) -> User:
    for name in ("display_name", "country", "timezone", "languages", "locale"):
        if name in changes:
            setattr(user, name, changes[name])
    session.flush()
    return user


def get_user(session: Session, actor: User, user_id: uuid.UUID) -> User:
    """A person in the actor's organisation; anybody else (and an API key's account)
    does not exist for them."""
    user = session.get(User, user_id)
    outside = actor.organisation_id is None or user is None or user.is_api_key
    if outside or user.organisation_id != actor.organisation_id:
        raise NotFound(_("No such user."))
    return user


@dataclass(frozen=True)
class UserFilter:
    role: Role | None = None
    is_active: bool | None = None


def list_users(session: Session, admin: User, filters: UserFilter, page: PageRequest) -> Page[User]:
    stmt = select(User).where(User.organisation_id == admin.organisation_id,
                              User.is_api_key.is_(False))
    if filters.role is not None:
        stmt = stmt.where(User.role == filters.role)
    if filters.is_active is not None:
        stmt = stmt.where(User.is_active == filters.is_active)
    return paginate(session, stmt, page, created_at=User.created_at, row_id=User.id)


def update_staff_user(
    session: Session,
    admin: User,
    user_id: uuid.UUID,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a staff member's role or access; audited, and the person is told."""
    user = get_user(session, admin, user_id)
    before = {"role": user.role, "is_active": user.is_active}
    if role is not None and role not in STAFF_ROLES:
        raise Invalid(_("Staff must keep a staff role."), errors={"role": [_("Not a staff role.")]})
    new_role = role if role is not None else user.role
    new_active = is_active if is_active is not None else user.is_active
    if user.role is Role.ADMIN and (new_role is not Role.ADMIN or not new_active):
        _keep_one_admin(session, user)
    user.role, user.is_active = new_role, new_active
    after = {"role": user.role, "is_active": user.is_active}
    if after == before:
        return user
    if not user.is_active:
        tokens.revoke_all(session, user)
    audit.record(
        session, admin, "user.access_changed", object_type="user", object_id=user.id,
        organisation_id=user.organisation_id, before=before, after=after,
    )
    tell(session, user.id, "account.access_changed",
         {"role": user.role.value, "deactivated": not user.is_active},
         data={"before": before, "after": after})
    session.flush()
    return user


def _keep_one_admin(session: Session, leaving: User) -> None:
    # Two admins demoting each other at once: the organisation row lock makes the
    # second request count after the first has committed (PostgreSQL; SQLite
    # serialises writers anyway).
    session.execute(
        select(Organisation.id).where(Organisation.id == leaving.organisation_id).with_for_update()
    )
    others = session.scalar(
        select(func.count()).select_from(User).where(
            User.organisation_id == leaving.organisation_id,
            User.role == Role.ADMIN,
            User.is_active.is_(True),
            User.id != leaving.id,
        )
    )
    if not others:
        raise Conflict(
            _("An organisation keeps at least one active admin."), code="last-admin"
        )


# --- login and tokens ----------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    """What a login sends besides the password: the second factor (a TOTP code or a
    recovery code, for accounts that have one), and where it comes from."""

    otp: str | None = None
    recovery_code: str | None = None
    origin: tokens.Origin = field(default_factory=tokens.Origin)


def log_in(
    session: Session, email: str, password: str, *, lifetime: timedelta, label: str = "login",
    attempt: LoginAttempt = LoginAttempt(),
) -> tuple[ApiToken, str]:
    user = find_user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated(
            _("The e-mail address or password is wrong."), code="invalid-credentials"
        )
    if not user.is_active:
        raise Unauthenticated(_("The account is deactivated."), code="account-deactivated")
    mfa.check_login(session, user, otp=attempt.otp, recovery_code=attempt.recovery_code)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return tokens.issue_token(session, user, label=label, lifetime=lifetime,
                              origin=attempt.origin)


def log_out(session: Session, token: ApiToken) -> None:
    tokens.revoke(session, token)


def log_out_everywhere(session: Session, user: User) -> int:
    return tokens.revoke_all(session, user)


def change_password(
    session: Session, user: User, current: ApiToken, *, old_password: str, new_password: str
) -> None:
    """Set a new password; every other session of the user is logged out."""
    if not verify_password(user.password_hash, old_password):
        raise Invalid(
            _("The current password is wrong."), errors={"current_password": [_("Wrong password.")]}
        )
    _set_password(session, user, new_password, field="new_password")
    tokens.revoke_all(session, user, keep=current)


def _set_password(session: Session, user: User, password: str, *, field: str) -> None:
    check_password_rules(password, email=user.email, field=field)
    user.password_hash = hash_password(password)
    user.password_changed_at = clock.now()
    # Reset links still sitting in the mailbox must not change the new password again.
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=user.password_changed_at)
        .execution_options(synchronize_session="fetch")
    )
    tell(session, user.id, "account.password_changed", {})
    session.flush()


def request_password_reset(
    session: Session, email: str, *, lifetime: timedelta, base_url: str
) -> None:
    """E-mail a one-time reset link if the address has an account; say nothing either way."""
    user = find_user_by_email(session, email)
    if user is None or not user.is_active:
        return
    raw, digest = tokens.new_secret("wfr_")
    now = clock.now()
    session.add(PasswordReset(user_id=user.id, token_hash=digest, created_at=now,
                              expires_at=now + lifetime))
    email_user(
        session, user, "email.password_reset",
        {"secret": SECRET_PLACEHOLDER, "url": f"{base_url}/api/v1/auth/password-reset/confirm",
         "expires_at": moment(now + lifetime)},
        secret=raw, secret_expires_at=now + lifetime,
    )


def reset_password(session: Session, raw_token: str, new_password: str) -> User:
    reset = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == tokens.hash_secret(raw_token))
    ).one_or_none()
    if reset is None or reset.used_at is not None or reset.expires_at <= clock.now():
        raise Invalid(
            _("The reset token is unknown, used or expired."),
            errors={"token": [_("Unknown, used or expired token.")]},
        )
    user = session.get_one(User, reset.user_id)
    _set_password(session, user, new_password, field="new_password")
    reset.used_at = clock.now()
    tokens.revoke_all(session, user)
    return user


# --- invitations ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation with the token just issued for it: e-mailed to the invitee, and
    shown to the admin only in development (where e-mail may go nowhere)."""

    invitation: Invitation
    token: str


def invite_staff(
    session: Session,
    admin: User,
    *,
    email: str,
    role: Role,
    lifetime: timedelta,
    base_url: str,
) -> IssuedInvitation:
    if role not in STAFF_ROLES:
        raise Invalid(
            _("Only staff are invited; trainers sign up themselves."),
            errors={"role": [_("Must be a staff role.")]},
        )
    email = _new_address(email)
    _refuse_taken(session, email)
    now = clock.now()
    # A new invitation replaces any still-open one for the same address.
    for previous in session.scalars(
        select(Invitation).where(
            Invitation.organisation_id == admin.organisation_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ).all():
        previous.revoked_at = now
        _withdraw_email(session, previous)
    invitation = Invitation(
        organisation_id=admin.organisation_id, email=email, role=role, invited_by_id=admin.id,
    )
    issued = _issue(session, admin, invitation, lifetime=lifetime, base_url=base_url)
    audit.record(
        session, admin, "invitation.created", object_type="invitation", object_id=invitation.id,
        organisation_id=admin.organisation_id, after={"email": email, "role": role},
    )
    return issued


def resend_invitation(
    session: Session,
    admin: User,
    invitation_id: uuid.UUID,
    *,
    lifetime: timedelta,
    base_url: str,
) -> IssuedInvitation:
    """E-mail a pending (or expired) invitation again with a new token and a new expiry;
    the old token stops working, and a message still waiting with it is not sent."""
    invitation = _own_invitation(session, admin, invitation_id)
    if invitation.accepted_at is not None:
        raise Conflict(_("The invitation was already accepted."), code="invitation-accepted")
    if invitation.revoked_at is not None:
        raise Conflict(_("The invitation was revoked; invite the person again."),
                       code="invitation-revoked")
    _refuse_taken(session, invitation.email)
    before = {"expires_at": invitation.expires_at.isoformat()}
    _withdraw_email(session, invitation)
    issued = _issue(session, admin, invitation, lifetime=lifetime, base_url=base_url)
    audit.record(
        session, admin, "invitation.resent", object_type="invitation", object_id=invitation.id,
        organisation_id=invitation.organisation_id, before=before,
        after={"expires_at": invitation.expires_at.isoformat()},
    )
    return issued


def _issue(
    session: Session, admin: User, invitation: Invitation, *, lifetime: timedelta,
    base_url: str,
) -> IssuedInvitation:
    """A fresh token for the invitation (any earlier one stops working), e-mailed."""
    raw, invitation.token_hash = tokens.new_secret("wfi_")
    invitation.expires_at = clock.now() + lifetime
    session.add(invitation)
    session.flush()
    organisation = get_own_organisation(session, admin)
    # The invitee has no account yet: the e-mail speaks the inviting admin's language.
    email_to(
        session, invitation.email, "email.invitation",
        {"admin": admin.display_name, "organisation": organisation.name,
         "role": invitation.role.value, "secret": SECRET_PLACEHOLDER,
         "url": f"{base_url}{ACCEPT_INVITATION_PATH}", "expires_at": moment(invitation.expires_at)},
        locale=locale_of(admin), zone=admin.timezone,
        secret=raw, secret_expires_at=invitation.expires_at,
    )
    return IssuedInvitation(invitation, raw)


def _withdraw_email(session: Session, invitation: Invitation) -> None:
    """An unsent e-mail carrying the invitation's current token is not sent any more."""
    withdraw_secret_emails(
        session, invitation.email,
        secret_matches=lambda secret: tokens.hash_secret(secret) == invitation.token_hash,
        reason="Not sent: the invitation was revoked or sent again with a new token.",
    )


def list_invitations(session: Session, admin: User, page: PageRequest) -> Page[Invitation]:
    stmt = select(Invitation).where(Invitation.organisation_id == admin.organisation_id)
    return paginate(session, stmt, page, created_at=Invitation.created_at, row_id=Invitation.id)


def _own_invitation(session: Session, admin: User, invitation_id: uuid.UUID) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != admin.organisation_id:
        raise NotFound(_("No such invitation."))
    return invitation


def revoke_invitation(session: Session, admin: User, invitation_id: uuid.UUID) -> Invitation:
    invitation = _own_invitation(session, admin, invitation_id)
    if invitation.accepted_at is not None:
        raise Conflict(_("The invitation was already accepted."), code="invitation-accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = clock.now()
        _withdraw_email(session, invitation)
        audit.record(
            session, admin, "invitation.revoked", object_type="invitation",
            object_id=invitation.id, organisation_id=invitation.organisation_id,
        )
        session.flush()
    return invitation


def accept_invitation(session: Session, raw_token: str, *, password: str, profile: Profile) -> User:
    invitation = session.scalars(
        select(Invitation).where(Invitation.token_hash == tokens.hash_secret(raw_token))
    ).one_or_none()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= clock.now()
    ):
        raise Invalid(
            _("The invitation is unknown, used, revoked or expired."),
            errors={"token": [_("Unknown, used, revoked or expired invitation.")]},
        )
    user = _new_user(
        session, email=invitation.email, password=password, role=invitation.role,
        profile=profile, organisation_id=invitation.organisation_id,
    )
    invitation.accepted_at = clock.now()
    invitation.user_id = user.id
    mark_verified(user)  # the invitation's token reached this address
    audit.record(
        session, user, "invitation.accepted", object_type="user", object_id=user.id,
        organisation_id=invitation.organisation_id,
        after={"role": user.role, "email": user.email, "invitation_id": invitation.id},
    )
    tell(session, invitation.invited_by_id, "invitation.accepted",
         {"name": user.display_name, "role": user.role.value})
    session.flush()
    return user


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:56]
    return slug or f"org-{uuid.uuid4().hex[:8]}"


def purge_expired_credentials(session: Session, *, older_than: timedelta) -> int:
    """Delete tokens and reset links that expired more than ``older_than`` ago."""
    cutoff = clock.now() - older_than
    removed = 0
    for model in (ApiToken, PasswordReset):
        removed += session.execute(
            delete(model).where(model.expires_at < cutoff)
        ).rowcount
    return removed
