"""OWASP API8:2023, security misconfiguration: no debug in production, security headers
on every answer (errors included), and no stack trace in a 500."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from flask import Flask, session

from tests.client import ApiClient, assert_problem
from tests.factories import UserFactory
from workforce.api.security import PUBLIC, mark
from workforce.app import create_app
from workforce.db import Database
from workforce.notifications.senders import MemorySender
from workforce.settings import Environment, Settings

DOCS = "/api/v1/docs"
OPENAPI = "/api/v1/openapi.json"
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


@pytest.fixture
def production_app(database: Database) -> Iterator[Flask]:
    """An app with production settings, on a ``Database`` of its own: ``create_app``
    points its database's sessions at the new app's outbox, and the test app's e-mails
    must keep going to the test app's sender."""
    url = database.engine.url.render_as_string(hide_password=False)
    settings = Settings(env=Environment.PRODUCTION, secret_key="s" * 40,
                        database_url=url, email_sender="log",
                        public_base_url="https://workforce.example.com")
    settings.validate()
    own = Database(url)
    try:
        yield create_app(settings, database=own, email_sender=MemorySender(),
                         configure_logging=False)
    finally:
        own.dispose()


def test_production_runs_without_debug_or_testing(production_app: Flask) -> None:
    app = production_app
    assert app.debug is False and app.testing is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert app.config["SECRET_KEY"] == "s" * 40


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/health", 200), ("GET", "/api/v1/me", 401),
    ("GET", "/api/v1/no-such-route", 404), ("DELETE", "/api/v1/health", 405),
    ("POST", "/api/v1/auth/login", 415),
])
def test_security_headers_on_every_answer(client: ApiClient, method, path, status) -> None:
    response = client.request(method, path, data="x" if method == "POST" else None,
                              headers={"Content-Type": "text/plain"} if method == "POST"
                              else None)
    assert response.status_code == status
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("Content-Security-Policy")
    assert "Server" not in response.headers or "Werkzeug" not in response.headers["Server"]


def test_retry_after_only_on_answers_that_ask_to_come_back(client: ApiClient) -> None:
    """Found end to end: every answer, 200s included, carried ``Retry-After`` (the rate
    limiter's); it belongs to 429 and 503 alone."""
    trainer = UserFactory()
    answers = [client.get("/api/v1/health"), client.get("/api/v1/me", as_user=trainer),
               client.get("/api/v1/me"), client.get(DOCS), client.get(OPENAPI)]
    for response in answers:
        assert response.status_code in (200, 401)
        assert "Retry-After" not in response.headers, (response.request.path, response.status)
    assert "X-RateLimit-Limit" in answers[0].headers  # the budget is still told
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"email": trainer.email, "password": "wrong!"})
    refused = client.post("/api/v1/auth/login",
                          json={"email": trainer.email, "password": "wrong!"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_the_docs_page_has_a_policy_that_lets_only_swagger_ui_run(client: ApiClient) -> None:
    """Found end to end: /api/v1/docs carried no Content-Security-Policy. Its own scripts
    and styles come from the service; the one inline script runs by its hash."""
    page = client.get(DOCS)
    policy = dict(part.strip().split(" ", 1)
                  for part in page.headers["Content-Security-Policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", page.get_data(as_text=True), re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["img-src"] == "'self' data:"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert "http" not in page.headers["Content-Security-Policy"]
    # Its assets and the document carry the API's policy, as every other answer.
    for path in ("/api/v1/docs/assets/swagger-ui-bundle.js", OPENAPI):
        assert client.get(path).headers["Content-Security-Policy"].startswith(
            "default-src 'none'")


def test_authenticated_answers_are_never_cached(client: ApiClient) -> None:
    response = client.get("/api/v1/me", as_user=UserFactory())
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_production_sends_hsts(production_app: Flask) -> None:
    app = production_app
    response = app.test_client().get("/api/v1/health")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_crash_is_a_problem_without_a_stack_trace(production_app: Flask) -> None:
    app = production_app

    def explode():
        secret = "internal detail 7731"
        raise RuntimeError(f"database password is hunter2 ({secret})")

    app.add_url_rule("/api/v1/explode", "explode", mark(explode, PUBLIC))
    response = app.test_client().get("/api/v1/explode")
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "hunter2" not in text and "7731" not in text
    assert body["detail"] and "RuntimeError" not in text
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value


def test_no_cookie_session_is_read_or_written(app: Flask, client: ApiClient) -> None:
    # Bearer tokens are the only credential: a cookie sent along is ignored and none is
    # ever set, so a cross-site request has nothing to ride on.
    response = client.get("/api/v1/health", headers={"Cookie": "session=forged.value"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    with app.test_request_context("/api/v1/health"):
        assert dict(session) == {}
        with pytest.raises(RuntimeError):
            session["user_id"] = "someone"
