"""The managers' project report against hand-built data, and the trainers' views of
their projects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    hourly_project,
    logged_time,
    staff,
    worked_task,
)
from workforce import clock
from workforce.accounts.models import Role, User
from workforce.billing.models import EarningEvent, EarningKind
from workforce.projects.models import (
    AssignmentState,
    GuidelineVersion,
    MembershipOrigin,
    MembershipState,
    Project,
    ProjectRate,
    ProjectState,
)

API = "/api/v1/projects"
ME = "/api/v1/me"
# Wednesday 12 March 2025: the report's week starts on Monday the 10th, its seven days
# run from Thursday the 6th.
T0 = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False):
        yield


def d(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


def manager_of(session: Session, project: Project) -> User:
    return session.get(User, project.created_by_id)


def earning(session: Session, project: Project, trainer: User, amount: int,
            currency: str = "USD", kind: EarningKind = EarningKind.TASK_APPROVAL) -> None:
    session.add(EarningEvent(
        kind=kind, trainer_id=trainer.id, organisation_id=project.organisation_id,
        project_id=project.id, amount=amount, currency=currency, source_type="test",
        source_id=uuid.uuid4(), description="test", occurred_at=clock.now(),
    ))
    session.commit()


# --- the managers' report ------------------------------------------------------------


def test_the_report_adds_up_hand_built_work(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    staff(project, a, b)
    MemberFactory(project=project, trainer=c, state=MembershipState.LEFT)
    S, A, R = AssignmentState.SUBMITTED, AssignmentState.APPROVED, AssignmentState.REJECTED
    worked_task(project, a, submitted_at=d(12, 8))  # pending today
    worked_task(project, b, submitted_at=d(11, 10), state=A, reviewed_at=d(12, 7))
    # Approved on submission (not sampled): counted on the day it was submitted.
    worked_task(project, a, submitted_at=d(6), state=A)
    worked_task(project, a, submitted_at=d(10, 15), state=AssignmentState.REVISION_REQUESTED)
    worked_task(project, c, submitted_at=d(5, 23, 59, 59), state=R, reviewed_at=d(6, 1))
    worked_task(project, c, submitted_at=d(1), state=A, reviewed_at=d(2))
    worked_task(project, b, submitted_at=None)
    TaskFactory(project=project, redundancy=3, open_slots=3)
    TaskFactory(project=project, redundancy=2, open_slots=1)
    TaskFactory(project=project, redundancy=1, open_slots=0)
    other = ProjectFactory(manager=manager_of(session, project))
    worked_task(other, a, submitted_at=d(12, 9), state=S)
    TaskFactory(project=other)
    earning(session, project, a, 200)
    earning(session, project, b, 200)
    earning(session, project, b, 150, kind=EarningKind.KILL_FEE)
    earning(session, project, b, 99, currency="EUR")
    earning(session, other, a, 1000)

    response = client.get(f"{API}/{project.id}/report", as_user=manager_of(session, project))

    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert datetime.fromisoformat(report["as_of"]) == T0
    assert report["days"] == [
        {"day": "2025-03-06", "submitted": 1, "approved": 1},
        {"day": "2025-03-07", "submitted": 0, "approved": 0},
        {"day": "2025-03-08", "submitted": 0, "approved": 0},
        {"day": "2025-03-09", "submitted": 0, "approved": 0},
        {"day": "2025-03-10", "submitted": 1, "approved": 0},
        {"day": "2025-03-11", "submitted": 1, "approved": 0},
        {"day": "2025-03-12", "submitted": 1, "approved": 1},
    ]
    assert (report["submitted_last_7_days"], report["approved_last_7_days"]) == (4, 2)
    assert report["pending_review"] == 1
    assert (report["approved_total"], report["rejected_total"]) == (3, 1)
    assert report["approval_rate"] == "0.7500"
    assert report["active_trainers"] == 2
    assert (report["open_tasks"], report["open_slots"]) == (2, 4)
    assert report["cost_to_date"] == [
        {"amount": 99, "currency": "EUR"}, {"amount": 550, "currency": "USD"}]
    assert (report["logged_seconds_this_week"], report["logged_seconds_total"]) == (0, 0)
    assert (report["state"], report["currency"]) == ("active", "USD")


def test_the_report_counts_hours_this_week_and_in_total(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project()
    trainer, other_trainer = UserFactory(), UserFactory()
    staff(project, trainer, other_trainer)
    logged_time(project, trainer, started_at=d(10, 8), ended_at=d(10, 10, 30))  # 2.5 h
    logged_time(project, other_trainer, started_at=d(9, 23), ended_at=d(10, 1))  # last week
    logged_time(project, trainer, started_at=d(11, 23), ended_at=d(12, 1))  # 2 h
    logged_time(project, trainer, started_at=d(7, 12), ended_at=d(7, 13, 0, 1))
    logged_time(project, other_trainer, started_at=d(12, 9), ended_at=None)  # running
    logged_time(hourly_project(), trainer, started_at=d(11, 8), ended_at=d(11, 9))

    report = client.get(f"{API}/{project.id}/report",
                        as_user=manager_of(session, project)).get_json()

    assert datetime.fromisoformat(report["week_start"]) == d(10)
    assert report["logged_seconds_this_week"] == 9000 + 7200
    assert report["logged_seconds_total"] == 9000 + 7200 + 7200 + 3601


def test_a_new_project_has_no_approval_rate(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    organisation = manager_of(session, project).organisation
    finance = StaffFactory(role=Role.FINANCE, organisation=organisation)
    report = client.get(f"{API}/{project.id}/report", as_user=finance).get_json()
    assert report["approval_rate"] is None
    assert report["cost_to_date"] == []
    assert [day["day"] for day in report["days"]] == [f"2025-03-{n:02}" for n in range(6, 13)]
    assert {(day["submitted"], day["approved"]) for day in report["days"]} == {(0, 0)}
    assert (report["pending_review"], report["active_trainers"], report["open_tasks"]) == (0, 0, 0)


def test_a_kill_fee_is_part_of_the_cost(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(rate=1400)
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    rate = session.scalars(select(ProjectRate).where(ProjectRate.project_id == project.id)).one()
    worked_task(project, trainer, submitted_at=d(11), rate=rate)
    client.post(f"{API}/{project.id}/suspension", as_user=manager,
                json={"reason": "Ended.", "effective_at": T0.isoformat()})
    report = client.get(f"{API}/{project.id}/report", as_user=manager).get_json()
    assert report["cost_to_date"] == [{"amount": 700, "currency": "USD"}]
    assert report["state"] == "suspended"


def test_trainers_cannot_read_the_report(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    trainer = UserFactory()
    staff(project, trainer)
    assert_problem(client.get(f"{API}/{project.id}/report", as_user=trainer), 403,
                   code="role-forbidden")


# --- the trainers' views -------------------------------------------------------------


def test_my_projects_show_state_pay_guidelines_and_membership(
    client: ApiClient, session: Session
) -> None:
    trainer, someone_else = UserFactory(), UserFactory()
    current = ProjectFactory(name="Accent labelling", rate=250)
    session.add_all([
        ProjectRate(project_id=current.id, number=2, amount=300, currency="USD",
                    effective_from=T0 - timedelta(days=1), created_by_id=current.created_by_id,
                    created_at=T0 - timedelta(days=2)),
        ProjectRate(project_id=current.id, number=3, amount=350, currency="USD",
                    effective_from=T0 + timedelta(days=1), created_by_id=current.created_by_id,
                    created_at=T0 - timedelta(days=1)),
        GuidelineVersion(project_id=current.id, number=2, body="Mark code-switching too.",
                         change_note="", created_by_id=current.created_by_id,
                         created_at=T0 - timedelta(hours=2)),
    ])
    session.commit()
    with time_machine.travel(T0 - timedelta(days=3), tick=False):
        left = hourly_project(name="Old timesheets")
    applied = ProjectFactory(name="Applied only")
    theirs = ProjectFactory(name="Someone else's")
    staff(current, trainer)
    staff(theirs, someone_else)
    MemberFactory(project=left, trainer=trainer, state=MembershipState.LEFT,
                  ended_at=T0 - timedelta(days=1), reason="Moving on.")
    MemberFactory(project=applied, trainer=trainer, state=MembershipState.APPLIED,
                  joined_at=None, origin=MembershipOrigin.APPLICATION)

    items = client.get(f"{ME}/projects", as_user=trainer).get_json()["items"]

    assert [p["name"] for p in items] == ["Accent labelling"]
    [view] = items
    assert (view["state"], view["pay_model"]) == ("active", "per_task")
    assert view["rate"]["amount"] == 300  # the rate in force now, not the one announced
    assert view["guidelines"]["number"] == 2
    assert view["guidelines"]["body"] == "Mark code-switching too."
    assert datetime.fromisoformat(view["guidelines"]["changed_at"]) == T0 - timedelta(hours=2)
    assert view["membership"]["state"] == "active"
    assert (view["pause_reason"], view["suspension"], view["kill_fees"]) == (None, None, [])

    with_past = client.get(f"{ME}/projects?include_past=true", as_user=trainer).get_json()
    assert [p["name"] for p in with_past["items"]] == ["Accent labelling", "Old timesheets"]
    past = with_past["items"][1]
    assert (past["membership"]["state"], past["membership"]["reason"]) == ("left", "Moving on.")
    assert past["pay_model"] == "hourly"

    page = client.get(f"{ME}/projects?include_past=true&limit=1", as_user=trainer).get_json()
    assert [p["name"] for p in page["items"]] == ["Accent labelling"]
    rest = client.get(f"{ME}/projects?include_past=true&limit=1&cursor={page['next_cursor']}",
                      as_user=trainer).get_json()
    assert [p["name"] for p in rest["items"]] == ["Old timesheets"]
    assert rest["next_cursor"] is None

    assert client.get(f"{ME}/projects/{left.id}", as_user=trainer).status_code == 200
    for never in (applied, theirs):
        assert_problem(client.get(f"{ME}/projects/{never.id}", as_user=trainer), 404,
                       code="not-found")
    assert_problem(client.get(f"{ME}/projects/{uuid.uuid4()}", as_user=trainer), 404)


def test_staff_cannot_use_the_trainer_views(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    for path in (f"{ME}/projects", f"{ME}/projects/{project.id}", f"{ME}/kill-fees"):
        assert_problem(client.get(path, as_user=manager), 403, code="role-forbidden")


def test_a_suspended_project_shows_its_suspension(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(state=ProjectState.ACTIVE)
    trainer = UserFactory()
    staff(project, trainer)
    client.post(f"{API}/{project.id}/suspension", as_user=manager_of(session, project),
                json={"reason": "Client paused the contract.", "effective_at": T0.isoformat()})
    view = client.get(f"{ME}/projects/{project.id}", as_user=trainer).get_json()
    assert view["state"] == "suspended"
    assert view["suspension"]["status"] == "applied"
    assert view["suspension"]["reason"] == "Client paused the contract."
    assert [f["days_missed"] for f in view["kill_fees"]] == [7]
