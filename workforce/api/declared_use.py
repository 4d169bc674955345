"""What the work is for: projects declare it, trainers refuse uses."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, Role
from workforce.api.declared_use_schemas import DeclaredUseSchema, WorkPreferencesSchema
from workforce.api.projects_schemas import ProjectSchema
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import declared_use, services

blp = Blueprint(
    "declared_use", __name__, url_prefix="/api/v1",
    description="What the work is for: projects' declared use, trainers' refused uses",
)


@blp.route("/projects/<uuid:project_id>/declared-use", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(DeclaredUseSchema)
@blp.response(200, ProjectSchema)
@blp.refuses(404, 409)
def declare(args: dict, project_id: uuid.UUID):
    """Declare what the work is for (needed before activation), or change it in any
    state but closed (409 `project-closed`). A change after activation tells the active
    members, in the app and by e-mail, who may leave without penalty; a departure within
    14 days is recorded as caused by it. Audited."""
    session = db_session()
    project = declared_use.declare(session, current_user(), project_id, **args)
    return services.view_of(session, project)


@blp.route("/me/work-preferences")
@blp.requires(Role.TRAINER)
@blp.response(200, WorkPreferencesSchema)
def get_work_preferences():
    """The uses the caller will not work on (empty until set)."""
    return declared_use.preferences_of(db_session(), current_user())


@blp.route("/me/work-preferences", methods=["PUT"])
@blp.requires(Role.TRAINER)
@blp.arguments(WorkPreferencesSchema)
@blp.response(200, WorkPreferencesSchema)
def put_work_preferences(args: dict):
    """Replace the uses the caller will not work on. Projects declaring one are no
    longer offered (left out of the marketplace; applying and claiming refused); this
    never affects quality, approval rate or ranking. Memberships held stay until the
    caller leaves them, without penalty. Audited."""
    return declared_use.set_refused_uses(db_session(), current_user(), args["refused_uses"])
