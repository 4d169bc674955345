"""Login rate limits: failed attempts count per account and per client address.

Defaults (``Settings``): 5 failed logins per account and 20 per address in 15 minutes.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from werkzeug.test import TestResponse

from tests.client import ApiClient, assert_problem
from tests.factories import PASSWORD, StaffFactory, UserFactory, fresh_otp
from workforce.accounts.models import Role
from workforce.logs import JsonFormatter, TextFormatter
from workforce.notifications.senders import MemorySender
from workforce.settings import Settings

LOGIN = "/api/v1/auth/login"
WRONG = "not the right password"
PER_ACCOUNT = 5
PER_ADDRESS = 20


def address(ip: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def log_in(
    client: ApiClient, email: str, password: str = PASSWORD, ip: str = "10.0.0.1"
) -> TestResponse:
    return client.post(LOGIN, json={"email": email, "password": password}, **address(ip))


def assert_rate_limited(response: TestResponse) -> None:
    body = assert_problem(response, 429, code="rate-limited")
    assert "token" not in body
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None, dict(response.headers)
    assert int(retry_after) > 0
    assert int(retry_after) <= 15 * 60


def test_the_defaults_are_the_documented_ones(settings: Settings) -> None:
    assert settings.login_limit_per_account == f"{PER_ACCOUNT} per 15 minutes"
    assert settings.login_limit_per_address == f"{PER_ADDRESS} per 15 minutes"


def test_five_failures_lock_the_account(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for _ in range(PER_ACCOUNT):
        assert_problem(log_in(client, "mei@example.org", WRONG), 401, code="invalid-credentials")

    # Even the right password is refused now, and no token is handed out.
    assert_rate_limited(log_in(client, "mei@example.org"))
    assert_rate_limited(log_in(client, "mei@example.org", WRONG))


def test_the_account_limit_follows_the_address_not_its_spelling(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for spelling in ["mei@example.org", "MEI@example.org", " Mei@Example.Org", "mei@EXAMPLE.org",
                     "mei@example.org "]:
        assert_problem(log_in(client, spelling, WRONG), 401)
    assert_rate_limited(log_in(client, "mei@example.org"))


def test_the_account_limit_counts_across_addresses(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for n in range(PER_ACCOUNT):
        assert_problem(log_in(client, "mei@example.org", WRONG, ip=f"10.0.1.{n}"), 401)
    assert_rate_limited(log_in(client, "mei@example.org", ip="10.0.1.99"))


def test_the_lock_lifts_after_the_window(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(PER_ACCOUNT):
            assert_problem(log_in(client, "mei@example.org", WRONG), 401)
        assert_rate_limited(log_in(client, "mei@example.org"))
        traveller.shift(timedelta(minutes=16))
        assert log_in(client, "mei@example.org").status_code == 200


def test_successful_logins_do_not_count(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for _ in range(3 * PER_ACCOUNT):
        response = log_in(client, "mei@example.org")
        assert response.status_code == 200, response.get_data(as_text=True)
    # Nor do they use up the budget for mistakes.
    for _ in range(PER_ACCOUNT - 1):
        assert_problem(log_in(client, "mei@example.org", WRONG), 401)
    assert log_in(client, "mei@example.org").status_code == 200
    assert_problem(log_in(client, "mei@example.org", WRONG), 401)
    assert_rate_limited(log_in(client, "mei@example.org"))


def test_bad_requests_do_not_count(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for _ in range(2 * PER_ACCOUNT):
        response = client.post(LOGIN, json={"email": "mei@example.org"})
        assert_problem(response, 422)
    assert log_in(client, "mei@example.org").status_code == 200


def test_another_account_from_the_same_address_is_still_allowed(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    UserFactory(email="rui@example.org")
    for _ in range(PER_ACCOUNT):
        assert_problem(log_in(client, "mei@example.org", WRONG, ip="10.0.0.7"), 401)
    assert_rate_limited(log_in(client, "mei@example.org", ip="10.0.0.7"))

    assert_problem(log_in(client, "rui@example.org", WRONG, ip="10.0.0.7"), 401)
    assert log_in(client, "rui@example.org", ip="10.0.0.7").status_code == 200


@pytest.mark.slow
def test_the_address_limit_covers_many_accounts(client: ApiClient) -> None:
    UserFactory(email="mei@example.org")
    for n in range(PER_ADDRESS):
        # A handful of tries per address book entry: never enough to lock one account.
        response = log_in(client, f"guess{n % 7}-{n // 7}@example.org", WRONG, ip="10.0.0.7")
        assert_problem(response, 401, code="invalid-credentials")

    assert_rate_limited(log_in(client, "fresh@example.org", WRONG, ip="10.0.0.7"))
    assert_rate_limited(log_in(client, "mei@example.org", ip="10.0.0.7"))

    # Another address is not affected, and neither is the account itself.
    assert_problem(log_in(client, "fresh@example.org", WRONG, ip="10.0.0.8"), 401)
    assert log_in(client, "mei@example.org", ip="10.0.0.8").status_code == 200


def test_limited_requests_do_not_count_further(client: ApiClient) -> None:
    """Requests refused with 429 are not failed logins: the window does not keep growing."""
    UserFactory(email="mei@example.org")
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(PER_ACCOUNT):
            assert_problem(log_in(client, "mei@example.org", WRONG), 401)
        traveller.shift(timedelta(minutes=10))
        for _ in range(10):
            assert_rate_limited(log_in(client, "mei@example.org", WRONG))
        traveller.shift(timedelta(minutes=6))
        assert log_in(client, "mei@example.org").status_code == 200


def test_password_reset_requests_are_limited_per_address(
    client: ApiClient, mail: MemorySender
) -> None:
    UserFactory(email="mei@example.org")
    for n in range(PER_ADDRESS):
        response = client.post("/api/v1/auth/password-reset",
                               json={"email": f"someone{n}@example.org"}, **address("10.0.0.9"))
        assert response.status_code == 202
    response = client.post("/api/v1/auth/password-reset", json={"email": "mei@example.org"},
                           **address("10.0.0.9"))
    assert_rate_limited(response)
    assert mail.sent == []
    # Reset requests are a separate budget from logins.
    assert log_in(client, "mei@example.org", ip="10.0.0.9").status_code == 200


@pytest.mark.parametrize("ip", ["10.0.0.7", "2001:db8::7"])
def test_no_password_or_token_reaches_the_logs(
    client: ApiClient, mail: MemorySender, caplog: pytest.LogCaptureFixture, ip: str
) -> None:
    caplog.set_level(logging.INFO)
    secrets: list[str] = []
    signup_password = "first secret passphrase"
    new_password = "second secret passphrase"
    reset_password = "third secret passphrase"
    invitee_password = "fourth secret passphrase"
    secrets += [PASSWORD, WRONG, signup_password, new_password, reset_password, invitee_password]

    def post(path: str, body: dict[str, Any], token: str | None = None) -> TestResponse:
        return client.post(path, json=body, token=token, **address(ip))

    response = post("/api/v1/auth/signup", {
        "email": "ana@example.org", "password": signup_password, "display_name": "Ana",
        "country": "PT", "timezone": "Europe/Lisbon", "languages": ["pt-PT"]})
    assert response.status_code == 201
    for _ in range(PER_ACCOUNT):
        assert log_in(client, "ana@example.org", WRONG, ip=ip).status_code == 401
    assert_rate_limited(log_in(client, "ana@example.org", signup_password, ip=ip))

    admin = StaffFactory(role=Role.ADMIN, email="boss@example.org")
    code = fresh_otp(admin.id)
    secrets.append(code)
    response = post(LOGIN, {"email": admin.email, "password": PASSWORD, "otp": code})
    assert response.status_code == 200
    admin_token = response.get_json()["token"]
    secrets.append(admin_token)
    assert client.get("/api/v1/me", token=admin_token, **address(ip)).status_code == 200
    assert client.get("/api/v1/me", token=admin_token + "x", **address(ip)).status_code == 401
    assert post("/api/v1/auth/password", {"current_password": WRONG, "new_password": new_password},
                token=admin_token).status_code == 422
    assert post("/api/v1/auth/password", {"current_password": PASSWORD,
                                          "new_password": new_password},
                token=admin_token).status_code == 204

    assert post("/api/v1/invitations", {"email": "rui@example.org", "role": "reviewer"},
                token=admin_token).status_code == 201
    [invitation] = re.findall(r"wfi_[A-Za-z0-9_-]+", mail.sent[-1].body)
    secrets.append(invitation)
    assert post("/api/v1/auth/invitations/accept", {
        "token": invitation, "password": invitee_password, "display_name": "Rui"},
    ).status_code == 201

    assert post("/api/v1/auth/password-reset", {"email": admin.email}).status_code == 202
    [reset] = re.findall(r"wfr_[A-Za-z0-9_-]+", mail.sent[-1].body)
    secrets.append(reset)
    assert post("/api/v1/auth/password-reset/confirm",
                {"token": reset, "new_password": reset_password}).status_code == 204
    code = fresh_otp(admin.id)
    secrets.append(code)
    response = post(LOGIN, {"email": admin.email, "password": reset_password, "otp": code})
    assert response.status_code == 200
    second_token = response.get_json()["token"]
    secrets.append(second_token)
    assert post("/api/v1/auth/logout", {}, token=second_token).status_code == 204

    request_lines = [r for r in caplog.records if r.name == "workforce.request"]
    assert len(request_lines) >= 15  # the requests above were logged ...
    assert any(getattr(r, "user_id", None) == str(admin.id) for r in request_lines)
    formatted = [caplog.text]
    for formatter in (JsonFormatter(), TextFormatter()):
        formatted += [formatter.format(record) for record in caplog.records]
    everything = "\n".join(formatted)
    for secret in secrets:  # ... and none of them says anything secret
        assert secret not in everything, secret
    assert "wf_" not in everything and "wfi_" not in everything and "wfr_" not in everything
    assert "argon2" not in everything
