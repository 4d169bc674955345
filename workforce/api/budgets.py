"""A project's budget: spent, committed and projected against it (``projects.budgets``)."""

from __future__ import annotations

import uuid

from workforce.accounts.models import FINANCE_STAFF, MANAGERS
from workforce.api.budgets_schemas import BudgetSchema, BudgetSetSchema
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import budgets

blp = Blueprint(
    "budgets", __name__, url_prefix="/api/v1",
    description="A project's optional budget: spent, committed, projected, remaining",
)


@blp.route("/projects/<uuid:project_id>/budget")
@blp.requires(*(MANAGERS | FINANCE_STAFF), scope=Scope.PROJECTS_READ)
@blp.response(200, BudgetSchema)
@blp.refuses(404)
def get_budget(project_id: uuid.UUID):
    """The project's budget and its figures, in the project's currency: spent (the
    ledger's costs of the project), committed (leased and awaiting review, at the rates
    that will apply), projected (open slots at the current rate), remaining, and on a
    line of its own what dynamic overlap's extra slots cost. Managers are told when 80%
    is spent or committed. A claim that would take the project over its budget is
    refused at that moment (409 `budget-spent`); the marketplace shows trainers the
    project as unmet once no further task fits (within a minute)."""
    return budgets.get_budget(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/budget", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(BudgetSetSchema)
@blp.response(200, BudgetSchema)
@blp.refuses(404, 409)
def set_budget(args: dict, project_id: uuid.UUID):
    """Set the project's budget (or remove it with `amount` null), audited. The 80% and
    100% marks follow at once: raising a used-up budget lets claims start again."""
    return budgets.set_budget(db_session(), current_user(), project_id, args["amount"])
