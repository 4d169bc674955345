"""The caller's organisation: its staff, invitations and audit log (admins)."""

from __future__ import annotations

import uuid

from flask import current_app

from workforce.accounts import audit, services
from workforce.accounts.audit import AuditFilter
from workforce.accounts.models import STAFF_ROLES, Role
from workforce.accounts.services import ACCEPT_INVITATION_PATH, IssuedInvitation, UserFilter
from workforce.api.accounts_schemas import (
    AuditEventSchema,
    AuditListArgs,
    InvitationCreateSchema,
    InvitationSchema,
    IssuedInvitationSchema,
    OrganisationSchema,
    PayPolicySchema,
    StaffUpdateSchema,
    UserListArgs,
    UserSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.settings import Settings

blp = Blueprint(
    "organisation", __name__, url_prefix="/api/v1",
    description="The caller's organisation, its staff and its audit log",
)


@blp.route("/organisation")
@blp.requires(*STAFF_ROLES)
@blp.response(200, OrganisationSchema)
def get_organisation():
    """The organisation the caller belongs to."""
    return services.get_own_organisation(db_session(), current_user())


@blp.route("/organisation", methods=["PATCH"])
@blp.requires(Role.ADMIN)
@blp.arguments(OrganisationSchema)
@blp.response(200, OrganisationSchema)
def rename_organisation(args: dict):
    """Rename the organisation (audited)."""
    return services.rename_organisation(db_session(), current_user(), args["name"])


@blp.route("/organisation/pay-policy")
@blp.requires(*STAFF_ROLES)
@blp.response(200, PayPolicySchema)
def get_pay_policy():
    """Stipends required on assessments, the payout hold period and the notice period."""
    return services.pay_policy(services.get_own_organisation(db_session(), current_user()))


@blp.route("/organisation/pay-policy", methods=["PATCH"])
@blp.requires(Role.ADMIN)
@blp.arguments(PayPolicySchema)
@blp.response(200, PayPolicySchema)
def update_pay_policy(args: dict):
    """Change any of the pay policy's fields (audited); those left out keep their value."""
    organisation = services.update_pay_policy(db_session(), current_user(), args)
    return services.pay_policy(organisation)


@blp.route("/users")
@blp.requires(Role.ADMIN)
@blp.arguments(UserListArgs, location="query")
@blp.response(200, page_of(UserSchema))
def list_users(args: dict):
    """The organisation's staff, newest first, filtered by role or active state."""
    page = page_request(args)
    return services.list_users(db_session(), current_user(), UserFilter(**args), page)


@blp.route("/users/<uuid:user_id>")
@blp.requires(Role.ADMIN)
@blp.response(200, UserSchema)
@blp.refuses(404)
def get_user(user_id: uuid.UUID):
    """One staff member of the organisation."""
    return services.get_user(db_session(), current_user(), user_id)


@blp.route("/users/<uuid:user_id>", methods=["PATCH"])
@blp.requires(Role.ADMIN)
@blp.arguments(StaffUpdateSchema)
@blp.response(200, UserSchema)
@blp.refuses(404, 409)
def update_user(args: dict, user_id: uuid.UUID):
    """Change a staff member's role or deactivate them (audited, and they are notified).
    A deactivated account's tokens are revoked."""
    return services.update_staff_user(db_session(), current_user(), user_id, **args)


@blp.route("/invitations")
@blp.requires(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(InvitationSchema))
def list_invitations(args: dict):
    """The organisation's invitations, newest first."""
    return services.list_invitations(db_session(), current_user(), page_request(args))


@blp.route("/invitations", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.arguments(InvitationCreateSchema)
@blp.response(201, IssuedInvitationSchema)
@blp.refuses(409)
def create_invitation(args: dict):
    """Invite a staff member; the token goes to them by e-mail, never in this response
    (except in development: see `acceptance`)."""
    settings = _settings()
    issued = services.invite_staff(
        db_session(), current_user(), email=args["email"], role=args["role"],
        lifetime=settings.invitation_lifetime, base_url=settings.public_base_url,
    )
    return _answer(issued, settings)


@blp.route("/invitations/<uuid:invitation_id>/resend", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.response(200, IssuedInvitationSchema)
@blp.refuses(404, 409)
def resend_invitation(invitation_id: uuid.UUID):
    """E-mail a pending or expired invitation again (audited): a new token with a new
    expiry; the old token stops working. An accepted or revoked one is 409."""
    settings = _settings()
    issued = services.resend_invitation(
        db_session(), current_user(), invitation_id,
        lifetime=settings.invitation_lifetime, base_url=settings.public_base_url,
    )
    return _answer(issued, settings)


def _settings() -> Settings:
    return current_app.extensions["workforce"].settings


def _answer(issued: IssuedInvitation, settings: Settings) -> dict:
    """The invitation; in development also how to accept it, since the e-mail may go
    nowhere there (the console or log sender)."""
    answer = {"invitation": issued.invitation, "acceptance": None}
    if settings.is_development:
        answer["acceptance"] = {
            "method": "POST", "url": settings.public_base_url + ACCEPT_INVITATION_PATH,
            "token": issued.token,
        }
    return answer


@blp.route("/invitations/<uuid:invitation_id>", methods=["DELETE"])
@blp.requires(Role.ADMIN)
@blp.response(200, InvitationSchema)
@blp.refuses(404)
def revoke_invitation(invitation_id: uuid.UUID):
    """Revoke an invitation that has not been accepted."""
    return services.revoke_invitation(db_session(), current_user(), invitation_id)


@blp.route("/audit-events")
@blp.requires(Role.ADMIN)
@blp.arguments(AuditListArgs, location="query")
@blp.response(200, page_of(AuditEventSchema))
def list_audit_events(args: dict):
    """The organisation's audit log, newest first, filtered by action, object, actor or time."""
    page = page_request(args)
    return audit.list_events(db_session(), current_user(), AuditFilter(**args), page)
