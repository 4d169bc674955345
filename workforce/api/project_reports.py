"""Per-project figures for managers, and trainers' own work history."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "project_reports", __name__, url_prefix="/api/v1",
    description="Per-project figures for managers, and trainers' own work history",
)
