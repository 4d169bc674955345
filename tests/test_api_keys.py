"""API keys: created by admins with scopes and an optional expiry, the secret shown once
and stored hashed, used as the organisation (the audit log names the key), listed with
their last use, revoked, and limited by a request budget of their own. Which routes each
scope opens is the authorization matrix's (tests/test_authz_matrix.py)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User
from workforce.integrations.key_models import ApiKey

KEYS = "/api/v1/api-keys"
PROJECTS = "/api/v1/projects"


@pytest.fixture
def admin() -> User:
    return StaffFactory(role=Role.ADMIN)


def create_key(client: ApiClient, admin: User, **body: object) -> dict:
    response = client.post(KEYS, as_user=admin, json={
        "name": "Client pipeline", "scopes": ["projects:read", "projects:write"], **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def project_body() -> dict:
    return {"name": "HK Cantonese accents", "capacity": 5, "pay_model": "per_task",
            "currency": "USD", "estimated_task_seconds": 300, "rate": 200,
            "guidelines": "Listen twice."}


def audit_of(session: Session, object_id: object) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.object_id == str(object_id)).order_by(AuditEvent.created_at, AuditEvent.id)))


# --- created, shown once, stored hashed ------------------------------------------------


def test_the_secret_is_shown_once_and_stored_only_as_its_hash(
    client: ApiClient, session: Session, admin: User
) -> None:
    issued = create_key(client, admin)
    secret, key = issued["secret"], issued["key"]
    assert secret.startswith("wfk_") and len(secret) > 40
    assert key["scopes"] == ["projects:read", "projects:write"]
    assert key["status"] == "active" and key["expires_at"] is None
    assert key["last_used_at"] is None and key["hint"] == secret[:10]
    stored = session.get(ApiKey, uuid.UUID(key["id"]))
    assert stored is not None
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # Nowhere else: not in the list, not in the key, not in the audit log.
    listed = client.get(KEYS, as_user=admin)
    one = client.get(f"{KEYS}/{key['id']}", as_user=admin)
    assert [item["id"] for item in listed.get_json()["items"]] == [key["id"]]
    for response in (listed, one):
        assert secret not in response.get_data(as_text=True)
    assert all(secret not in str(event.after) for event in audit_of(session, key["id"]))


def test_creation_and_revocation_are_audited_and_revoking_again_changes_nothing(
    client: ApiClient, session: Session, admin: User
) -> None:
    key = create_key(client, admin, name="Payroll")["key"]
    first = client.delete(f"{KEYS}/{key['id']}", as_user=admin)
    again = client.delete(f"{KEYS}/{key['id']}", as_user=admin)
    assert first.status_code == again.status_code == 200
    assert first.get_json()["status"] == again.get_json()["status"] == "revoked"
    assert first.get_json()["revoked_at"] == again.get_json()["revoked_at"]
    events = audit_of(session, key["id"])
    assert [e.action for e in events] == ["api_key.created", "api_key.revoked"]
    assert all(e.actor_id == admin.id for e in events)
    assert events[0].after is not None and events[0].after["name"] == "Payroll"


@pytest.mark.parametrize(("body", "field"), [
    ({"scopes": []}, "scopes"),
    ({"scopes": ["audit:read"]}, "scopes"),
    ({"scopes": ["check-ins:read"]}, "scopes"),
    ({"name": ""}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
])
def test_bad_keys_are_refused_naming_the_field_and_nothing_is_written(
    client: ApiClient, session: Session, admin: User, body: dict, field: str
) -> None:
    response = client.post(KEYS, as_user=admin, json={
        "name": "Pipeline", "scopes": ["tasks:write"], **body})
    problem = assert_problem(response, 422)
    assert any(name.split(".")[0] == field for name in problem["errors"]), problem
    assert session.scalar(select(ApiKey.id)) is None


# --- a key acts as the organisation ----------------------------------------------------


def test_a_key_acts_as_the_organisation_and_the_audit_log_names_the_key(
    client: ApiClient, session: Session, admin: User
) -> None:
    key = create_key(client, admin, name="Client pipeline")
    created = client.post(PROJECTS, token=key["secret"], json=project_body())
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    assert project["organisation_id"] == str(admin.organisation_id)
    events = audit_of(session, project["id"])
    assert events and all(e.actor_id is not None and str(e.actor_id) == key["key"]["id"]
                          for e in events)
    assert {e.actor_label for e in events} == {"api_key:Client pipeline"}
    # The audit log's filter by actor finds what the key did.
    found = client.get("/api/v1/audit-events", as_user=admin,
                       query_string={"actor_id": key["key"]["id"]}).get_json()["items"]
    assert {item["object_id"] for item in found} >= {project["id"]}


def test_a_keys_account_is_not_a_person(client: ApiClient, session: Session,
                                        admin: User) -> None:
    """Not in the staff list, not found as a user, cannot log in, not counted as an
    admin (the last human admin still cannot leave)."""
    key = create_key(client, admin)["key"]
    staff = client.get("/api/v1/users", as_user=admin).get_json()["items"]
    assert [user["id"] for user in staff] == [str(admin.id)]
    assert_problem(client.get(f"/api/v1/users/{key['id']}", as_user=admin), 404)
    account = session.get(User, uuid.UUID(key["id"]))
    assert account is not None and account.is_api_key and not account.is_active
    for password in ("!", "", "password-123"):
        login = client.post("/api/v1/auth/login",
                            json={"email": account.email, "password": password or "x"})
        assert login.status_code in (401, 422)
    demoted = client.patch(f"/api/v1/users/{admin.id}", as_user=admin,
                           json={"role": "reviewer"})
    assert_problem(demoted, 409, code="last-admin")


def test_a_key_without_the_scope_is_refused_naming_it(client: ApiClient, admin: User) -> None:
    key = create_key(client, admin, scopes=["payouts:read"])
    refused = client.post(PROJECTS, token=key["secret"], json=project_body())
    body = assert_problem(refused, 403, code="scope-forbidden")
    assert body["required_scope"] == "projects:write"
    assert "projects:write" in body["detail"]
    # Routes no scope opens: a person's own account, and the keys themselves.
    for path in ("/api/v1/me", KEYS, "/api/v1/audit-events", "/api/v1/flags",
                 "/api/v1/support-cases"):
        body = assert_problem(client.get(path, token=key["secret"]), 403,
                              code="scope-forbidden")
        assert body["required_scope"] is None


# --- refused when revoked or expired ----------------------------------------------------


def test_revoked_and_expired_keys_are_refused(client: ApiClient, admin: User) -> None:
    soon = (clock.now() + timedelta(minutes=10)).isoformat()
    revoked = create_key(client, admin)
    expiring = create_key(client, admin, expires_at=soon)
    assert client.get(PROJECTS, token=expiring["secret"]).status_code == 200
    client.delete(f"{KEYS}/{revoked['key']['id']}", as_user=admin)
    body = assert_problem(client.get(PROJECTS, token=revoked["secret"]), 401,
                          code="invalid-token")
    assert "revoked" in body["detail"]
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11), tick=False):
        body = assert_problem(client.get(PROJECTS, token=expiring["secret"]), 401,
                              code="invalid-token")
        assert "expired" in body["detail"]
        listed = client.get(f"{KEYS}/{expiring['key']['id']}", as_user=admin)
        assert listed.get_json()["status"] == "expired"
    unknown = "wfk_" + "A" * 43
    assert_problem(client.get(PROJECTS, token=unknown), 401, code="invalid-token")


# --- last use ---------------------------------------------------------------------------


def test_last_use_is_written_at_most_once_a_minute(client: ApiClient, admin: User) -> None:
    key = create_key(client, admin)
    path = f"{KEYS}/{key['key']['id']}"

    def last_used() -> str | None:
        return client.get(path, as_user=admin).get_json()["last_used_at"]

    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        assert client.get(PROJECTS, token=key["secret"]).status_code == 200
        first = last_used()
    assert first is not None
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get(PROJECTS, token=key["secret"])
        assert last_used() == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get(PROJECTS, token=key["secret"])
        later = last_used()
    assert later is not None and later > first


# --- a request budget of their own ------------------------------------------------------


def test_keys_have_a_request_budget_of_their_own(
    client: ApiClient, app: Flask, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = app.extensions["workforce"]
    monkeypatch.setattr(services, "settings", replace(
        services.settings, api_key_rate_limit="3 per minute", api_rate_limit="50 per minute"))
    key, other = create_key(client, admin), create_key(client, admin)
    answers = [client.get(PROJECTS, token=key["secret"]).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get(PROJECTS, token=key["secret"])
    assert_problem(refused, 429, code="rate-limited")
    assert int(refused.headers["Retry-After"]) > 0
    # Another key's budget is its own, and people keep theirs (the larger one).
    assert client.get(PROJECTS, token=other["secret"]).status_code == 200
    people = [client.get(PROJECTS, as_user=admin).status_code for _ in range(5)]
    assert people == [200] * 5
