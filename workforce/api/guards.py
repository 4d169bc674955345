"""Checks every request passes before any view parses it."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request

from workforce.api.bodies import json_body, raw_body_types
from workforce.api.problems import problem
from workforce.api.security import authorize, policy_of
from workforce.errors import Invalid
from workforce.i18n import _

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _nul_path(body: Any) -> str | None:
    """Where a NUL character hides in parsed JSON, if anywhere (keys included).

    Walked with a stack, not by recursion: a body nested a few hundred deep parses, and
    must not then overflow the interpreter's stack here."""
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path or "_request"
        elif isinstance(value, dict):
            for key, inner in value.items():
                where = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return where
                stack.append((inner, where))
        elif isinstance(value, list):
            stack.extend((inner, f"{path}.{index}" if path else str(index))
                         for index, inner in enumerate(value))
    return None


def _refuse_nul(field: str) -> None:
    raise Invalid(
        _("Text must not contain NUL characters: %(field)s.", field=field),
        errors={field: [_("Must not contain NUL characters.")]},
    )


def _authorize_first() -> None:
    """Who asks comes before what they send: a caller without a valid token gets 401 (and
    one in the wrong role 403) whatever the body or query holds, so that nothing about the
    input's checks is told to someone who may not call the operation."""
    view = current_app.view_functions.get(request.endpoint or "")
    policy = policy_of(view) if view is not None else None
    if policy is not None:
        authorize(policy)


def init_app(app: Flask) -> None:
    @app.before_request
    def check_input() -> Any:
        _authorize_first()
        raw_types = raw_body_types()
        if (
            request.method in BODY_METHODS and request.content_length and not request.is_json
            and request.mimetype not in raw_types
        ):
            if raw_types:
                return problem(
                    415, _("Send the body with one of these content types: %(types)s.",
                           types=", ".join(sorted(raw_types))), code="unsupported-media-type",
                )
            return problem(
                415, _("Send the request body as JSON with 'Content-Type: application/json'."),
                code="unsupported-media-type",
            )
        for name, values in request.args.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                _refuse_nul(name.replace("\x00", ""))
        if request.is_json:
            # PostgreSQL can neither store nor compare NUL; refuse it for every field.
            where = _nul_path(json_body())
            if where is not None:
                _refuse_nul(where)
        return None
