"""One request, one unit of work: a session opened on first use, committed when the
request succeeds and rolled back when it fails."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session

from workforce import db
from workforce.api import problems
from workforce.db import Database


def database() -> Database:
    return current_app.extensions["workforce"].database


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = database().session()
    return g.db_session


def init_app(app: Flask) -> None:
    @app.after_request
    def finish_unit_of_work(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return response
        try:
            if response.status_code < 400:
                db.commit(session)
            else:
                db.rollback(session)
        except Exception as error:
            # The commit itself failed (a lost connection, a serialization failure):
            # nothing of the request is kept, and the caller gets a problem, not the
            # success the view had prepared.
            db.rollback(session)
            return problems.from_unexpected(error)
        finally:
            session.close()
        return response

    @app.teardown_request
    def close_unit_of_work(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            db.rollback(session)
            session.close()
