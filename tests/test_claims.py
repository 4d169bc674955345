"""Claiming tasks, leases (extend, release, expiry) and submitting, through the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import Connection, event, func, insert, select
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, StaffFactory, TaskFactory, UserFactory, staff
from tests.task_helpers import API, claim, claimed, staffed_project, submit, submitted
from workforce import clock
from workforce.accounts.models import Role, User
from workforce.billing.models import EarningEvent
from workforce.projects import tasks as tasks_service
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    MembershipState,
    Project,
    ProjectMember,
    ProjectState,
    Task,
)

ME = f"{API}/me/assignments"


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


def assignment(session: Session, assignment_id: str) -> Assignment:
    return session.get(Assignment, uuid.UUID(assignment_id))


def task(session: Session, task_id: str | uuid.UUID) -> Task:
    found = session.get(Task, uuid.UUID(str(task_id)))
    session.refresh(found)
    return found


def later(seconds: int) -> time_machine.travel:
    return time_machine.travel(clock.now() + timedelta(seconds=seconds), tick=False)


# --- claiming ------------------------------------------------------------------------


def test_claims_follow_priority_then_age_and_never_show_gold(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer)
    start = clock.now()
    made = {}
    for name, priority, minutes in [("low", 0, 0), ("old-high", 5, 1), ("new-high", 5, 2),
                                    ("mid", 3, 3)]:
        made[name] = TaskFactory(
            project=project, external_id=name, priority=priority,
            created_at=start + timedelta(minutes=minutes), gold_answer={"secret": name},
            payload={"prompt": f"Prompt {name}", "instructions": "Be brief.",
                     "media_urls": ["https://x.example/a.mp3"]},
        )

    order = []
    for _ in range(4):
        response = claim(client, trainer, project)
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        assert "gold" not in response.get_data(as_text=True)
        order.append(body["external_id"])
        submitted(client, trainer, body["id"])

    assert order == ["old-high", "new-high", "mid", "low"]
    assert body["payload"] == {"prompt": "Prompt low", "instructions": "Be brief.",
                               "media_urls": ["https://x.example/a.mp3"]}
    assert_problem(claim(client, trainer, project), 409, code="no-task-available")


def test_a_claim_carries_the_lease_task_and_current_guidelines(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer, lease_seconds=900)
    made = TaskFactory(project=project)
    before = clock.now()

    body = claimed(client, trainer, project)

    assert body["task_id"] == str(made.id) and body["state"] == "leased"
    assert body["project_id"] == str(project.id) and body["project_name"] == project.name
    assert body["guidelines"]["number"] == 1
    assert body["guidelines"]["body"] == "Listen, then label the accent."
    expires = datetime.fromisoformat(body["lease_expires_at"])
    assert before + timedelta(seconds=899) <= expires <= clock.now() + timedelta(seconds=901)
    assert body["answer"] is None and body["appeal"] is None
    # The rate in force at the claim, the least the task will pay.
    assert body["pay"] == {"amount": 200, "currency": "USD"} and body["pay_fixed"] is False
    assert task(session, made.id).open_slots == 0


def test_redundancy_gives_a_task_to_that_many_different_trainers(
    client: ApiClient, session: Session
) -> None:
    trainers = [UserFactory() for _ in range(4)]
    project = staffed_project(*trainers)
    shared = TaskFactory(project=project, redundancy=3, priority=1)

    first = [claimed(client, t, project) for t in trainers[:3]]

    assert {a["task_id"] for a in first} == {str(shared.id)}
    assert task(session, shared.id).open_slots == 0
    assert_problem(claim(client, trainers[3], project), 409, code="no-task-available")
    # Done by the first trainer, the task is never theirs again, even with slots open.
    submitted(client, trainers[0], first[0]["id"])
    client.post(f"{ME}/{first[1]['id']}/release", as_user=trainers[1])
    assert task(session, shared.id).open_slots == 1
    assert_problem(claim(client, trainers[0], project), 409, code="no-task-available")
    assert_problem(claim(client, trainers[1], project), 409, code="no-task-available")
    assert claimed(client, trainers[3], project)["task_id"] == str(shared.id)
    assert session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.task_id == shared.id)
    ) == 4


def test_one_live_lease_per_project_claiming_again_returns_it(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer)
    TaskFactory.create_batch(3, project=project)

    first = claimed(client, trainer, project)
    again = claim(client, trainer, project)

    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"]
    assert session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.trainer_id == trainer.id)
    ) == 1


def test_a_lease_that_ran_out_unnoticed_is_expired_by_the_next_claim(
    client: ApiClient, session: Session, trainer: User
) -> None:
    sign_in_for_days(client, trainer)
    project = staffed_project(trainer, lease_seconds=600)
    first_task, second_task = TaskFactory(project=project, priority=2), TaskFactory(project=project)
    first = claimed(client, trainer, project)

    with later(601):
        second = claimed(client, trainer, project)

    assert second["task_id"] == str(second_task.id)
    assert assignment(session, first["id"]).state is AssignmentState.EXPIRED
    assert task(session, first_task.id).open_slots == 1


@pytest.mark.parametrize(
    ("state", "code"),
    [(ProjectState.PAUSED, "project-paused"), (ProjectState.SUSPENDED, "project-suspended"),
     (ProjectState.CLOSED, "project-closed")],
)
def test_claims_are_refused_on_projects_not_open_for_work(
    client: ApiClient, session: Session, trainer: User, state: ProjectState, code: str
) -> None:
    project = staffed_project(trainer, state=state, pause_reason="No audio queued.",
                              expected_resume_at=clock.now() + timedelta(days=3))
    TaskFactory(project=project)

    problem = assert_problem(claim(client, trainer, project), 409, code=code)

    if state is ProjectState.PAUSED:
        assert problem["pause_reason"] == "No audio queued."
        assert "No audio queued." in problem["detail"] and problem["expected_resume_at"]
    assert session.scalar(select(func.count()).select_from(Assignment)
                          .where(Assignment.project_id == project.id)) == 0


def test_claims_need_a_staffed_trainer_on_a_visible_project(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = ProjectFactory()
    TaskFactory(project=project)
    assert_problem(claim(client, trainer, project), 403, code="not-staffed")
    member = staff(project, trainer)[0]
    member.state = MembershipState.REMOVED
    session.commit()
    assert_problem(claim(client, trainer, project), 403, code="not-staffed")
    draft = staffed_project(trainer, state=ProjectState.DRAFT)
    assert_problem(claim(client, trainer, draft), 404)
    response = client.post(f"{API}/projects/{uuid.uuid4()}/claims", as_user=trainer)
    assert_problem(response, 404)
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    assert_problem(claim(client, manager, project), 403, code="role-forbidden")


def _statement(sql: str) -> str:
    """``VERB table`` of a statement (a SELECT's: its first column's table)."""
    words = sql.replace('"', "").split()
    verb = words[0].upper()
    if verb == "SELECT":
        return f"SELECT {words[1].split('.')[0]}"
    return f"{verb} {words[2] if verb in ('INSERT', 'DELETE') else words[1]}"


def _claim_statements(client: ApiClient, connection: Connection, trainer: User,
                      project: Project) -> list[str]:
    """The statements of a second claim on the project (the token cached by the first),
    from the project's share lock on, without savepoints."""
    TaskFactory(project=project)
    url = f"{API}/projects/{project.id}/claims"
    client.post(url, as_user=trainer)  # the token is looked up once and cached after
    release = client.post(f"{ME}/{client.get(ME, as_user=trainer).get_json()['items'][0]['id']}"
                          "/release", as_user=trainer)
    assert release.status_code == 200
    TaskFactory(project=project)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(_statement(statement))

    event.listen(connection, "before_cursor_execute", record)
    try:
        response = client.post(url, as_user=trainer)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert response.status_code == 201 and response.get_json()["payload"] is not None
    claim_part = seen[seen.index("SELECT projects"):]
    return [s for s in claim_part if not s.startswith(("SAVEPOINT", "RELEASE"))]


