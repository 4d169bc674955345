"""Authoring assessments: question pools, versions, publishing, the wage floor."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory
from workforce.accounts.models import AuditEvent, Role, User
from workforce.assessments.models import AssessmentVersion, Question

ASSESSMENTS = "/api/v1/assessments"

LISTENING = {
    "kind": "single_choice",
    "prompt": "Which region is this speaker from?",
    "media_url": "https://media.example.org/clips/0042.ogg",
    "media_kind": "audio",
    "options": [{"id": "hk", "text": "Hong Kong"}, {"id": "gz", "text": "Guangzhou"}],
    "answer_key": {"correct": ["hk"]},
    "points": 2,
    "feedback": "Listen for the 'n' and 'l' merger typical of Hong Kong speech.",
}
RUBRIC_QUESTION = {
    "kind": "free_text",
    "prompt": "Write a rubric for judging a model's summary of a news article.",
    "rubric": [
        {"id": "coverage", "name": "Coverage", "max_points": 4, "levels": [
            {"points": 0, "descriptor": "Misses the main criteria"},
            {"points": 4, "descriptor": "Covers faithfulness, coverage and concision"}]},
        {"id": "clarity", "name": "Clarity", "max_points": 2, "levels": [
            {"points": 0, "descriptor": "Ambiguous"},
            {"points": 2, "descriptor": "Each level is unambiguous"}]},
    ],
}


@pytest.fixture
def manager() -> User:
    return StaffFactory(role=Role.VENDOR_MANAGER)


def qualification(client: ApiClient, manager: User) -> str:
    response = client.post("/api/v1/qualifications", as_user=manager,
                           json={"code": "yue-hk", "name": "HK Cantonese", "locale": "yue-HK"})
    return response.get_json()["id"]


def settings(**changes: Any) -> dict[str, Any]:
    return {
        "time_limit_seconds": 1800, "pass_mark_percent": 80, "max_attempts": 3,
        "cooldown_seconds": 86400, "expected_duration_seconds": 1200,
        "questions_per_attempt": 10, "instructions": "Use headphones.", **changes,
    }


def new_assessment(client: ApiClient, manager: User, **changes: Any) -> dict[str, Any]:
    body = {"title": "Cantonese listening", "qualification_id": qualification(client, manager),
            **settings(**changes)}
    response = client.post(ASSESSMENTS, json=body, as_user=manager)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add(client: ApiClient, manager: User, assessment_id: str, question: dict) -> dict:
    response = client.post(f"{ASSESSMENTS}/{assessment_id}/questions", json=question,
                           as_user=manager)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_author_and_publish(client: ApiClient, session: Session, manager: User) -> None:
    assessment = new_assessment(client, manager)
    assert assessment["state"] == "draft"
    assert assessment["latest_version"]["number"] == 1
    url = f"{ASSESSMENTS}/{assessment['id']}"
    listening = add(client, manager, assessment["id"], LISTENING)
    assert listening["position"] == 1
    assert listening["answer_key"] == {"correct": ["hk"]}
    rubric = add(client, manager, assessment["id"], RUBRIC_QUESTION)
    assert rubric["max_points"] == 6

    published = client.post(f"{url}/publish", as_user=manager)
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["state"] == "published"
    assert published.get_json()["latest_version"]["published_at"]
    assert published.get_json()["latest_version"]["question_count"] == 2
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "assessment.published")) == 1
    assert_problem(client.post(f"{url}/publish", as_user=manager), 409,
                   code="nothing-to-publish")


def test_editing_a_published_assessment_makes_a_new_version(
    client: ApiClient, session: Session, manager: User
) -> None:
    assessment = new_assessment(client, manager)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    question = add(client, manager, assessment["id"], LISTENING)
    client.post(f"{url}/publish", as_user=manager)

    # The title lives on the assessment: no new version.
    client.patch(url, json={"title": "Cantonese listening (HK/GZ)"}, as_user=manager)
    assert len(client.get(f"{url}/versions", as_user=manager).get_json()["items"]) == 1

    changed = client.patch(url, json={"pass_mark_percent": 90}, as_user=manager).get_json()
    assert changed["latest_version"]["number"] == 2
    assert changed["latest_version"]["published_at"] is None
    assert changed["latest_version"]["pass_mark_percent"] == 90
    versions = client.every_item(f"{url}/versions", as_user=manager, limit=1)
    assert [(v["number"], v["pass_mark_percent"]) for v in versions] == [(1, 80), (2, 90)]

    # A question of the published version changes in the draft's copy only.
    edited = client.patch(f"{url}/questions/{question['id']}", as_user=manager,
                          json={"prompt": "Where does this speaker come from?"})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["id"] != question["id"]
    v1 = client.get(f"{url}/questions?version=1", as_user=manager).get_json()["items"]
    v2 = client.get(f"{url}/questions", as_user=manager).get_json()["items"]
    assert [q["prompt"] for q in v1] == ["Which region is this speaker from?"]
    assert [q["prompt"] for q in v2] == ["Where does this speaker come from?"]

    assert client.post(f"{url}/publish", as_user=manager).status_code == 200
    published = session.scalars(select(AssessmentVersion.number).where(
        AssessmentVersion.published_at.is_not(None))).all()
    assert sorted(published) == [1, 2]


def test_the_granted_qualification_is_fixed_once_published(
    client: ApiClient, manager: User
) -> None:
    assessment = new_assessment(client, manager)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    other = client.post("/api/v1/qualifications", as_user=manager,
                        json={"code": "yue-gz", "name": "GZ Cantonese"}).get_json()["id"]
    # Before publishing it may change.
    moved = client.patch(url, json={"qualification_id": other}, as_user=manager)
    assert moved.get_json()["qualification_id"] == other
    add(client, manager, assessment["id"], LISTENING)
    client.post(f"{url}/publish", as_user=manager)
    back = client.patch(url, json={"qualification_id": assessment["qualification_id"]},
                        as_user=manager)
    assert_problem(back, 409, code="qualification-fixed")


def test_removing_a_question_keeps_the_published_version_whole(
    client: ApiClient, session: Session, manager: User
) -> None:
    assessment = new_assessment(client, manager)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    question = add(client, manager, assessment["id"], LISTENING)
    add(client, manager, assessment["id"], RUBRIC_QUESTION)
    client.post(f"{url}/publish", as_user=manager)
    assert client.delete(f"{url}/questions/{question['id']}", as_user=manager).status_code == 204
    assert session.get(Question, uuid.UUID(question["id"])) is not None  # version 1 keeps it
    listed = client.get(f"{url}/questions", as_user=manager).get_json()["items"]
    assert [q["kind"] for q in listed] == ["free_text"]


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ({**LISTENING, "answer_key": {"correct": ["sz"]}}, "answer_key.correct"),
        ({**LISTENING, "answer_key": {"correct": ["hk", "gz"]}}, "answer_key.correct"),
        ({**LISTENING, "options": [{"id": "hk", "text": "HK"}]}, "options"),
        ({**LISTENING, "media_kind": None}, "media_kind"),
        ({**LISTENING, "media_url": "ftp://media.example.org/x.ogg"}, "media_url"),
        ({**LISTENING, "partial_credit": "proportional"}, "partial_credit"),
        ({**RUBRIC_QUESTION, "rubric": []}, "rubric"),
        ({**RUBRIC_QUESTION, "rubric": [{"id": "c", "name": "C", "max_points": 2, "levels": [
            {"points": 3, "descriptor": "Too many"}]}]}, "rubric.0.levels"),
        ({"kind": "short_answer", "prompt": "Year?", "answer_key": {"accepted": []}},
         "answer_key.accepted"),
        ({"kind": "short_answer", "prompt": "Year?",
          "answer_key": {"accepted": ["nineteen"], "numeric": True}}, "answer_key"),
        ({**LISTENING, "gold": "hk"}, "gold"),
    ],
)
def test_inconsistent_questions_are_422(
    client: ApiClient, session: Session, manager: User, question: dict, field: str
) -> None:
    assessment = new_assessment(client, manager)
    response = client.post(f"{ASSESSMENTS}/{assessment['id']}/questions", json=question,
                           as_user=manager)
    assert field in assert_problem(response, 422)["errors"]
    assert session.scalar(select(func.count()).select_from(Question)) == 0


def test_positions_are_unique(client: ApiClient, manager: User) -> None:
    assessment = new_assessment(client, manager)
    add(client, manager, assessment["id"], {**LISTENING, "position": 3})
    response = client.post(f"{ASSESSMENTS}/{assessment['id']}/questions", as_user=manager,
                           json={**RUBRIC_QUESTION, "position": 3})
    assert_problem(response, 409, code="position-taken")


def test_publishing_needs_questions(client: ApiClient, manager: User) -> None:
    assessment = new_assessment(client, manager)
    response = client.post(f"{ASSESSMENTS}/{assessment['id']}/publish", as_user=manager)
    assert "questions" in assert_problem(response, 422)["errors"]


def test_settings_must_fit_together(client: ApiClient, manager: User) -> None:
    body = {"title": "t", "qualification_id": qualification(client, manager),
            **settings(stipend_amount=500, expected_duration_seconds=3600)}
    problem = assert_problem(client.post(ASSESSMENTS, json=body, as_user=manager), 422)
    assert {"stipend_currency", "expected_duration_seconds"} <= set(problem["errors"])
    foreign = StaffFactory(role=Role.VENDOR_MANAGER, organisation=OrganisationFactory())
    body = {"title": "t", "qualification_id": qualification(client, foreign), **settings()}
    problem = assert_problem(client.post(ASSESSMENTS, json=body, as_user=manager), 422)
    assert "qualification_id" in problem["errors"]


def test_the_wage_floor_is_enforced_at_publish(client: ApiClient, manager: User) -> None:
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    floor = client.request("PUT", "/api/v1/organisation/wage-floors/usd", as_user=admin,
                           json={"hourly_amount": 1500})
    assert floor.status_code == 200, floor.get_json()
    assert floor.get_json() == {"currency": "USD", "hourly_amount": 1500}

    # 20 minutes at 15.00 an hour is 5.00; 4.99 is refused.
    assessment = new_assessment(client, manager, stipend_amount=499, stipend_currency="usd")
    url = f"{ASSESSMENTS}/{assessment['id']}"
    add(client, manager, assessment["id"], LISTENING)
    problem = assert_problem(client.post(f"{url}/publish", as_user=manager), 422,
                             code="below-wage-floor")
    assert problem["minimum_amount"] == 500
    assert problem["currency"] == "USD"
    assert "5.00 USD" in problem["detail"]
    assert client.get(url, as_user=manager).get_json()["state"] == "draft"

    client.patch(url, json={"stipend_amount": 500}, as_user=manager)
    assert client.post(f"{url}/publish", as_user=manager).status_code == 200


def test_an_organisation_can_require_paid_assessments(client: ApiClient, manager: User) -> None:
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    policy = client.patch("/api/v1/organisation/pay-policy", as_user=admin,
                          json={"requires_paid_assessments": True})
    assert policy.get_json()["requires_paid_assessments"] is True
    assessment = new_assessment(client, manager)
    add(client, manager, assessment["id"], LISTENING)
    assert_problem(client.post(f"{ASSESSMENTS}/{assessment['id']}/publish", as_user=manager),
                   422, code="stipend-required")


def test_wage_floor_input(client: ApiClient, manager: User) -> None:
    admin = StaffFactory(role=Role.ADMIN, organisation=manager.organisation)
    bad_currency = client.request("PUT", "/api/v1/organisation/wage-floors/XYZ",
                                  as_user=admin, json={"hourly_amount": 1500})
    assert "currency" in assert_problem(bad_currency, 422)["errors"]
    negative = client.request("PUT", "/api/v1/organisation/wage-floors/EUR",
                              as_user=admin, json={"hourly_amount": -1})
    assert "hourly_amount" in assert_problem(negative, 422)["errors"]
    assert_problem(client.request("PUT", "/api/v1/organisation/wage-floors/EUR",
                                  as_user=manager, json={"hourly_amount": 1}), 403)
    assert client.get("/api/v1/organisation/wage-floors", as_user=manager).get_json() == {
        "items": [], "next_cursor": None}


def test_archive(client: ApiClient, manager: User) -> None:
    assessment = new_assessment(client, manager)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    assert client.post(f"{url}/archive", as_user=manager).get_json()["state"] == "archived"
    assert_problem(client.post(f"{url}/archive", as_user=manager), 409,
                   code="illegal-transition")
    problem = assert_problem(client.patch(url, json={"title": "x"}, as_user=manager), 409)
    assert problem["current_state"] == "archived"
    assert_problem(client.post(f"{url}/questions", json=LISTENING, as_user=manager), 409)


def test_other_organisations_get_404_and_trainers_403(client: ApiClient, manager: User) -> None:
    assessment = new_assessment(client, manager)
    question = add(client, manager, assessment["id"], LISTENING)
    url = f"{ASSESSMENTS}/{assessment['id']}"
    stranger = StaffFactory(role=Role.VENDOR_MANAGER, organisation=OrganisationFactory())
    for method, path in [("GET", url), ("PATCH", url), ("POST", f"{url}/publish"),
                         ("GET", f"{url}/questions"), ("GET", f"{url}/versions"),
                         ("PATCH", f"{url}/questions/{question['id']}")]:
        body = {} if method != "GET" else None
        assert_problem(client.request(method, path, as_user=stranger, json=body), 404)
    assert client.get(ASSESSMENTS, as_user=stranger).get_json()["items"] == []
    trainer = UserFactory()
    assert_problem(client.get(f"{url}/questions", as_user=trainer), 403)
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert client.get(url, as_user=reviewer).status_code == 200
    # Reviewers grade; they never see answer keys through the authoring endpoints.
    assert_problem(client.get(f"{url}/questions", as_user=reviewer), 403)


def test_the_answers_a_stipend_needs_are_a_versioned_validated_setting(
    client: ApiClient, session: Session, manager: User
) -> None:
    assessment = new_assessment(client, manager, stipend_amount=500, stipend_currency="USD")
    assert assessment["latest_version"]["stipend_min_answers"] == 1  # never a blank attempt
    url = f"{ASSESSMENTS}/{assessment['id']}"
    for bad in (0, -1, 501, None, 1.5, "2"):
        problem = assert_problem(
            client.patch(url, json={"stipend_min_answers": bad}, as_user=manager), 422)
        assert "stipend_min_answers" in problem["errors"], bad
    # More answers than an attempt draws could never be given.
    problem = assert_problem(
        client.patch(url, json={"stipend_min_answers": 11}, as_user=manager), 422)
    assert problem["errors"] == {
        "stipend_min_answers": ["At most the 10 questions an attempt draws."]}

    # Nor more than the pool holds, when the pool is smaller than the draw.
    client.patch(url, json={"stipend_min_answers": 2}, as_user=manager)
    add(client, manager, assessment["id"], LISTENING)
    problem = assert_problem(client.post(f"{url}/publish", as_user=manager), 422)
    assert problem["errors"] == {
        "stipend_min_answers": ["At most the 1 questions an attempt draws."]}
    add(client, manager, assessment["id"], {**LISTENING, "prompt": "And this one?"})
    assert client.post(f"{url}/publish", as_user=manager).status_code == 200

    # A new version carries it over, and changes it without touching version 1.
    changed = client.patch(url, json={"stipend_min_answers": 1}, as_user=manager).get_json()
    assert changed["latest_version"]["number"] == 2
    versions = client.get(f"{url}/versions", as_user=manager).get_json()["items"]
    assert [(v["number"], v["stipend_min_answers"]) for v in versions] == [(1, 2), (2, 1)]
    unchanged = client.patch(url, json={"pass_mark_percent": 90}, as_user=manager).get_json()
    assert unchanged["latest_version"]["stipend_min_answers"] == 1
