"""Safe sign-in: e-mail verification, the second factor (TOTP and recovery codes) and the
caller's own sessions."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, g

from workforce.accounts import mfa, tokens, verification
from workforce.accounts.models import ApiToken, Role
from workforce.api import ratelimit
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_token, current_user
from workforce.api.sign_in_schemas import (
    CodeSchema,
    EnrolmentSchema,
    LoginSessionSchema,
    MfaStatusSchema,
    RecoveryCodesSchema,
    VerificationConfirmSchema,
)
from workforce.api.uow import db_session
from workforce.pagination import Page
from workforce.settings import Settings

blp = Blueprint("sign_in", __name__, url_prefix="/api/v1",
                description="E-mail verification, second factor and sessions")


def _settings() -> Settings:
    return current_app.extensions["workforce"].settings


def verification_link() -> verification.MailLink:
    settings = _settings()
    return verification.MailLink(settings.email_verification_lifetime,
                                 settings.public_base_url)


# --- e-mail verification -------------------------------------------------------------


@blp.route("/auth/email-verification/confirm", methods=["POST"])
@blp.public
@blp.arguments(VerificationConfirmSchema)
@blp.response(204)
def confirm_email(args: dict):
    """Verify the account's e-mail address with the token e-mailed to it (works once)."""
    verification.verify_email(db_session(), args["token"])


def _resend_limit() -> str:
    return _settings().email_verification_resend_limit


def _caller_key() -> str:
    # The guard has authenticated the caller before any limit is counted.
    return f"verification-resend:{g.get('user_id', '-')}"


@blp.route("/me/email-verification", methods=["POST"])
@blp.authenticated
@ratelimit.limiter.limit(_resend_limit, key_func=_caller_key, scope="verification-resend")
@blp.response(202)
@blp.refuses(409, 429)
def resend_verification():
    """E-mail a new verification token (earlier ones stop working). Limited per account
    (WORKFORCE_EMAIL_VERIFICATION_RESEND_LIMIT); 409 once the address is verified."""
    verification.send_verification(db_session(), current_user(), verification_link())


# --- the second factor ---------------------------------------------------------------


@blp.route("/me/mfa")
@blp.signing_in
@blp.response(200, MfaStatusSchema)
def mfa_status():
    """Whether the caller must and does use a second factor, and recovery codes left."""
    return mfa.status(db_session(), current_user())


@blp.route("/me/mfa/totp", methods=["POST"])
@blp.signing_in
@blp.response(201, EnrolmentSchema)
@blp.refuses(409)
def start_totp_enrolment():
    """Start enrolling an authenticator app: its secret and otpauth URI, shown once
    (again, a new secret replaces one not yet confirmed)."""
    return mfa.start_enrolment(db_session(), current_user())


@blp.route("/me/mfa/totp/confirm", methods=["POST"])
@blp.signing_in
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.refuses(409)
def confirm_totp_enrolment(args: dict):
    """Confirm the authenticator with a code from it; answers ten recovery codes, shown
    once. From now on, login asks for a code."""
    return {"recovery_codes": mfa.confirm_enrolment(db_session(), current_user(), args["code"])}


@blp.route("/me/mfa/recovery-codes", methods=["POST"])
@blp.authenticated
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.refuses(409)
def regenerate_recovery_codes(args: dict):
    """A new set of ten recovery codes (needs a current code); the old set stops working."""
    codes = mfa.regenerate_recovery_codes(db_session(), current_user(), args["code"])
    return {"recovery_codes": codes}


@blp.route("/users/<uuid:user_id>/mfa", methods=["DELETE"])
@blp.requires(Role.ADMIN)
@blp.response(204)
@blp.refuses(404, 409)
def remove_second_factor(user_id: uuid.UUID):
    """Remove a locked-out colleague's authenticator and recovery codes (audited); their
    sessions end and they enrol again at their next login. Not one's own (409)."""
    mfa.remove_factor(db_session(), current_user(), user_id)


# --- sessions ------------------------------------------------------------------------


@blp.route("/me/sessions")
@blp.signing_in
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(LoginSessionSchema))
def list_sessions(args: dict):
    """The caller's tokens that still work, newest first; ``current`` marks this one."""
    found = tokens.list_sessions(db_session(), current_user(), page_request(args))
    this = current_token().id
    return Page([_session_view(token, this) for token in found.items], found.next_cursor)


def _session_view(token: ApiToken, current_id: uuid.UUID) -> dict[str, Any]:
    names = ("id", "label", "created_at", "last_used_at", "expires_at", "user_agent",
             "client_address")
    return {**{name: getattr(token, name) for name in names}, "current": token.id == current_id}


@blp.route("/me/sessions/<uuid:token_id>", methods=["DELETE"])
@blp.signing_in
@blp.response(204)
@blp.refuses(404)
def revoke_session(token_id: uuid.UUID):
    """End one of the caller's sessions (this one included); another user's is 404."""
    tokens.revoke_own(db_session(), current_user(), token_id)
