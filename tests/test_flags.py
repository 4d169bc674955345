"""Flags on disturbing content through the API: hiding, pay, standing, triage."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    UserFactory,
    consenting,
    hourly_project,
)
from tests.support_helpers import (
    API,
    admin_of,
    audited,
    claimed,
    count,
    flag,
    flagged,
    frozen,
    later,
    notifications,
    sensitive_project,
    set_policy,
    sign_in,
    staff_of,
    staffed_with_consent,
    tasks,
)
from workforce.accounts.models import Role, User
from workforce.billing.models import EarningEvent, EarningKind
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    ContentCategory,
    Project,
    Sensitivity,
    Task,
)
from workforce.wellbeing.support_models import ContentFlag, FlagState, SupportCase

pytestmark = pytest.mark.usefixtures("clock_at")


@pytest.fixture
def clock_at() -> Iterator[time_machine.Coordinates]:
    yield from frozen()


def manager(session: Session, project: Project) -> User:
    found = session.get(User, project.created_by_id)
    assert found is not None
    return found


def claim(client: ApiClient, trainer: User, project: Project):
    return client.post(f"{API}/projects/{project.id}/claims", as_user=trainer)


def flagged_work(session: Session) -> list[EarningEvent]:
    return list(session.scalars(
        select(EarningEvent).where(EarningEvent.kind == EarningKind.FLAGGED_WORK)))


# --- hiding --------------------------------------------------------------------------


def test_a_high_flag_hides_the_task_from_others_until_a_dismissal(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana, bo, cy = UserFactory(), UserFactory(), UserFactory()
    project = sensitive_project(ana, bo, cy)
    boss = manager(session, project)
    sign_in(client, ana, bo, boss, cy)
    [task] = tasks(project, redundancy=3)

    held = claimed(client, ana, project)
    claimed(client, cy, project)  # holds the same task: warned, not told by whom
    later(clock_at, minutes=12)
    receipt = flagged(client, ana, held["id"], return_task=True)
    assert receipt["assignment_state"] == "released"
    assert receipt["flag"]["state"] == "open"
    assert receipt["support"]["text"]
    assert receipt["support_case_id"] is None

    # The slot came back, yet no one else may take the task while the flag is open.
    assert_problem(claim(client, bo, project), 409, code="no-task-available")
    queue = client.get(f"{API}/flags", as_user=boss).get_json()["items"]
    assert [(f["task_id"], f["hides_task"], f["severity"]) for f in queue] == [
        (str(task.id), True, "high")]
    assert "trainer_id" not in queue[0]
    assert notifications(session, boss, "content_flag.high")
    [warning] = notifications(session, cy, "content_flag.task_you_hold")
    assert ana.display_name not in warning.body

    response = client.post(f"{API}/flags/{queue[0]['id']}/dismiss", as_user=boss,
                           json={"reason": "A stunt from a film, not real violence."})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["hides_task"] is False
    assert claimed(client, bo, project)["task_id"] == str(task.id)
    told = notifications(session, ana, "content_flag.dismissed")
    assert len(told) == 1 and "A stunt from a film" in told[0].body
    assert audited(session, "content_flag.dismissed", queue[0]["id"])
    assert audited(session, "content_flag.created", queue[0]["id"])


@pytest.mark.parametrize("severity", ["low", "medium"])
def test_lower_severities_hide_nothing(client: ApiClient, session: Session,
                                       severity: str) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = sensitive_project(ana, bo)
    sign_in(client, ana, bo)
    [task] = tasks(project, redundancy=2)
    held = claimed(client, ana, project)
    flagged(client, ana, held["id"], severity=severity, return_task=True)
    assert claimed(client, bo, project)["task_id"] == str(task.id)


def test_escalation_keeps_the_task_hidden_and_tells_the_wellbeing_contact(
    client: ApiClient, session: Session, mail
) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = sensitive_project(ana, bo)
    boss, admin = manager(session, project), admin_of(session, project)
    contact = staff_of(session, project, Role.REVIEWER)
    sign_in(client, ana, bo, boss, admin)
    set_policy(client, admin, wellbeing_contact_id=contact.id)
    tasks(project, redundancy=2)
    held = claimed(client, ana, project)
    flag_id = flagged(client, ana, held["id"], return_task=True)["flag"]["id"]

    response = client.post(f"{API}/flags/{flag_id}/escalate", as_user=boss,
                           json={"note": "Looks like real abuse; please look at it."})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "escalated"
    assert_problem(claim(client, bo, project), 409, code="no-task-available")
    assert len(notifications(session, contact, "content_flag.escalated")) == 1
    assert not notifications(session, admin, "content_flag.escalated")
    assert [m.to for m in mail.sent] == [contact.email]
    assert audited(session, "content_flag.escalated", flag_id)
    # Escalated flags are still in the queue, and can still be decided.
    assert [f["id"] for f in client.get(f"{API}/flags", as_user=boss).get_json()["items"]] == [
        flag_id]
    response = client.post(f"{API}/flags/{flag_id}/dismiss", as_user=boss,
                           json={"reason": "The wellbeing contact found it staged."})
    assert response.status_code == 200
    assert claimed(client, bo, project)


# --- pay and standing ----------------------------------------------------------------


def test_returned_flagged_work_is_paid_for_its_time_once(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    sign_in(client, ana)
    tasks(project, 2)
    held = claimed(client, ana, project)
    later(clock_at, minutes=12)
    receipt = flagged(client, ana, held["id"], return_task=True, severity="medium")

    # 3.00 a task at 10 minutes a task is 18.00 an hour; 12 minutes earn 3.60.
    assert receipt["paid"] == {"amount": 360, "currency": "USD"}
    assert receipt["flag"]["paid_seconds"] == 720
    [event] = flagged_work(session)
    assert (event.trainer_id, event.source_id, event.project_id) == (
        ana.id, uuid.UUID(held["id"]), project.id)
    assert "12.0 minutes at 18.00 USD an hour" in event.description

    # A second flag on the same assignment is refused and pays nothing more.
    assert_problem(flag(client, ana, held["id"]), 409, code="already-flagged")
    assert len(flagged_work(session)) == 1
    items = client.get(f"{API}/me/earnings/items", as_user=ana).get_json()["items"]
    assert [(i["amount"], i["reason"]) for i in items] == [(360, event.description)]


@pytest.mark.parametrize(("lease", "estimate", "paid_seconds", "amount"), [
    # Held idle for the whole lease (an hour) and flagged after it expired: twice the
    # estimated 10 minutes are paid, at 18.00 an hour.
    (3600, 600, 1200, 600),
    # A lease shorter than twice the estimate (30 of 2 x 20 minutes) bounds it first.
    (1800, 1200, 1800, 900),
])
def test_flagged_time_is_bounded_by_the_lease_and_twice_the_estimate(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates,
    lease: int, estimate: int, paid_seconds: int, amount: int,
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana, lease_seconds=lease, estimated_task_seconds=estimate,
                                rate=300 * estimate // 600)  # 18.00 an hour either way
    boss = manager(session, project)
    sign_in(client, ana, boss)
    tasks(project)
    held = claimed(client, ana, project)
    later(clock_at, hours=3)  # the lease ran out
    receipt = flagged(client, ana, held["id"], severity="low")
    assert receipt["paid"] == {"amount": amount, "currency": "USD"}
    assert receipt["flag"]["paid_seconds"] == paid_seconds
    assert_problem(flag(client, ana, held["id"], return_task=True), 409,
                   code="already-flagged")

    # A dismissal takes nothing back: flagging is never penalised.
    response = client.post(f"{API}/flags/{receipt['flag']['id']}/dismiss", as_user=boss,
                           json={"reason": "Ordinary content."})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [e.amount for e in flagged_work(session)] == [amount]
    summary = client.get(f"{API}/me/earnings/summary", as_user=ana).get_json()
    assert [c["year_to_date"] for c in summary["currencies"]] == [amount]


def test_a_genuine_flag_within_the_bound_is_paid_all_its_time(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)  # 10 minutes estimated: up to 20 are paid
    sign_in(client, ana)
    tasks(project)
    held = claimed(client, ana, project)
    later(clock_at, minutes=19)
    receipt = flagged(client, ana, held["id"], return_task=True)
    assert receipt["flag"]["paid_seconds"] == 1140
    assert receipt["paid"] == {"amount": 570, "currency": "USD"}


def test_the_ledger_does_not_say_which_task_a_trainer_flagged(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    sign_in(client, ana, admin)
    [task] = tasks(project)
    held = claimed(client, ana, project)
    later(clock_at, minutes=12)
    flagged(client, ana, held["id"], return_task=True)

    response = client.get(f"{API}/ledger/entries?source_type=flagged_work", as_user=admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    [entry] = response.get_json()["items"]
    assert entry["trainer_id"] == str(ana.id)  # finance pays it
    reason = entry["reason"]
    assert task.external_id not in reason and "flag" not in reason.lower()
    assert reason == f"Time on {project.name}: 12.0 minutes at 18.00 USD an hour"
    exported = client.get(f"{API}/ledger/entries.csv", as_user=admin).get_data(as_text=True)
    assert task.external_id not in exported


def test_the_audit_log_does_not_say_who_flagged(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    sign_in(client, ana, admin)
    tasks(project)
    held = claimed(client, ana, project)
    flag = flagged(client, ana, held["id"], return_task=True)["flag"]

    response = client.get(f"{API}/audit-events?action=content_flag.created", as_user=admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    [event] = response.get_json()["items"]
    assert event["object_id"] == flag["id"]
    assert event["actor_id"] is None and event["actor_label"] == "trainer"
    assert str(ana.id) not in json.dumps(event)
    mine = client.get(f"{API}/audit-events?actor_id={ana.id}", as_user=admin).get_json()
    assert [e for e in mine["items"] if e["action"].startswith("content_flag")] == []


def test_hourly_projects_pay_flagged_time_through_their_time_entries(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = hourly_project(sensitivity=Sensitivity.SENSITIVE,
                             content_categories=[ContentCategory.HATE.value])
    staffed_with_consent(project, ana)
    sign_in(client, ana)
    tasks(project)
    held = claimed(client, ana, project)
    later(clock_at, minutes=20)
    receipt = flagged(client, ana, held["id"], category="hate", return_task=True)
    assert receipt["paid"] is None and receipt["flag"]["paid_seconds"] is None
    assert flagged_work(session) == []


def test_flagged_work_never_lowers_approval_rate_or_quality(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana, review_sample_percent=100)
    boss = manager(session, project)
    sign_in(client, ana, boss)
    [plain] = tasks(project, gold_answer="hk", priority=1)  # claimed first
    tasks(project, gold_answer="hk")

    first = claimed(client, ana, project)
    assert first["task_id"] == str(plain.id)
    client.post(f"{API}/me/assignments/{first['id']}/submit", as_user=ana,
                json={"answer": "hk", "active_seconds": 60})
    assert client.post(f"{API}/assignments/{first['id']}/review", as_user=boss,
                       json={"decision": "approve"}).status_code == 200
    before = client.get(f"{API}/me/quality", as_user=ana).get_json()["organisations"]
    assert (before[0]["approval_rate"], before[0]["quality_score"]) == ("1.0000", "1.0000")

    second = claimed(client, ana, project)
    later(clock_at, minutes=5)
    client.post(f"{API}/me/assignments/{second['id']}/submit", as_user=ana,
                json={"answer": "gz", "active_seconds": 60})  # wrong gold answer
    flagged(client, ana, second["id"], severity="medium")
    response = client.post(f"{API}/assignments/{second['id']}/review", as_user=boss, json={
        "decision": "reject", "rejection_category": "incorrect", "message": "Wrong accent."})
    assert response.status_code == 200, response.get_data(as_text=True)

    after = client.get(f"{API}/me/quality", as_user=ana).get_json()["organisations"]
    assert after == before
    # The time was paid once (5 minutes: 1.50), and no later step pays it again.
    assert [e.amount for e in flagged_work(session)] == [150]
    # Nor does it count in the ranking managers see when staffing their next project.
    response = client.get(f"{API}/projects/{ProjectFactory(manager=boss).id}/candidates",
                          as_user=boss)
    assert response.status_code == 200, response.get_data(as_text=True)
    [mine] = [c for c in response.get_json()["items"] if c["trainer"]["id"] == str(ana.id)]
    assert (mine["approved"], mine["rejected"], mine["approval_rate"]) == (1, 0, "1.0000")


# --- triage --------------------------------------------------------------------------


def test_confirming_raises_the_tasks_content_warning_and_offers_it_again(
    client: ApiClient, session: Session
) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = ProjectFactory()  # labelled as ordinary content
    staffed_with_consent(project, ana, bo)
    boss = manager(session, project)
    sign_in(client, ana, bo, boss)
    [task] = tasks(project, redundancy=2)
    held = claimed(client, ana, project)
    flag_id = flagged(client, ana, held["id"], category="self_harm",
                      return_task=True)["flag"]["id"]

    response = client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss, json={
        "scope": "task", "sensitivity": "graphic", "note": "Thank you, relabelled."})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["state"], body["raised_scope"], body["hides_task"]) == (
        "confirmed", "task", False)
    assert (body["task_sensitivity"], body["task_content_categories"]) == (
        "graphic", ["self_harm"])
    session.refresh(task)
    assert (task.sensitivity, task.content_categories) == (Sensitivity.GRAPHIC, ["self_harm"])
    assert audited(session, "task.content_warning_raised", task.id)
    assert audited(session, "content_flag.confirmed", flag_id)
    assert notifications(session, ana, "content_flag.confirmed")
    consenting(bo, "self_harm")  # the relabelled task now needs consent to self-harm
    assert claimed(client, bo, project)["task_id"] == str(task.id)


def test_confirming_at_project_level_tells_the_projects_trainers(
    client: ApiClient, session: Session
) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = sensitive_project(ana, bo, content_categories=[ContentCategory.HATE.value])
    boss = manager(session, project)
    sign_in(client, ana, bo, boss)
    tasks(project)
    held = claimed(client, ana, project)
    flag_id = flagged(client, ana, held["id"], category="violence")["flag"]["id"]

    response = client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss,
                           json={"scope": "project"})
    assert response.status_code == 200, response.get_data(as_text=True)
    session.refresh(project)
    assert (project.sensitivity, project.content_categories) == (
        Sensitivity.SENSITIVE, ["hate", "violence"])
    assert notifications(session, bo, "project.content_warning_raised")
    assert audited(session, "project.updated", project.id)


def test_a_confirmation_that_would_lower_a_warning_is_refused_and_changes_nothing(
    client: ApiClient, session: Session
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana, sensitivity=Sensitivity.GRAPHIC)
    boss = manager(session, project)
    sign_in(client, ana, boss)
    tasks(project)
    held = claimed(client, ana, project)
    flag_id = flagged(client, ana, held["id"])["flag"]["id"]

    problem = assert_problem(client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss, json={
        "scope": "task", "sensitivity": "sensitive"}), 422)
    assert "sensitivity" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss, json={
        "scope": "none", "content_categories": ["hate"]}), 422)
    assert "scope" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss, json={
        "scope": "task", "content_categories": ["gore"]}), 422)
    assert any(name.startswith("content_categories") for name in problem["errors"])
    assert session.get(ContentFlag, uuid.UUID(flag_id)).state is FlagState.OPEN
    assert session.get(Task, uuid.UUID(held["task_id"])).sensitivity is None
    assert not audited(session, "content_flag.confirmed", flag_id)


def test_a_flag_is_triaged_once(client: ApiClient, session: Session) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    boss = manager(session, project)
    sign_in(client, ana, boss)
    tasks(project)
    flag_id = flagged(client, ana, claimed(client, ana, project)["id"])["flag"]["id"]
    assert client.post(f"{API}/flags/{flag_id}/confirm", as_user=boss,
                       json={}).status_code == 200
    for action, body in (("dismiss", {"reason": "No."}), ("escalate", {"note": "Hm."}),
                         ("confirm", {})):
        assert_problem(client.post(f"{API}/flags/{flag_id}/{action}", as_user=boss,
                                   json=body), 409, code="illegal-transition")
    assert_problem(client.post(f"{API}/flags/{flag_id}/dismiss", as_user=boss, json={}), 422)


def test_the_queue_filters_by_project_severity_and_state(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    ana = UserFactory()
    first = sensitive_project(ana)
    boss = manager(session, first)
    second = sensitive_project(ana, manager=boss)
    sign_in(client, ana, boss)
    tasks(first)
    tasks(second)
    high = flagged(client, ana, claimed(client, ana, first)["id"])["flag"]["id"]
    later(clock_at, minutes=1)
    low = flagged(client, ana, claimed(client, ana, second)["id"],
                  severity="low")["flag"]["id"]

    def ids(query: str) -> list[str]:
        response = client.get(f"{API}/flags{query}", as_user=boss)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [f["id"] for f in response.get_json()["items"]]

    assert ids("") == [low, high]
    assert ids(f"?project_id={first.id}") == [high]
    assert ids("?severity=low") == [low]
    client.post(f"{API}/flags/{low}/dismiss", as_user=boss, json={"reason": "Fine."})
    assert ids("") == [high]
    assert ids("?state=dismissed") == [low]
    assert_problem(client.get(f"{API}/flags?severity=extreme", as_user=boss), 422)
    assert_problem(client.get(f"{API}/flags?project_id={ProjectFactory().id}",
                              as_user=boss), 404)
    # Trainers see their own flags with what became of them.
    mine = client.get(f"{API}/me/flags", as_user=ana).get_json()["items"]
    assert [(f["id"], f["state"], f["resolution"]) for f in mine] == [
        (low, "dismissed", "Fine."), (high, "open", None)]


# --- bad input -----------------------------------------------------------------------


def test_a_task_the_trainer_never_saw_cannot_be_flagged(
    client: ApiClient, session: Session
) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = sensitive_project(ana, bo)
    sign_in(client, ana, bo)
    tasks(project)
    held = claimed(client, ana, project)
    for assignment_id in (held["id"], uuid.uuid4()):
        assert_problem(flag(client, bo, assignment_id), 404, code="not-found")
    assert count(session, ContentFlag) == 0
    assert session.get(Assignment, uuid.UUID(held["id"])).state is AssignmentState.LEASED


@pytest.mark.parametrize(("body", "field"), [
    ({"category": "gore"}, "category"),
    ({"severity": "extreme"}, "severity"),
    ({"category": None}, "category"),
    ({"need_support": "maybe"}, "need_support"),
    ({"note": "x" * 5001}, "note"),
    ({"surprise": 1}, "surprise"),
])
def test_invalid_flags_are_422_and_write_nothing(
    client: ApiClient, session: Session, body: dict, field: str
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    sign_in(client, ana)
    tasks(project)
    held = claimed(client, ana, project)
    problem = assert_problem(flag(client, ana, held["id"], return_task=True, **body), 422)
    assert field in problem["errors"]
    assert count(session, ContentFlag) == 0
    assert count(session, SupportCase) == 0
    assert session.get(Assignment, uuid.UUID(held["id"])).state is AssignmentState.LEASED


def test_giving_back_a_task_no_longer_held_is_refused(
    client: ApiClient, session: Session
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    sign_in(client, ana)
    tasks(project)
    held = claimed(client, ana, project)
    client.post(f"{API}/me/assignments/{held['id']}/submit", as_user=ana,
                json={"answer": "hk", "active_seconds": 60})
    problem = assert_problem(flag(client, ana, held["id"], return_task=True), 409,
                             code="not-leased")
    assert problem["current_state"] == "submitted"
    assert count(session, ContentFlag) == 0
    assert flagged_work(session) == []


def test_another_organisations_flags_are_404(client: ApiClient, session: Session) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    stranger = StaffFactory()
    sign_in(client, ana, stranger)
    tasks(project)
    flag_id = flagged(client, ana, claimed(client, ana, project)["id"])["flag"]["id"]
    assert client.get(f"{API}/flags", as_user=stranger).get_json()["items"] == []
    assert_problem(client.get(f"{API}/flags/{flag_id}", as_user=stranger), 404)
    for action, body in (("dismiss", {"reason": "No."}), ("confirm", {}),
                         ("escalate", {"note": "x"})):
        assert_problem(client.post(f"{API}/flags/{flag_id}/{action}", as_user=stranger,
                                   json=body), 404)
    assert session.get(ContentFlag, uuid.UUID(flag_id)).state is FlagState.OPEN
    assert_problem(client.get(f"{API}/flags", as_user=ana), 403)
