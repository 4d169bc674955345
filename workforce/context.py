"""Values that belong to the current request or job, readable from any layer."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("workforce_request_id", default=None)
