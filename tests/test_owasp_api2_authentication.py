"""OWASP API2:2023, broken authentication: guessing passwords is throttled, and no
token or password ever reaches the logs."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import PASSWORD, UserFactory
from workforce.accounts.models import ApiToken

LOGIN = "/api/v1/auth/login"


def test_guessing_a_password_is_throttled_even_when_the_guess_is_right(
    client: ApiClient,
) -> None:
    trainer = UserFactory()
    for n in range(5):
        response = client.post(LOGIN, json={"email": trainer.email, "password": f"guess {n}!"})
        assert_problem(response, 401)
    refused = client.post(LOGIN, json={"email": trainer.email, "password": PASSWORD})
    assert_problem(refused, 429, code="rate-limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert "token" not in refused.get_json()


def test_spraying_one_password_over_many_accounts_is_throttled(client: ApiClient) -> None:
    emails = [UserFactory().email for _ in range(21)]
    answers = [client.post(LOGIN, json={"email": e, "password": "Winter2026!"}).status_code
               for e in emails]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_changing_the_password_needs_the_current_one(client: ApiClient) -> None:
    trainer = UserFactory()
    response = client.post("/api/v1/auth/password", as_user=trainer,
                           json={"current_password": "not it", "new_password": "N3w pass phrase!"})
    assert response.status_code in (401, 403, 422)
    assert client.post(LOGIN, json={"email": trainer.email, "password": PASSWORD}
                       ).status_code == 200


def test_tokens_are_stored_hashed(client: ApiClient, session: Session) -> None:
    trainer = UserFactory()
    token = client.post(LOGIN, json={"email": trainer.email, "password": PASSWORD}
                        ).get_json()["token"]
    stored = list(session.scalars(select(ApiToken).where(ApiToken.user_id == trainer.id)))
    assert stored
    for row in stored:
        values = " ".join(str(v) for v in vars(row).values())
        assert token not in values
    assert hashlib.sha256(token.encode()).hexdigest() in {row.token_hash for row in stored}


def _everything_logged(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.extend(str(value) for value in vars(record).values())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_no_token_or_password_is_ever_logged(
    client: ApiClient, caplog: pytest.LogCaptureFixture, mail
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Sekret-Passphrase-4417"
    signup = client.post("/api/v1/auth/signup", json={
        "email": "logs@example.org", "password": password, "display_name": "Logs",
        "country": "HK", "timezone": "Asia/Hong_Kong", "languages": ["yue-HK"]})
    assert signup.status_code == 201, signup.get_data(as_text=True)
    login = client.post(LOGIN, json={"email": "logs@example.org", "password": password})
    token = login.get_json()["token"]
    secrets = {password, token}
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    client.get("/api/v1/me/earnings/summary?token=" + token, headers=headers)
    client.post(LOGIN, json={"email": "logs@example.org", "password": password + "x"})
    client.post("/api/v1/auth/password-reset", json={"email": "logs@example.org"})
    for message in mail.sent:  # the reset link's token must not be logged either
        for word in str(message).split():
            if "token=" in word or len(word) > 30:
                secrets.add(word.split("token=")[-1].strip(".,<>\"'"))
    changed = client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": password, "new_password": "Another-Passphrase-9921"})
    assert changed.status_code in (200, 204)
    secrets.add("Another-Passphrase-9921")
    client.post("/api/v1/auth/logout", headers=headers)

    logged = _everything_logged(caplog.records)
    assert caplog.records, "the requests were logged"
    leaked = [s for s in secrets if len(s) >= 12 and s in logged]
    assert not leaked, f"secrets in the logs: {leaked}"