PLAIN_CLAIM = ["SELECT projects", "SELECT users", "SELECT project_members",
               "SELECT task_assignments", "UPDATE tasks", "INSERT task_assignments"]


def test_a_plain_claim_runs_only_its_own_statements(
    client: ApiClient, connection: Connection, trainer: User
) -> None:
    """The claim of plain work is the benchmarked hot path: the project (share-locked,
    with its guidelines and the rate in force, the pay shown, and its budget), the
    trainer's and the membership's locks (with whether a quality restriction is in
    force), the running leases, the first free candidate's slot taken in the statement
    that picks it, and the lease, and nothing more (the answer reads no row again, and
    knowing it is shown at once costs no statement)."""
    assert _claim_statements(client, connection, trainer, staffed_project(trainer)) == \
        PLAIN_CLAIM


def test_a_budgeted_claim_adds_only_the_budget_check(
    client: ApiClient, connection: Connection, trainer: User
) -> None:
    """With a budget, the claim also takes the project's budget lock (PostgreSQL) and
    reads its rates, its ledger cost and its committed work (awaiting review, leases)
    before taking a task: four statements, five on PostgreSQL."""
    project = staffed_project(trainer)
    project.budget_amount = 10_000
    client.session.commit()
    seen = _claim_statements(client, connection, trainer, project)
    budget_check = seen[4:-2]
    postgres = connection.dialect.name == "postgresql"
    assert seen[:4] + seen[-2:] == PLAIN_CLAIM
    assert budget_check == ["SELECT pg_advisory_xact_lock(%(space)s,"] * postgres + [
        "SELECT project_rates", "SELECT sum(project_rates", "SELECT task_assignments",
        "SELECT sum(postings"], budget_check


