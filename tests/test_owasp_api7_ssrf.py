"""OWASP API7:2023, server-side request forgery: every URL we store or hand out (question
and task media, support links, Stripe's return and refresh links) must be public."""

from __future__ import annotations

import pytest

from tests.client import ApiClient, assert_problem
from tests.factories import (
    AssessmentFactory,
    AssessmentVersionFactory,
    ProjectFactory,
    QualificationFactory,
    StaffFactory,
)
from workforce.accounts.models import Role
from workforce.assessments.models import AssessmentState
from workforce.settings import Settings, SettingsError
from workforce.urls import url_problem

REFUSED = [
    "http://127.0.0.1/a.mp3", "http://localhost:8000/", "http://LOCALHOST./x",
    "http://10.0.0.5/x", "http://172.16.3.4/x", "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://[fe80::1]/x",
    "http://[fd00::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x",
    "http://2130706433/x", "http://0x7f000001/x", "http://0177.0.0.1/x", "http://127.1/x",
    "http://100.64.0.1/x", "http://224.0.0.1/x", "http://metadata.google.internal/x",
    "http://printer.local/x", "http://intranet/x", "http://user:pw@cdn.example.org/x",
    "http://cdn.example.org@127.0.0.1/x", "file:///etc/passwd", "gopher://example.org/x",
    "ftp://example.org/x", "http://[2002:7f00:1::]/x", "javascript:alert(1)",
    "http://exa mple.org/x", "http://example.org\\@127.0.0.1/", "http://:80/x",
]
ACCEPTED = ["https://cdn.example.org/clips/1.mp3", "http://media.example.com:8080/a.png",
            "https://93.184.216.34/x", "https://[2606:4700:4700::1111]/x",
            "https://xn--bcher-kva.example/x"]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_odd_urls_are_refused(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize("url", ACCEPTED)
def test_public_urls_pass(url: str) -> None:
    assert url_problem(url) is None


def test_question_media_urls_must_be_public(client: ApiClient) -> None:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    qualification = QualificationFactory(organisation=manager.organisation)
    assessment = AssessmentFactory(qualification=qualification, state=AssessmentState.DRAFT)
    AssessmentVersionFactory(assessment=assessment, published_at=None)
    path = f"/api/v1/assessments/{assessment.id}/questions"
    body = {"kind": "single_choice", "prompt": "Which region?",
            "options": [{"id": "hk", "text": "HK"}, {"id": "gz", "text": "GZ"}],
            "answer_key": {"correct": ["hk"]}, "media_kind": "audio"}
    before = client.get(path, as_user=manager).get_data(as_text=True)
    refused = client.post(path, as_user=manager,
                          json={**body, "media_url": "http://169.254.169.254/latest"})
    assert "media_url" in assert_problem(refused, 422)["errors"]
    assert client.get(path, as_user=manager).get_data(as_text=True) == before
    accepted = client.post(path, as_user=manager,
                           json={**body, "media_url": "https://cdn.example.org/1.mp3"})
    assert accepted.status_code == 201, accepted.get_data(as_text=True)


def test_support_links_must_be_public_https(client: ApiClient) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    for url in ("https://10.1.1.1/help", "http://findahelpline.com", "https://localhost/x"):
        response = client.patch("/api/v1/organisation/wellbeing-policy", as_user=admin,
                                json={"support_links": [{"label": "Help", "url": url}]})
        problem = assert_problem(response, 422)
        assert any(key.startswith("support_links") for key in problem["errors"]), problem
    ok = client.patch("/api/v1/organisation/wellbeing-policy", as_user=admin,
                      json={"support_links": [{"label": "Help",
                                               "url": "https://findahelpline.com"}]})
    assert ok.status_code == 200, ok.get_data(as_text=True)


def test_task_media_urls_must_be_public(client: ApiClient) -> None:
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    project = ProjectFactory(manager=manager)
    rows = (b'{"external_id": "a", "payload": {"prompt": "Hi", '
            b'"media_urls": ["http://127.0.0.1:5432/"]}}\n')
    response = client.post(f"/api/v1/projects/{project.id}/tasks/import", as_user=manager,
                           data=rows, content_type="application/x-ndjson")
    problem = assert_problem(response, 422, code="import-invalid")
    assert "media_urls" in str(problem["row_errors"])


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://10.0.0.2",
                                  "http://workforce.example.com", "https://localhost"])
def test_production_refuses_a_private_or_plain_return_address_for_stripe(base: str) -> None:
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        Settings.from_env({"WORKFORCE_ENV": "production", "WORKFORCE_SECRET_KEY": "x" * 40,
                           "WORKFORCE_EMAIL_SENDER": "log", "WORKFORCE_PUBLIC_BASE_URL": base})


def test_production_refuses_a_private_stripe_address() -> None:
    with pytest.raises(SettingsError, match="STRIPE_API_BASE"):
        Settings.from_env({"WORKFORCE_ENV": "production", "WORKFORCE_SECRET_KEY": "x" * 40,
                           "WORKFORCE_EMAIL_SENDER": "log",
                           "WORKFORCE_PUBLIC_BASE_URL": "https://workforce.example.com",
                           "WORKFORCE_STRIPE_API_BASE": "http://169.254.169.254"})
