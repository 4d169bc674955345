"""Support cases through the API: opened at once, who is told, who may read what, and
their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory
from tests.support_helpers import (
    API,
    admin_of,
    audited,
    claimed,
    count,
    flagged,
    frozen,
    notifications,
    sensitive_project,
    set_policy,
    sign_in,
    staff_of,
    tasks,
)
from workforce.accounts.models import Role, User
from workforce.projects.models import Project
from workforce.wellbeing.support_models import CaseState, SupportCase, SupportCaseNote

pytestmark = pytest.mark.usefixtures("clock_at")


@pytest.fixture
def clock_at() -> Iterator[time_machine.Coordinates]:
    yield from frozen()


def asked_for_support(client: ApiClient, trainer: User, project: Project,
                      message: str = "I keep seeing it when I close my eyes.") -> dict:
    tasks(project)
    held = claimed(client, trainer, project)
    receipt = flagged(client, trainer, held["id"], need_support=True, return_task=True,
                      support_message=message)
    assert receipt["support_case_id"]
    return receipt


def test_i_need_support_opens_a_case_for_the_wellbeing_contact_at_once(
    client: ApiClient, session: Session, mail
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    contact = staff_of(session, project, Role.REVIEWER)
    sign_in(client, ana, admin, contact)
    set_policy(client, admin, wellbeing_contact_id=contact.id,
               support_line="+44 116 123 (Samaritans, 24/7)",
               support_links=[{"label": "Samaritans", "url": "https://www.samaritans.org"}])

    receipt = asked_for_support(client, ana, project)
    assert receipt["support"]["line"] == "+44 116 123 (Samaritans, 24/7)"
    assert receipt["support"]["links"] == [
        {"label": "Samaritans", "url": "https://www.samaritans.org"}]
    case_id = receipt["support_case_id"]

    # The contact is told in the app and by e-mail, without the trainer's words.
    [note] = notifications(session, contact, "support_case.opened")
    assert note.data == {"support_case_id": case_id}
    assert [m.to for m in mail.sent] == [contact.email]
    assert "close my eyes" not in mail.sent[0].body and "close my eyes" not in note.body
    assert not notifications(session, admin, "support_case.opened")
    [passed_on] = notifications(session, ana, "support_case.passed_on")
    assert "Samaritans" in passed_on.body
    assert audited(session, "support_case.opened", case_id)

    # The contact reads the case with the trainer's words (the trainer asked).
    case = client.get(f"{API}/support-cases/{case_id}", as_user=contact).get_json()
    assert (case["state"], case["origin"], case["requested"]) == ("open", "flag", True)
    assert case["message"] == "I keep seeing it when I close my eyes."
    assert case["trainer"]["id"] == str(ana.id)
    assert case["flag_id"] == receipt["flag"]["id"]
    listed = client.get(f"{API}/support-cases", as_user=contact).get_json()["items"]
    assert [c["id"] for c in listed] == [case_id]
    # The trainer sees their own case.
    mine = client.get(f"{API}/me/support-cases", as_user=ana).get_json()["items"]
    assert [(c["id"], c["state"]) for c in mine] == [(case_id, "open")]


def test_without_a_contact_the_admins_are_told(
    client: ApiClient, session: Session, mail
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    first, second = admin_of(session, project), admin_of(session, project)
    sign_in(client, ana, first, second)
    case_id = asked_for_support(client, ana, project)["support_case_id"]
    assert sorted(m.to for m in mail.sent) == sorted([first.email, second.email])
    for admin in (first, second):
        assert notifications(session, admin, "support_case.opened")
        assert client.get(f"{API}/support-cases/{case_id}",
                          as_user=admin).status_code == 200


def test_cases_are_hidden_from_other_staff_and_other_organisations(
    client: ApiClient, session: Session
) -> None:
    ana, bo = UserFactory(), UserFactory()
    project = sensitive_project(ana, bo)
    manager = staff_of(session, project)  # same organisation, not a handler
    stranger = StaffFactory(role=Role.ADMIN)  # another organisation's admin
    admin = admin_of(session, project)
    sign_in(client, ana, bo, manager, stranger, admin)
    case_id = asked_for_support(client, ana, project)["support_case_id"]

    for user in (manager, stranger):
        assert_problem(client.get(f"{API}/support-cases/{case_id}", as_user=user), 404)
        assert client.get(f"{API}/support-cases", as_user=user).get_json()["items"] == []
        for action in ("acknowledge", "close"):
            assert_problem(client.post(f"{API}/support-cases/{case_id}/{action}",
                                       as_user=user, json={}), 404)
        assert_problem(client.post(f"{API}/support-cases/{case_id}/notes", as_user=user,
                                   json={"body": "Hello"}), 404)
    # Another trainer cannot read it either, nor reach the staff endpoints.
    assert_problem(client.get(f"{API}/me/support-cases/{case_id}", as_user=bo), 404)
    assert client.get(f"{API}/me/support-cases", as_user=bo).get_json()["items"] == []
    assert_problem(client.get(f"{API}/support-cases/{case_id}", as_user=ana), 403)
    case = session.get(SupportCase, uuid.UUID(case_id))
    assert case.state is CaseState.OPEN and count(session, SupportCaseNote) == 0


def test_a_case_is_acknowledged_then_closed_with_notes(
    client: ApiClient, session: Session
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    sign_in(client, ana, admin)
    case_id = asked_for_support(client, ana, project)["support_case_id"]
    base = f"{API}/support-cases/{case_id}"

    response = client.post(f"{base}/acknowledge", as_user=admin, json={
        "note": "I will call you at 3pm your time.", "share_with_trainer": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "acknowledged"
    told = notifications(session, ana, "support_case.acknowledged")
    assert len(told) == 1 and "3pm" in told[0].body
    client.post(f"{base}/notes", as_user=admin,
                json={"body": "Internal: offer counselling."})
    reply = client.post(f"{API}/me/support-cases/{case_id}/notes", as_user=ana,
                        json={"body": "Thank you, 3pm works."})
    assert reply.status_code == 201, reply.get_data(as_text=True)
    assert notifications(session, admin, "support_case.note")

    # The trainer sees shared notes and their own, never the internal one.
    mine = client.get(f"{API}/me/support-cases/{case_id}", as_user=ana).get_json()
    assert [n["body"] for n in mine["notes"]] == [
        "I will call you at 3pm your time.", "Thank you, 3pm works."]
    theirs = client.get(base, as_user=admin).get_json()
    assert len(theirs["notes"]) == 3

    closed = client.post(f"{base}/close", as_user=admin, json={})
    assert closed.get_json()["state"] == "closed"
    assert notifications(session, ana, "support_case.closed")
    assert audited(session, "support_case.acknowledged", case_id)
    assert audited(session, "support_case.closed", case_id)
    assert_problem(client.post(f"{base}/acknowledge", as_user=admin, json={}), 409,
                   code="illegal-transition")
    assert_problem(client.post(f"{API}/me/support-cases/{case_id}/notes", as_user=ana,
                               json={"body": "One more thing"}), 409, code="case-closed")
    assert_problem(client.post(f"{base}/notes", as_user=admin, json={"body": ""}), 422)
    assert count(session, SupportCaseNote) == 3
