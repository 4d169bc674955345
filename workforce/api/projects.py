"""Projects: creation, requirements, guidelines, pay rates, activation."""

from __future__ import annotations

from workforce.api.security import Blueprint

blp = Blueprint(
    "projects", __name__, url_prefix="/api/v1",
    description="Projects: creation, requirements, guidelines, pay rates, activation",
)
