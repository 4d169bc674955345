"""Tasks: import, claims and leases, submissions, review and appeals."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "tasks", __name__, url_prefix="/api/v1",
    description="Tasks: import, claims and leases, submissions, review and appeals",
)
