"""Domain errors. Services raise these; the API layer maps them to problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workforce.i18n import lazy_gettext


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``code`` is a stable machine-readable slug (it becomes the problem ``type``),
    ``detail`` a sentence for people, ``extra`` more members for the problem body.
    ``title`` and ``detail`` are translated (``workforce.i18n``): raise with
    ``_("...")``, and a subclass's ``title`` is a ``lazy_gettext``; the slugs never are.
    """

    code = "domain-error"
    title = lazy_gettext("Request cannot be completed")

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    code = "not-found"
    title = lazy_gettext("Not found")


class Forbidden(DomainError):
    code = "forbidden"
    title = lazy_gettext("Forbidden")


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = lazy_gettext("Authentication required")


class Conflict(DomainError):
    code = "conflict"
    title = lazy_gettext("Conflict")


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule; ``errors`` maps field to messages."""

    code = "validation-error"
    title = lazy_gettext("Validation failed")

    def __init__(
        self, detail: str, *, errors: Mapping[str, list[str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.errors = dict(errors or {})


class IllegalTransition(Conflict):
    """A lifecycle was asked to move from a state that does not allow it."""

    code = "illegal-transition"
    title = lazy_gettext("Illegal state transition")


class JobFailed(Exception):
    """A scheduled job's run in which some of the items failed after the others were
    done (each failure logged with its error): the scheduler logs the run as failed,
    and ``workforce jobs run`` says so and exits non-zero. Not a ``DomainError``: no
    request ever sees it."""
