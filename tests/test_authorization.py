"""Who may call what: every route has a policy, the role matrix follows the policies,
and nobody sees another organisation's data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory, token_for
from workforce import clock
from workforce.accounts import services
from workforce.accounts.models import AuditEvent, Role, User
from workforce.api.security import Policy, policy_of
from workforce.notifications.models import Notification
from workforce.notifications.services import tell

API_PREFIX = "/api/v1/"
NOT_CALLED = frozenset({"HEAD", "OPTIONS"})
_PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def concrete_path(rule: Rule) -> str:
    """The rule's path with every converter replaced by a value it accepts."""

    def sample(match: re.Match[str]) -> str:
        converter = match.group("converter") or "default"
        if converter == "uuid":
            return str(uuid.uuid4())
        if converter == "int":
            return "7"
        if converter == "string" and match.group("name") == "currency":
            return "USD"
        if converter == "string" and match.group("name") == "category":
            return "violence"
        if converter == "string" and match.group("name") == "country":
            return "PH"
        raise AssertionError(
            f"no sample value for the {converter!r} converter of {rule.rule}; teach concrete_path"
        )

    return _PLACEHOLDER.sub(sample, rule.rule)


def guarded_operations(app: Flask) -> Iterator[tuple[Rule, str, Policy]]:
    """Every (rule, method, policy) under /api/v1 that needs a token."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not rule.rule.startswith(API_PREFIX):
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        if policy is None or policy.is_public:
            continue  # missing policies fail test_every_endpoint_declares_a_policy
        for method in sorted((rule.methods or set()) - NOT_CALLED):
            yield rule, method, policy


def call(client: ApiClient, method: str, path: str, **kwargs: object):
    body = None if method == "GET" else {}
    return client.request(method, path, json=body, **kwargs)


# --- every route has a policy --------------------------------------------------------


def test_every_endpoint_declares_a_policy(app: Flask) -> None:
    missing = sorted(
        f"{rule.endpoint} ({rule.rule})"
        for rule in app.url_map.iter_rules()
        if policy_of(app.view_functions[rule.endpoint]) is None
    )
    assert not missing, "endpoints without an authorization policy: " + ", ".join(missing)


def test_the_matrix_is_not_vacuous(app: Flask) -> None:
    endpoints = {rule.endpoint for rule, _, _ in guarded_operations(app)}
    assert {"me.get_me", "organisation.list_users", "organisation.update_user",
            "organisation.revoke_invitation", "auth.log_out"} <= endpoints
    public = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if (policy := policy_of(app.view_functions[rule.endpoint])) and policy.is_public
    }
    assert {"auth.sign_up", "auth.log_in", "health.health"} <= public
    assert "organisation.list_users" not in public


# --- the role matrix -----------------------------------------------------------------


@pytest.fixture
def people(session: Session) -> dict[Role, User]:
    organisation = OrganisationFactory()
    people = {
        role: StaffFactory(role=role, organisation=organisation)
        for role in Role if role is not Role.TRAINER
    }
    people[Role.TRAINER] = UserFactory()
    return people


def test_guarded_operations_need_a_token(app: Flask, client: ApiClient) -> None:
    failures = []
    for rule, method, _ in guarded_operations(app):
        response = call(client, method, concrete_path(rule))
        try:
            body = assert_problem(response, 401, code="missing-token")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert body["title"]
        except AssertionError as exc:
            failures.append(f"{method} {rule.rule}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_role_matrix(app: Flask, client: ApiClient, people: dict[Role, User], role: Role) -> None:
    user = people[role]
    failures = []
    for rule, method, policy in guarded_operations(app):
        assert policy.roles is not None
        # A fresh token per call: logout and logout-all revoke the one they are sent with.
        response = call(client, method, concrete_path(rule), token=token_for(user))
        where = f"{role.value}: {method} {rule.rule} -> {response.status_code}"
        if role in policy.roles:
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(f"{where} but the role is allowed: {response.get_data(True)}")
        else:
            try:
                assert_problem(response, 403, code="role-forbidden")
            except AssertionError as exc:
                failures.append(f"{where} but the role is not allowed: {exc}")
    assert not failures, "\n".join(failures)


def test_role_matrix_forbids_before_reading_the_body(client: ApiClient) -> None:
    trainer = UserFactory()
    response = client.post(
        "/api/v1/invitations", as_user=trainer, data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 403, code="role-forbidden")
    response = client.post(
        "/api/v1/invitations", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, code="missing-token")


@pytest.mark.slow
def test_expired_revoked_and_deactivated_tokens_are_refused(
    app: Flask, client: ApiClient, session: Session
) -> None:
    user = StaffFactory(role=Role.ADMIN)
    expired = token_for(user, lifetime=timedelta(seconds=-1))
    revoked = token_for(user)
    assert client.post("/api/v1/auth/logout", token=revoked).status_code == 204
    gone = StaffFactory(role=Role.ADMIN, organisation=user.organisation)
    deactivated = token_for(gone)
    gone.is_active = False
    session.commit()

    failures = []
    for rule, method, _ in guarded_operations(app):
        path = concrete_path(rule)
        for label, token in (("expired", expired), ("revoked", revoked),
                             ("deactivated", deactivated), ("unknown", "wf_" + "x" * 43)):
            response = call(client, method, path, token=token)
            try:
                assert_problem(response, 401, code="invalid-token")
            except AssertionError as exc:
                failures.append(f"{label} token: {method} {rule.rule}: {exc}")
    assert not failures, "\n".join(failures)


def test_a_token_stops_working_when_it_expires(client: ApiClient) -> None:
    user = UserFactory()
    token = token_for(user, lifetime=timedelta(minutes=10))
    assert client.get("/api/v1/me", token=token).status_code == 200
    with time_machine.travel(clock.now() + timedelta(minutes=10), tick=False):
        assert_problem(client.get("/api/v1/me", token=token), 401, code="invalid-token")


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc", "bearer"]
)
def test_malformed_authorization_headers(client: ApiClient, header: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert_problem(response, 401, code="missing-token")


# --- organisation isolation ----------------------------------------------------------


@pytest.fixture
def two_orgs(session: Session) -> dict[str, object]:
    org_a, org_b = OrganisationFactory(), OrganisationFactory()
    return {
        "admin_a": StaffFactory(role=Role.ADMIN, organisation=org_a),
        "staff_a": StaffFactory(role=Role.REVIEWER, organisation=org_a),
        "admin_b": StaffFactory(role=Role.ADMIN, organisation=org_b),
        "staff_b": StaffFactory(role=Role.FINANCE, organisation=org_b),
        "org_a": org_a,
        "org_b": org_b,
    }


def test_an_admin_cannot_see_or_change_another_organisations_user(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    admin_a, staff_b = two_orgs["admin_a"], two_orgs["staff_b"]
    path = f"/api/v1/users/{staff_b.id}"
    assert_problem(client.get(path, as_user=admin_a), 404, code="not-found")
    for change in ({"role": "reviewer"}, {"is_active": False}, {}):
        assert_problem(client.patch(path, as_user=admin_a, json=change), 404, code="not-found")
    session.refresh(staff_b)
    assert staff_b.role is Role.FINANCE and staff_b.is_active
    assert session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.object_id == str(staff_b.id))
    ) == 0
    # An unknown id answers exactly like a foreign one.
    unknown = client.get(f"/api/v1/users/{uuid.uuid4()}", as_user=admin_a)
    foreign = client.get(path, as_user=admin_a)
    assert unknown.get_json()["detail"] == foreign.get_json()["detail"]


def test_an_admin_cannot_revoke_another_organisations_invitation(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    invitation = services.invite_staff(
        session, two_orgs["admin_b"], email="newcomer@example.org", role=Role.REVIEWER,
        lifetime=timedelta(days=7), base_url="http://test",
    ).invitation
    session.commit()
    response = client.delete(f"/api/v1/invitations/{invitation.id}", as_user=two_orgs["admin_a"])
    assert_problem(response, 404, code="not-found")
    session.refresh(invitation)
    assert invitation.revoked_at is None
    listed = client.get("/api/v1/invitations", as_user=two_orgs["admin_a"]).get_json()
    assert listed["items"] == []
    # Its own admin can.
    response = client.delete(f"/api/v1/invitations/{invitation.id}", as_user=two_orgs["admin_b"])
    assert response.status_code == 200
    assert response.get_json()["status"] == "revoked"


def test_user_list_shows_only_the_callers_organisation(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    UserFactory()  # a trainer, in no organisation
    response = client.get("/api/v1/users", as_user=two_orgs["admin_a"])
    assert response.status_code == 200
    ids = {item["id"] for item in response.get_json()["items"]}
    assert ids == {str(two_orgs["admin_a"].id), str(two_orgs["staff_a"].id)}
    assert all(
        item["organisation_id"] == str(two_orgs["org_a"].id)
        for item in response.get_json()["items"]
    )


def test_audit_log_shows_only_the_callers_organisation(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    admin_a, admin_b = two_orgs["admin_a"], two_orgs["admin_b"]
    for admin, name in ((admin_a, "A"), (admin_b, "B")):
        response = client.patch("/api/v1/organisation", as_user=admin, json={"name": name})
        assert response.status_code == 200
    response = client.get("/api/v1/audit-events", as_user=admin_a)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(e["action"], e["object_id"]) for e in items] == [
        ("organisation.renamed", str(two_orgs["org_a"].id))
    ]
    assert items[0]["after"] == {"name": "A"}
    assert session.scalar(select(func.count()).select_from(AuditEvent)) >= 2


def test_a_trainer_cannot_read_someone_elses_notification(
    client: ApiClient, session: Session
) -> None:
    trainer, other = UserFactory(), UserFactory()
    notification_id = tell(session, other.id, "account.email_verified", {})
    session.commit()
    response = client.post(
        f"/api/v1/me/notifications/{notification_id}/read", as_user=trainer
    )
    assert_problem(response, 404, code="not-found")
    session.expire_all()
    assert session.get_one(Notification, notification_id).read_at is None
    inbox = client.get("/api/v1/me/notifications", as_user=trainer).get_json()
    assert inbox["items"] == []


def test_trainers_are_in_no_organisation(client: ApiClient, two_orgs: dict) -> None:
    trainer = UserFactory()
    path = f"/api/v1/users/{trainer.id}"
    assert_problem(client.get(path, as_user=two_orgs["admin_a"]), 404, code="not-found")
    assert_problem(
        client.patch(path, as_user=two_orgs["admin_a"], json={"is_active": False}), 404,
        code="not-found",
    )


# --- changing a staff member's access ------------------------------------------------


def test_admin_changes_a_role(client: ApiClient, session: Session, two_orgs: dict) -> None:
    admin, staff = two_orgs["admin_a"], two_orgs["staff_a"]
    response = client.patch(f"/api/v1/users/{staff.id}", as_user=admin, json={"role": "finance"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["role"] == "finance"
    session.refresh(staff)
    assert staff.role is Role.FINANCE

    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.access_changed")
    ).one()
    assert event.actor_id == admin.id
    assert event.organisation_id == two_orgs["org_a"].id
    assert event.object_type == "user" and event.object_id == str(staff.id)
    assert event.before == {"role": "reviewer", "is_active": True}
    assert event.after == {"role": "finance", "is_active": True}
    assert event.request_id == response.headers["X-Request-ID"]

    notification = session.scalars(
        select(Notification).where(Notification.user_id == staff.id)
    ).one()
    assert notification.kind == "account.access_changed"
    assert "finance" in notification.body

    # The staff member still works, now as finance.
    me = client.get("/api/v1/me", as_user=staff)
    assert me.status_code == 200 and me.get_json()["role"] == "finance"
    listed = client.get(
        "/api/v1/audit-events", as_user=admin, query_string={"action": "user.access_changed"}
    ).get_json()["items"]
    assert [e["id"] for e in listed] == [str(event.id)]


def test_a_change_that_changes_nothing_is_not_audited(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    admin, staff = two_orgs["admin_a"], two_orgs["staff_a"]
    response = client.patch(f"/api/v1/users/{staff.id}", as_user=admin, json={"role": "reviewer"})
    assert response.status_code == 200
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_deactivating_revokes_the_targets_tokens(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    admin, staff = two_orgs["admin_a"], two_orgs["staff_a"]
    staff_token = token_for(staff)
    other_token = token_for(staff)
    assert client.get("/api/v1/me", token=staff_token).status_code == 200

    response = client.patch(f"/api/v1/users/{staff.id}", as_user=admin, json={"is_active": False})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    for token in (staff_token, other_token):
        assert_problem(client.get("/api/v1/me", token=token), 401, code="invalid-token")
    login = client.post(
        "/api/v1/auth/login", json={"email": staff.email, "password": "correct horse battery"}
    )
    assert_problem(login, 401, code="account-deactivated")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.access_changed")
    ).one()
    assert event.before == {"role": "reviewer", "is_active": True}
    assert event.after == {"role": "reviewer", "is_active": False}
    # The admin's own token is untouched.
    assert client.get("/api/v1/me", as_user=admin).status_code == 200

    # Reactivated, they log in again; old tokens stay revoked.
    response = client.patch(f"/api/v1/users/{staff.id}", as_user=admin, json={"is_active": True})
    assert response.status_code == 200
    assert_problem(client.get("/api/v1/me", token=staff_token), 401, code="invalid-token")
    login = client.post(
        "/api/v1/auth/login", json={"email": staff.email, "password": "correct horse battery"}
    )
    assert login.status_code == 200


@pytest.mark.parametrize("change", [{"role": "finance"}, {"is_active": False},
                                    {"role": "reviewer", "is_active": False}])
def test_the_last_active_admin_stays(
    client: ApiClient, session: Session, two_orgs: dict, change: dict
) -> None:
    admin = two_orgs["admin_a"]
    # An inactive admin does not count.
    StaffFactory(role=Role.ADMIN, organisation=two_orgs["org_a"], is_active=False)
    response = client.patch(f"/api/v1/users/{admin.id}", as_user=admin, json=change)
    assert_problem(response, 409, code="last-admin")
    session.refresh(admin)
    assert admin.role is Role.ADMIN and admin.is_active
    assert client.get("/api/v1/me", as_user=admin).status_code == 200
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_one_of_two_admins_may_step_down(
    client: ApiClient, session: Session, two_orgs: dict
) -> None:
    admin = two_orgs["admin_a"]
    other = StaffFactory(role=Role.ADMIN, organisation=two_orgs["org_a"])
    response = client.patch(f"/api/v1/users/{other.id}", as_user=admin, json={"role": "finance"})
    assert response.status_code == 200
    # Now the caller is the last one.
    response = client.patch(f"/api/v1/users/{admin.id}", as_user=admin, json={"role": "finance"})
    assert_problem(response, 409, code="last-admin")
    # Admins of another organisation do not count either.
    assert two_orgs["admin_b"].organisation_id != admin.organisation_id
    active_admins = session.scalar(
        select(func.count()).select_from(User).where(
            User.organisation_id == admin.organisation_id, User.role == Role.ADMIN,
            User.is_active.is_(True),
        )
    )
    assert active_admins == 1


@pytest.mark.parametrize("role", ["trainer", "owner", 5])
def test_staff_cannot_be_given_a_non_staff_role(
    client: ApiClient, session: Session, two_orgs: dict, role: object
) -> None:
    staff = two_orgs["staff_a"]
    response = client.patch(
        f"/api/v1/users/{staff.id}", as_user=two_orgs["admin_a"], json={"role": role}
    )
    body = assert_problem(response, 422, code="validation-error")
    assert "role" in body["errors"]
    session.refresh(staff)
    assert staff.role is Role.REVIEWER
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
