"""Project authoring through the API: creation and its validation, the wage floor,
settings, requirements, guidelines and rate versions, activation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem, declare_use
from tests.factories import (
    OrganisationFactory,
    ProjectFactory,
    QualificationFactory,
    StaffFactory,
    UserFactory,
    staff,
    token_for,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User, WageFloor
from workforce.notifications.models import Notification
from workforce.projects import access
from workforce.projects.models import (
    MembershipState,
    Project,
    ProjectRate,
    ProjectState,
    Sensitivity,
)

PROJECTS = "/api/v1/projects"


@pytest.fixture
def manager() -> User:
    return StaffFactory(role=Role.VENDOR_MANAGER)


def per_task_body(**changes: object) -> dict:
    return {
        "name": "HK Cantonese accents", "description": "Tell HK from Guangzhou.",
        "capacity": 5, "pay_model": "per_task", "currency": "usd",
        "estimated_task_seconds": 300, "rate": 200, "guidelines": "Listen twice.",
        **changes,
    }


def hourly_body(**changes: object) -> dict:
    return {
        "name": "Red teaming", "capacity": 3, "pay_model": "hourly", "currency": "EUR",
        "daily_cap_minutes": 240, "weekly_cap_minutes": 1200, "idle_timeout_seconds": 600,
        "rate": 2500, "guidelines": "Be careful.", **changes,
    }


def create(client: ApiClient, manager: User, body: dict, *, declare: bool = True) -> dict:
    response = client.post(PROJECTS, json=body, as_user=manager)
    assert response.status_code == 201, response.get_json()
    if declare:
        declare_use(client, manager, response.get_json()["id"])
    return response.get_json()


def audit_actions(session: Session, object_id: object) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ))


def project_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Project)) or 0


def set_floor(manager: User, session: Session, currency: str, hourly_amount: int) -> None:
    session.add(WageFloor(organisation_id=manager.organisation_id, currency=currency,
                          hourly_amount=hourly_amount))
    session.commit()


# --- creation ------------------------------------------------------------------------


def test_create_a_per_task_draft(client: ApiClient, session: Session, manager: User) -> None:
    qualification = QualificationFactory(organisation=manager.organisation)
    body = per_task_body(
        sensitivity="graphic", content_categories=["violence", "hate", "violence"],
        requirements=[{"qualification_id": str(qualification.id), "min_score_percent": 80,
                       "locale": "yue-hk"}],
    )
    created = create(client, manager, body, declare=False)
    assert created["state"] == "draft"
    assert created["currency"] == "USD"
    assert created["content_categories"] == ["hate", "violence"]
    assert created["current_rate"]["amount"] == 200
    assert created["current_rate"]["number"] == 1
    # 200 cents a task at 300 s a task is 24.00 an hour.
    assert created["estimated_hourly_rate"] == {"amount": 2400, "currency": "USD"}
    assert created["guidelines"]["number"] == 1
    assert created["active_members"] == 0
    assert created["requirements"] == [{
        "qualification_id": str(qualification.id), "min_score_percent": 80, "locale": "yue-HK",
        "qualification": {"id": str(qualification.id), "code": qualification.code,
                          "name": qualification.name, "locale": qualification.locale},
    }]
    assert created["daily_cap_minutes"] is None
    assert audit_actions(session, created["id"]) == ["project.created"]

    fetched = client.get(f"{PROJECTS}/{created['id']}", as_user=manager).get_json()
    assert fetched == created


def test_create_an_hourly_draft(client: ApiClient, manager: User) -> None:
    created = create(client, manager, hourly_body())
    assert created["pay_model"] == "hourly"
    assert created["estimated_hourly_rate"] is None
    assert created["estimated_task_seconds"] is None
    assert (created["daily_cap_minutes"], created["weekly_cap_minutes"]) == (240, 1200)
    assert created["idle_timeout_seconds"] == 600
    assert created["current_rate"]["amount"] == 2500
    assert created["current_rate"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (per_task_body(rate=12.5), "rate"),
        (per_task_body(rate="200"), "rate"),
        (per_task_body(rate=0), "rate"),
        (per_task_body(rate=-5), "rate"),
        (per_task_body(capacity=0), "capacity"),
        (per_task_body(capacity=2.0), "capacity"),
        (per_task_body(currency="XYZ"), "currency"),
        (per_task_body(currency="dollars"), "currency"),
        (per_task_body(estimated_task_seconds=None), "estimated_task_seconds"),
        (per_task_body(daily_cap_minutes=60), "daily_cap_minutes"),
        (per_task_body(idle_timeout_seconds=600), "idle_timeout_seconds"),
        (hourly_body(estimated_task_seconds=300), "estimated_task_seconds"),
        (hourly_body(daily_cap_minutes=-60), "daily_cap_minutes"),
        (hourly_body(weekly_cap_minutes=0), "weekly_cap_minutes"),
        (hourly_body(daily_cap_minutes=300, weekly_cap_minutes=200), "weekly_cap_minutes"),
        (hourly_body(idle_timeout_seconds=10), "idle_timeout_seconds"),
        (per_task_body(sensitivity="sensitive"), "content_categories"),
        (per_task_body(content_categories=["violence"]), "content_categories"),
        (per_task_body(sensitivity="sensitive", content_categories=["gore"]),
         "content_categories.0"),
        (per_task_body(sensitivity="lurid"), "sensitivity"),
        (per_task_body(pay_model="per_minute"), "pay_model"),
        (per_task_body(review_sample_percent=101), "review_sample_percent"),
        (per_task_body(lease_seconds=30), "lease_seconds"),
        (per_task_body(name=""), "name"),
        (per_task_body(state="active"), "state"),
        (per_task_body(requirements=[{"qualification_id": str(uuid.uuid4())}]),
         "requirements.0.qualification_id"),
        (per_task_body(requirements=[{"qualification_id": "nope"}]),
         "requirements.0.qualification_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: ApiClient, session: Session, manager: User, body: dict, field: str
) -> None:
    problem = assert_problem(client.post(PROJECTS, json=body, as_user=manager), 422,
                             code="validation-error")
    assert field in problem["errors"], problem
    assert project_count(session) == 0


def test_requirement_fields_are_checked(
    client: ApiClient, session: Session, manager: User
) -> None:
    mine = QualificationFactory(organisation=manager.organisation)
    theirs = QualificationFactory()  # another organisation's
    body = per_task_body(requirements=[
        {"qualification_id": str(mine.id), "min_score_percent": 101},
        {"qualification_id": str(mine.id), "locale": "not a tag"},
    ])
    problem = assert_problem(client.post(PROJECTS, json=body, as_user=manager), 422)
    assert {"requirements.0.min_score_percent", "requirements.1.locale"} <= set(problem["errors"])

    body = per_task_body(requirements=[{"qualification_id": str(theirs.id)}])
    problem = assert_problem(client.post(PROJECTS, json=body, as_user=manager), 422)
    assert problem["errors"] == {"requirements.0.qualification_id": ["No such qualification."]}

    body = per_task_body(requirements=[{"qualification_id": str(mine.id)}] * 2)
    problem = assert_problem(client.post(PROJECTS, json=body, as_user=manager), 422)
    assert "requirements.1.qualification_id" in problem["errors"]
    assert project_count(session) == 0


def test_every_failing_rule_is_reported_at_once(
    client: ApiClient, session: Session, manager: User
) -> None:
    body = hourly_body(estimated_task_seconds=60, daily_cap_minutes=300, weekly_cap_minutes=200,
                       sensitivity="graphic")
    problem = assert_problem(client.post(PROJECTS, json=body, as_user=manager), 422)
    assert {"estimated_task_seconds", "weekly_cap_minutes", "content_categories"} <= set(
        problem["errors"]
    )
    assert project_count(session) == 0


def test_rates_below_the_wage_floor_are_refused(
    client: ApiClient, session: Session, manager: User
) -> None:
    set_floor(manager, session, "USD", 1500)  # 15.00 USD an hour
    set_floor(manager, session, "EUR", 2000)

    problem = assert_problem(
        client.post(PROJECTS, json=hourly_body(rate=1999), as_user=manager), 422,
        code="below-wage-floor",
    )
    assert "20.00 EUR" in problem["detail"] and "rate" in problem["errors"]
    assert problem["minimum_amount"] == 2000

    # 100 cents for an estimated 5 minutes is 12.00 an hour.
    problem = assert_problem(
        client.post(PROJECTS, json=per_task_body(rate=100), as_user=manager), 422,
        code="below-wage-floor",
    )
    assert "15.00 USD" in problem["detail"] and "12.00 USD" in problem["detail"]
    assert problem["minimum_amount"] == 125
    assert project_count(session) == 0

    # Exactly at the floor is fine; another currency has no floor.
    assert create(client, manager, per_task_body(rate=125))["estimated_hourly_rate"] == {
        "amount": 1500, "currency": "USD"}
    create(client, manager, per_task_body(rate=1, currency="GBP"))
    create(client, manager, hourly_body(rate=2000))


def test_another_organisations_floor_does_not_apply(
    client: ApiClient, session: Session, manager: User
) -> None:
    other = StaffFactory(role=Role.ADMIN, organisation=OrganisationFactory())
    set_floor(other, session, "USD", 100_000)
    create(client, manager, per_task_body(rate=100))


# --- reading -------------------------------------------------------------------------


def test_list_filter_and_page(client: ApiClient, manager: User) -> None:
    drafts = [create(client, manager, per_task_body(name=f"Draft {i}")) for i in range(3)]
    active = ProjectFactory(manager=manager)
    ProjectFactory()  # another organisation's

    everything = client.get(PROJECTS, as_user=manager).get_json()["items"]
    assert {p["id"] for p in everything} == {*(d["id"] for d in drafts), str(active.id)}
    listed = client.get(PROJECTS, as_user=manager, query_string={"state": "active"}).get_json()
    assert [p["id"] for p in listed["items"]] == [str(active.id)]
    assert listed["items"][0]["current_rate"]["amount"] == 200

    first = client.get(PROJECTS, as_user=manager, query_string={"limit": 2}).get_json()
    second = client.get(PROJECTS, as_user=manager,
                        query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert len(first["items"]) == 2 and len(second["items"]) == 2
    assert second["next_cursor"] is None
    assert {p["id"] for p in first["items"] + second["items"]} == {p["id"] for p in everything}
    problem = assert_problem(
        client.get(PROJECTS, as_user=manager, query_string={"state": "sleeping"}), 422
    )
    assert "state" in problem["errors"]


def test_who_may_read_and_write(client: ApiClient, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    url = f"{PROJECTS}/{project.id}"
    for role in (Role.REVIEWER, Role.FINANCE, Role.ADMIN):
        colleague = StaffFactory(role=role, organisation=manager.organisation)
        assert client.get(url, as_user=colleague).status_code == 200
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert_problem(client.patch(url, json={"name": "x"}, as_user=reviewer), 403,
                   code="role-forbidden")
    assert_problem(client.get(url, as_user=UserFactory()), 403, code="role-forbidden")


def test_another_organisations_manager_gets_404s(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, state=ProjectState.DRAFT)
    stranger = StaffFactory(role=Role.VENDOR_MANAGER)
    url = f"{PROJECTS}/{project.id}"
    calls = [
        client.get(url, as_user=stranger),
        client.patch(url, json={"name": "Mine now"}, as_user=stranger),
        client.request("PUT", f"{url}/requirements", json={"requirements": []}, as_user=stranger),
        client.get(f"{url}/guidelines", as_user=stranger),
        client.post(f"{url}/guidelines", json={"body": "x"}, as_user=stranger),
        client.get(f"{url}/rates", as_user=stranger),
        client.post(f"{url}/rates", json={"amount": 300, "reason": "more"}, as_user=stranger),
        client.post(f"{url}/activate", as_user=stranger),
    ]
    for response in calls:
        assert_problem(response, 404, code="not-found")
    assert client.get(PROJECTS, as_user=stranger).get_json()["items"] == []
    session.refresh(project)
    assert project.name != "Mine now" and project.state is ProjectState.DRAFT
    assert audit_actions(session, project.id) == []


# --- settings ------------------------------------------------------------------------


def test_update_settings_is_audited(client: ApiClient, session: Session, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    url = f"{PROJECTS}/{project.id}"
    response = client.patch(url, as_user=manager, json={
        "name": "Renamed", "capacity": 20, "auto_approve_days": 3, "review_sample_percent": 25,
        "lease_seconds": 900,
    })
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["capacity"], body["auto_approve_days"]) == ("Renamed", 20, 3)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "project.updated")).one()
    assert event.before["capacity"] == 10 and event.after["capacity"] == 20
    assert "currency" not in event.after

    # A change that changes nothing is not audited.
    assert client.patch(url, as_user=manager, json={"capacity": 20}).status_code == 200
    assert audit_actions(session, project.id) == ["project.updated"]


def test_capacity_never_below_the_active_members(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, capacity=5)
    staff(project, *(UserFactory() for _ in range(3)))
    url = f"{PROJECTS}/{project.id}"
    problem = assert_problem(client.patch(url, as_user=manager, json={"capacity": 2}), 422)
    assert "capacity" in problem["errors"] and "3" in problem["errors"]["capacity"][0]
    response = client.patch(url, as_user=manager, json={"capacity": 3})
    assert response.status_code == 200
    assert response.get_json()["places_left"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"pay_model": "hourly"}, "pay_model"), ({"currency": "EUR"}, "currency"),
     ({"daily_cap_minutes": 60}, "daily_cap_minutes"),
     ({"estimated_task_seconds": None}, "estimated_task_seconds"),
     ({"capacity": 1.5}, "capacity"), ({"weekly_cap_minutes": -1}, "weekly_cap_minutes")],
)
def test_fixed_and_refused_changes_on_an_active_project(
    client: ApiClient, session: Session, manager: User, change: dict, field: str
) -> None:
    project = ProjectFactory(manager=manager)
    problem = assert_problem(
        client.patch(f"{PROJECTS}/{project.id}", as_user=manager, json=change), 422
    )
    assert field in problem["errors"]
    session.refresh(project)
    assert project.pay_model.value == "per_task" and project.currency == "USD"
    assert audit_actions(session, project.id) == []


def test_a_draft_may_change_its_pay_model_and_needs_a_new_rate(
    client: ApiClient, session: Session, manager: User
) -> None:
    created = create(client, manager, per_task_body())
    url = f"{PROJECTS}/{created['id']}"
    response = client.patch(url, as_user=manager, json={
        "pay_model": "hourly", "currency": "GBP", "daily_cap_minutes": 120,
    })
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["pay_model"] == "hourly" and body["currency"] == "GBP"
    assert body["estimated_task_seconds"] is None  # no longer applies
    assert body["current_rate"] is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "project.updated")).one()
    assert event.after["rates_dropped"] == [{"number": 1, "amount": 200, "currency": "USD"}]
    assert event.before["currency"] == "USD" and event.after["currency"] == "GBP"
    assert_problem(client.post(f"{url}/activate", as_user=manager), 409,
                   code="project-incomplete")
    response = client.post(f"{url}/rates", as_user=manager,
                           json={"amount": 1800, "reason": "Hourly now."})
    assert response.status_code == 201
    assert response.get_json()["currency"] == "GBP"
    assert client.post(f"{url}/activate", as_user=manager).status_code == 200


def test_a_longer_estimate_must_keep_the_rate_above_the_floor(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)  # 200 cents a task, 300 s: 24.00 an hour
    set_floor(manager, session, "USD", 1500)
    url = f"{PROJECTS}/{project.id}"
    problem = assert_problem(
        client.patch(url, as_user=manager, json={"estimated_task_seconds": 600}), 422,
        code="below-wage-floor",
    )
    assert "estimated_task_seconds" in problem["errors"]
    response = client.patch(url, as_user=manager, json={"estimated_task_seconds": 480})
    assert response.status_code == 200
    assert response.get_json()["estimated_hourly_rate"]["amount"] == 1500


def test_sensitivity_may_only_be_raised_once_active(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, sensitivity=Sensitivity.SENSITIVE,
                             content_categories=["hate"])
    member, = staff(project, UserFactory())
    url = f"{PROJECTS}/{project.id}"
    for change, field in (({"sensitivity": "none", "content_categories": []}, "sensitivity"),
                          ({"content_categories": ["violence"]}, "content_categories")):
        problem = assert_problem(client.patch(url, as_user=manager, json=change), 422)
        assert field in problem["errors"]
    assert session.scalar(select(func.count()).select_from(Notification)) == 0

    response = client.patch(url, as_user=manager, json={
        "sensitivity": "graphic", "content_categories": ["hate", "violence"]})
    assert response.status_code == 200, response.get_json()
    notice = session.scalars(
        select(Notification).where(Notification.user_id == member.trainer_id)
    ).one()
    assert notice.kind == "project.content_warning_raised"
    assert "graphic" in notice.body and "violence" in notice.body
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "project.updated")).one()
    assert event.before["sensitivity"] == "sensitive" and event.after["sensitivity"] == "graphic"


def test_a_draft_may_lower_its_sensitivity(client: ApiClient, manager: User) -> None:
    created = create(client, manager, per_task_body(sensitivity="graphic",
                                                    content_categories=["violence"]))
    response = client.patch(f"{PROJECTS}/{created['id']}", as_user=manager,
                            json={"sensitivity": "none", "content_categories": []})
    assert response.status_code == 200
    assert response.get_json()["sensitivity"] == "none"


def test_a_closed_project_takes_no_changes(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, state=ProjectState.CLOSED)
    url = f"{PROJECTS}/{project.id}"
    for response in (
        client.patch(url, as_user=manager, json={"name": "Again"}),
        client.post(f"{url}/rates", as_user=manager, json={"amount": 300, "reason": "more"}),
        client.post(f"{url}/guidelines", as_user=manager, json={"body": "New"}),
    ):
        assert_problem(response, 409, code="project-closed")


def test_replace_requirements(client: ApiClient, session: Session, manager: User) -> None:
    first = QualificationFactory(organisation=manager.organisation)
    second = QualificationFactory(organisation=manager.organisation)
    created = create(client, manager, per_task_body(
        requirements=[{"qualification_id": str(first.id), "min_score_percent": 50}]))
    url = f"{PROJECTS}/{created['id']}/requirements"
    response = client.request("PUT", url, as_user=manager, json={"requirements": [
        {"qualification_id": str(second.id)},
        {"qualification_id": str(first.id), "min_score_percent": 90, "locale": "yue-HK"},
    ]})
    assert response.status_code == 200, response.get_json()
    got = {(r["qualification_id"], r["min_score_percent"], r["locale"])
           for r in response.get_json()["requirements"]}
    assert got == {(str(second.id), 0, None), (str(first.id), 90, "yue-HK")}
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "project.requirements_replaced")
    ).one()
    assert event.before["requirements"][0]["min_score_percent"] == 50

    foreign = QualificationFactory()
    problem = assert_problem(client.request("PUT", url, as_user=manager, json={
        "requirements": [{"qualification_id": str(foreign.id)}]}), 422)
    assert "requirements.0.qualification_id" in problem["errors"]
    assert len(client.get(f"{PROJECTS}/{created['id']}", as_user=manager)
               .get_json()["requirements"]) == 2

    response = client.request("PUT", url, as_user=manager, json={"requirements": []})
    assert response.get_json()["requirements"] == []


# --- guidelines ----------------------------------------------------------------------


def test_guideline_versions_are_announced_to_active_members(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)  # guidelines version 1
    active, gone = UserFactory(), UserFactory()
    staff(project, active)
    staff(project, gone)[0].state = MembershipState.LEFT
    session.commit()
    url = f"{PROJECTS}/{project.id}/guidelines"

    response = client.post(url, as_user=manager, json={
        "body": "Listen three times.", "change_note": "Three listens, not two."})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["number"] == 2

    notices = list(session.scalars(select(Notification)))
    assert [(n.user_id, n.kind, n.data["version"]) for n in notices] == [
        (active.id, "project.guidelines_changed", 2)
    ]
    assert "version 2" in notices[0].body and "Three listens" in notices[0].body
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "project.guidelines_changed")
    ).one()
    assert (event.before, event.after["version"]) == ({"version": 1}, 2)

    listed = client.get(url, as_user=manager).get_json()["items"]
    assert [v["number"] for v in listed] == [2, 1]
    shown = client.get(f"{PROJECTS}/{project.id}", as_user=manager).get_json()["guidelines"]
    assert shown["number"] == 2
    problem = assert_problem(client.post(url, as_user=manager, json={"body": "  "}), 422)
    assert "body" in problem["errors"]


def test_guidelines_of_a_draft_are_not_announced(
    client: ApiClient, session: Session, manager: User
) -> None:
    created = create(client, manager, per_task_body(guidelines=None))
    assert created["guidelines"] is None
    url = f"{PROJECTS}/{created['id']}/guidelines"
    assert client.post(url, as_user=manager, json={"body": "First."}).get_json()["number"] == 1
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


# --- rates ---------------------------------------------------------------------------


def test_a_rate_change_mid_project(client: ApiClient, session: Session, manager: User) -> None:
    project = ProjectFactory(manager=manager)  # 200 cents a task since 30 days ago
    member, = staff(project, UserFactory())
    before_change = clock.now()
    url = f"{PROJECTS}/{project.id}/rates"

    response = client.post(url, as_user=manager, json={"amount": 250, "reason": "Harder clips."})
    assert response.status_code == 201, response.get_json()
    rate = response.get_json()
    assert (rate["number"], rate["amount"], rate["currency"]) == (2, 250, "USD")

    # Work done before the change is paid at the old rate, after it at the new one.
    assert access.rate_at(session, project.id, before_change - timedelta(seconds=1)).amount == 200
    assert access.rate_at(session, project.id, clock.now() + timedelta(seconds=1)).amount == 250

    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "project.rate_changed")
    ).one()
    assert event.before["amount"] == 200 and event.after["amount"] == 250
    assert event.after["reason"] == "Harder clips."
    notice = session.scalars(
        select(Notification).where(Notification.user_id == member.trainer_id)
    ).one()
    assert notice.kind == "project.rate_changed"
    assert "$2.50" in notice.body and "It paid $2.00 before." in notice.body
    assert notice.data["amount"] == 250 and notice.data["previous_amount"] == 200

    shown = client.get(f"{PROJECTS}/{project.id}", as_user=manager).get_json()
    assert shown["current_rate"]["amount"] == 250
    assert shown["estimated_hourly_rate"]["amount"] == 3000
    listed = client.get(url, as_user=manager).get_json()["items"]
    assert [r["number"] for r in listed] == [2, 1]


def test_a_scheduled_rate(client: ApiClient, session: Session, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    start = clock.now() + timedelta(days=7)
    response = client.post(f"{PROJECTS}/{project.id}/rates", as_user=manager, json={
        "amount": 300, "reason": "From next week.", "effective_from": start.isoformat()})
    assert response.status_code == 201, response.get_json()
    shown = client.get(f"{PROJECTS}/{project.id}", as_user=manager).get_json()
    assert shown["current_rate"]["amount"] == 200
    assert shown["upcoming_rate"]["amount"] == 300
    assert access.rate_at(session, project.id, start - timedelta(seconds=1)).amount == 200
    assert access.rate_at(session, project.id, start).amount == 300
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        shown = client.get(f"{PROJECTS}/{project.id}", token=token_for(manager)).get_json()
        assert shown["current_rate"]["amount"] == 300 and shown["upcoming_rate"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"amount": 2.5, "reason": "float"}, "amount"),
     ({"amount": "250", "reason": "string"}, "amount"),
     ({"amount": -1, "reason": "negative"}, "amount"),
     ({"amount": 250}, "reason"),
     ({"amount": 250, "reason": "past", "effective_from": "2020-01-01T00:00:00Z"},
      "effective_from"),
     ({"amount": 250, "reason": "naive", "effective_from": "2999-01-01T00:00:00"},
      "effective_from")],
)
def test_bad_rates_are_refused(
    client: ApiClient, session: Session, manager: User, body: dict, field: str
) -> None:
    project = ProjectFactory(manager=manager)
    staff(project, UserFactory())
    problem = assert_problem(
        client.post(f"{PROJECTS}/{project.id}/rates", as_user=manager, json=body), 422
    )
    assert field in problem["errors"]
    assert session.scalar(select(func.count()).select_from(ProjectRate)) == 1
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert audit_actions(session, project.id) == []


def test_a_rate_below_the_floor_is_refused(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    set_floor(manager, session, "USD", 1500)
    problem = assert_problem(
        client.post(f"{PROJECTS}/{project.id}/rates", as_user=manager,
                    json={"amount": 124, "reason": "cheaper"}), 422, code="below-wage-floor",
    )
    assert "amount" in problem["errors"]
    assert session.scalar(select(func.count()).select_from(ProjectRate)) == 1


# --- activation ----------------------------------------------------------------------


def test_activation(client: ApiClient, session: Session, manager: User) -> None:
    created = create(client, manager, per_task_body(rate=None, guidelines=None),
                     declare=False)
    url = f"{PROJECTS}/{created['id']}"
    problem = assert_problem(client.post(f"{url}/activate", as_user=manager), 409,
                             code="project-incomplete")
    assert problem["missing"] == ["rate", "guidelines", "declared_use"]
    declare_use(client, manager, created["id"])
    client.post(f"{url}/guidelines", as_user=manager, json={"body": "Do it well."})
    client.post(f"{url}/rates", as_user=manager, json={"amount": 200, "reason": "Start."})

    response = client.post(f"{url}/activate", as_user=manager)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "active"
    assert response.get_json()["activated_at"] is not None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "project.activated")
                            ).one()
    assert (event.before, event.after["state"]) == ({"state": "draft"}, "active")

    problem = assert_problem(client.post(f"{url}/activate", as_user=manager), 409,
                             code="illegal-transition")
    assert problem["current_state"] == "active"
    assert "active" in problem["detail"]


@pytest.mark.parametrize("state", [ProjectState.PAUSED, ProjectState.SUSPENDED,
                                   ProjectState.CLOSED])
def test_only_a_draft_is_activated(
    client: ApiClient, session: Session, manager: User, state: ProjectState
) -> None:
    project = ProjectFactory(manager=manager, state=state)
    problem = assert_problem(client.post(f"{PROJECTS}/{project.id}/activate", as_user=manager),
                             409, code="illegal-transition")
    assert problem["current_state"] == state.value
    session.refresh(project)
    assert project.state is state


def test_activation_checks_the_floor_again(
    client: ApiClient, session: Session, manager: User
) -> None:
    created = create(client, manager, per_task_body(rate=100))
    set_floor(manager, session, "USD", 1500)  # set after the rate
    assert_problem(client.post(f"{PROJECTS}/{created['id']}/activate", as_user=manager), 422,
                   code="below-wage-floor")
    assert session.get(Project, uuid.UUID(created["id"])).state is ProjectState.DRAFT
