"""Pause, resume, suspension with notice and kill fees, closing."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, STAFF_ROLES
from workforce.api.project_states_schemas import (
    PauseSchema,
    ProjectStateSchema,
    SuspensionCreateSchema,
    SuspensionSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import project_states

blp = Blueprint(
    "project_states", __name__, url_prefix="/api/v1",
    description="Pause, resume, suspension with notice and kill fees, closing",
)


@blp.route("/projects/<uuid:project_id>/pause", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_STATE)
@blp.arguments(PauseSchema)
@blp.response(200, ProjectStateSchema)
@blp.refuses(404, 409)
def pause(args: dict, project_id: uuid.UUID):
    """Pause an active project. Trainers see the reason and expected resume date, and
    claims are refused with them; running work sessions stop now, paid to this moment.
    Tasks already claimed may still be submitted. 409 `illegal-transition` from any
    state but active."""
    return project_states.pause_project(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/resume", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_STATE)
@blp.response(200, ProjectStateSchema)
@blp.refuses(404, 409)
def resume(project_id: uuid.UUID):
    """Reopen a paused or suspended project; an announced suspension not yet in effect
    is cancelled (kill fees already owed stand). Trainers are notified."""
    return project_states.resume_project(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/suspension", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_STATE)
@blp.arguments(SuspensionCreateSchema)
@blp.response(201, SuspensionSchema)
@blp.refuses(404, 409)
def announce_suspension(args: dict, project_id: uuid.UUID):
    """Announce a suspension of an active or paused project; trainers are notified at
    once. Notice shorter than the organisation's notice period owes every active trainer
    a kill fee: their average daily earnings on the project over the last 14 days times
    the days missed (rounded up), recorded as an earning. Effective now: suspended at
    once (leases released, sessions closed). 409 `suspension-pending` while another is
    announced."""
    return project_states.announce_suspension(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/suspension", methods=["DELETE"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_STATE)
@blp.response(200, SuspensionSchema)
@blp.refuses(404, 409)
def cancel_suspension(project_id: uuid.UUID):
    """Cancel the announced suspension before it takes effect, without pausing or
    resuming; trainers are notified. Kill fees already owed stand. 409
    `no-pending-suspension` when none is waiting."""
    return project_states.cancel_suspension(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/suspensions")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(SuspensionSchema))
@blp.refuses(404)
def list_suspensions(args: dict, project_id: uuid.UUID):
    """The project's suspensions, newest first, with every kill fee."""
    return project_states.list_suspensions(
        db_session(), current_user(), project_id, page_request(args)
    )


@blp.route("/projects/<uuid:project_id>/close", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_STATE)
@blp.response(200, ProjectStateSchema)
@blp.refuses(404, 409)
def close(project_id: uuid.UUID):
    """Close a draft or suspended project for good. A running project is suspended
    first, with its notice (409 `illegal-transition` says so)."""
    return project_states.close_project(db_session(), current_user(), project_id)
