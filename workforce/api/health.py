from __future__ import annotations

import logging

from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from workforce.api.security import Blueprint
from workforce.api.uow import database
from workforce.db import READS_ONLY

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "ok"})


@blp.route("/health")
@blp.public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database is unreachable.")
def health():
    """Report whether the service and its database answer."""
    try:
        with database().engine.connect() as connection:
            connection.execution_options(**{READS_ONLY: True}).execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable")
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
