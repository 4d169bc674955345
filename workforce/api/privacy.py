"""Trainers' own data: exports of everything held about them, and erasure."""

from __future__ import annotations

import uuid

from flask import Response, current_app, g

from workforce.accounts.models import Role
from workforce.api import ratelimit
from workforce.api.privacy_schemas import DataExportSchema, ErasureArgs, ErasureRequestSchema
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.privacy import erasure, exports

blp = Blueprint("privacy", __name__, url_prefix="/api/v1/me",
                description="Your own data: exports and erasure")


def _services():  # type: ignore[no-untyped-def]  (workforce.app imports the API)
    return current_app.extensions["workforce"]


def _export_limit() -> str:
    return _services().settings.data_export_limit


def _export_key() -> str:
    # The guard has authenticated the caller before any limit is counted.
    return f"data-export:{g.get('user_id', '-')}"


def _accepted(response: Response) -> bool:
    return response.status_code == 202


@blp.route("/data-exports", methods=["POST"])
@blp.requires(Role.TRAINER)
@ratelimit.limiter.limit(_export_limit, key_func=_export_key, scope="data-export",
                         deduct_when=_accepted)
@blp.response(202, DataExportSchema)
@blp.refuses(409, 429)
def request_export():
    """Ask for an archive (zip of JSON and CSV files) of everything held about you. The
    scheduler prepares it within minutes; you are notified, and it can be downloaded for
    a day. One export is prepared at a time (409 `export-pending`), and a few a day
    (WORKFORCE_DATA_EXPORT_LIMIT, 3 per day: requests accepted; over it, 429)."""
    return exports.request_export(db_session(), current_user())


@blp.route("/data-exports")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(DataExportSchema))
def list_exports(args: dict):
    """Your data exports, newest first."""
    return exports.list_exports(db_session(), current_user(), page_request(args))


@blp.route("/data-exports/<uuid:export_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, DataExportSchema)
@blp.refuses(404)
def get_export(export_id: uuid.UUID):
    """One of your data exports."""
    return exports.get_export(db_session(), current_user(), export_id)


@blp.route("/data-exports/<uuid:export_id>/archive")
@blp.requires(Role.TRAINER)
@blp.doc(responses={"200": {
    "description": "The archive: a zip of JSON and CSV files (README.txt lists them).",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}})
@blp.refuses(404, 409)
def download_export(export_id: uuid.UUID):
    """Download your archive (audited): 409 `export-not-ready` while it is prepared,
    `export-expired` after its day."""
    export, data = exports.download(db_session(), _services().export_store, current_user(),
                                    export_id)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="workforce-data-{export.id}.zip"'})


@blp.route("/erasure", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(ErasureArgs)
@blp.response(202, ErasureRequestSchema)
@blp.refuses(409)
def request_erasure(args: dict):
    """Ask for your account and personal data to be erased, confirmed with your
    password. It can be cancelled during the grace period (7 days unless configured);
    then your account is closed and, once all money owed is paid out, your personal data
    is erased. Accounting records are kept under a pseudonym (README, "Erasure")."""
    return erasure.request_erasure(db_session(), current_user(), password=args["password"],
                                   grace=_services().settings.erasure_grace_period)


@blp.route("/erasure")
@blp.requires(Role.TRAINER)
@blp.response(200, ErasureRequestSchema)
@blp.refuses(404)
def get_erasure():
    """Your open erasure request."""
    return erasure.get_open_request(db_session(), current_user())


@blp.route("/erasure", methods=["DELETE"])
@blp.requires(Role.TRAINER)
@blp.response(200, ErasureRequestSchema)
@blp.refuses(404, 409)
def cancel_erasure():
    """Cancel your erasure request during its grace period."""
    return erasure.cancel_erasure(db_session(), current_user())
