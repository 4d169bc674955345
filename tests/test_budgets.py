"""A project's budget (issue 16): spent, committed and projected figures, the managers'
warning at 80% (once per crossing) and the stop of claims at 100%."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    StaffFactory,
    TaskFactory,
    UserFactory,
    hourly_project,
    logged_time,
    staff,
)
from tests.task_helpers import answered, claim, review, staffed_project, submitted, working
from workforce import clock
from workforce.accounts.models import User
from workforce.notifications.models import Notification
from workforce.projects import budgets
from workforce.projects.models import Project
from workforce.results import aggregation

API = "/api/v1"


def manager_of(session: Session, project: Project) -> User:
    return session.get_one(User, project.created_by_id)


def budget(client: ApiClient, user: User, project: Project) -> dict[str, Any]:
    return answered(client.get(f"{API}/projects/{project.id}/budget", as_user=user))


def set_budget(client: ApiClient, manager: User, project: Project, amount: int | None
               ) -> dict[str, Any]:
    return answered(client.request("PUT", f"{API}/projects/{project.id}/budget",
                                   as_user=manager, json={"amount": amount}))


def told(session: Session, user: User, kind: str) -> int:
    return len(list(session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind))))


def refresh(app: Flask) -> int:
    return budgets.refresh_budgets(app.extensions["workforce"].database)


def test_spent_committed_and_projected(client: ApiClient, session: Session) -> None:
    trainers = [UserFactory() for _ in range(3)]
    project = staffed_project(*trainers)  # 200 USD cents a task
    manager = manager_of(session, project)
    for _ in range(5):
        TaskFactory(project=project)
    paid = working(client, trainers[0], project)
    submitted(client, trainers[0], paid["id"])
    answered(review(client, manager, paid["id"], "approve"))
    waiting = working(client, trainers[1], project)
    submitted(client, trainers[1], waiting["id"])
    working(client, trainers[2], project)

    figures = budget(client, manager, project)
    assert (figures["spent"], figures["committed"], figures["projected"]) == (200, 400, 400)
    assert figures["amount"] is None and figures["remaining"] is None
    assert figures["currency"] == "USD"

    figures = set_budget(client, manager, project, 1000)
    assert (figures["remaining"], figures["shortfall"], figures["used_percent"]) == \
        (400, 0, 60.0)
    assert figures["warned_at"] is None and figures["exhausted_at"] is None
    assert set_budget(client, manager, project, None)["amount"] is None


def test_managers_are_warned_once_per_crossing_and_claims_stop_at_100(
        client: ApiClient, session: Session, app: Flask) -> None:
    trainers = [UserFactory() for _ in range(3)]
    project = staffed_project(*trainers)
    manager = manager_of(session, project)
    for _ in range(6):
        TaskFactory(project=project)
    set_budget(client, manager, project, 500)
    first = working(client, trainers[0], project)
    submitted(client, trainers[0], first["id"])  # 200 of 500: 40%
    assert refresh(app) == 0

    working(client, trainers[1], project)  # 400 of 500: 80%; one more would make 600
    # The claim decides at once, before any pass of the scheduler.
    body = assert_problem(claim(client, trainers[2], project), 409, code="budget-spent")
    assert "budget" in body["detail"]
    assert (body["remaining"], body["task_amount"], body["currency"]) == (100, 200, "USD")
    assert refresh(app) == 1
    assert told(session, manager, "project.budget_warning") == 1
    assert told(session, manager, "project.budget_spent") == 1
    assert refresh(app) == 0  # the same crossing is told once
    assert told(session, manager, "project.budget_warning") == 1
    figures = budget(client, manager, project)
    assert figures["exhausted_at"] is not None and figures["claim_amount"] == 200

    another = UserFactory()
    staff(project, another)
    assert_problem(claim(client, another, project), 409, code="budget-spent")
    entry = answered(client.get(f"{API}/marketplace/projects/{project.id}", as_user=another))
    assert "budget-spent" in [u["code"] for u in entry["unmet"]]

    # Raised: claims start again; a later crossing warns again.
    figures = set_budget(client, manager, project, 5000)
    assert figures["exhausted_at"] is None and figures["warned_at"] is None
    assert claim(client, another, project).status_code == 201
    set_budget(client, manager, project, 700)  # 600 of 700
    assert told(session, manager, "project.budget_warning") == 2


def test_the_claim_sees_room_freed_without_waiting_for_the_scheduler(
        client: ApiClient, session: Session) -> None:
    """A rejection gives its committed money back: the next claim fits at once, and a
    claim that exactly fills the budget is allowed (spent + committed = budget)."""
    trainers = [UserFactory() for _ in range(3)]
    project = staffed_project(*trainers, review_sample_percent=100)
    manager = manager_of(session, project)
    for _ in range(4):
        TaskFactory(project=project)
    set_budget(client, manager, project, 400)
    rejected = working(client, trainers[0], project)
    submitted(client, trainers[0], rejected["id"])
    working(client, trainers[1], project)  # 400 of 400: full, and allowed
    assert budget(client, manager, project)["remaining"] == 0
    assert_problem(claim(client, trainers[2], project), 409, code="budget-spent")

    answered(review(client, manager, rejected["id"], "reject",
                    rejection_category="incorrect", message="Not the accent."))
    assert claim(client, trainers[2], project).status_code == 201


def test_dynamic_overlap_has_its_own_line(client: ApiClient, session: Session) -> None:
    """Slots the aggregation added, at the current task rate: 3 x 200."""
    project = staffed_project()
    manager = manager_of(session, project)
    row = aggregation.settings_row(session, project.id)
    row.extra_slots = 3
    session.commit()
    figures = budget(client, manager, project)
    assert (figures["overlap_slots"], figures["overlap_cost"]) == (3, 600)
    hourly = hourly_project(manager=manager)
    assert budget(client, manager, hourly)["overlap_cost"] == 0


def test_a_closed_project_keeps_its_budget_and_outsiders_see_nothing(
        client: ApiClient, session: Session) -> None:
    project = staffed_project()
    manager = manager_of(session, project)
    stranger = StaffFactory()
    assert_problem(client.get(f"{API}/projects/{project.id}/budget", as_user=stranger), 404)
    response = client.request("PUT", f"{API}/projects/{project.id}/budget", as_user=manager,
                              json={"amount": 0})
    assert "amount" in assert_problem(response, 422)["errors"]
    response = client.request("PUT", f"{API}/projects/{project.id}/budget", as_user=manager,
                              json={})
    assert "amount" in assert_problem(response, 422)["errors"]
    # Beyond the column's 32-bit integer: refused by name, never a 500 (found by fuzzing).
    response = client.request("PUT", f"{API}/projects/{project.id}/budget", as_user=manager,
                              json={"amount": 2**31})
    assert "amount" in assert_problem(response, 422)["errors"]
    assert budget(client, manager, project)["amount"] is None


def test_hourly_time_not_yet_approved_is_committed(client: ApiClient, session: Session) -> None:
    project = hourly_project()  # 2000 USD cents an hour
    trainer = UserFactory()
    staff(project, trainer)
    start = clock.now().replace(microsecond=0) - timedelta(days=1)
    logged_time(project, trainer, started_at=start, ended_at=start + timedelta(minutes=90))
    figures = budget(client, manager_of(session, project), project)
    assert (figures["spent"], figures["committed"], figures["projected"]) == (0, 3000, 0)
