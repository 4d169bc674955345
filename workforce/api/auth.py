"""Sign-up, login, logout, passwords and accepting invitations."""

from __future__ import annotations

from flask import current_app, request

from workforce import i18n
from workforce.accounts import mfa, services, tokens
from workforce.accounts.services import Profile
from workforce.api import ratelimit
from workforce.api.accounts_schemas import (
    InvitationAcceptSchema,
    LoginSchema,
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    SignUpSchema,
    TokenSchema,
    UserSchema,
)
from workforce.api.security import Blueprint, current_token, current_user
from workforce.api.sign_in import verification_link
from workforce.api.uow import db_session
from workforce.settings import Settings

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and sessions")


def _settings() -> Settings:
    return current_app.extensions["workforce"].settings


def _profile(args: dict) -> Profile:
    return Profile(
        display_name=args["display_name"],
        country=args.get("country"),
        timezone=args.get("timezone") or "UTC",
        languages=tuple(args.get("languages") or ()),
        locale=args.get("locale") or i18n.current_locale(),
    )


@blp.route("/signup", methods=["POST"])
@blp.public
@blp.arguments(SignUpSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, response="CONFLICT", description="The e-mail address has an account.")
def sign_up(args: dict):
    """Create a trainer account, and e-mail a token that verifies its address (needed
    before applying to projects)."""
    return services.sign_up_trainer(
        db_session(), email=args["email"], password=args["password"], profile=_profile(args),
        verification=verification_link(),
    )


@blp.route("/login", methods=["POST"])
@blp.public
@ratelimit.limiter.limit(
    ratelimit.login_limit_per_account, key_func=ratelimit.login_account_key,
    deduct_when=ratelimit.failed, scope="login-account",
)
@ratelimit.limiter.limit(
    ratelimit.login_limit_per_address, key_func=ratelimit.login_address_key,
    deduct_when=ratelimit.failed, scope="login-address",
)
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.refuses(401, 429)
def log_in(args: dict):
    """Exchange an e-mail address and password for a bearer token.

    An account with a second factor also sends ``otp`` (or a ``recovery_code``): without
    it the answer is 401 ``mfa-required`` (the password was right; send both again), with
    a wrong or already used code 401 ``invalid-otp``. A finance or admin user with no
    second factor yet gets a token that opens only enrolment
    (``mfa_enrolment_required``). Failed attempts are limited per account and per client
    address (429 with Retry-After).
    """
    session = db_session()
    attempt = services.LoginAttempt(
        otp=args.get("otp"), recovery_code=args.get("recovery_code"),
        origin=tokens.Origin(request.user_agent.string or None, request.remote_addr),
    )
    token, raw = services.log_in(session, args["email"], args["password"],
                                 lifetime=_settings().token_lifetime, attempt=attempt)
    user = token.user
    return {"token": raw, "token_id": token.id, "expires_at": token.expires_at, "user": user,
            "mfa_enrolment_required": mfa.required_for(user) and not mfa.is_enrolled(
                session, user)}


@blp.route("/logout", methods=["POST"])
@blp.signing_in
@blp.response(204)
def log_out():
    """Revoke the token this request was made with."""
    services.log_out(db_session(), current_token())


@blp.route("/logout-all", methods=["POST"])
@blp.signing_in
@blp.response(204)
def log_out_everywhere():
    """Revoke every token of the caller, this one included."""
    services.log_out_everywhere(db_session(), current_user())


@blp.route("/password", methods=["POST"])
@blp.authenticated
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(args: dict):
    """Change the password; every other session is logged out."""
    services.change_password(
        db_session(), current_user(), current_token(),
        old_password=args["current_password"], new_password=args["new_password"],
    )


@blp.route("/password-reset", methods=["POST"])
@blp.public
@ratelimit.limiter.limit(ratelimit.login_limit_per_address, key_func=ratelimit.login_address_key,
                         scope="password-reset")
@blp.arguments(PasswordResetRequestSchema)
@blp.response(202)
def request_password_reset(args: dict):
    """E-mail a one-time reset token. The answer is the same whether or not the address
    has an account."""
    settings = _settings()
    services.request_password_reset(
        db_session(), args["email"], lifetime=settings.password_reset_lifetime,
        base_url=settings.public_base_url,
    )


@blp.route("/password-reset/confirm", methods=["POST"])
@blp.public
@blp.arguments(PasswordResetConfirmSchema)
@blp.response(204)
def confirm_password_reset(args: dict):
    """Set a new password with a reset token; every session of the account is logged out."""
    services.reset_password(db_session(), args["token"], args["new_password"])


@blp.route("/invitations/accept", methods=["POST"])
@blp.public
@blp.arguments(InvitationAcceptSchema)
@blp.response(201, UserSchema)
def accept_invitation(args: dict):
    """Create a staff account from an invitation token."""
    return services.accept_invitation(
        db_session(), args["token"], password=args["password"], profile=_profile(args)
    )
