"""Qualifications and manual grants and revocations, through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory
from workforce.accounts.models import AuditEvent, Role, User
from workforce.assessments.models import TrainerQualification
from workforce.notifications.models import Notification

QUALIFICATIONS = "/api/v1/qualifications"


@pytest.fixture
def manager() -> User:
    return StaffFactory(role=Role.VENDOR_MANAGER)


def _create(client: ApiClient, manager: User, **changes: object) -> dict:
    body = {"code": "yue-hk-listening", "name": "Hong Kong Cantonese listening",
            "locale": "yue-hk", "validity_days": 365, **changes}
    response = client.post(QUALIFICATIONS, json=body, as_user=manager)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_read_update(client: ApiClient, manager: User) -> None:
    created = _create(client, manager)
    assert created["locale"] == "yue-HK"
    assert created["validity_days"] == 365
    url = f"{QUALIFICATIONS}/{created['id']}"
    assert client.get(url, as_user=manager).get_json()["code"] == "yue-hk-listening"
    updated = client.patch(url, json={"name": "HK Cantonese (listening)"}, as_user=manager)
    assert updated.status_code == 200
    assert updated.get_json()["name"] == "HK Cantonese (listening)"
    assert updated.get_json()["locale"] == "yue-HK"  # untouched by a partial update
    listed = client.get(QUALIFICATIONS, as_user=manager).get_json()
    assert [q["id"] for q in listed["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "Has Spaces"}, "code"),
        ({"locale": "not a tag"}, "locale"),
        ({"validity_days": 0}, "validity_days"),
        ({"name": ""}, "name"),
        ({"organisation_id": "00000000-0000-0000-0000-000000000000"}, "organisation_id"),
    ],
)
def test_bad_input_is_422(client: ApiClient, manager: User, body: dict, field: str) -> None:
    full = {"code": "ok-code", "name": "Name", **body}
    problem = assert_problem(client.post(QUALIFICATIONS, json=full, as_user=manager), 422)
    assert field in problem["errors"]
    assert client.get(QUALIFICATIONS, as_user=manager).get_json()["items"] == []


def test_codes_are_unique_per_organisation(client: ApiClient, manager: User) -> None:
    _create(client, manager)
    response = client.post(QUALIFICATIONS, json={"code": "yue-hk-listening", "name": "again"},
                           as_user=manager)
    assert_problem(response, 409, code="code-taken")
    # Another organisation may use the same code.
    _create(client, StaffFactory(role=Role.VENDOR_MANAGER))


def test_other_organisations_and_trainers_see_nothing(client: ApiClient, manager: User) -> None:
    created = _create(client, manager)
    stranger = StaffFactory(role=Role.VENDOR_MANAGER, organisation=OrganisationFactory())
    url = f"{QUALIFICATIONS}/{created['id']}"
    assert_problem(client.get(url, as_user=stranger), 404)
    assert_problem(client.patch(url, json={"name": "x"}, as_user=stranger), 404)
    assert_problem(client.get(f"{url}/holders", as_user=stranger), 404)
    assert client.get(QUALIFICATIONS, as_user=stranger).get_json()["items"] == []
    assert_problem(client.get(QUALIFICATIONS, as_user=UserFactory()), 403, code="role-forbidden")
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert client.get(url, as_user=reviewer).status_code == 200
    assert_problem(client.patch(url, json={"name": "x"}, as_user=reviewer), 403)


def test_manual_grant_and_revocation(
    client: ApiClient, session: Session, manager: User
) -> None:
    qualification = _create(client, manager)
    trainer = UserFactory()
    url = f"{QUALIFICATIONS}/{qualification['id']}"
    granted = client.post(f"{url}/grants", as_user=manager, json={
        "trainer_id": str(trainer.id), "reason": "Native speaker, verified in interview",
        "score_percent": "92.5"})
    assert granted.status_code == 201, granted.get_json()
    body = granted.get_json()
    assert body["status"] == "granted"
    assert body["source"] == "manual"
    assert body["score_percent"] == "92.50"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=364) < expires - datetime.now(UTC) <= timedelta(days=365)

    mine = client.get("/api/v1/me/qualifications", as_user=trainer).get_json()["items"]
    assert [(q["qualification"]["code"], q["status"]) for q in mine] == [
        ("yue-hk-listening", "granted")]
    assert client.get("/api/v1/me/qualifications", as_user=UserFactory()).get_json()[
        "items"] == []

    revoked = client.post(f"{url}/revocations", as_user=manager, json={
        "trainer_id": str(trainer.id), "reason": "Shared answers with others"})
    assert revoked.status_code == 201
    assert revoked.get_json()["status"] == "revoked"
    assert_problem(client.post(f"{url}/revocations", as_user=manager, json={
        "trainer_id": str(trainer.id), "reason": "again"}), 409, code="not-granted")

    holders = client.get(f"{url}/holders", as_user=manager).get_json()["items"]
    assert [(h["trainer_id"], h["status"]) for h in holders] == [(str(trainer.id), "revoked")]

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == body["id"])
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()
    assert actions == ["qualification.granted", "qualification.revoked"]
    kinds = set(session.scalars(select(Notification.kind).where(
        Notification.user_id == trainer.id)))
    assert {"qualification.granted", "qualification.revoked"} <= kinds


def test_a_grant_to_a_trainer_who_does_not_speak_the_locale_warns_the_manager(
    client: ApiClient, session: Session, manager: User
) -> None:
    qualification = _create(client, manager)  # yue-HK
    url = f"{QUALIFICATIONS}/{qualification['id']}/grants"
    mainland = UserFactory(languages=["yue-CN"])
    body = {"trainer_id": str(mainland.id), "reason": "Worked with us on a pilot"}
    granted = client.post(url, as_user=manager, json=body)
    assert granted.status_code == 201, granted.get_json()
    answer = granted.get_json()
    assert (answer["status"], answer["trainer_id"]) == ("granted", str(mainland.id))
    assert answer["warnings"] == [{
        "code": "locale-not-spoken",
        "message": "The trainer does not list yue-HK, the qualification's locale, among their "
                   "languages (they list yue-CN). The grant stands, but projects that require "
                   "this qualification stay closed to them until they list it.",
    }]
    speaker = UserFactory(languages=["en-GB", "yue-Hant-HK"])
    granted = client.post(url, as_user=manager, json={**body, "trainer_id": str(speaker.id)})
    assert granted.get_json()["warnings"] == []
    any_locale = _create(client, manager, code="rubric-writing", locale=None)
    granted = client.post(f"{QUALIFICATIONS}/{any_locale['id']}/grants", as_user=manager,
                          json=body)
    assert granted.get_json()["warnings"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "ok reason", "score_percent": "100.5"}, "score_percent"),
        ({"reason": "ok reason", "expires_at": "2020-01-01T00:00:00"}, "expires_at"),
        ({"reason": "ok reason", "expires_at": "2020-01-01T00:00:00+00:00"}, "expires_at"),
    ],
)
def test_grants_need_a_reason_and_sane_values(
    client: ApiClient, session: Session, manager: User, body: dict, field: str
) -> None:
    qualification = _create(client, manager)
    trainer = UserFactory()
    response = client.post(f"{QUALIFICATIONS}/{qualification['id']}/grants", as_user=manager,
                           json={"trainer_id": str(trainer.id), **body})
    problem = assert_problem(response, 422)
    assert field in problem["errors"]
    assert session.scalars(select(TrainerQualification)).all() == []


def test_only_trainers_hold_qualifications(client: ApiClient, manager: User) -> None:
    qualification = _create(client, manager)
    response = client.post(f"{QUALIFICATIONS}/{qualification['id']}/grants", as_user=manager,
                           json={"trainer_id": str(manager.id), "reason": "staff"})
    assert "trainer_id" in assert_problem(response, 422)["errors"]
