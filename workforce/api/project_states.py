"""Pause, resume, suspension with notice and kill fees, closing."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "project_states", __name__, url_prefix="/api/v1",
    description="Pause, resume, suspension with notice and kill fees, closing",
)
