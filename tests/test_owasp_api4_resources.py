"""OWASP API4:2023, unrestricted resource consumption: page sizes are capped, bodies and
imports are bounded, and every caller has a request budget."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, StaffFactory, UserFactory
from workforce.accounts.models import Role
from workforce.settings import Settings


def configure(monkeypatch: pytest.MonkeyPatch, app: Flask, **changes: object) -> None:
    services = app.extensions["workforce"]
    monkeypatch.setattr(services, "settings", replace(services.settings, **changes))


def test_a_huge_page_size_is_capped(client: ApiClient, settings: Settings) -> None:
    trainer = UserFactory()
    response = client.get("/api/v1/me/notifications?limit=1000000", as_user=trainer)
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert len(response.get_json()["items"]) <= settings.page_size_max


def test_an_oversize_body_is_413_and_writes_nothing(client: ApiClient,
                                                      settings: Settings) -> None:
    trainer = UserFactory()
    body = b'{"display_name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    response = client.patch("/api/v1/me", as_user=trainer, data=body,
                            headers={"Content-Type": "application/json"})
    assert_problem(response, 413)


def test_an_oversize_import_is_413(client: ApiClient, app: Flask,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, app, max_import_bytes=2048)
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    project = ProjectFactory(manager=manager)
    rows = b"".join(b'{"external_id": "t-%d", "payload": {"prompt": "Hi"}}\n' % n
                    for n in range(200))
    assert len(rows) > 2048
    response = client.post(f"/api/v1/projects/{project.id}/tasks/import", as_user=manager,
                           data=rows, content_type="application/x-ndjson")
    assert_problem(response, 413)


def test_every_caller_has_a_request_budget(client: ApiClient, app: Flask,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, app, api_rate_limit="5 per minute")
    trainer, other = UserFactory(), UserFactory()
    answers = [client.get("/api/v1/me", as_user=trainer).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    refused = client.get("/api/v1/me", as_user=trainer)
    assert_problem(refused, 429, code="rate-limited")
    assert int(refused.headers["Retry-After"]) > 0
    # Another caller's budget is their own; anonymous callers count per address.
    assert client.get("/api/v1/me", as_user=other).status_code == 200
    anonymous = [client.get("/api/v1/health").status_code for _ in range(6)]
    assert anonymous[-1] == 429
