"""Wellbeing: the organisation's policy (limits, breaks, support resources)."""

from __future__ import annotations

from workforce.accounts.models import STAFF_ROLES, Role
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.api.wellbeing_schemas import WellbeingPolicySchema
from workforce.wellbeing import policies

blp = Blueprint(
    "wellbeing", __name__, url_prefix="/api/v1",
    description="Content warnings, exposure limits, flags, support and check-ins",
)


@blp.route("/organisation/wellbeing-policy")
@blp.requires(*STAFF_ROLES)
@blp.response(200, WellbeingPolicySchema)
def get_wellbeing_policy():
    """The organisation's exposure limits, breaks, rotation, check-ins, support
    resources and counselling allowance (the defaults until an admin changes them)."""
    return policies.view(policies.policy_for(db_session(), current_user().organisation_id))


@blp.route("/organisation/wellbeing-policy", methods=["PATCH"])
@blp.requires(Role.ADMIN)
@blp.arguments(WellbeingPolicySchema)
@blp.response(200, WellbeingPolicySchema)
def update_wellbeing_policy(args: dict):
    """Change any of the policy's fields (audited); those left out keep their value.
    New limits apply from the next claim or session start."""
    return policies.view(policies.update_policy(db_session(), current_user(), args))
