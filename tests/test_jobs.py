"""The scheduler's jobs, run the way the scheduler runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff, worked_task
from workforce.accounts import jobs as accounts_jobs
from workforce.accounts import tokens
from workforce.accounts.models import ApiToken
from workforce.billing.models import EarningEvent
from workforce.db import Database
from workforce.projects import jobs as projects_jobs
from workforce.projects.access import rate_at
from workforce.projects.models import Assignment, AssignmentState, Task


def test_expired_credentials_are_purged_after_thirty_days(
    database: Database, session: Session
) -> None:
    user = UserFactory()
    start = datetime.now(UTC)
    with time_machine.travel(start - timedelta(days=40), tick=False):
        tokens.issue_token(session, user, label="old", lifetime=timedelta(hours=1))
    with time_machine.travel(start - timedelta(days=5), tick=False):
        tokens.issue_token(session, user, label="recent", lifetime=timedelta(hours=1))
    tokens.issue_token(session, user, label="live", lifetime=timedelta(hours=1))
    session.commit()

    accounts_jobs.purge_expired_credentials(database)

    session.expire_all()
    left = set(session.scalars(select(ApiToken.label).where(ApiToken.user_id == user.id)))
    assert left == {"recent", "live"}


# --- projects: each job drains its service, a batch per unit of work ------------------


def test_lease_expiry_drains_every_batch(
    database: Database, session: Session, monkeypatch
) -> None:
    monkeypatch.setattr(projects_jobs, "BATCH", 2)  # five leases: three batches
    project = ProjectFactory(lease_seconds=600)
    trainers = UserFactory.create_batch(5)
    staff(project, *trainers)
    task = TaskFactory(project=project, redundancy=5, open_slots=0)
    claimed = datetime.now(UTC) - timedelta(hours=2)
    for trainer in trainers:
        session.add(Assignment(
            task_id=task.id, project_id=project.id, trainer_id=trainer.id,
            claimed_at=claimed, lease_expires_at=claimed + timedelta(minutes=10),
        ))
    session.commit()

    assert projects_jobs.expire_leases(database) == 5
    assert projects_jobs.expire_leases(database) == 0  # a second scheduler: no-op

    session.expire_all()
    states = session.scalars(select(Assignment.state).where(Assignment.task_id == task.id))
    assert set(states) == {AssignmentState.EXPIRED}
    assert session.get(Task, task.id).open_slots == 5


def test_auto_approval_pays_unreviewed_work_once(database: Database, session: Session) -> None:
    project = ProjectFactory(auto_approve_days=7)
    trainer = UserFactory()
    staff(project, trainer)
    now = datetime.now(UTC)
    rate = rate_at(session, project.id, now)
    stale = worked_task(project, trainer, submitted_at=now - timedelta(days=8), rate=rate)
    fresh = worked_task(project, trainer, submitted_at=now - timedelta(days=6), rate=rate)
    session.commit()

    assert projects_jobs.auto_approve_submissions(database) == 1
    projects_jobs.auto_approve_submissions(database)

    session.expire_all()
    paid = session.scalars(select(EarningEvent).where(EarningEvent.trainer_id == trainer.id))
    assert [(e.source_id, e.amount) for e in paid] == [(stale.id, 200)]
    assert session.get(type(fresh), fresh.id).state.value == "submitted"


def test_every_registered_job_runs_with_the_arguments_it_was_given(
    app, session: Session
) -> None:
    """The wiring: each job, called as the scheduler calls it, runs (in the test's
    rolled-back transaction)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from workforce.jobs import build_scheduler

    scheduler = build_scheduler(BackgroundScheduler, app.extensions["workforce"])
    for job in scheduler.get_jobs():
        result = job.func(*job.args, **job.kwargs)
        assert isinstance(result, str) and result, job.id


def test_every_job_run_is_logged_with_what_it_did_nothing_included(
    app, session: Session, caplog
) -> None:
    import logging

    from workforce.jobs import run_job

    services = app.extensions["workforce"]
    project = ProjectFactory(lease_seconds=600)
    trainer = UserFactory()
    staff(project, trainer)
    task = TaskFactory(project=project, open_slots=0)
    claimed = datetime.now(UTC) - timedelta(hours=2)
    session.add(Assignment(task_id=task.id, project_id=project.id, trainer_id=trainer.id,
                           claimed_at=claimed, lease_expires_at=claimed + timedelta(minutes=10)))
    session.commit()

    with caplog.at_level(logging.INFO, logger="workforce.jobs"):
        assert run_job("projects.expire_leases", services) == "task leases expired: 1"
        assert run_job("projects.expire_leases", services) == "nothing to do"
    runs = [r for r in caplog.records if r.name == "workforce.jobs"]
    assert [(r.job, r.summary, r.handled) for r in runs] == [
        ("projects.expire_leases", "task leases expired: 1", 1),
        ("projects.expire_leases", "nothing to do", 0)]
