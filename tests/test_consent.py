"""Consent to sensitive content through the API: the age attestation, opting in per
category, joining sensitive projects, withdrawal mid-project (leases released, the
session closed and paid, submitted work still paid, standing unchanged), and task-level
content warnings on import."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    consenting,
    hourly_project,
    staff,
    worked_task,
)
from tests.hourly_helpers import sign_in, started
from tests.task_helpers import claim, claimed, import_file, jsonl, row, submitted, working
from workforce.accounts.models import AuditEvent, Organisation, User
from workforce.billing.models import EarningEvent
from workforce.notifications.models import Notification
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    ContentCategory,
    EntryEndReason,
    MembershipState,
    Project,
    ProjectMember,
    Sensitivity,
    Task,
    TimeEntry,
)
from workforce.wellbeing.models import AgeAttestation, ContentConsent

API = "/api/v1"
CONSENT = f"{API}/me/content-consent"
HK = ZoneInfo("Asia/Hong_Kong")
VIOLENCE, SELF_HARM = ContentCategory.VIOLENCE.value, ContentCategory.SELF_HARM.value


@pytest.fixture
def travel() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(datetime(2030, 1, 8, 9, tzinfo=HK), tick=False) as traveller:
        yield traveller


def graphic(*categories: str, **fields: object) -> Project:
    return ProjectFactory(sensitivity=Sensitivity.GRAPHIC,
                          content_categories=list(categories or [VIOLENCE]), **fields)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def actions(session: Session, user: User) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == user.id,
                                        AuditEvent.action.like("wellbeing.%"))
        .order_by(AuditEvent.created_at, AuditEvent.id)))


# --- giving consent ------------------------------------------------------------------


def test_consent_needs_the_age_attestation_and_a_refusal_writes_nothing(
    client: ApiClient, session: Session
) -> None:
    trainer = UserFactory()
    problem = assert_problem(
        client.request("PUT", CONSENT, as_user=trainer, json={"categories": [VIOLENCE]}), 409,
        code="age-attestation-required")
    assert problem["categories"] == [VIOLENCE]
    assert (count(session, ContentConsent), count(session, AgeAttestation)) == (0, 0)
    assert actions(session, trainer) == []

    body = client.request("PUT", CONSENT, as_user=trainer, json={
        "confirm_age_18_or_over": True, "categories": [SELF_HARM, VIOLENCE]}).get_json()
    assert body["categories"] == [VIOLENCE, SELF_HARM]
    attested = body["age_attested_at"]
    assert attested is not None

    # The attestation is kept once; adding a category keeps the others.
    body = client.request("PUT", CONSENT, as_user=trainer, json={
        "confirm_age_18_or_over": True,
        "categories": [VIOLENCE, SELF_HARM, "hate"]}).get_json()
    assert body["age_attested_at"] == attested
    assert body["categories"] == [VIOLENCE, SELF_HARM, "hate"]
    assert client.get(CONSENT, as_user=trainer).get_json() == body
    assert actions(session, trainer) == [
        "wellbeing.age_attested", "wellbeing.consent_given", "wellbeing.consent_given"]


@pytest.mark.parametrize(("body", "field"), [
    ({"categories": ["gore"]}, "categories"),
    ({"categories": [VIOLENCE, VIOLENCE], "confirm_age_18_or_over": True}, "categories"),
    ({"categories": [], "confirm_age_18_or_over": False}, "confirm_age_18_or_over"),
    ({"confirm_age_18_or_over": True}, "categories"),
    ({"categories": [VIOLENCE], "unknown": 1}, "unknown"),
])
def test_bad_consent_bodies_are_refused_and_change_nothing(
    client: ApiClient, session: Session, body: dict, field: str
) -> None:
    trainer = UserFactory()
    problem = assert_problem(client.request("PUT", CONSENT, as_user=trainer, json=body), 422)
    assert field in str(problem["errors"]), problem
    assert (count(session, ContentConsent), count(session, AgeAttestation)) == (0, 0)


def test_staff_have_no_consent(client: ApiClient) -> None:
    assert_problem(client.get(CONSENT, as_user=StaffFactory()), 403)


# --- joining sensitive projects ------------------------------------------------------


def test_applying_to_a_graphic_project_needs_consent_to_each_category(
    client: ApiClient, session: Session
) -> None:
    project = graphic(VIOLENCE, SELF_HARM)
    trainer = UserFactory()
    apply = f"{API}/marketplace/projects/{project.id}/applications"

    problem = assert_problem(client.post(apply, as_user=trainer, json={}), 409,
                             code="consent-required")
    assert problem["missing_categories"] == [VIOLENCE, SELF_HARM]
    assert problem["age_attested"] is False
    consenting(trainer, VIOLENCE)
    problem = assert_problem(client.post(apply, as_user=trainer, json={}), 409,
                             code="consent-required")
    assert problem["missing_categories"] == [SELF_HARM] and problem["age_attested"] is True
    assert count(session, ProjectMember) == 0

    consenting(trainer, SELF_HARM)
    assert client.post(apply, as_user=trainer, json={}).status_code == 201
    # The marketplace shows the project's warning before applying.
    listed = client.get(f"{API}/marketplace/projects/{project.id}", as_user=trainer)
    assert listed.get_json()["content_warning"] == {
        "sensitivity": "graphic", "content_categories": [VIOLENCE, SELF_HARM]}


def _market_entry(client: ApiClient, trainer: User, project: Project) -> dict:
    listed = client.get(f"{API}/marketplace/projects", as_user=trainer).get_json()["items"]
    [entry] = [p for p in listed if p["id"] == str(project.id)]
    one = client.get(f"{API}/marketplace/projects/{project.id}", as_user=trainer).get_json()
    assert (one["eligible"], one["unmet"]) == (entry["eligible"], entry["unmet"])
    return entry


def test_the_marketplace_lists_the_consent_a_graphic_project_needs(
    client: ApiClient, session: Session
) -> None:
    project = graphic(VIOLENCE, SELF_HARM, name="Red-teaming: violent prompts")
    plain = ProjectFactory()
    trainer = UserFactory()

    entry = _market_entry(client, trainer, project)
    assert entry["eligible"] is False
    assert entry["unmet"] == [
        {"qualification_id": None, "code": "age-attestation", "categories": [],
         "message": "Attest that you are 18 or over at /api/v1/me/content-consent: the "
                    "project carries a graphic content warning."},
        {"qualification_id": None, "code": "consent", "categories": [VIOLENCE, SELF_HARM],
         "message": "The project Red-teaming: violent prompts contains violence, self_harm "
                    "content, which you have not agreed to see. Attest that you are 18 or over "
                    "and opt in at /api/v1/me/content-consent first."},
    ]
    consenting(trainer, VIOLENCE)
    entry = _market_entry(client, trainer, project)
    assert entry["eligible"] is False
    assert [(u["code"], u["categories"]) for u in entry["unmet"]] == [("consent", [SELF_HARM])]
    consenting(trainer, SELF_HARM)
    entry = _market_entry(client, trainer, project)
    assert (entry["eligible"], entry["unmet"]) == (True, [])
    assert (_market_entry(client, UserFactory(), plain)["eligible"]) is True


def test_after_a_withdrawal_work_is_refused_saying_the_withdrawal_ended_it(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    per_task = graphic(VIOLENCE, SELF_HARM)
    TaskFactory(project=per_task)
    hourly = hourly_project(sensitivity=Sensitivity.GRAPHIC, content_categories=[VIOLENCE])
    trainer, quitter = UserFactory(), UserFactory()
    sign_in(client, trainer, quitter)
    consenting(trainer, VIOLENCE, SELF_HARM)
    consenting(quitter, VIOLENCE, SELF_HARM)
    staff(per_task, trainer)
    staff(hourly, trainer)
    [left] = staff(per_task, quitter)

    travel.shift(timedelta(hours=2))
    assert client.delete(f"{CONSENT}/{VIOLENCE}", as_user=trainer).status_code == 200
    refusals = [claim(client, trainer, per_task),
                client.post(f"{API}/projects/{hourly.id}/sessions", as_user=trainer)]
    for refused in refusals:
        problem = assert_problem(refused, 403, code="not-staffed")
        assert problem["detail"] == (
            "You are not staffed on this project: you left it on 2030-01-08 when you withdrew "
            "your consent to violence content. To work on it again, opt in at "
            "/api/v1/me/content-consent and apply.")
        assert problem["reason"] == "consent-withdrawn"
        assert problem["withdrawn_categories"] == [VIOLENCE]
        assert datetime.fromisoformat(problem["left_at"]) == datetime(2030, 1, 8, 11, tzinfo=HK)

    # Someone who left of their own accord is told only that they are not staffed.
    assert client.post(f"{API}/me/memberships/{left.id}/leave", as_user=quitter,
                       json={}).status_code == 200
    problem = assert_problem(claim(client, quitter, per_task), 403, code="not-staffed")
    assert problem["detail"] == "You are not staffed on this project."
    assert "reason" not in problem


def test_accepting_an_invitation_needs_consent(client: ApiClient, session: Session) -> None:
    project = graphic()
    manager = StaffFactory(organisation=session.get(Organisation, project.organisation_id))
    trainer = UserFactory()
    invited = client.post(f"{API}/projects/{project.id}/invitations", as_user=manager,
                          json={"trainer_ids": [str(trainer.id)]}).get_json()
    membership_id = invited["results"][0]["membership_id"]

    accept = f"{API}/me/memberships/{membership_id}/accept"
    assert_problem(client.post(accept, as_user=trainer), 409, code="consent-required")
    member = session.get(ProjectMember, uuid.UUID(membership_id))
    assert member.state is MembershipState.INVITED and member.joined_at is None

    consenting(trainer, VIOLENCE)
    assert client.post(accept, as_user=trainer).get_json()["state"] == "active"


# --- withdrawal ----------------------------------------------------------------------


def test_withdrawal_mid_project_ends_the_work_pays_for_it_and_changes_no_standing(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    now = datetime(2030, 1, 8, 9, tzinfo=HK)
    organisation_manager = StaffFactory()
    organisation = session.get(Organisation, organisation_manager.organisation_id)
    per_task = graphic(manager=organisation_manager, name="Violent clips",
                       review_sample_percent=100)
    for _ in range(3):
        TaskFactory(project=per_task)
    hourly = hourly_project(manager=organisation_manager, sensitivity=Sensitivity.GRAPHIC,
                            content_categories=[VIOLENCE], name="Moderation shifts")
    ordinary = ProjectFactory(manager=organisation_manager, name="Accents")
    single = TaskFactory(project=ordinary, priority=5, sensitivity=Sensitivity.SENSITIVE,
                         content_categories=[VIOLENCE])
    TaskFactory(project=ordinary, priority=0)
    elsewhere = graphic(SELF_HARM)  # another category: untouched
    trainer = UserFactory()
    consenting(trainer, VIOLENCE, SELF_HARM)
    staff(per_task, trainer)
    staff(hourly, trainer)
    staff(ordinary, trainer)
    staff(elsewhere, trainer)
    manager = StaffFactory(organisation=organisation)
    sign_in(client, trainer, manager)
    # A past approved task with the organisation: the standing to keep.
    worked_task(ordinary, trainer, submitted_at=now - timedelta(days=2),
                state=AssignmentState.APPROVED, reviewed_at=now - timedelta(days=1))
    quality_before = client.get(f"{API}/me/quality", as_user=trainer).get_json()

    handed_in = working(client, trainer, per_task)
    submitted(client, trainer, handed_in["id"])
    held = claimed(client, trainer, per_task)
    sensitive_single = claimed(client, trainer, ordinary)
    assert sensitive_single["task_id"] == str(single.id)
    session_body = started(client, trainer, hourly)

    travel.move_to(now + timedelta(minutes=40))
    response = client.delete(f"{CONSENT}/{VIOLENCE}", as_user=trainer)
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    assert {p["name"] for p in done["left_projects"]} == {"Violent clips", "Moderation shifts"}
    assert done["leases_released"] == [sensitive_single["id"]]

    # Memberships ended as "left", with why; the others stand.
    states = {m.project_id: m for m in session.scalars(
        select(ProjectMember).where(ProjectMember.trainer_id == trainer.id))}
    assert states[per_task.id].state is MembershipState.LEFT
    assert states[per_task.id].reason == "Consent to violence content withdrawn."
    assert states[hourly.id].state is MembershipState.LEFT
    assert states[ordinary.id].state is MembershipState.ACTIVE
    assert states[elsewhere.id].state is MembershipState.ACTIVE
    # Leases released and slots given back; the session closed now.
    assert session.get(Assignment, uuid.UUID(held["id"])).state is AssignmentState.RELEASED
    assert session.get(Task, single.id).open_slots == 1
    entry = session.get(TimeEntry, uuid.UUID(session_body["id"]))
    assert entry.end_reason is EntryEndReason.LEFT
    assert entry.ended_at == now + timedelta(minutes=40)

    # Submitted work is still reviewed and paid; the session is paid to the moment.
    reviewed = client.post(f"{API}/assignments/{handed_in['id']}/review", as_user=manager,
                           json={"decision": "approve"})
    assert reviewed.status_code == 200, reviewed.get_json()
    travel.move_to(now + timedelta(days=6))
    sheet = entry.timesheet_id
    assert client.post(f"{API}/me/timesheets/{sheet}/submit", as_user=trainer).status_code == 200
    approved = client.post(f"{API}/timesheets/{sheet}/approve", as_user=manager, json={})
    assert approved.get_json()["approved_seconds"] == 40 * 60
    paid = sorted(e.amount for e in session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id)))
    assert paid == sorted([200, 2000 * 40 // 60])

    # Standing unchanged: same quality and approval figures, still eligible elsewhere.
    quality_after = client.get(f"{API}/me/quality", as_user=trainer).get_json()
    assert quality_after["organisations"][0]["rejected"] == \
        quality_before["organisations"][0]["rejected"] == 0
    assert quality_after["organisations"][0]["approval_rate"] == "1.0000"
    assert claimed(client, trainer, ordinary)["task_id"] != str(single.id)
    market = client.get(f"{API}/marketplace/projects", as_user=trainer).get_json()["items"]
    assert str(ordinary.id) in {p["id"] for p in market}
    # Coming back needs consent again.
    assert_problem(claim(client, trainer, per_task), 403, code="not-staffed")
    assert_problem(client.post(f"{API}/marketplace/projects/{per_task.id}/applications",
                               as_user=trainer, json={}), 409, code="consent-required")
    # Audited, and the trainer is told.
    assert "wellbeing.consent_withdrawn" in actions(session, trainer)
    notice = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id,
        Notification.kind == "wellbeing.consent_withdrawn")).one()
    assert "Violent clips" in notice.body and "still reviewed and paid" in notice.body


def test_withdrawal_ends_open_applications_and_invitations(
    client: ApiClient, session: Session
) -> None:
    applied_to, invited_to = graphic(), graphic()
    trainer = UserFactory()
    consenting(trainer, VIOLENCE)
    client.post(f"{API}/marketplace/projects/{applied_to.id}/applications", as_user=trainer,
                json={})
    manager = StaffFactory(organisation=session.get(Organisation, invited_to.organisation_id))
    client.post(f"{API}/projects/{invited_to.id}/invitations", as_user=manager,
                json={"trainer_ids": [str(trainer.id)]})

    done = client.delete(f"{CONSENT}/{VIOLENCE}", as_user=trainer).get_json()
    assert len(done["applications_withdrawn"]) == len(done["invitations_declined"]) == 1
    states = set(session.scalars(select(ProjectMember.state).where(
        ProjectMember.trainer_id == trainer.id)))
    assert states == {MembershipState.WITHDRAWN, MembershipState.DECLINED}


def test_a_put_without_a_category_withdraws_it(client: ApiClient, session: Session) -> None:
    project = graphic()
    trainer = UserFactory()
    consenting(trainer, VIOLENCE, SELF_HARM)
    staff(project, trainer)
    body = client.request("PUT", CONSENT, as_user=trainer,
                          json={"categories": [SELF_HARM]}).get_json()
    assert body["categories"] == [SELF_HARM]
    member = session.scalars(select(ProjectMember).where(
        ProjectMember.trainer_id == trainer.id)).one()
    assert member.state is MembershipState.LEFT


def test_withdrawing_what_was_never_given_is_404_and_writes_nothing(
    client: ApiClient, session: Session
) -> None:
    trainer = UserFactory()
    consenting(trainer, SELF_HARM)
    assert_problem(client.delete(f"{CONSENT}/{VIOLENCE}", as_user=trainer), 404)
    assert_problem(client.delete(f"{CONSENT}/gore", as_user=trainer), 404)
    assert actions(session, trainer) == []
    assert count(session, ContentConsent) == 1


def test_a_session_on_a_sensitive_project_needs_consent(client: ApiClient) -> None:
    project = hourly_project(sensitivity=Sensitivity.SENSITIVE, content_categories=["hate"])
    trainer = UserFactory()
    consenting(trainer)
    staff(project, trainer)  # staffed before the project's warning named "hate"
    problem = assert_problem(client.post(f"{API}/projects/{project.id}/sessions",
                                         as_user=trainer), 409, code="consent-required")
    assert problem["missing_categories"] == ["hate"]


# --- task-level warnings on import -----------------------------------------------------


def test_tasks_import_their_own_warning(client: ApiClient, session: Session) -> None:
    project = ProjectFactory()
    manager = StaffFactory(organisation=session.get(Organisation, project.organisation_id))
    body = jsonl([
        row("plain"),
        row("gory", sensitivity="graphic", content_categories=[VIOLENCE, SELF_HARM]),
        row("calm", sensitivity="none", content_categories=[]),
    ])
    response = import_file(client, manager, project, body)
    assert response.status_code == 201, response.get_json()
    tasks = {t.external_id: t for t in session.scalars(
        select(Task).where(Task.project_id == project.id))}
    assert tasks["plain"].sensitivity is None
    assert (tasks["gory"].sensitivity, tasks["gory"].content_categories) == (
        Sensitivity.GRAPHIC, [VIOLENCE, SELF_HARM])
    assert tasks["calm"].sensitivity is Sensitivity.NONE

    csv = (b"external_id,prompt,sensitivity,content_categories\n"
           b"c1,Which accent?,sensitive,hate|violence\nc2,Which accent?,,\n")
    response = import_file(client, manager, project, csv, content_type="text/csv")
    assert response.status_code == 201, response.get_json()
    c1 = session.scalars(select(Task).where(Task.external_id == "c1")).one()
    assert (c1.sensitivity, c1.content_categories) == (Sensitivity.SENSITIVE,
                                                       ["hate", VIOLENCE])


@pytest.mark.parametrize(("fields", "message"), [
    ({"sensitivity": "graphic"}, "content_categories: Name at least one category"),
    ({"sensitivity": "none", "content_categories": [VIOLENCE]}, "Must be empty"),
    ({"content_categories": [VIOLENCE]}, "Give a sensitivity"),
    ({"sensitivity": "gory", "content_categories": [VIOLENCE]}, "sensitivity: Must be one of"),
    ({"sensitivity": "graphic", "content_categories": ["gore"]}, "Unknown gore"),
    ({"sensitivity": "graphic", "content_categories": [VIOLENCE, VIOLENCE]}, "listed twice"),
    ({"sensitivity": "sensitive", "content_categories": [VIOLENCE]}, "not be lower"),
])
def test_bad_task_warnings_import_nothing(
    client: ApiClient, session: Session, fields: dict, message: str
) -> None:
    project = graphic()  # graphic: a task may not be less sensitive
    manager = StaffFactory(organisation=session.get(Organisation, project.organisation_id))
    before = count(session, Task)
    problem = assert_problem(
        import_file(client, manager, project, jsonl([row("ok", sensitivity="graphic",
                                                             content_categories=[VIOLENCE]),
                                                         row("bad", **fields)])),
        422, code="import-invalid")
    [error] = problem["row_errors"]
    assert error["line"] == 2 and any(message in m for m in error["messages"]), error
    assert count(session, Task) == before
