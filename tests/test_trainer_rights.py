"""Trainers' rights (issue 20): what the work is for, and account actions with due
process, through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem, declare_use
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    worked_task,
)
from tests.payout_helpers import (
    NOW,
    approved_run_by_api,
    assert_ledger_sound,
    balances,
    finance_user,
    trainer_owed,
)
from workforce.accounts.models import AuditEvent, Role, User
from workforce.notifications.models import Notification, OutboundEmail
from workforce.projects.models import AssignmentState, Project

API = "/api/v1"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def kinds(session: Session, user: User) -> list[str]:
    return list(session.scalars(select(Notification.kind).where(Notification.user_id == user.id)
                                .order_by(Notification.created_at, Notification.id)))


def actions_audited(session: Session, object_id: object) -> list[str]:
    return list(session.scalars(select(AuditEvent.action)
                                .where(AuditEvent.object_id == str(object_id))
                                .order_by(AuditEvent.created_at, AuditEvent.id)))


def manager_of(session: Session, project: Project) -> User:
    return session.get_one(User, project.created_by_id)


def claim(client: ApiClient, project: Project, trainer: User):
    return client.post(f"{API}/projects/{project.id}/claims", as_user=trainer)


# --- what the work is for ------------------------------------------------------------


def test_a_trainers_refused_uses_hide_projects_and_refuse_work(
    client: ApiClient, session: Session
) -> None:
    trainer = UserFactory()
    plain = ProjectFactory()
    military = ProjectFactory(data_uses=["red_teaming"], restricted_uses=["military"])
    manager = manager_of(session, military)
    assert client.get(f"{API}/me/work-preferences", as_user=trainer).get_json()[
        "refused_uses"] == []
    listed = client.get(f"{API}/marketplace/projects", as_user=trainer).get_json()["items"]
    shown = {p["id"]: p for p in listed}
    assert {str(plain.id), str(military.id)} <= shown.keys()
    assert shown[str(military.id)]["declared_use"] == {
        "client_kind": "ai_lab", "data_uses": ["red_teaming"], "answer_retention_days": 365,
        "restricted_uses": {"military": True, "surveillance": False, "law_enforcement": False},
    }

    response = client.request("PUT", f"{API}/me/work-preferences", as_user=trainer,
                              json={"refused_uses": ["military", "surveillance"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["refused_uses"] == ["military", "surveillance"]

    listed = client.get(f"{API}/marketplace/projects", as_user=trainer).get_json()["items"]
    assert str(military.id) not in {p["id"] for p in listed}
    assert str(plain.id) in {p["id"] for p in listed}
    assert_problem(client.get(f"{API}/marketplace/projects/{military.id}", as_user=trainer), 404)
    assert_problem(client.post(f"{API}/marketplace/projects/{military.id}/applications",
                               as_user=trainer, json={}), 404)
    candidates = client.get(f"{API}/projects/{military.id}/candidates",
                            as_user=manager).get_json()["items"]
    assert str(trainer.id) not in {c["trainer"]["id"] for c in candidates}
    invited = client.post(f"{API}/projects/{military.id}/invitations", as_user=manager,
                          json={"trainer_ids": [str(trainer.id)]}).get_json()
    assert invited["results"][0]["outcome"] == "skipped"
    assert actions_audited(session, trainer.id) == ["trainer.work_preferences_changed"]

    # A project they joined before refusing: they see why, and claims are refused.
    MemberFactory(project=military, trainer=trainer)
    TaskFactory(project=military)
    seen = client.get(f"{API}/marketplace/projects/{military.id}", as_user=trainer).get_json()
    assert [u["code"] for u in seen["unmet"]] == ["refused-use"]
    assert_problem(claim(client, military, trainer), 409, code="refused-use")


def test_unknown_uses_are_refused_naming_the_field(client: ApiClient) -> None:
    trainer = UserFactory()
    problem = assert_problem(client.request(
        "PUT", f"{API}/me/work-preferences", as_user=trainer,
        json={"refused_uses": ["weapons"]}), 422)
    assert "refused_uses.0" in problem["errors"]


def test_a_declared_use_change_tells_members_who_may_leave_without_penalty(
    client: ApiClient, session: Session
) -> None:
    trainer, bystander = UserFactory(), UserFactory()
    project = ProjectFactory()
    manager = manager_of(session, project)
    member = MemberFactory(project=project, trainer=trainer)
    submitted = worked_task(project, trainer, submitted_at=T0 - DAY)

    body = declare_use(client, manager, project.id, data_uses=["training", "safety"],
                       restricted_uses={"military": False, "surveillance": False,
                                        "law_enforcement": True})
    assert body["declared_use"]["restricted_uses"]["law_enforcement"] is True
    assert body["declared_use_changed_at"] is not None
    assert "project.declared_use_changed" in kinds(session, trainer)
    assert "project.declared_use_changed" not in kinds(session, bystander)
    email = session.scalars(select(OutboundEmail).where(
        OutboundEmail.to_address == trainer.email)).one()
    assert "law_enforcement" in email.body and "without penalty" in email.body
    assert actions_audited(session, project.id)[-1] == "project.declared_use_changed"

    left = client.post(f"{API}/me/memberships/{member.id}/leave", as_user=trainer, json={})
    assert left.status_code == 200, left.get_json()
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "project_member.left")).one()
    assert event.after["after_declared_use_change"] is True
    # Work handed in stays to be reviewed and paid.
    session.expire_all()
    assert submitted.state is AssignmentState.SUBMITTED


def test_declaring_the_same_use_again_changes_nothing(client: ApiClient, session: Session
                                                      ) -> None:
    project = ProjectFactory()
    trainer = UserFactory()
    MemberFactory(project=project, trainer=trainer)
    declare_use(client, manager_of(session, project), project.id)  # as the factory has it
    assert kinds(session, trainer) == []
    assert actions_audited(session, project.id) == []


# --- account actions -------------------------------------------------------------------


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def announce(client: ApiClient, manager: User, trainer: User, kind: str, reason: str) -> dict:
    response = client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(trainer.id), "kind": kind, "reason": reason,
        "explanation": "Your answers disagreed with the gold set for weeks."})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_action_with_notice_response_decision_and_appeal(
    client: ApiClient, session: Session, frozen
) -> None:
    trainer = UserFactory()
    project = ProjectFactory()
    manager = manager_of(session, project)
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    for user in (trainer, manager, admin):
        client._tokens[user.id] = _long_token(user)
    MemberFactory(project=project, trainer=trainer)
    for _ in range(3):
        TaskFactory(project=project)

    action = announce(client, manager, trainer, "restrict", "quality")
    assert (action["state"], action["immediate"], action["in_force"]) == ("notice", False, False)
    assert action["effective_at"] == (T0 + 7 * DAY).isoformat()
    assert claim(client, project, trainer).status_code == 201  # notice: nothing yet

    url = f"{API}/me/account-actions/{action['id']}"
    # A second later, so that the audit trail's order by time has no tie to break (the
    # announcement and the response shared T0 and came back either way on PostgreSQL).
    frozen.move_to(T0 + timedelta(seconds=1))
    responded = client.post(f"{url}/response", as_user=trainer,
                            json={"response": "I was using the old guidelines."})
    assert responded.get_json()["state"] == "responded"
    assert_problem(client.post(f"{url}/response", as_user=trainer,
                               json={"response": "Again."}), 409, code="illegal-transition")

    frozen.move_to(T0 + 8 * DAY)  # past the effective time: a response holds the effect
    assert client.get(url, as_user=trainer).get_json()["in_force"] is False
    staff_url = f"{API}/account-actions/{action['id']}"
    decided = client.post(f"{staff_url}/decision", as_user=manager,
                          json={"outcome": "uphold", "note": "The guidelines were clear."})
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["in_force"] is True
    assert_problem(claim(client, project, trainer), 403, code="account-restricted")

    appealed = client.post(f"{url}/appeal", as_user=trainer, json={"appeal": "Look again."})
    assert appealed.get_json()["state"] == "appealed"
    assert_problem(client.post(f"{url}/appeal", as_user=trainer, json={"appeal": "Again."}),
                   409, code="illegal-transition")
    assert_problem(client.post(f"{staff_url}/appeal-decision", as_user=manager,
                               json={"outcome": "overturn", "note": "Mine."}),
                   409, code="another-staff-member-required")
    overturned = client.post(f"{staff_url}/appeal-decision", as_user=admin,
                             json={"outcome": "overturn", "note": "The batch was mislabelled."})
    assert overturned.get_json()["state"] == "overturned"
    assert overturned.get_json()["in_force"] is False
    assert claim(client, project, trainer).status_code in (200, 201)

    history = client.get(f"{API}/me/account-actions", as_user=trainer).get_json()["items"]
    assert len(history) == 1
    whole = history[0]
    assert whole["response"] == "I was using the old guidelines."
    assert whole["decision_note"] == "The guidelines were clear."
    assert whole["appeal"] == "Look again."
    assert whole["appeal_note"] == "The batch was mislabelled."
    assert whole["appeal_decided_by_id"] == str(admin.id)
    staff_list = client.get(f"{API}/account-actions?trainer_id={trainer.id}",
                            as_user=admin).get_json()["items"]
    assert [a["id"] for a in staff_list] == [action["id"]]
    assert [k for k in kinds(session, trainer) if k.startswith("account_action.")] == [
        "account_action.announced", "account_action.responded", "account_action.decided",
        "account_action.in_effect", "account_action.appealed",
        "account_action.appeal_decided",
    ]
    assert actions_audited(session, action["id"]) == [
        "account_action.created", "account_action.responded", "account_action.decided",
        "account_action.in_effect", "account_action.appealed",
        "account_action.appeal_decided",
    ]


def _long_token(user: User) -> str:
    from tests.factories import token_for
    return token_for(user, lifetime=timedelta(days=60))


def test_an_unanswered_deactivation_takes_effect_at_its_time_whatever_the_job_does(
    client: ApiClient, session: Session, frozen, app
) -> None:
    trainer = UserFactory()
    project = ProjectFactory()
    manager = manager_of(session, project)
    for user in (trainer, manager):
        client._tokens[user.id] = _long_token(user)
    MemberFactory(project=project, trainer=trainer)
    TaskFactory(project=project)
    TaskFactory(project=project)
    action = announce(client, manager, trainer, "deactivate", "policy_breach")
    lease = claim(client, project, trainer).get_json()

    frozen.move_to(T0 + 7 * DAY + timedelta(seconds=1))
    url = f"{API}/me/account-actions/{action['id']}"
    assert client.get(url, as_user=trainer).get_json()["in_force"] is True
    assert_problem(claim(client, project, trainer), 403, code="account-deactivated")
    assert_problem(client.post(f"{API}/me/assignments/{lease['id']}/submit", as_user=trainer,
                               json={"answer": {"label": "hk"}, "active_seconds": 60}),
                   403, code="account-deactivated")
    assert_problem(client.post(f"{url}/response", as_user=trainer,
                               json={"response": "Too late?"}), 409, code="response-closed")

    from workforce.jobs import run_job
    assert run_job("standing.follow_up_account_actions", app.extensions["workforce"]) == (
        "account actions followed up: 1")
    session.expire_all()
    listed = client.get(f"{API}/me/assignments", as_user=trainer).get_json()["items"]
    assert {a["id"]: a["state"] for a in listed}[lease["id"]] == "released"
    assert "account_action.in_effect" in kinds(session, trainer)
    assert run_job("standing.follow_up_account_actions",
                   app.extensions["workforce"]) == "nothing to do"


def test_fraud_acts_at_once_and_says_so(client: ApiClient, session: Session, frozen) -> None:
    trainer = UserFactory()
    project = ProjectFactory()
    manager = manager_of(session, project)
    MemberFactory(project=project, trainer=trainer)
    TaskFactory(project=project)
    lease = claim(client, project, trainer).get_json()

    action = announce(client, manager, trainer, "deactivate", "fraud")
    assert (action["immediate"], action["in_force"]) == (True, True)
    assert action["effective_at"] == T0.isoformat()
    assert action["respond_by"] == (T0 + 7 * DAY).isoformat()
    note = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id,
        Notification.kind == "account_action.announced")).one()
    assert "at once, because of fraud" in note.body
    assert_problem(claim(client, project, trainer), 403, code="account-deactivated")
    listed = client.get(f"{API}/me/assignments", as_user=trainer).get_json()["items"]
    assert {a["id"]: a["state"] for a in listed}[lease["id"]] == "released"
    # The response is still open; it does not lift an immediate action.
    responded = client.post(f"{API}/me/account-actions/{action['id']}/response",
                            as_user=trainer, json={"response": "It was not me."})
    assert responded.get_json()["in_force"] is True


def test_earned_money_is_still_paid_after_a_deactivation(
    client: ApiClient, session: Session
) -> None:
    with time_machine.travel(NOW, tick=False):
        fin = finance_user()
        org = fin.organisation_id
        trainer = trainer_owed(org, 4200, method="manual")
        manager = StaffFactory(organisation=fin.organisation)
        MemberFactory(project=ProjectFactory(manager=manager), trainer=trainer)
        action = announce(client, manager, trainer, "deactivate", "fraud")
        assert action["in_force"] is True

        run = approved_run_by_api(client, session, fin)
        items = client.get(f"{API}/payout-runs/{run['id']}/items", as_user=fin).get_json()
        assert [(i["trainer_id"], i["amount"]) for i in items["items"]] == [
            (str(trainer.id), 4200)]
        assert balances(session, org, trainer.id) == {"payable": 0, "in_transit": 4200,
                                                      "paid": 0}
        assert_ledger_sound(session)


def test_actions_reach_only_the_organisations_trainers_and_need_a_known_reason(
    client: ApiClient, session: Session
) -> None:
    stranger = UserFactory()
    project = ProjectFactory()
    manager = manager_of(session, project)
    assert_problem(client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(stranger.id), "kind": "restrict", "reason": "quality",
        "explanation": "x"}), 404)
    problem = assert_problem(client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(stranger.id), "kind": "restrict", "reason": "dislike",
        "explanation": "x"}), 422)
    assert "reason" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(stranger.id), "kind": "restrict", "reason": "quality",
        "explanation": "  "}), 422)
    assert "explanation" in problem["errors"]
    assert session.scalar(select(AuditEvent.id).where(
        AuditEvent.object_type == "account_action")) is None
    other = StaffFactory()
    MemberFactory(project=project, trainer=stranger)
    action = announce(client, manager, stranger, "restrict", "inactivity")
    assert_problem(client.get(f"{API}/account-actions/{action['id']}", as_user=other), 404)
    assert_problem(client.get(f"{API}/me/account-actions/{action['id']}",
                              as_user=UserFactory()), 404)
    assert uuid.UUID(action["id"])
