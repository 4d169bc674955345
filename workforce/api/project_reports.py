"""Per-project figures for managers, and trainers' own work history."""

from __future__ import annotations

import uuid

from workforce.accounts.models import STAFF_ROLES, Role
from workforce.api.project_reports_schemas import (
    MyKillFeeSchema,
    MyProjectsArgs,
    MyProjectSchema,
    ProjectReportSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.integrations.scopes import Scope
from workforce.projects import project_reports

blp = Blueprint(
    "project_reports", __name__, url_prefix="/api/v1",
    description="Per-project figures for managers, and trainers' own work history",
)


@blp.route("/projects/<uuid:project_id>/report")
@blp.requires(*STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.response(200, ProjectReportSchema)
@blp.refuses(404)
def project_report(project_id: uuid.UUID):
    """Throughput (last 7 UTC days), pending review, approval rate, active trainers,
    open tasks and slots, hours logged this week and in total, and cost to date."""
    return project_reports.project_report(db_session(), current_user(), project_id)


@blp.route("/me/projects")
@blp.requires(Role.TRAINER)
@blp.arguments(MyProjectsArgs, location="query")
@blp.response(200, page_of(MyProjectSchema))
def list_my_projects(args: dict):
    """The projects the caller works on (`include_past`: also those left), newest
    first: state, pay, pause reason, any suspension, guidelines and own kill fees."""
    include_past = args.pop("include_past", False)
    return project_reports.list_my_projects(
        db_session(), current_user(), page_request(args), include_past=include_past
    )


@blp.route("/me/projects/<uuid:project_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, MyProjectSchema)
@blp.refuses(404)
def get_my_project(project_id: uuid.UUID):
    """One project the caller is or was a member of."""
    return project_reports.get_my_project(db_session(), current_user(), project_id)


@blp.route("/me/kill-fees")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MyKillFeeSchema))
def list_my_kill_fees(args: dict):
    """The caller's kill fees, newest first: what notice was missed and what it pays."""
    return project_reports.list_my_kill_fees(db_session(), current_user(), page_request(args))
