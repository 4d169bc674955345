"""A project's aggregated answers: the state of its aggregation, asking for a
recomputation, and its settings (``results.aggregation``). Nothing is computed in a
request: the scheduler's job ``results.aggregate`` does it."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, STAFF_ROLES
from workforce.api.aggregation_schemas import (
    AggregationSettingsSchema,
    AggregationStateSchema,
    ProjectQualitySchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.results import aggregation, quality

blp = Blueprint(
    "aggregation", __name__, url_prefix="/api/v1",
    description="Aggregated answers: methods per field, recomputation, dynamic overlap",
)


@blp.route("/projects/<uuid:project_id>/aggregation")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.response(200, AggregationStateSchema)
@blp.refuses(404)
def get_aggregation(project_id: uuid.UUID):
    """When the project's answers were last aggregated, the method of each field, how
    many tasks and aggregates there are, and what dynamic overlap added."""
    return aggregation.get_state(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/aggregation", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.response(202, AggregationStateSchema)
@blp.refuses(404)
def request_aggregation(project_id: uuid.UUID):
    """Ask for the project's aggregates to be recomputed (`pending` until done). The
    scheduler's job does it within minutes; it also recomputes on its own every project
    with new approved answers."""
    return aggregation.request(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/aggregation/settings", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(AggregationSettingsSchema)
@blp.response(200, AggregationStateSchema)
@blp.refuses(404, 409)
def put_aggregation_settings(args: dict, project_id: uuid.UUID):
    """Set the method of each field and dynamic overlap (audited). A method that does
    not fit its field's kind in the current template, or names no field of it, is 422
    with `errors` at `/methods/<field>`; confidence_target and max_redundancy go
    together. Takes effect on the next computation."""
    session, user = db_session(), current_user()
    aggregation.update_settings(session, user, project_id, methods_by_field=args["methods"],
                                confidence_target=args["confidence_target"],
                                max_redundancy=args["max_redundancy"])
    return aggregation.get_state(session, user, project_id)


@blp.route("/projects/<uuid:project_id>/quality")
@blp.requires(*MANAGERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ProjectQualitySchema))
@blp.refuses(404)
def list_project_quality(args: dict, project_id: uuid.UUID):
    """Every trainer who has submitted work to the project, by trainer id: gold accuracy
    with its 95% Wilson interval, agreement with the aggregated answers, the aggregation
    model's skill estimate per field and median active seconds per task (computed as
    `GET /me/quality`'s `definitions` say; trainers see the same figures of their own)."""
    return quality.project_quality(db_session(), current_user(), project_id,
                                   page_request(args))
