"""Task templates: the typed answer of a project's tasks, versioned (``results.templates``)."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, Role
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.templates_schemas import (
    AnswerSchemaDocument,
    SchemaArgs,
    TemplateCreateSchema,
    TemplateStateSchema,
    TemplateVersionSchema,
)
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.results import templates

blp = Blueprint(
    "templates", __name__, url_prefix="/api/v1",
    description="Task templates: the typed, versioned answer of a project's tasks",
)

@blp.route("/projects/<uuid:project_id>/template", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(TemplateCreateSchema)
@blp.response(201, TemplateVersionSchema)
@blp.refuses(404, 409)
def publish_template(args: dict, project_id: uuid.UUID):
    """Publish the next template version (audited; active members are told). Checked
    first: 422 `template-invalid` with `errors` keyed by JSON pointer into this body
    (`/fields/2/settings/options/1/value`), every problem at once, nothing saved. Work
    already claimed keeps the version in force at its claim."""
    return templates.publish(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/template")
@blp.requires(*Role, scope=Scope.PROJECTS_READ)
@blp.response(200, TemplateStateSchema)
@blp.refuses(404)
def get_template(project_id: uuid.UUID):
    """The current template version, or, for a project without one, `version` null and
    `accepts` saying that any JSON answer is accepted.
    For the organisation's staff and the trainers who may see the project (else 404)."""
    return templates.get_template(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/template/versions")
@blp.requires(*Role, scope=Scope.PROJECTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TemplateVersionSchema))
@blp.refuses(404)
def list_template_versions(args: dict, project_id: uuid.UUID):
    """Every template version, newest first. For the organisation's staff and the
    trainers who may see the project (else 404)."""
    return templates.list_versions(db_session(), current_user(), project_id,
                                   page_request(args))


@blp.route("/projects/<uuid:project_id>/template/versions/<int:number>")
@blp.requires(*Role, scope=Scope.PROJECTS_READ)
@blp.response(200, TemplateVersionSchema)
@blp.refuses(404)
def get_template_version(project_id: uuid.UUID, number: int):
    """One template version. For the organisation's staff and the trainers who may
    see the project (else 404)."""
    return templates.get_version(db_session(), current_user(), project_id, number)


@blp.route("/projects/<uuid:project_id>/template/schema")
@blp.requires(*Role, scope=Scope.PROJECTS_READ)
@blp.arguments(SchemaArgs, location="query")
@blp.response(200, AnswerSchemaDocument)
@blp.refuses(404)
def get_template_schema(args: dict, project_id: uuid.UUID):
    """The JSON Schema (draft 2020-12) of an answer to the current template version, or
    to `?version=n`: what submit checks answers with, besides span offsets (within the
    task's prompt, not overlapping unless allowed) and citation URLs (public, on the
    allowed hosts). 404 when the project has no template. For the organisation's staff and the
    trainers who may see the project."""
    return templates.schema_of(db_session(), current_user(), project_id,
                               args.get("version"))
