"""The HTTP API under /api/v1: blueprints, schemas, authorization and problem+json errors."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, send_from_directory
from flask_smorest.utils import prepare_response
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException

from workforce.api import (
    aggregation,
    api_keys,
    assessments,
    attempts,
    auth,
    budgets,
    declared_use,
    earnings,
    fair_pay,
    guards,
    health,
    hourly,
    languages,
    me,
    organisation,
    payout_accounts,
    payouts,
    privacy,
    problems,
    project_reports,
    project_states,
    projects,
    quality_rules,
    ratelimit,
    results,
    sign_in,
    staffing,
    standing,
    support,
    tasks,
    templates,
    trainer_wellbeing,
    uow,
    uploads,
    webhook_endpoints,
    webhook_endpoints_schemas,
    webhooks,
    wellbeing,
)
from workforce.api.schemas import ProblemSchema, decimal_strings, enum_choices
from workforce.api.security import API_KEY_SCHEME, BEARER_SCHEME, PUBLIC, Blueprint, mark
from workforce.errors import DomainError

BLUEPRINTS = (
    health.blp, auth.blp, me.blp, organisation.blp, assessments.blp, attempts.blp,
    attempts.grading_blp, projects.blp, staffing.blp, tasks.blp, hourly.blp, project_states.blp,
    project_reports.blp, earnings.blp, payout_accounts.blp, payouts.blp, webhooks.blp,
    wellbeing.blp, trainer_wellbeing.blp, support.blp, fair_pay.blp, privacy.blp,
    templates.blp, api_keys.blp, webhook_endpoints.blp,
    declared_use.blp, standing.blp, sign_in.blp, aggregation.blp, results.blp, budgets.blp,
    quality_rules.blp,
    uploads.blp,
)
DOCS_ASSETS = "/api/v1/docs/assets/"


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return problems.from_http_exception(error)

    def _register_responses(self) -> None:
        # flask-smorest's hook for the shared error responses (UNAUTHORIZED, NOT_FOUND...):
        # ours are application/problem+json, and the document should say so.
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            languages.with_content_language(response)
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        languages.with_content_language(default)
        prepare_response(default, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "workforce",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS,
        # Swagger UI would otherwise ask validator.swagger.io about the document.
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Crowd workforce marketplace: assessments, projects, "
                "wellbeing and payouts. Errors are application/problem+json (RFC 9457). "
                "A request that loses a race with others changing the same data is run "
                "again; 503 `contention` (with Retry-After) if it still loses.",
            },
            "servers": [{"url": "/"}],
        },
    }


docs_assets = Blueprint("docs-assets", __name__, url_prefix=DOCS_ASSETS.rstrip("/"))


@docs_assets.route("/<path:filename>")
@docs_assets.public
@docs_assets.doc(exclude=True)
def docs_asset(filename: str):
    """Swagger UI's own files, served from the installed package so the docs work offline."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def init_app(app: Flask) -> None:
    languages.init_app(app)
    uow.init_app(app)
    guards.init_app(app)
    ratelimit.limiter.init_app(app)
    api = Api(app, spec_kwargs={"extra_plugins": [languages.LanguagePlugin()]})
    api.ma_plugin.converter.add_attribute_function(decimal_strings)
    api.ma_plugin.converter.add_attribute_function(enum_choices)
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    api.spec.components.security_scheme("apiKey", API_KEY_SCHEME)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_assets)
    webhook_endpoints_schemas.document_events(api.spec)
    results.register_schemas(api.spec)
    # flask-smorest's own views (the document and the docs page) are public.
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("api-docs."):
            mark(view, PUBLIC)

    app.register_error_handler(DomainError, problems.from_domain_error)
    app.register_error_handler(HTTPException, problems.from_http_exception)
    app.register_error_handler(Exception, problems.from_unexpected)
    app.extensions["workforce"].api = api
