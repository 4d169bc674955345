"""Every error answers as ``application/problem+json`` (RFC 9457), never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from workforce import context
from workforce.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
)
from workforce.i18n import _, lazy_gettext

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:workforce:problem:"

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Invalid, 422),
    (Conflict, 409),
]

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


# The title of each status the API answers with, translated; others keep their phrase.
_HTTP_TITLES = {
    400: lazy_gettext("Bad Request"),
    401: lazy_gettext("Unauthorized"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    409: lazy_gettext("Conflict"),
    413: lazy_gettext("Content Too Large"),
    415: lazy_gettext("Unsupported Media Type"),
    422: lazy_gettext("Unprocessable Content"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
    502: lazy_gettext("Bad Gateway"),
    503: lazy_gettext("Service Unavailable"),
}
# What werkzeug would say (in English) when nothing more specific was given.
_HTTP_DETAILS = {
    400: lazy_gettext("The request could not be understood."),
    401: lazy_gettext("Sign in first: send an access token."),
    403: lazy_gettext("You may not do this."),
    404: lazy_gettext("There is nothing at this address."),
    405: lazy_gettext("This address does not accept the request's method."),
    413: lazy_gettext("The request body is too large."),
    415: lazy_gettext("The request body's content type is not accepted here."),
}


def title_of(status: int) -> str:
    title = _HTTP_TITLES.get(status)
    return str(title) if title is not None else HTTPStatus(status).phrase


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    slug = code or _HTTP_SLUGS.get(status, "error")
    body = {
        "type": TYPE_BASE + slug,
        "title": str(title) if title else title_of(status),
        "status": status,
        "detail": str(detail),
        **extra,
        "request_id": context.request_id.get(),
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _status_of(error: DomainError) -> int:
    return next(code for cls, code in _DOMAIN_STATUS if isinstance(error, cls))


def _extra_of(error: DomainError) -> dict[str, Any]:
    extra = dict(error.extra)
    if isinstance(error, Invalid) and error.errors:
        extra["errors"] = error.errors
    return extra


def members_of(error: DomainError) -> dict[str, Any]:
    """The problem members of a domain error, as one item of a bulk answer carries them
    (the answer itself, not the item, has the request id)."""
    return {"type": TYPE_BASE + error.code, "title": str(error.title),
            "status": _status_of(error), "detail": error.detail, **_extra_of(error)}


def from_domain_error(error: DomainError) -> Response:
    status = _status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, error.detail, code=error.code, title=error.title,
                   headers=headers, **_extra_of(error))


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    detail = _detail_of(error, status)
    messages = (getattr(error, "data", None) or {}).get("messages")
    if status == 400 and messages:
        detail = _("The request body is not valid JSON.")
        code = "malformed-json"
    elif status == 422 and messages:
        extra["errors"] = flatten_messages(messages)
        detail = _("The request has invalid fields: %(fields)s.",
                   fields=", ".join(sorted(extra["errors"])))
        code = "validation-error"
    else:
        code = None
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:
        detail = _("Too many requests; try again later.")
    response = problem(status, detail, code=code, headers=headers, **extra)
    if (original := error.get_response()) is not None:
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                     "X-RateLimit-Reset"):
            if name in original.headers:
                response.headers[name] = original.headers[name]
    return response


def from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return problem(500, _("Something went wrong on our side; it has been logged."))


def _detail_of(error: HTTPException, status: int) -> str:
    """The exception's own description when the code gave one, else ours, translated."""
    given = error.description
    if given and given != type(error).description:
        return given
    generic = _HTTP_DETAILS.get(status)
    return str(generic) if generic is not None else HTTPStatus(status).description


def flatten_messages(messages: dict[str, Any]) -> dict[str, list[str]]:
    """webargs' ``{"json": {"a": {"0": ["..."]}}}`` as ``{"a.0": ["..."]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_request", []).extend(value)
        else:
            flat.setdefault(prefix or "_request", []).append(str(value))

    for location_messages in messages.values():
        walk("", location_messages)
    return flat
