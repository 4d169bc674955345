"""One request, one unit of work: a session opened on first use, committed when the
view succeeds and rolled back otherwise. A view that loses a race on PostgreSQL (a
deadlock or a serialization failure, in any statement or at the commit) is run again
on a fresh session, a few times at most (``db.retrying``), then answered 503.

Only the view is run again: the checks before it (rate limits, which count once) stand,
the caller is authenticated again on the new session, and the body is read from what
was parsed or kept the first time. A view that streams its body (``bodies.raw_body``)
cannot read it twice and is answered 503 at once. After-commit callbacks (the outbox's
delivery) run once, after the commit that succeeded; a failed attempt's are dropped
with its rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from workforce import db
from workforce.api import problems
from workforce.api.bodies import raw_body_types
from workforce.db import Database
from workforce.i18n import _

# What the first attempt kept of the caller that is bound to its session.
_SESSION_BOUND = ("db_session", "user", "token", "api_key")


def database() -> Database:
    return current_app.extensions["workforce"].database


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = database().session()
    return g.db_session


def _end_session() -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        db.rollback(session)  # nothing, when the view's unit of work was committed
        session.close()


def _attempt(view: Callable[[], Any]) -> Response:
    try:
        response = current_app.make_response(view())
        if response.status_code < 400 and "db_session" in g:
            db.commit(g.db_session)
        return response
    except DBAPIError as error:
        if db.is_retryable(error):
            _end_session()
            for name in _SESSION_BOUND:
                g.pop(name, None)
        raise


def _dispatch(view: Callable[[], Any]) -> Any:
    try:
        if raw_body_types():
            return _attempt(view)
        return db.retrying(lambda: _attempt(view))
    except DBAPIError as error:
        if not db.is_retryable(error):
            raise
        return problems.problem(
            503, _("The request met others changing the same data; send it again."),
            code="contention", headers={"Retry-After": "1"},
        )


def init_app(app: Flask) -> None:
    # Flask's dispatch_request runs the view alone (before_request hooks ran already);
    # wrapped here for the instance, so the unit of work lives in this one module.
    run_view = app.dispatch_request
    app.dispatch_request = lambda: _dispatch(run_view)  # type: ignore[method-assign]

    @app.after_request
    def finish_unit_of_work(response: Response) -> Response:
        _end_session()
        return response

    @app.teardown_request
    def close_unit_of_work(_exc: BaseException | None) -> None:
        _end_session()
