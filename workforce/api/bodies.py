"""The request's JSON body, parsed once per request, in one place: the input guard reads
it first (NUL characters), then the views' schemas (webargs) read the same value, and a
view run again (``uow``) reads it again. The views that stream a body of another type
themselves are marked with ``raw_body``."""

from __future__ import annotations

from typing import Any

from flask import Request, current_app, g, request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest

RAW_BODY_ATTR = "_workforce_raw_body_types"


def raw_body(*mimetypes: str) -> Any:
    """Mark a view that streams a non-JSON body of these types itself (a file upload).

    Place it directly above the ``def``. The view checks the content type again after
    authorization, since a JSON body passes the input guard.
    """

    def mark(view: Any) -> Any:
        setattr(view, RAW_BODY_ATTR, frozenset(mimetypes))
        return view

    return mark


def raw_body_types() -> frozenset[str]:
    """The body types the request's view streams itself (none for most)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, RAW_BODY_ATTR, frozenset())


class MalformedJson(BadRequest):
    """A body that is not JSON (or not UTF-8), or nested deeper than the parser can go."""

    def __init__(self) -> None:
        super().__init__("The request body is not valid JSON.")
        # What webargs attaches to its own 400, so that problems.from_http_exception
        # answers both the same way (malformed-json).
        self.data = {"messages": {"json": ["Invalid JSON body."]}}


def json_body() -> Any:
    """The parsed body of this JSON request, or ``core.missing`` when it is empty.

    A ``RecursionError`` is not a ``ValueError``, so Flask's ``get_json(silent=True)``
    lets a body of a few hundred thousand ``[`` through as a 500; here it is malformed.
    """
    if "json_body" not in g:
        data = request.get_data(cache=True)
        try:
            g.json_body = core.parse_json(data) if data else core.missing
        except (ValueError, RecursionError) as exc:
            raise MalformedJson() from exc
    return g.json_body


class JsonBodyParser(FlaskParser):
    """webargs' Flask parser reading the body through ``json_body``."""

    def _raw_load_json(self, req: Request) -> Any:
        return json_body() if is_json_request(req) else core.missing
