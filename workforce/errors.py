"""Domain errors. Services raise these; the API layer maps them to problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``code`` is a stable machine-readable slug (it becomes the problem ``type``),
    ``detail`` a sentence for people, ``extra`` more members for the problem body.
    """

    code = "domain-error"
    title = "Request cannot be completed"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule; ``errors`` maps field to messages."""

    code = "validation-error"
    title = "Validation failed"

    def __init__(
        self, detail: str, *, errors: Mapping[str, list[str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.errors = dict(errors or {})


class IllegalTransition(Conflict):
    """A lifecycle was asked to move from a state that does not allow it."""

    code = "illegal-transition"
    title = "Illegal state transition"
