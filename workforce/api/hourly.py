"""Hourly work: sessions, manual entries and weekly timesheets."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "hourly", __name__, url_prefix="/api/v1",
    description="Hourly work: sessions, manual entries and weekly timesheets",
)
