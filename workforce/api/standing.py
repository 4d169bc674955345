"""Account actions with due process: staff restrict or deactivate a trainer with notice;
the trainer responds, a manager decides, the trainer may appeal once to another."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, Role
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.standing_schemas import (
    AccountActionAppealDecisionSchema,
    AccountActionAppealSchema,
    AccountActionCreateSchema,
    AccountActionDecisionSchema,
    AccountActionListArgs,
    AccountActionResponseSchema,
    AccountActionSchema,
)
from workforce.api.uow import db_session
from workforce.standing import services

blp = Blueprint(
    "standing", __name__, url_prefix="/api/v1",
    description="Account actions (restriction, deactivation) with notice, response, "
    "decision and appeal",
)


@blp.route("/account-actions", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(AccountActionCreateSchema)
@blp.response(201, AccountActionSchema)
@blp.refuses(404)
def create_action(args: dict):
    """Restrict or deactivate a trainer's account with the organisation, with a reason
    and an explanation the trainer sees. It takes effect after the organisation's notice
    period (`notice_period_days`), during which the trainer may respond; fraud and safety
    take effect at once. Money already earned is always paid. Audited; the trainer is
    told. 404 for a trainer who never had anything to do with the organisation."""
    return services.create_action(db_session(), current_user(), **args)


@blp.route("/account-actions")
@blp.requires(*MANAGERS)
@blp.arguments(AccountActionListArgs, location="query")
@blp.response(200, page_of(AccountActionSchema))
def list_actions(args: dict):
    """The organisation's account actions, newest first (`?trainer_id=` filters)."""
    page = page_request(args)
    return services.list_for_organisation(db_session(), current_user(), page,
                                          trainer_id=args.get("trainer_id"))


@blp.route("/account-actions/<uuid:action_id>")
@blp.requires(*MANAGERS)
@blp.response(200, AccountActionSchema)
@blp.refuses(404)
def get_action(action_id: uuid.UUID):
    """One account action with its history."""
    return services.get_for_staff(db_session(), current_user(), action_id)


@blp.route("/account-actions/<uuid:action_id>/decision", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(AccountActionDecisionSchema)
@blp.response(200, AccountActionSchema)
@blp.refuses(404, 409)
def decide(args: dict, action_id: uuid.UUID):
    """Decide the trainer's response: `uphold` (in effect at its time, or now if that
    passed) or `withdraw` (no effect). 409 `illegal-transition` without a response."""
    return services.decide(db_session(), current_user(), action_id, **args)


@blp.route("/account-actions/<uuid:action_id>/appeal-decision", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(AccountActionAppealDecisionSchema)
@blp.response(200, AccountActionSchema)
@blp.refuses(404, 409)
def decide_appeal(args: dict, action_id: uuid.UUID):
    """Decide the trainer's appeal: `uphold` or `overturn` (the action ends now). Only a
    staff member other than the one who decided the response (409
    `another-staff-member-required`)."""
    return services.decide_appeal(db_session(), current_user(), action_id, **args)


@blp.route("/me/account-actions")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(AccountActionSchema))
def list_my_actions(args: dict):
    """Every account action taken on the caller, by any organisation, newest first, with
    responses, decisions and appeals."""
    return services.list_mine(db_session(), current_user(), page_request(args))


@blp.route("/me/account-actions/<uuid:action_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, AccountActionSchema)
@blp.refuses(404)
def get_my_action(action_id: uuid.UUID):
    """One account action taken on the caller."""
    return services.get_mine(db_session(), current_user(), action_id)


@blp.route("/me/account-actions/<uuid:action_id>/response", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(AccountActionResponseSchema)
@blp.response(200, AccountActionSchema)
@blp.refuses(404, 409)
def respond(args: dict, action_id: uuid.UUID):
    """Respond once, in writing, until `respond_by`. A response to an action with notice
    holds its effect until a manager decides it. 409 `response-closed` after the time,
    `illegal-transition` for a second response."""
    return services.respond(db_session(), current_user(), action_id, **args)


@blp.route("/me/account-actions/<uuid:action_id>/appeal", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(AccountActionAppealSchema)
@blp.response(200, AccountActionSchema)
@blp.refuses(404, 409)
def appeal(args: dict, action_id: uuid.UUID):
    """Appeal an upheld decision, once; another staff member decides it."""
    return services.appeal(db_session(), current_user(), action_id, text=args["appeal"])
