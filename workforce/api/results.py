"""Results out: a project's approved answers and aggregates, as pages and as streamed
downloads (``results.exports``)."""

from __future__ import annotations

import uuid

from flask import Response, current_app

from workforce.accounts.models import MANAGERS
from workforce.api.results_schemas import (
    PreferenceSchema,
    ResultListArgs,
    ResultSchema,
    SinceArgs,
)
from workforce.api.schemas import page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import database, db_session
from workforce.integrations.scopes import Scope
from workforce.results import exports

blp = Blueprint(
    "results", __name__, url_prefix="/api/v1",
    description="Results: approved answers, aggregates and preference pairs, as pages "
    "and as streamed downloads",
)

JSONL = "application/x-ndjson"


def _secret() -> str:
    return current_app.extensions["workforce"].settings.pseudonym_secret


@blp.route("/projects/<uuid:project_id>/results")
@blp.requires(*MANAGERS, scope=Scope.RESULTS_READ)
@blp.arguments(ResultListArgs, location="query")
@blp.response(200, page_of(ResultSchema))
@blp.refuses(404)
def list_results(args: dict, project_id: uuid.UUID):
    """The project's results, a page at a time: tasks with a result (an approved answer
    or an aggregate), in the order of their last change (`updated_at`, then task id), so
    `updated_since` gives an incremental sync. Each task: its external id, the
    aggregate per template field with its confidence (null until the aggregation job
    computed it), and the approved answers with the template version they were given
    to, trainers shown as per-project pseudonyms."""
    page = page_request(args)
    return exports.results_page(db_session(), current_user(), project_id, page,
                                secret=_secret(), since=args.get("updated_since"))


def _download(project_id: uuid.UUID, args: dict, fmt: str, mimetype: str,
              filename: str) -> Response:
    """The stream of ``fmt``, read with a session of its own after the request's unit of
    work has ended (the access check is the request's)."""
    project = exports.export_project(db_session(), current_user(), project_id)
    if fmt == "preferences":
        exports.require_preferences(db_session(), project.id)
    extra = {"fields": exports.csv_fields(db_session(), project.id)} if fmt == "csv" else {}
    lines = exports.LINES[fmt](database().reading, project.id, secret=_secret(),
                               since=args.get("updated_since"), **extra)
    return Response(lines, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def _body(mimetype: str, description: str, schema: dict | None = None) -> dict:
    return {"200": {"description": description, "content": {
        mimetype: {"schema": schema or {"type": "string"}}}}}


@blp.route("/projects/<uuid:project_id>/results.jsonl")
@blp.requires(*MANAGERS, scope=Scope.RESULTS_READ)
@blp.arguments(SinceArgs, location="query")
@blp.response(200, content_type=JSONL)
@blp.doc(responses=_body(JSONL, "One result a line, as the items of `GET .../results`."))
@blp.refuses(404)
def download_results_jsonl(args: dict, project_id: uuid.UUID):
    """Every result of the project as JSON lines, streamed (memory stays flat whatever
    the size): each line one item of `GET .../results`, in the same order."""
    return _download(project_id, args, "jsonl", JSONL, "results.jsonl")


@blp.route("/projects/<uuid:project_id>/results.csv")
@blp.requires(*MANAGERS, scope=Scope.RESULTS_READ)
@blp.arguments(SinceArgs, location="query")
@blp.response(200, content_type="text/csv")
@blp.doc(responses=_body("text/csv", "Header, then one row per task."))
@blp.refuses(404)
def download_results_csv(args: dict, project_id: uuid.UUID):
    """Every result of the project as CSV, streamed: `task_id`, `external_id`,
    `updated_at`, then for each field of any template version its aggregate's value
    (JSON unless a plain label or number) and `<field>.confidence`, and `answers`, the
    approved answers as a JSON array (as in the JSON items); tasks in the order of
    `GET .../results`."""
    return _download(project_id, args, "csv", "text/csv", "results.csv")


@blp.route("/projects/<uuid:project_id>/results/preferences.jsonl")
@blp.requires(*MANAGERS, scope=Scope.RESULTS_READ)
@blp.arguments(SinceArgs, location="query")
@blp.response(200, content_type=JSONL)
@blp.doc(responses=_body(JSONL, "One comparison a line.", {
    "$ref": "#/components/schemas/Preference"}))
@blp.refuses(404, 409)
def download_preferences(args: dict, project_id: uuid.UUID):
    """Preference data for reward-model training, streamed as JSON lines: one line per
    approved judgment of a `pairwise` field, with the task's prompt, the chosen and the
    rejected response's text, the strength (null without a scale) and the reason. Ties
    are left out, as are tasks whose payload lacks two responses. Tasks in the order of
    `GET .../results`. Refused with 409 `no-pairwise-field` for a project whose task
    template never had a pairwise field."""
    return _download(project_id, args, "preferences", JSONL, "preferences.jsonl")


def register_schemas(spec) -> None:  # type: ignore[no-untyped-def]
    spec.components.schema("Preference", schema=PreferenceSchema)
