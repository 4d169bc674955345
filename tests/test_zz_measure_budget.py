"""Temporary: time a claim (service call) with and without a budget."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy.orm import Session

from tests.factories import TaskFactory, UserFactory, earned, worked_task
from tests.task_helpers import staffed_project
from workforce import clock
from workforce.projects import access
from workforce.projects import tasks as tasks_service


def test_measure(session: Session) -> None:
    trainer = UserFactory()
    project = staffed_project(trainer)
    rate = access.rate_at(session, project.id, clock.now())
    others = [UserFactory() for _ in range(10)]
    for n in range(500):
        earned(others[n % 10], project.organisation_id, 200, project=project)
    for n in range(500):
        worked_task(project, others[n % 10], submitted_at=clock.now() - timedelta(hours=1),
                    rate=rate)
    for n in range(600):
        TaskFactory(project=project)
    results = {}
    for label, amount in (("plain", None), ("budget", 10**9), ("plain2", None),
                          ("budget2", 10**9)):
        project.budget_amount = amount
        session.commit()
        times = []
        for _ in range(120):
            start = time.perf_counter()
            view, _new = tasks_service.claim_next(session, trainer, project.id)
            session.flush()
            times.append(time.perf_counter() - start)
            tasks_service.release_lease(session, trainer, view.assignment.id)
            session.commit()
        times = times[20:]
        results[label] = (statistics.median(times) * 1000, statistics.quantiles(times, n=20)[18] * 1000)
    print("\nRESULTS", {k: (round(a, 3), round(b, 3)) for k, (a, b) in results.items()})