def test_a_plain_submit_runs_only_its_own_statements(
    client: ApiClient, connection: Connection, trainer: User
) -> None:
    """The submit of plain work sampled for review, the benchmarked hot path's second
    half: the lease under its lock (with its task, project, rates, template and flags)
    and its update, and nothing more: the answer reads no row again, and none of the
    columns the statements leave out (``tasks._HOT``) is loaded after."""
    project = staffed_project(trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The lease's statement (locked on PostgreSQL) names the task first.
        lease_read = "FROM task_assignments JOIN tasks" in " ".join(statement.split())
        seen.append("the lease, locked" if lease_read else _statement(statement))

    event.listen(connection, "before_cursor_execute", record)
    try:
        answer = submitted(client, trainer, lease["id"])
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert answer["state"] == "submitted" and answer["project_name"] == project.name
    submit_part = seen[seen.index("the lease, locked"):]
    assert [s for s in submit_part if not s.startswith(("SAVEPOINT", "RELEASE"))] == [
        "the lease, locked", "UPDATE task_assignments"], seen


def test_claim_and_submit_are_planned_once_per_connection(
    client: ApiClient, connection: Connection, trainer: User
) -> None:
    """psycopg prepares a statement on its fifth run; PostgreSQL then plans it for its
    parameters five times more and keeps one generic plan if that looks no costlier.
    A constant sent as a parameter (``open_slots > 0``, a LIMIT, a state a partial index
    names) makes the generic plan look worse, and the statement was planned on every
    claim (``db.inline``): after twenty claims and submits (fifteen runs prepared),
    none of their statements is still being planned for its parameters. The trainer has
    done much work before (few of a trainer's assignments are leased: the running
    leases' statement, its state a parameter, was planned on every claim)."""
    if connection.dialect.name != "postgresql":
        pytest.skip("prepared statements and their plans are PostgreSQL's")
    project = staffed_project(trainer)
    # A project of some size, and statistics that say so, as in production: on a few
    # rows that were never analysed, every plan looks alike.
    TaskFactory.create_batch(400, project=project)
    done = TaskFactory.create_batch(300, project=project, open_slots=0)
    at = clock.now() - timedelta(days=3)
    client.session.execute(insert(Assignment), [
        {"task_id": task.id, "project_id": project.id, "trainer_id": trainer.id,
         "state": AssignmentState.APPROVED, "claimed_at": at, "revealed_at": at,
         "lease_expires_at": at + timedelta(hours=1), "submitted_at": at,
         "answer": {"label": "hk"}, "active_seconds": 60} for task in done])
    client.session.commit()
    for table in ("tasks", "task_assignments", "project_members", "content_flags"):
        connection.exec_driver_sql(f"ANALYZE {table}")
    for _ in range(20):
        submitted(client, trainer, claimed(client, trainer, project)["id"])
    plans = connection.exec_driver_sql(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        " WHERE generic_plans + custom_plans >= 10").all()
    hot = [row for row in plans if "FOR SHARE OF projects" in row.statement
           or "SKIP LOCKED" in row.statement or "project_members" in row.statement]
    assert len(hot) >= 3, [row.statement[:80] for row in plans]
    still_planned = [(row.statement[:120], row.custom_plans) for row in plans
                     if row.custom_plans > 5]
    assert still_planned == []


# --- the lease -----------------------------------------------------------------------


def test_extend_runs_the_lease_again_up_to_three_lengths(
    client: ApiClient, session: Session, trainer: User
) -> None:
    sign_in_for_days(client, trainer)
    project = staffed_project(trainer, lease_seconds=600)
    TaskFactory(project=project)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        lease = claimed(client, trainer, project)
    claimed_at = datetime.fromisoformat(lease["claimed_at"])

    with time_machine.travel(start + timedelta(seconds=500), tick=False):
        response = client.post(f"{ME}/{lease['id']}/extend", as_user=trainer)
        assert response.status_code == 200
        assert datetime.fromisoformat(response.get_json()["lease_expires_at"]) == (
            clock.now() + timedelta(seconds=600)
        )
    with time_machine.travel(start + timedelta(seconds=1000), tick=False):
        extended = client.post(f"{ME}/{lease['id']}/extend", as_user=trainer).get_json()
        assert datetime.fromisoformat(extended["lease_expires_at"]) == (
            clock.now() + timedelta(seconds=600)
        )
    with time_machine.travel(start + timedelta(seconds=1500), tick=False):
        extended = client.post(f"{ME}/{lease['id']}/extend", as_user=trainer).get_json()
        # Capped at three lease lengths from the claim.
        assert datetime.fromisoformat(extended["lease_expires_at"]) == (
            claimed_at + timedelta(seconds=1800)
        )
        assert_problem(client.post(f"{ME}/{lease['id']}/extend", as_user=trainer), 409,
                       code="lease-limit-reached")
    with time_machine.travel(start + timedelta(seconds=1801), tick=False):
        assert_problem(client.post(f"{ME}/{lease['id']}/extend", as_user=trainer), 409,
                       code="lease-expired")


def test_release_gives_the_slot_back_once(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer)
    made = TaskFactory(project=project, redundancy=2)
    lease = claimed(client, trainer, project)
    assert task(session, made.id).open_slots == 1

    response = client.post(f"{ME}/{lease['id']}/release", as_user=trainer)

    assert response.status_code == 200
    assert response.get_json()["state"] == "released" and response.get_json()["released_at"]
    assert task(session, made.id).open_slots == 2
    assert_problem(client.post(f"{ME}/{lease['id']}/release", as_user=trainer), 409,
                   code="lease-released")
    assert_problem(client.post(f"{ME}/{lease['id']}/extend", as_user=trainer), 409,
                   code="lease-released")
    assert task(session, made.id).open_slots == 2


def test_another_trainers_assignment_is_not_found(
    client: ApiClient, session: Session, trainer: User
) -> None:
    other = UserFactory()
    project = staffed_project(trainer, other)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    for action in ("extend", "release", "submit"):
        response = client.post(f"{ME}/{lease['id']}/{action}", as_user=other,
                               json={"answer": "x", "active_seconds": 1})
        assert_problem(response, 404)
    assert_problem(client.get(f"{ME}/{lease['id']}", as_user=other), 404)
    assert assignment(session, lease["id"]).state is AssignmentState.LEASED


def test_the_expiry_job_returns_tasks_of_leases_that_ran_out(
    client: ApiClient, session: Session
) -> None:
    first, second = UserFactory(), UserFactory()
    sign_in_for_days(client, first, second)
    project = staffed_project(first, second, lease_seconds=600)
    made = TaskFactory(project=project)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        lease = claimed(client, first, project)

    # Not yet due: nothing happens.
    assert tasks_service.expire_leases(session, now=start + timedelta(seconds=599), limit=10) == 0
    with time_machine.travel(start + timedelta(seconds=601), tick=False):
        assert tasks_service.expire_leases(session, now=clock.now(), limit=10) == 1
        session.commit()
        assert tasks_service.expire_leases(session, now=clock.now(), limit=10) == 0
        expired = assignment(session, lease["id"])
        assert expired.state is AssignmentState.EXPIRED
        assert expired.released_at == expired.lease_expires_at
        assert task(session, made.id).open_slots == 1
        # The task goes to someone else; the first trainer may not submit it any more.
        assert claimed(client, second, project)["task_id"] == str(made.id)
        problem = assert_problem(submit(client, first, lease["id"]), 409, code="lease-expired")
        assert problem["current_state"] == "expired"
        listing = client.get(f"{ME}?state=expired", as_user=first).get_json()
        assert [a["id"] for a in listing["items"]] == [lease["id"]]


def test_the_expiry_job_works_in_batches(session: Session) -> None:
    project = ProjectFactory(lease_seconds=60)
    trainers = [UserFactory() for _ in range(5)]
    staff(project, *trainers)
    made = TaskFactory(project=project, redundancy=5)
    start = clock.now()
    for trainer in trainers:
        tasks_service.claim_next(session, trainer, project.id)
    session.commit()
    later_on = start + timedelta(minutes=5)
    assert tasks_service.expire_leases(session, now=later_on, limit=2) == 2
    assert tasks_service.expire_leases(session, now=later_on, limit=2) == 2
    assert tasks_service.expire_leases(session, now=later_on, limit=2) == 1
    session.refresh(made)
    assert made.open_slots == 5


# --- submitting ----------------------------------------------------------------------


def test_submitting_after_the_lease_ran_out_writes_nothing(
    client: ApiClient, session: Session, trainer: User
) -> None:
    sign_in_for_days(client, trainer)
    project = staffed_project(trainer, lease_seconds=600, review_sample_percent=0)
    made = TaskFactory(project=project)
    lease = claimed(client, trainer, project)

    with later(601):
        problem = assert_problem(submit(client, trainer, lease["id"]), 409, code="lease-expired")

    assert problem["lease_expired_at"]
    stored = assignment(session, lease["id"])
    assert stored.state is AssignmentState.LEASED and stored.answer is None
    assert stored.submitted_at is None and stored.rate_id is None
    assert task(session, made.id).open_slots == 0
    assert session.scalar(select(func.count()).select_from(EarningEvent)
                          .where(EarningEvent.trainer_id == trainer.id)) == 0


def test_submitting_a_released_lease_is_refused(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    client.post(f"{ME}/{lease['id']}/release", as_user=trainer)

    assert_problem(submit(client, trainer, lease["id"]), 409, code="lease-released")
    assert assignment(session, lease["id"]).answer is None


def test_a_submission_keeps_the_answer_and_bounded_time(
    client: ApiClient, session: Session, trainer: User
) -> None:
    sign_in_for_days(client, trainer)
    project = staffed_project(trainer)  # every submission is reviewed
    TaskFactory(project=project)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        lease = claimed(client, trainer, project)

    with time_machine.travel(start + timedelta(seconds=300), tick=False):
        body = submitted(client, trainer, lease["id"], answer={"accent": "HK", "sure": 0.8},
                         active_seconds=5000)

    assert body["state"] == "submitted"
    assert body["answer"] == {"accent": "HK", "sure": 0.8}
    assert body["active_seconds"] == 300  # no more than the time since the claim
    assert body["pay"] == {"amount": 200, "currency": "USD"}
    assert_problem(submit(client, trainer, lease["id"]), 409, code="not-leased")


@pytest.mark.parametrize(
    "body",
    [
        {"active_seconds": 10},
        {"answer": None, "active_seconds": 10},
        {"answer": "x"},
        {"answer": "x", "active_seconds": -1},
        {"answer": "x", "active_seconds": 1.5},
        {"answer": "x", "active_seconds": "10"},
        {"answer": "x", "active_seconds": 10, "extra": 1},
    ],
)
def test_bad_submissions_are_refused_and_write_nothing(
    client: ApiClient, session: Session, trainer: User, body: dict
) -> None:
    project = staffed_project(trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)

    response = client.post(f"{ME}/{lease['id']}/submit", as_user=trainer, json=body)

    assert_problem(response, 422)
    assert assignment(session, lease["id"]).state is AssignmentState.LEASED


def test_a_nan_answer_is_refused(client: ApiClient, session: Session, trainer: User) -> None:
    project = staffed_project(trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    response = client.post(f"{ME}/{lease['id']}/submit", as_user=trainer,
                           data='{"answer": NaN, "active_seconds": 1}',
                           content_type="application/json")
    assert_problem(response, 422)
    assert assignment(session, lease["id"]).answer is None


def test_a_lease_held_when_the_project_pauses_may_still_be_submitted(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = staffed_project(trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    project.state, project.pause_reason = ProjectState.PAUSED, "Queue empty."
    session.commit()

    assert submitted(client, trainer, lease["id"])["state"] == "submitted"


# --- the trainer's list --------------------------------------------------------------


def test_my_assignments_filter_by_state_and_project(
    client: ApiClient, session: Session, trainer: User
) -> None:
    one, two = staffed_project(trainer), staffed_project(trainer)
    TaskFactory.create_batch(2, project=one)
    TaskFactory(project=two)
    done = claimed(client, trainer, one)
    submitted(client, trainer, done["id"])
    held = claimed(client, trainer, one)
    other = claimed(client, trainer, two)

    def ids(query: str) -> list[str]:
        response = client.get(f"{ME}{query}", as_user=trainer)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [a["id"] for a in response.get_json()["items"]]

    assert set(ids("")) == {done["id"], held["id"], other["id"]}
    assert ids("?state=submitted") == [done["id"]]
    assert set(ids(f"?project_id={one.id}")) == {done["id"], held["id"]}
    assert ids(f"?project_id={two.id}&state=leased") == [other["id"]]
    assert ids("?limit=1") and len(ids("?limit=1")) == 1
    assert_problem(client.get(f"{ME}?state=lost", as_user=trainer), 422)
    one_view = client.get(f"{ME}/{done['id']}", as_user=trainer).get_json()
    assert one_view["guidelines"]["number"] == 1 and one_view["answer"] == "Hong Kong"
    assert "gold" not in client.get(f"{ME}/{done['id']}", as_user=trainer).get_data(True)
    # Another trainer sees none of it.
    assert client.get(ME, as_user=UserFactory()).get_json()["items"] == []


def test_membership_rows_of_the_factory_are_active(session: Session, trainer: User) -> None:
    # A guard on the helper the tests lean on: staffed means an active membership.
    project = staffed_project(trainer)
    member = session.scalars(select(ProjectMember).where(ProjectMember.project_id == project.id))
    assert member.one().state is MembershipState.ACTIVE
