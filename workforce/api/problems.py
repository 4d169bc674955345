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
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
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
    return {"type": TYPE_BASE + error.code, "title": error.title,
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
    detail = error.description or HTTPStatus(status).description
    messages = (getattr(error, "data", None) or {}).get("messages")
    if status == 400 and messages:
        detail = "The request body is not valid JSON."
        code = "malformed-json"
    elif status == 422 and messages:
        extra["errors"] = flatten_messages(messages)
        detail = "The request has invalid fields: " + ", ".join(sorted(extra["errors"])) + "."
        code = "validation-error"
    else:
        code = None
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:
        detail = "Too many requests; try again later."
    response = problem(status, detail, code=code, headers=headers, **extra)
    if (original := error.get_response()) is not None:
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                     "X-RateLimit-Reset"):
            if name in original.headers:
                response.headers[name] = original.headers[name]
    return response


def from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return problem(500, "Something went wrong on our side; it has been logged.")


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
