"""Staffing: the trainer marketplace, applications, invitations and membership."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, REVIEWERS, Role
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.staffing_schemas import (
    ApplicationSchema,
    CandidateSchema,
    InvitationsSchema,
    MarketProjectSchema,
    MemberSchema,
    MembershipListArgs,
    MembershipSchema,
    OptionalReasonSchema,
    ProjectInvitationSchema,
    ReasonSchema,
)
from workforce.api.uow import db_session
from workforce.projects import staffing

blp = Blueprint(
    "staffing", __name__, url_prefix="/api/v1",
    description="Staffing: the trainer marketplace, applications, invitations and membership",
)


# --- trainers: the marketplace -------------------------------------------------------


@blp.route("/marketplace/projects")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MarketProjectSchema))
def list_marketplace(args: dict):
    """Active projects the caller is qualified for, newest first: pay, content warning,
    review policy, guidelines version, places left and the caller's membership. One
    with a content warning the caller has not consented to is listed with
    `eligible: false` and `unmet` saying what to do (`age-attestation`, `consent`)."""
    return staffing.list_marketplace(db_session(), current_user(), page_request(args))


@blp.route("/marketplace/projects/<uuid:project_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, MarketProjectSchema)
@blp.refuses(404)
def get_market_project(project_id: uuid.UUID):
    """One project the caller may see: active and eligible, or one they are or were a
    member of."""
    return staffing.get_market_project(db_session(), current_user(), project_id)


@blp.route("/marketplace/projects/<uuid:project_id>/applications", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(ApplicationSchema)
@blp.response(201, MembershipSchema)
@blp.refuses(404, 409)
def apply(args: dict, project_id: uuid.UUID):
    """Apply to join (audited). 409 `membership-open` if an application, invitation or
    membership is open; `not-eligible`; `consent-required`; `project-paused` and the
    like."""
    return staffing.apply(db_session(), current_user(), project_id, **args)


# --- trainers: memberships -----------------------------------------------------------


@blp.route("/me/memberships")
@blp.requires(Role.TRAINER)
@blp.arguments(MembershipListArgs, location="query")
@blp.response(200, page_of(MembershipSchema))
def list_my_memberships(args: dict):
    """The caller's applications, invitations and memberships, newest first, with the
    reason of a decline or removal."""
    page = page_request(args)
    return staffing.list_my_memberships(
        db_session(), current_user(), page, state=args.get("state")
    )


@blp.route("/me/memberships/<uuid:membership_id>/accept", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, MembershipSchema)
@blp.refuses(404, 409)
def accept_invitation(membership_id: uuid.UUID):
    """Accept an invitation. Eligibility and capacity are checked now: 409
    `capacity-reached` when the project is full, `not-eligible`."""
    return staffing.accept_invitation(db_session(), current_user(), membership_id)


@blp.route("/me/memberships/<uuid:membership_id>/decline", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(OptionalReasonSchema)
@blp.response(200, MembershipSchema)
@blp.refuses(404, 409)
def decline_invitation(args: dict, membership_id: uuid.UUID):
    """Decline an invitation."""
    return staffing.decline_invitation(db_session(), current_user(), membership_id, **args)


@blp.route("/me/memberships/<uuid:membership_id>/withdraw", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, MembershipSchema)
@blp.refuses(404, 409)
def withdraw_application(membership_id: uuid.UUID):
    """Withdraw an application."""
    return staffing.withdraw_application(db_session(), current_user(), membership_id)


@blp.route("/me/memberships/<uuid:membership_id>/leave", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(OptionalReasonSchema)
@blp.response(200, MembershipSchema)
@blp.refuses(404, 409)
def leave(args: dict, membership_id: uuid.UUID):
    """Leave a project, at any time. Claimed tasks go back and a running work session
    closes now; submitted work is still reviewed and paid."""
    return staffing.leave(db_session(), current_user(), membership_id, **args)


# --- managers ------------------------------------------------------------------------


@blp.route("/projects/<uuid:project_id>/members")
@blp.requires(*REVIEWERS)
@blp.arguments(MembershipListArgs, location="query")
@blp.response(200, page_of(MemberSchema))
@blp.refuses(404)
def list_members(args: dict, project_id: uuid.UUID):
    """The project's applications, invitations and members, newest first."""
    page = page_request(args)
    return staffing.list_members(
        db_session(), current_user(), project_id, page, state=args.get("state")
    )


@blp.route("/projects/<uuid:project_id>/members/<uuid:membership_id>/accept", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.response(200, MemberSchema)
@blp.refuses(404, 409)
def accept_application(project_id: uuid.UUID, membership_id: uuid.UUID):
    """Accept an application (the trainer is told). Eligibility and capacity are checked
    now: 409 `capacity-reached`, `not-eligible`."""
    return staffing.accept_application(db_session(), current_user(), project_id, membership_id)


@blp.route("/projects/<uuid:project_id>/members/<uuid:membership_id>/decline",
           methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(ReasonSchema)
@blp.response(200, MemberSchema)
@blp.refuses(404, 409)
def decline_application(args: dict, project_id: uuid.UUID, membership_id: uuid.UUID):
    """Decline an application with a reason the trainer sees."""
    return staffing.decline_application(
        db_session(), current_user(), project_id, membership_id, **args
    )


@blp.route("/projects/<uuid:project_id>/members/<uuid:membership_id>/withdraw",
           methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(OptionalReasonSchema)
@blp.response(200, MemberSchema)
@blp.refuses(404, 409)
def withdraw_invitation(args: dict, project_id: uuid.UUID, membership_id: uuid.UUID):
    """Withdraw an invitation not yet answered (the trainer is told)."""
    return staffing.withdraw_invitation(
        db_session(), current_user(), project_id, membership_id, **args
    )


@blp.route("/projects/<uuid:project_id>/members/<uuid:membership_id>/remove",
           methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(ReasonSchema)
@blp.response(200, MemberSchema)
@blp.refuses(404, 409)
def remove_member(args: dict, project_id: uuid.UUID, membership_id: uuid.UUID):
    """Remove an active member with a reason the trainer sees. Their claimed tasks go
    back and a running session closes; submitted work is still reviewed and paid."""
    return staffing.remove_member(db_session(), current_user(), project_id, membership_id, **args)


@blp.route("/projects/<uuid:project_id>/invitations", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(ProjectInvitationSchema)
@blp.response(200, InvitationsSchema)
@blp.refuses(404, 409)
def invite(args: dict, project_id: uuid.UUID):
    """Invite up to 100 trainers at once; each is invited or skipped with the reason
    (`not-a-trainer`, `membership-open`, `not-eligible`). Needs an active or paused
    project."""
    results = staffing.invite(db_session(), current_user(), project_id, **args)
    invited = sum(1 for r in results if r.outcome is staffing.InvitationOutcome.INVITED)
    return {"invited": invited, "skipped": len(results) - invited, "results": results}


@blp.route("/projects/<uuid:project_id>/candidates")
@blp.requires(*MANAGERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CandidateSchema))
@blp.refuses(404)
def list_candidates(args: dict, project_id: uuid.UUID):
    """Eligible trainers without an open membership, best first, with the components
    of their rank (see `rank_score`)."""
    return staffing.candidates(db_session(), current_user(), project_id, page_request(args))
