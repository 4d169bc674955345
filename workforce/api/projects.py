"""Projects: creation, requirements, guidelines, pay rates, activation."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, STAFF_ROLES
from workforce.api.projects_schemas import (
    GuidelineCreateSchema,
    GuidelineSchema,
    ProjectCreateSchema,
    ProjectListArgs,
    ProjectSchema,
    ProjectSettingsSchema,
    RateCreateSchema,
    RateSchema,
    RequirementsSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import services

blp = Blueprint(
    "projects", __name__, url_prefix="/api/v1",
    description="Projects: creation, requirements, guidelines, pay rates, activation",
)


@blp.route("/projects")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.arguments(ProjectListArgs, location="query")
@blp.response(200, page_of(ProjectSchema))
def list_projects(args: dict):
    """The organisation's projects, newest first (``?state=`` filters)."""
    page = page_request(args)
    return services.list_projects(db_session(), current_user(), page, state=args.get("state"))


@blp.route("/projects", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(ProjectCreateSchema)
@blp.response(201, ProjectSchema)
def create_project(args: dict):
    """Create a draft project, with its first rate, guidelines (version 1) and required
    qualifications when given. Refused below the organisation's wage floor
    (`below-wage-floor`)."""
    session = db_session()
    project = services.create_project(session, current_user(), **args)
    return services.view_of(session, project)


@blp.route("/projects/<uuid:project_id>")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.response(200, ProjectSchema)
@blp.refuses(404)
def get_project(project_id: uuid.UUID):
    """One project: current and upcoming rate, estimated hourly rate (per task), current
    guidelines version, requirements and active member count."""
    return services.get_project_view(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>", methods=["PATCH"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(ProjectSettingsSchema(partial=True))
@blp.response(200, ProjectSchema)
@blp.refuses(404, 409)
def update_project(args: dict, project_id: uuid.UUID):
    """Change settings (audited). Pay model and currency are fixed once active;
    capacity never goes below the active members; sensitivity may only be raised once
    active (members are told)."""
    session = db_session()
    project = services.update_project(session, current_user(), project_id, **args)
    return services.view_of(session, project)


@blp.route("/projects/<uuid:project_id>/requirements", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(RequirementsSchema)
@blp.response(200, ProjectSchema)
@blp.refuses(404, 409)
def replace_requirements(args: dict, project_id: uuid.UUID):
    """Replace the required qualifications (audited). Members already staffed stay."""
    session = db_session()
    project = services.replace_requirements(
        session, current_user(), project_id, args["requirements"]
    )
    return services.view_of(session, project)


@blp.route("/projects/<uuid:project_id>/guidelines")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(GuidelineSchema))
@blp.refuses(404)
def list_guidelines(args: dict, project_id: uuid.UUID):
    """Every guidelines version, newest first."""
    return services.list_guidelines(db_session(), current_user(), project_id, page_request(args))


@blp.route("/projects/<uuid:project_id>/guidelines", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(GuidelineCreateSchema)
@blp.response(201, GuidelineSchema)
@blp.refuses(404, 409)
def add_guidelines(args: dict, project_id: uuid.UUID):
    """Publish the next guidelines version (audited; active members are told)."""
    return services.add_guidelines(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/rates")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(RateSchema))
@blp.refuses(404)
def list_rates(args: dict, project_id: uuid.UUID):
    """Every rate version, newest first. Work is paid at the rate in force when done."""
    return services.list_rates(db_session(), current_user(), project_id, page_request(args))


@blp.route("/projects/<uuid:project_id>/rates", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(RateCreateSchema)
@blp.response(201, RateSchema)
@blp.refuses(404, 409)
def add_rate(args: dict, project_id: uuid.UUID):
    """A new rate version from `effective_from` (now by default, never in the past).
    Audited with the amounts before and after; announced to active members. Refused
    below the wage floor (`below-wage-floor`)."""
    return services.add_rate(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/activate", methods=["POST"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.response(200, ProjectSchema)
@blp.refuses(404, 409)
def activate_project(project_id: uuid.UUID):
    """Draft -> active (audited). Needs a rate in force and guidelines
    (`project-incomplete`); any other state is `illegal-transition`."""
    session = db_session()
    project = services.activate_project(session, current_user(), project_id)
    return services.view_of(session, project)
