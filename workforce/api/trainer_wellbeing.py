"""A trainer's own wellbeing: consent to sensitive content, their exposure figures and
limits, and claiming the next task across their projects (with rotation)."""

from __future__ import annotations

from workforce.accounts.models import Role
from workforce.api.security import Blueprint, current_user
from workforce.api.tasks_schemas import AssignmentSchema
from workforce.api.trainer_wellbeing_schemas import (
    ConsentBodySchema,
    ConsentSchema,
    ExposureSchema,
    WithdrawalSchema,
)
from workforce.api.uow import db_session
from workforce.errors import NotFound
from workforce.i18n import _
from workforce.projects.models import ContentCategory
from workforce.wellbeing import consent, limits, rotation, withdrawal

blp = Blueprint(
    "trainer-wellbeing", __name__, url_prefix="/api/v1",
    description="A trainer's consent to sensitive content, exposure and limits, and claims "
    "across projects with rotation",
)


@blp.route("/me/content-consent")
@blp.requires(Role.TRAINER)
@blp.response(200, ConsentSchema)
def get_consent():
    """The caller's age attestation and the content categories they consent to."""
    return consent.view(db_session(), current_user())


@blp.route("/me/content-consent", methods=["PUT"])
@blp.requires(Role.TRAINER)
@blp.arguments(ConsentBodySchema)
@blp.response(200, ConsentSchema)
@blp.refuses(409, 422)
def put_consent(args: dict):
    """Attest being 18 or over (`confirm_age_18_or_over`, once, kept with its time) and
    set the categories consented to. A category needs the attestation (409
    `age-attestation-required`, nothing written). Categories left out are withdrawn,
    as with `DELETE /me/content-consent/{category}`. Audited."""
    session, trainer = db_session(), current_user()
    withdrawal.update_consent(session, trainer,
                              confirm_age=args.get("confirm_age_18_or_over", False),
                              categories=args["categories"])
    return consent.view(session, trainer)


@blp.route("/me/content-consent/<string:category>", methods=["DELETE"])
@blp.requires(Role.TRAINER)
@blp.response(200, WithdrawalSchema)
@blp.refuses(404)
def withdraw_consent(category: str):
    """Withdraw consent to one category, at once: the caller leaves every project whose
    warning names it (leases there released, a running session closed and paid to
    now), open applications and invitations to them end, and leases on single tasks
    carrying it are given back. Submitted work is still reviewed and paid; approval
    rate, quality score and eligibility elsewhere do not change. Audited; the caller
    is notified of what ended."""
    try:
        chosen = ContentCategory(category)
    except ValueError:
        raise NotFound(_("No content category %(category)r.", category=category)) from None
    return withdrawal.withdraw(db_session(), current_user(), chosen)


@blp.route("/me/exposure")
@blp.requires(Role.TRAINER)
@blp.response(200, ExposureSchema)
def my_exposure():
    """The caller's exposure to sensitive work: today's graphic and total, this week's
    (their own day and week), the current run and any break due; per organisation they
    work for, its limits, the time left per level and what blocks work now."""
    return limits.standing(db_session(), current_user())


@blp.route("/me/claims", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(201, AssignmentSchema)
@blp.alt_response(200, schema=AssignmentSchema,
                  description="A lease of the caller's that is still running.")
@blp.refuses(409)
def claim_any():
    """Lease the next task across every active project the caller is staffed on: the
    project with the best open task first (priority, then age), as a claim on one
    project would choose. When rotation is due (the organisation's
    `rotation_after_minutes` of exposure in a row), non-sensitive projects come first.
    A lease still running is returned instead (200). Refused with 409
    `no-task-available`, or, when every project with work refused for it,
    `exposure-limit-reached` (with `limit` and `resets_at`) or `consent-required`."""
    view, new = rotation.claim_any(db_session(), current_user())
    return view, 201 if new else 200
