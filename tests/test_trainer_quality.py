"""Per-trainer quality on a project (issue 16): gold accuracy with its Wilson interval,
agreement with the aggregate, the model's skill estimate and median active seconds;
trainers read their own with the definitions, managers everyone's on the project."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.aggregation_helpers import ACCENT, answered_task, approve, templated_project, trainers
from tests.client import ApiClient, assert_problem
from tests.task_helpers import API, answered
from workforce.accounts.models import User
from workforce.db import Database
from workforce.results import aggregation
from workforce.results.jobs import aggregate_changed
from workforce.results.quality import wilson


def test_wilson_interval_by_hand() -> None:
    """8 of 10 at 95%: the textbook (0.4902, 0.9433); none of none: no interval."""
    low, high = wilson(8, 10)
    assert (low, high) == (pytest.approx(0.490162, abs=1e-6), pytest.approx(0.943318,
                                                                             abs=1e-6))
    assert wilson(0, 0) is None
    assert wilson(0, 5)[0] == 0 and wilson(5, 5)[1] == 1


def _project_with_history(session: Session, database: Database):
    project = templated_project(session, ACCENT)
    row = aggregation.settings_row(session, project.id)
    row.methods = {"accent": "majority_vote"}
    session.commit()
    a, b, c = trainers(3)
    for label_c in ("yue-CN", "yue-HK"):  # c agrees once in two
        answered_task(session, project, [(a, {"accent": "yue-HK"}), (b, {"accent": "yue-HK"}),
                                         (c, {"accent": label_c})])
    gold = [True] * 8 + [False] * 2
    for seconds, correct in zip(range(10, 110, 10), gold, strict=True):
        task = answered_task(session, project, [], redundancy=1)
        approve(session, task, a, {"accent": "yue-HK"}, gold_correct=correct,
                active_seconds=seconds)
    aggregate_changed(database)
    session.expire_all()
    return project, (a, b, c)


def test_a_trainer_reads_their_own_figures_and_how_they_are_computed(
    client: ApiClient, session: Session, database: Database
) -> None:
    project, (a, _, c) = _project_with_history(session, database)

    mine = answered(client.get(f"{API}/me/quality", as_user=a))
    (figures,) = mine["projects"]
    assert figures["project_id"] == str(project.id)
    assert (figures["gold_scored"], figures["gold_correct"]) == (10, 8)
    assert figures["gold_accuracy"] == pytest.approx(0.8)
    assert (figures["gold_low"], figures["gold_high"]) == (
        pytest.approx(0.490162, abs=1e-6), pytest.approx(0.943318, abs=1e-6))
    # Two contested tasks and ten gold tasks, all aggregated; a always agreed.
    assert (figures["agreement_compared"], figures["agreement"]) == (12, 1.0)
    assert figures["skills"] == [{"field": "accent", "method": "majority_vote",
                                  "skill": pytest.approx(1.0)}]
    # 60 s on the two contested tasks and 10..100 s on the gold ones: median 60.
    assert figures["median_active_seconds"] == 60
    assert set(mine["definitions"]) == {"gold_accuracy", "agreement", "skill",
                                        "median_active_seconds"}

    theirs = answered(client.get(f"{API}/me/quality", as_user=c))["projects"][0]
    assert (theirs["agreement_compared"], theirs["agreement"]) == (2, 0.5)
    assert theirs["gold_accuracy"] is None and theirs["gold_low"] is None
    assert theirs["skills"][0]["skill"] == pytest.approx(0.5)


def test_managers_read_every_trainers_figures_page_by_page(
    client: ApiClient, session: Session, database: Database
) -> None:
    project, people = _project_with_history(session, database)
    manager = session.get(User, project.created_by_id)

    listed = client.every_item(f"{API}/projects/{project.id}/quality", as_user=manager,
                               limit=2)

    assert sorted(item["trainer_id"] for item in listed) == sorted(str(p.id) for p in people)
    by_trainer = {item["trainer_id"]: item for item in listed}
    assert by_trainer[str(people[0].id)]["gold_correct"] == 8
    outsider = session.get(User, templated_project(session, ACCENT).created_by_id)
    assert_problem(client.get(f"{API}/projects/{project.id}/quality", as_user=outsider), 404)
