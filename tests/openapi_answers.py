"""Every JSON answer the tests receive through ``tests.client.ApiClient`` is checked
against the OpenAPI document the app serves: its status is documented for the operation,
its content type is the one documented for that status, and its body validates against
the documented schema (schemathesis' response check, the same the fuzzer runs). A
disagreement fails the test that received the answer, naming the operation, the status
and the JSON path of each mismatch.

Answers to paths that are no operation (404 for an unknown URL, the docs assets) and
answers that are not JSON (CSV statements, the docs page) are not checked here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from flask import Flask
from schemathesis.core.failures import Failure, FailureGroup
from werkzeug.test import TestResponse

_documents: dict[int, tuple[dict[str, Any], Any]] = {}
_SCHEMA_AT = re.compile(r"^Schema at (\S+):", re.M)


def check(app: Flask, method: str, path: str, response: TestResponse) -> None:
    """Raise ``AssertionError`` when ``response`` disagrees with the document."""
    if not response.is_json:
        return
    spec, schema = _document(app)
    operation = schema.find_operation_by_path(method, urlsplit(path).path)
    if operation is None:
        return
    where = f"{method.upper()} {operation.path} answered {response.status_code}"
    documented = spec["paths"][operation.path][operation.method.lower()]["responses"]
    problems = _status_problems(response, documented) or _schema_problems(operation, response)
    if problems:
        raise AssertionError(
            f"{where}, which the OpenAPI document does not allow:\n  "
            + "\n  ".join(problems) + f"\nbody: {response.get_data(as_text=True)[:500]}")


def _document(app: Flask) -> tuple[dict[str, Any], Any]:
    if id(app) not in _documents:
        spec = app.extensions["workforce"].api.spec.to_dict()
        _documents[id(app)] = (spec, schemathesis.openapi.from_dict(spec))
    return _documents[id(app)]


def _status_problems(response: TestResponse, documented: dict[str, Any]) -> list[str]:
    """A success must be documented by its own status; an error may fall under
    ``default`` (every operation documents problem+json there)."""
    status = str(response.status_code)
    if status not in documented and (response.status_code < 400 or "default" not in documented):
        return [f"status {status} is not documented (documented: "
                f"{', '.join(sorted(documented))})"]
    if response.status_code >= 400 and response.mimetype != "application/problem+json":
        return [f"an error answered as {response.mimetype}, not application/problem+json"]
    return []


def _schema_problems(operation: Any, response: TestResponse) -> list[str]:
    try:
        operation.validate_response(response)
    except FailureGroup as group:
        return [_describe(failure) for failure in group.exceptions]
    except Failure as failure:
        return [_describe(failure)]
    return []


def _describe(failure: Any) -> str:
    message = str(getattr(failure, "message", failure))
    path = getattr(failure, "instance_path", None)
    if path is None:
        return f"{getattr(failure, 'title', 'mismatch')}: {message.splitlines()[0]}"
    json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    schema_at = _SCHEMA_AT.search(message)
    return (f"at {json_path}: {message.splitlines()[0]}"
            + (f" (schema {schema_at.group(1)})" if schema_at else ""))
