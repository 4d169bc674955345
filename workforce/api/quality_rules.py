"""Quality-control rules of a project and the restrictions they set (``results.quality_rules``,
``results.restrictions``): managers keep the rules and decide restrictions; trainers see
theirs, with the figures, and may ask for a review once."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, Role
from workforce.api.quality_rules_schemas import (
    QualityRestrictionAppealSchema,
    QualityRestrictionDecisionSchema,
    QualityRestrictionListArgs,
    QualityRestrictionSchema,
    QualityRuleCreateSchema,
    QualityRuleSchema,
    QualityRulesSchema,
    QualityRuleUpdateSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.results import quality_rules, restrictions

blp = Blueprint(
    "quality_rules", __name__, url_prefix="/api/v1",
    description="Quality-control rules that only act forward: a trainer caught is kept "
    "from claiming on the project, told the figures, and may ask for a review",
)


@blp.route("/projects/<uuid:project_id>/quality-rules", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(QualityRuleCreateSchema)
@blp.response(201, QualityRuleSchema)
@blp.refuses(404, 409)
def create_rule(args: dict, project_id: uuid.UUID):
    """Add a rule (audited). `gold_accuracy` and `agreement` take `min_percent`,
    `fast_submissions` takes `max_fast` (below `sample_size`) and `min_seconds`; a
    setting the kind lacks or does not take is 422 naming it. A trainer it catches may
    not claim on the project for `duration_hours` (null: until a manager decides);
    nothing already submitted, approved or paid is touched."""
    return quality_rules.create_rule(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/quality-rules")
@blp.requires(*MANAGERS)
@blp.response(200, QualityRulesSchema)
@blp.refuses(404)
def list_rules(project_id: uuid.UUID):
    """The project's rules, oldest first, enabled or not."""
    return {"items": quality_rules.list_rules(db_session(), current_user(), project_id)}


@blp.route("/projects/<uuid:project_id>/quality-rules/<uuid:rule_id>", methods=["PATCH"])
@blp.requires(*MANAGERS)
@blp.arguments(QualityRuleUpdateSchema)
@blp.response(200, QualityRuleSchema)
@blp.refuses(404, 409)
def update_rule(args: dict, project_id: uuid.UUID, rule_id: uuid.UUID):
    """Change a rule's settings, or disable it (`enabled` false) and enable it again
    (audited). The kind is fixed. Applies to evaluations from now on; restrictions set
    before run their course."""
    return quality_rules.update_rule(db_session(), current_user(), project_id, rule_id,
                                     **args)


@blp.route("/projects/<uuid:project_id>/quality-restrictions")
@blp.requires(*MANAGERS)
@blp.arguments(QualityRestrictionListArgs, location="query")
@blp.response(200, page_of(QualityRestrictionSchema))
@blp.refuses(404)
def list_restrictions(args: dict, project_id: uuid.UUID):
    """The restrictions the project's rules set, newest first (`?trainer_id=`,
    `?in_force=` filter)."""
    page = page_request(args)
    return restrictions.list_for_project(db_session(), current_user(), project_id, page,
                                         **args)


@blp.route("/quality-restrictions/<uuid:restriction_id>")
@blp.requires(*MANAGERS)
@blp.response(200, QualityRestrictionSchema)
@blp.refuses(404)
def get_restriction(restriction_id: uuid.UUID):
    """One restriction, with the figures, the appeal and the decision."""
    return restrictions.get_for_staff(db_session(), current_user(), restriction_id)


@blp.route("/quality-restrictions/<uuid:restriction_id>/decision", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(QualityRestrictionDecisionSchema)
@blp.response(200, QualityRestrictionSchema)
@blp.refuses(404, 409)
def decide(args: dict, restriction_id: uuid.UUID):
    """Confirm, shorten (`ends_at`: still to come, before the current end) or lift a
    restriction in force, with a reason the trainer is told (audited). 409
    `restriction-not-in-force` once it ran out or was lifted."""
    return restrictions.decide(db_session(), current_user(), restriction_id, **args)


@blp.route("/me/quality-restrictions")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(QualityRestrictionSchema))
def list_my_restrictions(args: dict):
    """Every restriction a quality rule set on the caller, newest first, with the rule
    and the figures that caught them, the appeal and the decision."""
    return restrictions.list_mine(db_session(), current_user(), page_request(args))


@blp.route("/me/quality-restrictions/<uuid:restriction_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, QualityRestrictionSchema)
@blp.refuses(404)
def get_my_restriction(restriction_id: uuid.UUID):
    """One restriction set on the caller."""
    return restrictions.get_mine(db_session(), current_user(), restriction_id)


@blp.route("/me/quality-restrictions/<uuid:restriction_id>/appeal", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(QualityRestrictionAppealSchema)
@blp.response(200, QualityRestrictionSchema)
@blp.refuses(404, 409)
def appeal(args: dict, restriction_id: uuid.UUID):
    """Ask for a review, once, in writing, while the restriction is in force; the
    project's managers decide and say why. 409 `already-appealed`,
    `restriction-not-in-force`."""
    return restrictions.appeal(db_session(), current_user(), restriction_id,
                               text=args["appeal"])
