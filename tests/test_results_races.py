"""PostgreSQL: an approval whose transaction commits after a later one (and after the
aggregation job and a results sync have run) is neither passed over by the job's
watermark nor by ``updated_since`` (issue 16). On the code before results stamps, the
later approval committed first, the job and the sync moved past the earlier one's time,
and the earlier one, committed last, was never aggregated nor synced."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.aggregation_helpers import ACCENT, answered_task, approve, templated_project, trainers
from tests.client import ApiClient
from tests.races import Window
from tests.task_helpers import API
from workforce.accounts.models import User
from workforce.db import Database
from workforce.projects import reviews
from workforce.projects.models import AssignmentState
from workforce.results.aggregates import for_tasks
from workforce.results.jobs import aggregate_changed

pytestmark = pytest.mark.usefixtures("live_database")


def test_an_approval_committed_late_is_aggregated_and_synced(
    live_database: Database, live_session: Session, live_client: ApiClient
) -> None:
    project = templated_project(live_session, ACCENT)
    manager = live_session.get_one(User, project.created_by_id)
    a, b, late_trainer, early_trainer = trainers(4)
    tasks, pending = [], []
    for trainer in (late_trainer, early_trainer):
        task = answered_task(live_session, project, [(a, {"accent": "yue-HK"}),
                                                     (b, {"accent": "yue-HK"})], redundancy=3)
        pending.append(approve(live_session, task, trainer, {"accent": "yue-CN"},
                               state=AssignmentState.SUBMITTED).id)
        tasks.append(task)
    assert aggregate_changed(live_database) == 1  # the settled start
    path = f"{API}/projects/{project.id}/results"
    since = max(i["updated_at"] for i in live_client.every_item(path, as_user=manager,
                                                                  limit=10))

    manager_id = manager.id  # the threads must not load through the test's session
    late_approved, release, early_done = (threading.Event() for _ in range(3))
    window = Window()

    def approve_as_reviewer(index: int) -> None:
        with live_database.unit_of_work() as session:
            if index == 1:
                window.join(session)  # the one that may have to wait
            staff = session.get_one(User, manager_id)
            if index == 0:
                reviews.review(session, staff, pending[0], decision=reviews.ReviewDecision.APPROVE)
                late_approved.set()
                assert release.wait(30)
            else:
                assert late_approved.wait(30)
                reviews.review(session, staff, pending[1], decision=reviews.ReviewDecision.APPROVE)
        if index == 1:
            early_done.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(approve_as_reviewer, index) for index in (0, 1)]
        assert late_approved.wait(30)
        # The later approval either commits (before results stamps) or waits for the
        # earlier one's (now): either way, the job and a sync run in the meantime.
        with live_database.unit_of_work() as watcher:
            window.hold_until(lambda: early_done.is_set() or window.waiting(watcher),
                              "the second approval neither committed nor waited")
        aggregate_changed(live_database)
        seen: list[dict[str, Any]] = live_client.every_item(
            path, as_user=manager, limit=10, updated_since=since)
        since = max([since, *(i["updated_at"] for i in seen)])
        release.set()
        for future in done:
            future.result()

    aggregate_changed(live_database)
    synced = live_client.every_item(path, as_user=manager, limit=10, updated_since=since)
    live_session.expire_all()
    found = for_tasks(live_session, [t.id for t in tasks])
    assert [found.get(t.id, {}).get("accent") is not None for t in tasks] == [True, True]
    assert [found[t.id]["accent"].answers_count for t in tasks] == [3, 3]
    synced_answers = {i["external_id"]: len(i["answers"]) for i in [*seen, *synced]}
    assert synced_answers == {tasks[0].external_id: 3, tasks[1].external_id: 3}
