"""Checks every request passes before any view parses it."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from workforce.api.problems import problem
from workforce.errors import Invalid

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where a NUL character hides in parsed JSON, if anywhere (keys included)."""
    if isinstance(value, str):
        return path or "_request" if "\x00" in value else None
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            if (found := _nul_path(inner, where)) is not None:
                return found
    if isinstance(value, list):
        for index, inner in enumerate(value):
            if (found := _nul_path(inner, f"{path}.{index}" if path else str(index))) is not None:
                return found
    return None


def _refuse_nul(field: str) -> None:
    raise Invalid(
        f"Text must not contain NUL characters: {field}.",
        errors={field: ["Must not contain NUL characters."]},
    )


def init_app(app: Flask) -> None:
    @app.before_request
    def check_input() -> Any:
        if request.method in BODY_METHODS and request.content_length and not request.is_json:
            return problem(
                415, "Send the request body as JSON with 'Content-Type: application/json'.",
                code="unsupported-media-type",
            )
        for name, values in request.args.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                _refuse_nul(name.replace("\x00", ""))
        if request.is_json and request.content_length:
            # PostgreSQL can neither store nor compare NUL; refuse it for every field.
            where = _nul_path(request.get_json(silent=True))
            if where is not None:
                _refuse_nul(where)
        return None
