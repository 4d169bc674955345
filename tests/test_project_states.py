"""Pausing, resuming, suspending and closing projects through the API, and the batch
job that applies suspensions when they fall due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    consenting,
    hourly_project,
    logged_time,
    staff,
    token_for,
    worked_task,
)
from tests.hourly_helpers import sign_in
from tests.races import bearer, race
from tests.support_helpers import flagged
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing.models import EarningEvent
from workforce.notifications.models import Notification
from workforce.projects import access, project_states
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    EntryEndReason,
    KillFee,
    MembershipState,
    Project,
    ProjectState,
    Sensitivity,
    Suspension,
    Task,
    TimeEntry,
)

API = "/api/v1/projects"
# A Wednesday morning, UTC: every test runs with the clock stopped here (or later).
T0 = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def manager_of(session: Session, project: Project) -> User:
    return session.get(User, project.created_by_id)


def iso(value: datetime) -> str:
    return value.isoformat()


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def notifications(session: Session, user: User, kind: str) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ))


def audits(session: Session, project: Project, action: str) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == str(project.id), AuditEvent.action == action
        )
    ))


def suspend(client: ApiClient, project: Project, manager: User, effective_at: datetime,
            reason: str = "The client stopped the programme."):
    return client.post(f"{API}/{project.id}/suspension", as_user=manager,
                       json={"reason": reason, "effective_at": iso(effective_at)})


# --- pause and resume ----------------------------------------------------------------


def test_pause_shows_the_reason_stops_sessions_and_tells_members(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project()
    manager = manager_of(session, project)
    worker, idle, gone = UserFactory(), UserFactory(), UserFactory()
    staff(project, worker, idle)
    MemberFactory(project=project, trainer=gone, state=MembershipState.LEFT)
    running = logged_time(project, worker, started_at=T0 - timedelta(minutes=45), ended_at=None)
    resume_at = T0 + timedelta(days=3)

    response = client.post(f"{API}/{project.id}/pause", as_user=manager, json={
        "reason": "No audio queued until Friday's batch.", "expected_resume_at": iso(resume_at),
    })

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "paused"
    assert body["pause_reason"] == "No audio queued until Friday's batch."
    assert at(body["expected_resume_at"]) == resume_at
    # The running session stopped at the pause, so it is paid to that moment.
    session.refresh(running)
    assert running.ended_at == T0
    assert running.end_reason is EntryEndReason.PAUSED
    assert running.seconds == 45 * 60
    # Trainers see why, and when work should come back.
    view = client.get(f"/api/v1/me/projects/{project.id}", as_user=worker).get_json()
    assert view["state"] == "paused"
    assert view["pause_reason"] == "No audio queued until Friday's batch."
    assert at(view["expected_resume_at"]) == resume_at
    # New work is refused with the same reason and date.
    refused = assert_problem(client.post(f"{API}/{project.id}/sessions", as_user=worker), 409,
                             code="project-paused")
    assert refused["pause_reason"] == "No audio queued until Friday's batch."
    assert at(refused["expected_resume_at"]) == resume_at

    for member in (worker, idle):
        [note] = notifications(session, member, "project.paused")
        assert "No audio queued until Friday's batch." in note.body
        assert note.data["project_id"] == str(project.id)
    assert notifications(session, gone, "project.paused") == []
    [event] = audits(session, project, "project.paused")
    assert event.actor_id == manager.id
    assert event.before["state"] == "active"
    assert event.after["state"] == "paused"
    assert event.after["sessions_closed"] == 1


def test_claims_are_refused_while_paused_but_leases_held_may_be_submitted(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    TaskFactory(project=project)
    lease = client.post(f"{API}/{project.id}/claims", as_user=trainer)
    assert lease.status_code == 201, lease.get_json()

    client.post(f"{API}/{project.id}/pause", as_user=manager,
                json={"reason": "Quality review of the guidelines."})

    refused = assert_problem(client.post(f"{API}/{project.id}/claims", as_user=trainer), 409,
                             code="project-paused")
    assert refused["pause_reason"] == "Quality review of the guidelines."
    assert refused["expected_resume_at"] is None
    submitted = client.post(f"/api/v1/me/assignments/{lease.get_json()['id']}/submit",
                            as_user=trainer, json={"answer": "hk", "active_seconds": 60})
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["state"] in ("submitted", "approved")
    # Resumed, claims work again.
    client.post(f"{API}/{project.id}/resume", as_user=manager)
    assert client.post(f"{API}/{project.id}/claims", as_user=trainer).status_code == 201


@pytest.mark.parametrize("payload, field", [
    ({}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "Waiting for data.", "expected_resume_at": "2025-03-20T10:00:00"}, None),
    ({"reason": "Waiting for data.", "expected_resume_at": "next week"}, None),
    ({"reason": "Waiting for data.", "expected_resume_at": "0001-01-01T00:00:00+12:00"}, None),
    ({"reason": "x" * 2001}, "reason"),
])
def test_a_pause_needs_a_reason_and_a_zoned_date(
    client: ApiClient, session: Session, payload: dict, field: str | None
) -> None:
    project = ProjectFactory()
    response = client.post(f"{API}/{project.id}/pause", as_user=manager_of(session, project),
                           json=payload)
    body = assert_problem(response, 422)
    assert (field or "expected_resume_at") in str(body["errors"])
    session.refresh(project)
    assert project.state is ProjectState.ACTIVE
    assert audits(session, project, "project.paused") == []


def test_the_expected_resume_date_must_be_in_the_future(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory()
    response = client.post(f"{API}/{project.id}/pause", as_user=manager_of(session, project),
                           json={"reason": "Waiting.", "expected_resume_at": iso(T0)})
    body = assert_problem(response, 422, code="validation-error")
    assert "expected_resume_at" in body["errors"]
    session.refresh(project)
    assert project.state is ProjectState.ACTIVE


def test_resume_clears_the_pause_and_tells_members(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    client.post(f"{API}/{project.id}/pause", as_user=manager,
                json={"reason": "Tooling outage.", "expected_resume_at": iso(T0 + timedelta(1))})

    response = client.post(f"{API}/{project.id}/resume", as_user=manager)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["state"], body["pause_reason"], body["expected_resume_at"]) == (
        "active", None, None)
    access.require_open_for_work(session.get(Project, project.id), clock.now())
    assert len(notifications(session, trainer, "project.resumed")) == 1
    [event] = audits(session, project, "project.resumed")
    assert (event.before["state"], event.after["state"]) == ("paused", "active")
    assert event.before["pause_reason"] == "Tooling outage."


@pytest.mark.parametrize("start, action", [
    (ProjectState.PAUSED, "pause"),
    (ProjectState.DRAFT, "pause"),
    (ProjectState.SUSPENDED, "pause"),
    (ProjectState.CLOSED, "pause"),
    (ProjectState.ACTIVE, "resume"),
    (ProjectState.DRAFT, "resume"),
    (ProjectState.CLOSED, "resume"),
    (ProjectState.CLOSED, "close"),
])
def test_illegal_transitions_name_the_current_state(
    client: ApiClient, session: Session, start: ProjectState, action: str
) -> None:
    project = ProjectFactory(state=start, pause_reason="Why" if start is ProjectState.PAUSED
                             else None)
    payload = {"reason": "Again."} if action == "pause" else None
    response = client.post(f"{API}/{project.id}/{action}", as_user=manager_of(session, project),
                           json=payload)
    body = assert_problem(response, 409, code="illegal-transition")
    assert body["current_state"] == start.value
    assert start.value in body["detail"]
    session.refresh(project)
    assert project.state is start
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_id == str(project.id))) == 0


# --- suspension with enough notice ---------------------------------------------------


def test_suspension_with_enough_notice_is_applied_by_the_job(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project()
    manager = manager_of(session, project)
    worker, other = UserFactory(), UserFactory()
    staff(project, worker, other)
    effective = T0 + timedelta(days=8)
    response = suspend(client, project, manager, effective)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending"
    assert (body["notice_days"], body["days_missed"], body["kill_fees"]) == (7, 0, [])
    assert at(body["effective_at"]) == effective
    assert session.scalar(select(func.count()).select_from(KillFee)) == 0
    # Told at once, still working until then.
    for member in (worker, other):
        [note] = notifications(session, member, "project.suspension_announced")
        assert note.data["effective_at"] == iso(effective)
        assert note.data["kill_fee"] is None
    view = client.get(f"/api/v1/me/projects/{project.id}", as_user=worker).get_json()
    assert view["state"] == "active"
    assert view["suspension"]["status"] == "pending"
    assert at(view["suspension"]["effective_at"]) == effective
    assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0
    assert session.get(Project, project.id).state is ProjectState.ACTIVE

    # Work in flight when the time comes: a session running, a lease, a submission.
    per_task = session.get(Project, project.id)
    running = logged_time(project, worker, started_at=effective - timedelta(hours=2),
                          ended_at=None)
    lease = worked_task(per_task, other, submitted_at=None)
    done = worked_task(per_task, other, submitted_at=effective - timedelta(hours=1))

    later = effective + timedelta(minutes=3)
    with time_machine.travel(later, tick=False):
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 1
        session.commit()
        # Running it again changes nothing.
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0
        session.commit()

    session.expire_all()
    assert session.get(Project, project.id).state is ProjectState.SUSPENDED
    suspension = session.get(Suspension, uuid.UUID(body["id"]))
    assert suspension.applied_at == later
    # Sessions are closed (and paid) at the effective time, not when the job ran.
    assert (running.ended_at, running.end_reason) == (effective, EntryEndReason.SUSPENDED)
    assert lease.state is AssignmentState.RELEASED
    assert session.get(Task, lease.task_id).open_slots == 1
    assert done.state is AssignmentState.SUBMITTED
    with time_machine.travel(later, tick=False):
        assert_problem(client.post(f"{API}/{project.id}/sessions", token=token_for(worker)),
                       409, code="project-suspended")
    for member in (worker, other):
        assert len(notifications(session, member, "project.suspended")) == 1
    [event] = audits(session, project, "project.suspended")
    assert event.actor_id is None and event.actor_label == "scheduler"
    assert (event.after["leases_released"], event.after["sessions_closed"]) == (1, 1)
    [announced] = audits(session, project, "project.suspension_announced")
    assert announced.actor_id == manager.id
    assert announced.after["kill_fees_total"] == 0


def test_a_suspension_of_a_paused_project(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    client.post(f"{API}/{project.id}/pause", as_user=manager, json={"reason": "No data."})
    assert suspend(client, project, manager, T0 + timedelta(days=7)).status_code == 201
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 1
    session.refresh(project)
    assert project.state is ProjectState.SUSPENDED
    assert project.pause_reason is None


def test_the_job_takes_due_suspensions_in_batches(client: ApiClient, session: Session) -> None:
    projects = [ProjectFactory() for _ in range(3)]
    for project in projects:
        suspend(client, project, manager_of(session, project), T0 + timedelta(days=7))
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=2) == 2
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=2) == 1
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=2) == 0
    session.expire_all()
    assert {session.get(Project, p.id).state for p in projects} == {ProjectState.SUSPENDED}


# --- immediate suspension, resume, one at a time -------------------------------------


def test_an_immediate_suspension_applies_in_the_same_request(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    running = logged_time(project, trainer, started_at=T0 - timedelta(hours=1), ended_at=None)

    response = suspend(client, project, manager, T0 - timedelta(seconds=20))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "applied"
    assert at(body["effective_at"]) == T0  # a moment ago means now, never earlier
    assert body["days_missed"] == 7
    [fee] = body["kill_fees"]
    assert (fee["trainer_id"], fee["days_missed"]) == (str(trainer.id), 7)
    session.refresh(project)
    session.refresh(running)
    assert project.state is ProjectState.SUSPENDED
    assert (running.ended_at, running.end_reason) == (T0, EntryEndReason.SUSPENDED)
    assert len(notifications(session, trainer, "project.suspension_announced")) == 1
    assert len(notifications(session, trainer, "project.suspended")) == 1
    [event] = audits(session, project, "project.suspended")
    assert event.actor_id == manager.id
    assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0


def test_resume_cancels_a_pending_suspension(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    first = suspend(client, project, manager, T0 + timedelta(days=10)).get_json()
    body = assert_problem(suspend(client, project, manager, T0 + timedelta(days=12)), 409,
                          code="suspension-pending")
    assert body["suspension_id"] == first["id"]

    client.post(f"{API}/{project.id}/pause", as_user=manager, json={"reason": "Rethinking."})
    assert client.post(f"{API}/{project.id}/resume", as_user=manager).status_code == 200

    suspension = session.get(Suspension, uuid.UUID(first["id"]))
    assert suspension.cancelled_at == T0
    [event] = audits(session, project, "project.resumed")
    assert event.after["cancelled_suspension_ids"] == [first["id"]]
    [note] = notifications(session, trainer, "project.resumed")
    assert "cancelled" in note.body
    view = client.get(f"/api/v1/me/projects/{project.id}", as_user=trainer).get_json()
    assert view["suspension"] is None
    with time_machine.travel(T0 + timedelta(days=11), tick=False):
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0
    session.refresh(project)
    assert project.state is ProjectState.ACTIVE
    # With the first cancelled, a new one may be announced.
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert suspend(client, project, manager, T0 + timedelta(days=12)).status_code == 201
    listed = client.get(f"{API}/{project.id}/suspensions", as_user=manager).get_json()
    assert [s["status"] for s in listed["items"]] == ["pending", "cancelled"]


def test_a_pending_suspension_can_be_cancelled_without_a_pause(
    client: ApiClient, session: Session
) -> None:
    project = hourly_project()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)
    running = logged_time(project, trainer, started_at=T0 - timedelta(hours=1), ended_at=None)
    assert_problem(client.delete(f"{API}/{project.id}/suspension", as_user=manager), 409,
                   code="no-pending-suspension")
    announced = suspend(client, project, manager, T0 + timedelta(days=9)).get_json()

    response = client.delete(f"{API}/{project.id}/suspension", as_user=manager)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["status"]) == (announced["id"], "cancelled")
    session.refresh(project)
    session.refresh(running)
    assert project.state is ProjectState.ACTIVE
    assert running.ended_at is None  # the work goes on
    assert len(notifications(session, trainer, "project.suspension_cancelled")) == 1
    [event] = audits(session, project, "project.suspension_cancelled")
    assert event.after["suspension_id"] == announced["id"]
    with time_machine.travel(T0 + timedelta(days=10), tick=False):
        assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0
    assert_problem(client.delete(f"{API}/{project.id}/suspension", as_user=manager), 409,
                   code="no-pending-suspension")


def test_resume_from_suspended(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    suspend(client, project, manager, T0)
    response = client.post(f"{API}/{project.id}/resume", as_user=manager)
    assert response.get_json()["state"] == "active"
    [event] = audits(session, project, "project.resumed")
    assert event.before["state"] == "suspended"


@pytest.mark.parametrize("payload, field", [
    ({"effective_at": "2025-03-20T10:00:00+00:00"}, "reason"),
    ({"reason": "Stop.", "effective_at": "2025-03-20T10:00:00"}, "effective_at"),
    ({"reason": "Stop."}, "effective_at"),
    ({"reason": "Stop.", "effective_at": "2025-03-12T09:28:00+00:00"}, "effective_at"),
    ({"reason": "Stop.", "effective_at": "2024-01-01T00:00:00+00:00"}, "effective_at"),
    ({"reason": "Stop.", "effective_at": "9999-12-31T23:59:59-12:00"}, "effective_at"),
    ({"reason": "Stop.", "effective_at": 1741771800}, "effective_at"),
])
def test_a_suspension_needs_a_reason_and_a_time_not_past(
    client: ApiClient, session: Session, payload: dict, field: str
) -> None:
    project = ProjectFactory()
    staff(project, UserFactory())
    response = client.post(f"{API}/{project.id}/suspension",
                           as_user=manager_of(session, project), json=payload)
    body = assert_problem(response, 422)
    assert field in body["errors"]
    assert session.scalar(select(func.count()).select_from(Suspension)) == 0
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


@pytest.mark.parametrize("start", [ProjectState.DRAFT, ProjectState.SUSPENDED,
                                   ProjectState.CLOSED])
def test_only_running_projects_can_be_suspended(
    client: ApiClient, session: Session, start: ProjectState
) -> None:
    project = ProjectFactory(state=start)
    body = assert_problem(suspend(client, project, manager_of(session, project), T0), 409,
                          code="illegal-transition")
    assert body["current_state"] == start.value
    assert session.scalar(select(func.count()).select_from(Suspension)) == 0


# --- closing -------------------------------------------------------------------------


def test_a_running_project_is_suspended_before_it_is_closed(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    trainer = UserFactory()
    staff(project, trainer)

    body = assert_problem(client.post(f"{API}/{project.id}/close", as_user=manager), 409,
                          code="illegal-transition")
    assert body["current_state"] == "active"
    assert "suspend" in body["detail"]

    suspend(client, project, manager, T0 + timedelta(days=7))
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        project_states.apply_due_suspensions(session, now=clock.now(), limit=10)
        session.commit()
        response = client.post(f"{API}/{project.id}/close", token=token_for(manager))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "closed"
    assert at(body["closed_at"]) == T0 + timedelta(days=7)
    assert len(notifications(session, trainer, "project.closed")) == 1
    [event] = audits(session, project, "project.closed")
    assert (event.before["state"], event.after["state"]) == ("suspended", "closed")
    view = client.get(f"/api/v1/me/projects/{project.id}", as_user=trainer).get_json()
    assert view["state"] == "closed"
    assert view["suspension"]["status"] == "applied"


def test_a_draft_can_be_closed(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(state=ProjectState.DRAFT, activated_at=None)
    response = client.post(f"{API}/{project.id}/close", as_user=manager_of(session, project))
    assert response.get_json()["state"] == "closed"


def test_closing_a_paused_project_is_refused(client: ApiClient, session: Session) -> None:
    project = ProjectFactory(state=ProjectState.PAUSED, pause_reason="Waiting.")
    body = assert_problem(
        client.post(f"{API}/{project.id}/close", as_user=manager_of(session, project)), 409,
        code="illegal-transition")
    assert body["current_state"] == "paused"


# --- who may -------------------------------------------------------------------------


@pytest.mark.parametrize("method, action, payload", [
    ("post", "pause", {"reason": "Nope."}),
    ("post", "resume", None),
    ("post", "suspension", {"reason": "Nope.", "effective_at": iso(T0)}),
    ("post", "close", None),
    ("delete", "suspension", None),
    ("get", "suspensions", None),
    ("get", "report", None),
])
def test_another_organisations_staff_get_404(
    client: ApiClient, session: Session, method: str, action: str, payload: dict | None
) -> None:
    project = ProjectFactory(state=ProjectState.PAUSED, pause_reason="Paused.")
    stranger = StaffFactory(role=Role.ADMIN)
    response = client.request(method.upper(), f"{API}/{project.id}/{action}", as_user=stranger,
                              json=payload)
    assert_problem(response, 404, code="not-found")
    session.refresh(project)
    assert project.state is ProjectState.PAUSED


def test_staff_of_the_organisation_list_suspensions(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    suspend(client, project, manager, T0 + timedelta(days=9))
    finance = StaffFactory(role=Role.FINANCE, organisation=manager.organisation)
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    for reader in (finance, reviewer):
        items = client.get(f"{API}/{project.id}/suspensions", as_user=reader).get_json()["items"]
        assert [s["reason"] for s in items] == ["The client stopped the programme."]
    # Reviewers and finance read; they do not pause, suspend or close.
    assert_problem(client.post(f"{API}/{project.id}/pause", as_user=reviewer,
                               json={"reason": "x"}), 403, code="role-forbidden")
    assert_problem(client.post(f"{API}/{project.id}/close", as_user=finance), 403,
                   code="role-forbidden")


def test_submitted_work_is_untouched_by_suspension(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    trainer = UserFactory()
    staff(project, trainer)
    submitted = worked_task(project, trainer, submitted_at=T0 - timedelta(hours=3))
    approved = worked_task(project, trainer, submitted_at=T0 - timedelta(hours=2),
                           state=AssignmentState.APPROVED, reviewed_at=T0 - timedelta(hours=1))
    open_task = TaskFactory(project=project)
    suspend(client, project, manager_of(session, project), T0)
    session.expire_all()
    assert session.get(Assignment, submitted.id).state is AssignmentState.SUBMITTED
    assert session.get(Assignment, approved.id).state is AssignmentState.APPROVED
    assert session.get(Task, open_task.id).open_slots == 1
    assert session.scalar(select(func.count()).select_from(TimeEntry)) == 0
    assert_problem(client.post(f"{API}/{project.id}/claims", as_user=trainer), 409,
                   code="project-suspended")


# --- a suspension is in effect at its moment, whatever the scheduler has done ---------

EFFECTIVE = T0 + timedelta(days=8)  # enough notice: no kill fees
AFTER = EFFECTIVE + timedelta(minutes=3)  # the moment has passed; the job has not run


def announced(client: ApiClient, session: Session, project: Project, *users: User) -> User:
    """Announce a suspension of the project effective at ``EFFECTIVE``; the users (and
    its manager, returned) get tokens that outlive the days travelled."""
    manager = manager_of(session, project)
    sign_in(client, manager, *users)
    assert suspend(client, project, manager, EFFECTIVE).status_code == 201
    return manager


def test_a_task_held_unrevealed_is_not_shown_after_the_suspensions_moment(
    client: ApiClient, session: Session, frozen
) -> None:
    project = ProjectFactory(sensitivity=Sensitivity.GRAPHIC, content_categories=["violence"])
    holder = UserFactory()
    consenting(holder, "violence")
    staff(project, holder)
    TaskFactory(project=project)
    announced(client, session, project, holder)
    frozen.move_to(EFFECTIVE - timedelta(minutes=1))
    lease = client.post(f"{API}/{project.id}/claims", as_user=holder).get_json()
    assert lease["payload"] is None

    frozen.move_to(AFTER)

    refused = assert_problem(client.post(f"/api/v1/me/assignments/{lease['id']}/reveal",
                                         as_user=holder), 409, code="project-suspended")
    assert at(refused["suspended_at"]) == EFFECTIVE
    session.expire_all()
    assert session.get(Assignment, uuid.UUID(lease["id"])).revealed_at is None


def test_claims_and_submissions_stop_at_the_suspensions_moment_without_the_job(
    client: ApiClient, session: Session, frozen
) -> None:
    project = ProjectFactory(review_sample_percent=0)  # approved (and paid) on submission
    holder, other = UserFactory(), UserFactory()
    staff(project, holder, other)
    TaskFactory.create_batch(3, project=project)
    manager = announced(client, session, project, holder, other)
    frozen.move_to(EFFECTIVE - timedelta(minutes=30))
    lease = client.post(f"{API}/{project.id}/claims", as_user=holder).get_json()
    done = client.post(f"{API}/{project.id}/claims", as_user=other).get_json()
    assert client.post(f"/api/v1/me/assignments/{done['id']}/submit", as_user=other,
                       json={"answer": "HK", "active_seconds": 60}).status_code == 200

    frozen.move_to(AFTER)

    assert_problem(client.post(f"{API}/{project.id}/claims", as_user=other), 409,
                   code="project-suspended")
    for action, body in (("submit", {"answer": "HK", "active_seconds": 60}),
                         ("extend", None)):
        refused = assert_problem(client.post(
            f"/api/v1/me/assignments/{lease['id']}/{action}", as_user=holder, json=body),
            409, code="project-suspended")
        assert at(refused["suspended_at"]) == EFFECTIVE
    # Nothing handed in after the moment is paid; what was submitted before still is.
    session.expire_all()
    assert session.get(Assignment, uuid.UUID(lease["id"])).state is AssignmentState.LEASED
    earned = session.scalars(select(EarningEvent.trainer_id)).all()
    assert holder.id not in earned and other.id in earned
    # Readers see it suspended.
    mine = client.get(f"/api/v1/me/projects/{project.id}", as_user=holder).get_json()
    assert mine["state"] == "suspended" and mine["suspension"]["status"] == "applied"
    assert client.get(f"{API}/{project.id}", as_user=manager).get_json()["state"] == "suspended"
    listed = client.get(f"{API}?state=suspended", as_user=manager).get_json()["items"]
    assert [p["id"] for p in listed] == [str(project.id)]
    assert client.get(f"{API}?state=active", as_user=manager).get_json()["items"] == []
    report = client.get(f"{API}/{project.id}/report", as_user=manager).get_json()
    assert report["state"] == "suspended"
    [shown] = client.get(f"{API}/{project.id}/suspensions", as_user=manager).get_json()["items"]
    assert shown["status"] == "applied"

    # The job only does the follow-up: the lease ends at the moment, not when it ran.
    assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 1
    session.expire_all()
    ended = session.get(Assignment, uuid.UUID(lease["id"]))
    assert (ended.state, ended.released_at) == (AssignmentState.RELEASED, EFFECTIVE)
    refused = assert_problem(client.post(
        f"/api/v1/me/assignments/{lease['id']}/submit", as_user=holder,
        json={"answer": "HK", "active_seconds": 60}), 409, code="project-suspended")
    assert at(refused["suspended_at"]) == EFFECTIVE


def test_hourly_work_stops_at_the_suspensions_moment_without_the_job(
    client: ApiClient, session: Session, frozen
) -> None:
    project = hourly_project(idle_timeout_seconds=7200)
    worker, late, idle = UserFactory(), UserFactory(), UserFactory()
    staff(project, worker, late, idle)
    announced(client, session, project, worker, late, idle)
    frozen.move_to(EFFECTIVE - timedelta(hours=1))
    running = client.post(f"{API}/{project.id}/sessions", as_user=worker).get_json()
    later = client.post(f"{API}/{project.id}/sessions", as_user=late).get_json()

    frozen.move_to(AFTER)

    assert_problem(client.post(f"{API}/{project.id}/sessions", as_user=idle), 409,
                   code="project-suspended")
    # A heartbeat or a stop after the moment closes the session at it, paid to it.
    beat = client.post(f"/api/v1/me/sessions/{running['id']}/heartbeat", as_user=worker)
    stop = client.post(f"/api/v1/me/sessions/{later['id']}/stop", as_user=late)
    for response in (beat, stop):
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert (at(body["ended_at"]), body["end_reason"]) == (EFFECTIVE, "suspended")
        assert body["seconds"] == 3600
    # Time after the moment cannot be logged by hand; time before it can.
    refused = assert_problem(client.post(f"{API}/{project.id}/time-entries", as_user=late,
                                         json={"started_at": iso(EFFECTIVE - timedelta(hours=3)),
                                               "ended_at": iso(AFTER), "note": "Late."}),
                             409, code="project-suspended")
    assert at(refused["work_stopped_at"]) == EFFECTIVE
    before = client.post(f"{API}/{project.id}/time-entries", as_user=late, json={
        "started_at": iso(EFFECTIVE - timedelta(hours=3)),
        "ended_at": iso(EFFECTIVE - timedelta(hours=2)), "note": "Before."})
    assert before.status_code == 201, before.get_json()


def test_staffing_and_the_marketplace_close_at_the_suspensions_moment(
    client: ApiClient, session: Session, frozen
) -> None:
    project = ProjectFactory()
    member, applicant, newcomer = UserFactory(), UserFactory(), UserFactory()
    staff(project, member)
    application = MemberFactory(project=project, trainer=applicant,
                                state=MembershipState.APPLIED, joined_at=None)
    manager = announced(client, session, project, member, applicant, newcomer)
    market = client.get("/api/v1/marketplace/projects", as_user=newcomer).get_json()
    assert str(project.id) in [p["id"] for p in market["items"]]

    frozen.move_to(AFTER)

    market = client.get("/api/v1/marketplace/projects", as_user=newcomer).get_json()
    assert str(project.id) not in [p["id"] for p in market["items"]]
    assert_problem(client.post(f"/api/v1/marketplace/projects/{project.id}/applications",
                               as_user=newcomer, json={}), 404)
    assert_problem(client.post(f"{API}/{project.id}/members/{application.id}/accept",
                               as_user=manager), 409, code="project-suspended")
    assert_problem(client.get(f"{API}/{project.id}/pay-transparency", as_user=newcomer), 404)
    # Rotation offers it to nobody.
    assert_problem(client.post("/api/v1/me/claims", as_user=member), 409)


def test_managers_meet_a_due_suspension_as_applied(
    client: ApiClient, session: Session, frozen
) -> None:
    project = ProjectFactory()
    trainer = UserFactory()
    staff(project, trainer)
    manager = announced(client, session, project, trainer)
    frozen.move_to(AFTER)

    # Too late to call it off or to pause: it is in effect.
    assert_problem(client.delete(f"{API}/{project.id}/suspension", as_user=manager), 409,
                   code="no-pending-suspension")
    paused = assert_problem(client.post(f"{API}/{project.id}/pause", as_user=manager,
                                        json={"reason": "Wait."}), 409,
                            code="illegal-transition")
    assert paused["current_state"] == "suspended"
    # A resume reopens the suspended project (the suspension is applied first).
    response = client.post(f"{API}/{project.id}/resume", as_user=manager)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "active"
    [applied] = audits(session, project, "project.suspended")
    assert applied.actor_label == "scheduler"
    [resumed] = audits(session, project, "project.resumed")
    assert resumed.before["state"] == "suspended"
    assert client.post(f"{API}/{project.id}/claims", as_user=trainer).status_code in (201, 409)
    assert project_states.apply_due_suspensions(session, now=clock.now(), limit=10) == 0


def test_flagged_time_after_the_suspensions_moment_is_not_paid(
    client: ApiClient, session: Session, frozen
) -> None:
    project = ProjectFactory(rate=300, estimated_task_seconds=600)
    trainer = UserFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    announced(client, session, project, trainer)
    frozen.move_to(EFFECTIVE - timedelta(minutes=12))
    held = client.post(f"{API}/{project.id}/claims", as_user=trainer).get_json()
    frozen.move_to(EFFECTIVE + timedelta(minutes=20))

    receipt = flagged(client, trainer, held["id"], severity="medium", return_task=True)

    # 3.00 a task at 10 minutes a task is 18.00 an hour: the 12 minutes to the moment.
    assert receipt["flag"]["paid_seconds"] == 720
    assert receipt["paid"] == {"amount": 360, "currency": "USD"}


# --- races (PostgreSQL, committed data) ----------------------------------------------


def test_racing_announcements_make_one_suspension(live_app, live_session: Session) -> None:
    project = ProjectFactory(rate=1400)
    manager = manager_of(live_session, project)
    trainer = UserFactory()
    staff(project, trainer)
    worked_task(project, trainer, submitted_at=T0 - timedelta(days=1),
                state=AssignmentState.APPROVED)
    token = token_for(manager)
    body = {"reason": "Stop.", "effective_at": iso(T0 + timedelta(days=2))}

    results = race(live_app, [
        lambda c: c.post(f"{API}/{project.id}/suspension", json=body, headers=bearer(token))
        for _ in range(6)
    ])

    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 5, [r.get_json() for r in results]
    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(Suspension).where(
        Suspension.project_id == project.id)) == 1
    fees = live_session.scalars(select(KillFee).where(KillFee.project_id == project.id)).all()
    assert [(f.trainer_id, f.amount) for f in fees] == [(trainer.id, 500)]


def test_schedulers_and_a_resume_racing_over_a_due_suspension(
    live_app, live_database, live_session: Session
) -> None:
    project = ProjectFactory(state=ProjectState.PAUSED, pause_reason="Waiting.",
                             suspension_effective_at=T0)
    manager = manager_of(live_session, project)
    staff(project, UserFactory())
    suspension = Suspension(project_id=project.id, reason="Over.", announced_at=T0,
                            effective_at=T0, notice_days=7, created_by_id=manager.id)
    live_session.add(suspension)
    live_session.commit()
    token = token_for(manager)

    def job(_client):
        with live_database.unit_of_work() as session:
            return project_states.apply_due_suspensions(session, now=clock.now(), limit=50)

    def resume(client):
        return client.post(f"{API}/{project.id}/resume", headers=bearer(token)).status_code

    results = race(live_app, [job, job, resume, job])

    assert results[2] == 200
    live_session.expire_all()
    suspension = live_session.get(Suspension, suspension.id)
    project = live_session.get(Project, project.id)
    # The suspension took effect at its moment: whoever won, it was applied (by a job,
    # or by the resume first), once, and the resume reopened the project after it.
    assert suspension.applied_at is not None and suspension.cancelled_at is None
    assert project.state is ProjectState.ACTIVE
    assert project.suspension_effective_at is None
    applied = live_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_id == str(project.id), AuditEvent.action == "project.suspended"))
    assert applied == 1
