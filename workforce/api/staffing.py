"""Staffing: the trainer marketplace, applications, invitations and membership."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "staffing", __name__, url_prefix="/api/v1",
    description="Staffing: the trainer marketplace, applications, invitations and membership",
)
