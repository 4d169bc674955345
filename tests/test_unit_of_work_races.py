"""A unit of work that PostgreSQL rolls back as a deadlock's victim is run again from the
start, a few times at most (skipped on SQLite): a claim through the API and one through
``Database.run``, the jobs' and commands' way, against a second connection that
deadlocks them on purpose, as often as the test asks."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pytest
from flask import Flask
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.client import assert_problem
from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff, token_for
from tests.races import bearer
from workforce import db
from workforce.accounts.models import User
from workforce.db import Database
from workforce.projects import tasks
from workforce.projects.models import Assignment, Project

RETRIED = "unit of work run again after DeadlockDetected"
T = TypeVar("T")


class Deadlocker:
    """A second connection holding the trainer's row, which a claim locks after sharing
    the project's. Each ``deadlock()`` waits for the claim to queue behind it, then asks
    for the project's row: each waits for the other, and PostgreSQL rolls back the one
    that waited first, the claim. Asking inside a savepoint and rolling back to it lets
    the project go again, ready for the claim's next attempt."""

    def __init__(self, connection: Connection, trainer_id: uuid.UUID,
                 project_id: uuid.UUID) -> None:
        self.connection = connection
        self.project_id = project_id
        connection.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"),
                           {"id": trainer_id})
        self.pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def deadlock(self, monitor: Connection, running: Future) -> None:
        self.wait_for_a_claim(monitor, running)
        savepoint = self.connection.begin_nested()
        # Returns once PostgreSQL has chosen the claim as the victim (as the second to
        # wait, this connection is not), taking the project's row from it.
        self.connection.execute(text("SELECT 1 FROM projects WHERE id = :id FOR UPDATE"),
                                {"id": self.project_id})
        savepoint.rollback()

    def wait_for_a_claim(self, monitor: Connection, running: Future) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if running.done():
                raise AssertionError(f"the claim was not run again: {running.result()!r}")
            waiting = monitor.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
            ), {"pid": self.pid}).scalar_one()
            if waiting:
                return
            time.sleep(0.01)
        raise AssertionError("the claim never queued behind the trainer's row")


def _claimable() -> tuple[Project, User, str]:
    project = ProjectFactory()
    TaskFactory(project=project)
    trainer = UserFactory()
    staff(project, trainer)
    return project, trainer, token_for(trainer)


def _race(live_database: Database, project: Project, trainer: User, deadlocks: int,
          unit_of_work: Callable[[], T]) -> T:
    """Run ``unit_of_work`` in a thread while a second connection makes it a deadlock's
    victim ``deadlocks`` times; its result."""
    with live_database.engine.connect() as holder, \
            live_database.engine.connect() as monitor, ThreadPoolExecutor(1) as pool:
        monitor.execution_options(isolation_level="AUTOCOMMIT")
        deadlocker = Deadlocker(holder, trainer.id, project.id)
        running = pool.submit(unit_of_work)
        for _ in range(deadlocks):
            deadlocker.deadlock(monitor, running)
        if deadlocks < db.RETRY_ATTEMPTS:
            deadlocker.wait_for_a_claim(monitor, running)  # the attempt that gets through
        holder.rollback()
        return running.result(timeout=30)


def _claim_made_a_victim(live_app: Flask, live_database: Database, deadlocks: int,
                         caplog: pytest.LogCaptureFixture) -> tuple[Project, TestResponse]:
    caplog.set_level(logging.WARNING, logger="workforce.db")
    project, trainer, token = _claimable()
    claim = f"/api/v1/projects/{project.id}/claims"
    return project, _race(live_database, project, trainer, deadlocks,
                          lambda: live_app.test_client().post(claim, headers=bearer(token)))


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "workforce.db"]


def _assignments(live_session: Session, project: Project) -> list[Assignment]:
    live_session.expire_all()
    return list(live_session.scalars(select(Assignment).where(
        Assignment.project_id == project.id)))


def test_a_claim_chosen_twice_as_a_deadlocks_victim_is_run_again_and_claims_once(
    live_app: Flask, live_database: Database, live_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project, response = _claim_made_a_victim(live_app, live_database,
                                             db.RETRY_ATTEMPTS - 1, caplog)
    assert response.status_code == 201, response.get_json()
    assert _retries(caplog) == [RETRIED] * (db.RETRY_ATTEMPTS - 1)
    (assignment,) = _assignments(live_session, project)
    assert response.get_json()["id"] == str(assignment.id)
    # The request's budget was spent once, before the view, whatever it took.
    limit = int(response.headers["X-RateLimit-Limit"])
    assert int(response.headers["X-RateLimit-Remaining"]) == limit - 1


def test_a_claim_still_deadlocked_after_the_last_attempt_is_a_503_that_writes_nothing(
    live_app: Flask, live_database: Database, live_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project, response = _claim_made_a_victim(live_app, live_database, db.RETRY_ATTEMPTS,
                                             caplog)
    assert_problem(response, 503, code="contention")
    # At least our second; the rate limiter puts its own window's end there if later.
    assert int(response.headers["Retry-After"]) >= 1
    assert _retries(caplog) == [RETRIED] * (db.RETRY_ATTEMPTS - 1)
    assert _assignments(live_session, project) == []


def test_a_unit_of_work_run_by_a_job_is_run_again_with_its_after_commit_work_once(
    live_database: Database, live_session: Session, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="workforce.db")
    project, trainer, _ = _claimable()
    committed: list[str] = []

    def claim(session: Session) -> str:
        db.after_commit(session, lambda: committed.append("told"))
        owner = session.get(User, trainer.id)
        return str(tasks.claim_next(session, owner, project.id)[0].assignment.id)

    claimed = _race(live_database, project, trainer, 1, lambda: live_database.run(claim))
    assert _retries(caplog) == [RETRIED]
    assert committed == ["told"]
    (assignment,) = _assignments(live_session, project)
    assert claimed == str(assignment.id)


def _on_the_driver(session: Session, sql: str) -> object:
    driver = session.connection().connection.driver_connection
    with db.driver_errors(session), driver.cursor() as cursor:
        return cursor.execute(sql).fetchone()


def test_a_deadlock_met_on_the_drivers_own_connection_is_run_again_too(
    live_database: Database, caplog: pytest.LogCaptureFixture,
) -> None:
    """Work done on psycopg's connection itself (the aggregation's streamed reads,
    stamps and COPY) raises the driver's errors; ``db.driver_errors`` raises them as
    SQLAlchemy does for the session's statements, so a deadlock there is run again
    like any other. The server raises a real deadlock_detected (40P01) the first time."""
    caplog.set_level(logging.WARNING, logger="workforce.db")
    attempts: list[int] = []

    def work(session: Session) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            _on_the_driver(session, "DO $$ BEGIN RAISE EXCEPTION 'chosen as the victim' "
                                    "USING ERRCODE = '40P01'; END $$")
        return _on_the_driver(session, "SELECT 1")

    assert live_database.run(work) == (1,)
    assert len(attempts) == 2
    assert _retries(caplog) == [RETRIED]


def test_any_other_error_on_the_drivers_own_connection_is_sqlalchemys_kind_of_it(
    live_database: Database,
) -> None:
    with pytest.raises(DataError) as raised:
        live_database.run(_on_the_driver, "SELECT 1 / 0")
    assert type(raised.value.orig).__name__ == "DivisionByZero"
    assert not db.is_retryable(raised.value)
