"""Accounts through the HTTP API: sign-up, login, tokens, passwords, invitations, profile."""

from __future__ import annotations

import json
import re
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import langcodes
import pycountry
import pytest
import time_machine
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.client import ApiClient, assert_problem
from tests.factories import PASSWORD, StaffFactory, UserFactory, fresh_otp, token_for
from workforce.accounts.models import (
    ApiToken,
    AuditEvent,
    Invitation,
    PasswordReset,
    Role,
    TotpFactor,
    User,
)
from workforce.app import create_app
from workforce.db import Database
from workforce.notifications.models import Notification, OutboundEmail
from workforce.notifications.senders import LogSender, MemorySender
from workforce.notifications.services import OUTBOX_KEY
from workforce.settings import Environment, Settings

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
PASSWORD_CHANGE = "/api/v1/auth/password"
RESET = "/api/v1/auth/password-reset"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm"
ACCEPT = "/api/v1/auth/invitations/accept"
INVITATIONS = "/api/v1/invitations"
ME = "/api/v1/me"

_MISSING = object()  # leaves a field out of the body
NEW_PASSWORD = "a brand new passphrase"
TWENTY_ONE_LANGUAGES = [
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "fi", "pl", "cs", "sk", "hu", "ro", "el",
    "tr", "ru", "uk", "ja", "ko",
]
RESET_TOKEN = re.compile(r"wfr_[A-Za-z0-9_-]+")
INVITATION_TOKEN = re.compile(r"wfi_[A-Za-z0-9_-]+")


def signup_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": f"trainer-{uuid.uuid4().hex[:12]}@example.org",
        "password": "a long enough password",
        "display_name": "Ana Lima",
        "country": "HK",
        "timezone": "Asia/Hong_Kong",
        "languages": ["yue-HK", "en-GB"],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not _MISSING}


def users_with_email(session: Session, email: str) -> list[User]:
    return list(session.scalars(select(User).where(User.email == email.strip().lower())))


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def row_counts(session: Session) -> dict[str, int]:
    models = (User, Notification, OutboundEmail, ApiToken, AuditEvent, Invitation, PasswordReset)
    return {model.__name__: count(session, model) for model in models}


def log_in(client: ApiClient, email: str, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    """Log in; a user with a second factor (finance and admin) sends a fresh code too."""
    body = {"email": email, "password": password}
    # (PostgreSQL cannot compare an address with a NUL in it: no such user.)
    user = None if "\x00" in email else client.session.scalars(
        select(User).where(User.email == email.lower())).one_or_none()
    if user is not None and client.session.scalar(
            select(TotpFactor.id).where(TotpFactor.user_id == user.id)) is not None:
        body["otp"] = fresh_otp(user.id)
    return client.post(LOGIN, json=body, **kwargs)


def login_token(client: ApiClient, email: str, password: str = PASSWORD) -> str:
    response = log_in(client, email, password)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["token"]


def assert_unauthenticated(response: TestResponse, code: str | None = None) -> dict:
    body = assert_problem(response, 401, code=code)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    return body


def tokens_in(mail: MemorySender, to: str, pattern: re.Pattern[str]) -> list[str]:
    return [token for email in mail.sent if email.to == to for token in pattern.findall(email.body)]


# --- sign-up --------------------------------------------------------------------------


def test_sign_up_creates_a_trainer(client: ApiClient, session: Session) -> None:
    body = signup_body(email="Ana.Lima@Example.ORG", languages=["yue-hk", "EN-gb"],
                       country="hk", timezone=" Asia/Hong_Kong ")
    response = client.post(SIGNUP, json=body)

    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    text = response.get_data(as_text=True)
    assert "password" not in data and "password_hash" not in data
    assert body["password"] not in text and "argon2" not in text
    assert data["email"] == "ana.lima@example.org"
    assert data["role"] == "trainer"
    assert data["organisation_id"] is None
    assert data["languages"] == ["yue-HK", "en-GB"]
    assert data["country"] == "HK"
    assert data["timezone"] == "Asia/Hong_Kong"
    assert data["is_active"] is True

    [user] = users_with_email(session, "ana.lima@example.org")
    assert str(user.id) == data["id"]
    assert user.role is Role.TRAINER
    assert user.languages == ["yue-HK", "en-GB"]
    assert user.password_hash != body["password"]
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == user.id)).all()
    assert kinds == ["account.welcome"]
    # The new account logs in with its (case-insensitive) address.
    assert log_in(client, "ANA.LIMA@example.org", body["password"]).status_code == 200


def test_sign_up_keeps_each_language_once(client: ApiClient) -> None:
    body = signup_body(languages=["en", "EN", "yue-hk", " en ", "yue-HK"])
    response = client.post(SIGNUP, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["languages"] == ["en", "yue-HK"]


@pytest.mark.parametrize("second", ["dup@example.org", "DUP@Example.Org", "  dup@example.org"])
def test_duplicate_email_is_a_conflict_and_writes_nothing(
    client: ApiClient, session: Session, second: str
) -> None:
    assert client.post(SIGNUP, json=signup_body(email="dup@example.org")).status_code == 201
    before = row_counts(session)

    response = client.post(SIGNUP, json=signup_body(email=second, display_name="Someone Else"))

    assert_problem(response, 409, code="email-taken")
    assert row_counts(session) == before
    [user] = users_with_email(session, "dup@example.org")
    assert user.display_name == "Ana Lima"


def test_signup_rejects_an_address_a_staff_member_has(client: ApiClient, session: Session) -> None:
    staff = StaffFactory(email="staff@example.org")
    before = row_counts(session)
    response = client.post(SIGNUP, json=signup_body(email="Staff@Example.org"))
    assert_problem(response, 409, code="email-taken")
    assert row_counts(session) == before
    session.refresh(staff)
    assert staff.role is Role.VENDOR_MANAGER


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"email": _MISSING}, {"email"}),
        ({"password": _MISSING}, {"password"}),
        ({"display_name": _MISSING, "country": _MISSING}, {"display_name", "country"}),
        ({"timezone": _MISSING, "languages": _MISSING}, {"timezone", "languages"}),
        ({"email": "not-an-address"}, {"email"}),
        ({"email": 42}, {"email"}),
        ({"password": ["a long enough password"]}, {"password"}),
        ({"display_name": ""}, {"display_name"}),
        ({"display_name": "x" * 101}, {"display_name"}),
        ({"display_name": {"first": "Ana"}}, {"display_name"}),
        ({"display_name": "   "}, {"display_name"}),
        ({"display_name": "Ana\x00Lima"}, {"display_name"}),
        ({"languages": "yue-HK"}, {"languages"}),
        ({"languages": [7]}, {"languages.0"}),
        ({"languages": ["en", "not a tag!"]}, {"languages.1"}),
        ({"languages": ["xx-yy-zz-qq-ww"]}, {"languages.0"}),
        ({"languages": TWENTY_ONE_LANGUAGES}, {"languages"}),
        ({"timezone": "Mars/Olympus_Mons"}, {"timezone"}),
        ({"timezone": "HKT"}, {"timezone"}),
        ({"timezone": None}, {"timezone"}),
        ({"country": "XX"}, {"country"}),
        ({"country": "HKG"}, {"country"}),
        ({"country": "Hong Kong"}, {"country"}),
        ({"country": None}, {"country"}),
        ({"password": "short"}, {"password"}),
        ({"password": " " * 12}, {"password"}),
        ({"password": "x" * 257}, {"password"}),
        ({"role": "admin"}, {"role"}),
        ({"organisation_id": str(uuid.uuid4())}, {"organisation_id"}),
        ({"is_active": False}, {"is_active"}),
    ],
)
def test_sign_up_names_each_bad_field(
    client: ApiClient, session: Session, changes: dict[str, Any], fields: set[str]
) -> None:
    body = signup_body(**changes)
    email = body.get("email") if isinstance(body.get("email"), str) else None
    before = row_counts(session)

    response = client.post(SIGNUP, json=body)

    problem = assert_problem(response, 422, code="validation-error")
    assert set(problem["errors"]) == fields, problem
    for name in fields:
        assert name in problem["detail"]
    assert row_counts(session) == before
    if email:
        assert users_with_email(session, email) == []
    # Mass assignment never makes anybody an admin (or staff at all).
    assert session.scalars(select(User).where(User.role != Role.TRAINER)).all() == []


def test_password_equal_to_the_email_is_rejected(client: ApiClient, session: Session) -> None:
    email = "long.address@example.org"
    response = client.post(SIGNUP, json=signup_body(email=email, password=email.upper()))
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"password"}
    assert users_with_email(session, email) == []


@pytest.mark.parametrize("payload", [[], "a string", 42, None])
def test_sign_up_body_must_be_an_object(client: ApiClient, session: Session, payload: Any) -> None:
    before = row_counts(session)
    response = client.post(SIGNUP, data=json.dumps(payload), content_type="application/json")
    problem = assert_problem(response, 422, code="validation-error")
    assert set(problem["errors"]) == {"_schema"}
    assert row_counts(session) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_sign_up_with_a_body_that_is_not_json(
    client: ApiClient, session: Session, content_type: str
) -> None:
    before = row_counts(session)
    response = client.post(SIGNUP, data=json.dumps(signup_body()), content_type=content_type)
    assert_problem(response, 415, code="unsupported-media-type")
    assert row_counts(session) == before


def test_sign_up_without_a_body(client: ApiClient, session: Session) -> None:
    before = row_counts(session)
    response = client.post(SIGNUP)
    problem = assert_problem(response, 422, code="validation-error")
    assert set(problem["errors"]) == {
        "email", "password", "display_name", "country", "timezone", "languages"}
    assert row_counts(session) == before


@pytest.mark.parametrize("raw", ["{not json", '{"email": "a@example.org",}', "\x00\x01"])
def test_malformed_json_is_a_400(client: ApiClient, session: Session, raw: str) -> None:
    before = row_counts(session)
    response = client.post(SIGNUP, data=raw, content_type="application/json")
    assert_problem(response, 400, code="malformed-json")
    assert row_counts(session) == before


def _mostly(valid: st.SearchStrategy, garbage: st.SearchStrategy) -> st.SearchStrategy:
    """Valid three times in four, so that accepted sign-ups are common too."""
    return st.integers(0, 3).flatmap(lambda n: garbage if n == 0 else valid)


_COUNTRIES = _mostly(
    st.sampled_from(["HK", "hk", " gb ", "Us", "pt", "AQ", "hK\n"]),
    st.one_of(st.sampled_from(["XX", "UK", "EU", "ZZ", "HKG", "", "  ", None, 12, ["HK"]]),
              st.text(max_size=5)),
)
_TIMEZONES = _mostly(
    st.sampled_from([
        "Asia/Hong_Kong", "UTC", " Europe/London ", "Etc/GMT+5", "America/Argentina/Buenos_Aires",
    ]),
    st.one_of(st.sampled_from(["asia/hong_kong", "HKT", "../../etc/passwd", "Asia/Hong_Kong\x00",
                               "", None, [], 3.5]),
              st.text(max_size=30)),
)
_VALID_TAGS = st.sampled_from([
    "yue-hk", "EN-gb", "zh-hant-hk", "i-klingon", "en-US-x-twain", "sgn-BE-FR", "und", "zh-cmn",
    "art-lojban", "x-private", "qaa", "en-GB-oed", "iw", "sr-Latn-RS", "de-DE-1901", "EN", "en",
    "en-a-bbb-x-a-ccc", "ja-Latn-hepburn-heploc", " fr ", "no-bok", "zh-min-nan", "mo",
])
_TAGS = _mostly(
    st.one_of(_VALID_TAGS,
              st.from_regex(r"[A-Za-z]{1,9}(-[A-Za-z0-9]{1,9}){0,4}", fullmatch=True)),
    st.one_of(
        st.sampled_from(["en--us", "", "-", "en-", "a", "12", "en_US", "\u0000", "en-GB-\u00e9"]),
        st.text(max_size=15), st.integers(), st.none(),
    ),
)
_LANGUAGES = _mostly(
    st.lists(_TAGS, max_size=4),
    st.one_of(st.text(max_size=5), st.none(), st.lists(st.text(), min_size=21, max_size=22)),
)


@pytest.mark.slow
@settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(country=_COUNTRIES, timezone=_TIMEZONES, languages=_LANGUAGES)
def test_garbage_profile_values_never_fail_the_server(
    client: ApiClient, session: Session, country: Any, timezone: Any, languages: Any
) -> None:
    body = signup_body(country=country, timezone=timezone, languages=languages)
    response = client.post(SIGNUP, json=body)

    assert response.status_code in (201, 422), response.get_data(as_text=True)
    event(f"status {response.status_code}")
    users = users_with_email(session, body["email"])
    if response.status_code == 422:
        problem = assert_problem(response, 422, code="validation-error")
        assert problem["errors"]
        assert {name.split(".")[0] for name in problem["errors"]} <= {
            "country", "timezone", "languages"
        }
        assert users == []
        return
    data = response.get_json()
    [user] = users
    for values in (data, {"country": user.country, "timezone": user.timezone,
                          "languages": user.languages}):
        assert pycountry.countries.get(alpha_2=values["country"]) is not None
        assert values["country"] == values["country"].strip().upper()
        assert values["timezone"] in zoneinfo.available_timezones()
        assert isinstance(values["languages"], list)
        for tag in values["languages"]:
            assert langcodes.tag_is_valid(tag), tag
            assert langcodes.standardize_tag(tag) == tag, tag
        assert len(set(values["languages"])) == len(values["languages"]), values["languages"]


# --- login ----------------------------------------------------------------------------


def test_login_returns_a_token_and_the_user(client: ApiClient) -> None:
    user = UserFactory(email="mei@example.org")
    before = datetime.now(UTC)

    response = log_in(client, "Mei@Example.org")

    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["token"].startswith("wf_")
    assert data["token_id"]
    assert data["user"]["id"] == str(user.id)
    assert data["user"]["email"] == "mei@example.org"
    assert "password" not in data["user"] and "password_hash" not in data["user"]
    expires = datetime.fromisoformat(data["expires_at"])
    assert before + timedelta(hours=12) <= expires <= datetime.now(UTC) + timedelta(hours=12)
    assert client.get(ME, token=data["token"]).get_json()["id"] == str(user.id)


def test_wrong_password_and_unknown_email_look_the_same(
    client: ApiClient, session: Session
) -> None:
    UserFactory(email="mei@example.org")
    wrong_password = assert_unauthenticated(
        log_in(client, "mei@example.org", "not the password"), code="invalid-credentials"
    )
    unknown = assert_unauthenticated(
        log_in(client, "nobody@example.org", PASSWORD), code="invalid-credentials"
    )
    assert wrong_password["detail"] == unknown["detail"]
    assert wrong_password["title"] == unknown["title"]
    assert count(session, ApiToken) == 0


def test_login_needs_both_fields(client: ApiClient) -> None:
    response = client.post(LOGIN, json={"email": "mei@example.org"})
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"password"}
    response = client.post(LOGIN, json={"email": 1, "password": 2, "remember": True})
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"email", "password", "remember"}


@pytest.mark.parametrize("email", ["mei\x00@example.org", "\x00"])
def test_login_with_a_nul_character_is_refused_cleanly(client: ApiClient, email: str) -> None:
    UserFactory(email="mei@example.org")
    problem = assert_problem(log_in(client, email), 422)
    assert set(problem["errors"]) == {"email"}


def test_deactivated_user_cannot_log_in(client: ApiClient, session: Session) -> None:
    UserFactory(email="gone@example.org", is_active=False)
    assert_unauthenticated(log_in(client, "gone@example.org"))
    assert count(session, ApiToken) == 0


# --- using tokens ---------------------------------------------------------------------


def test_token_authenticates_me(client: ApiClient) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    response = client.get(ME, token=token)
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wf_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic xyz"},
        {"Authorization": "Basic " + "bWVpOmNvcnJlY3QgaG9yc2U="},
        {"Authorization": "wf_bare-token"},
    ],
)
def test_missing_or_bad_tokens_are_401(client: ApiClient, headers: dict[str, str]) -> None:
    UserFactory()
    assert_unauthenticated(client.get(ME, headers=headers))


def test_a_real_token_sent_the_wrong_way_is_401(client: ApiClient) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    # The right token under another scheme is still not accepted.
    assert_unauthenticated(client.get(ME, headers={"Authorization": f"Basic {token}"}))
    assert_unauthenticated(client.get(ME, token=token[:-1]))


def test_token_expires_after_its_lifetime(client: ApiClient) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=11), tick=False):
        assert client.get(ME, token=token).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=13), tick=False):
        assert_unauthenticated(client.get(ME, token=token), code="invalid-token")


def test_deactivation_stops_existing_tokens(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    user.is_active = False
    session.commit()
    assert_unauthenticated(client.get(ME, token=token))


def test_logout_revokes_only_that_token(client: ApiClient) -> None:
    user = UserFactory()
    first = login_token(client, user.email)
    second = login_token(client, user.email)

    assert client.post(LOGOUT, token=first).status_code == 204

    assert_unauthenticated(client.get(ME, token=first), code="invalid-token")
    assert client.get(ME, token=second).status_code == 200
    assert_unauthenticated(client.post(LOGOUT, token=first))


def test_logout_all_revokes_every_token(client: ApiClient) -> None:
    user = UserFactory()
    other = UserFactory()
    tokens = [login_token(client, user.email) for _ in range(3)]
    other_token = login_token(client, other.email)

    assert client.post(LOGOUT_ALL, token=tokens[0]).status_code == 204

    for token in tokens:
        assert_unauthenticated(client.get(ME, token=token))
    assert client.get(ME, token=other_token).status_code == 200
    # Logging in again works.
    assert client.get(ME, token=login_token(client, user.email)).status_code == 200


def test_logout_needs_a_token(client: ApiClient) -> None:
    assert_unauthenticated(client.post(LOGOUT))
    assert_unauthenticated(client.post(LOGOUT_ALL))


# --- changing the password ------------------------------------------------------------


def test_password_change_with_a_wrong_current_password(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    old_hash = user.password_hash

    response = client.post(PASSWORD_CHANGE, token=token, json={
        "current_password": "not my password", "new_password": NEW_PASSWORD})

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"current_password"}
    session.refresh(user)
    assert user.password_hash == old_hash
    assert log_in(client, user.email).status_code == 200


def test_password_change_checks_the_new_password(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    token = login_token(client, user.email)
    response = client.post(PASSWORD_CHANGE, token=token, json={
        "current_password": PASSWORD, "new_password": "short"})
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"new_password"}
    assert log_in(client, user.email).status_code == 200
    assert session.scalars(select(Notification).where(
        Notification.kind == "account.password_changed")).all() == []


def test_password_change_requires_authentication(client: ApiClient) -> None:
    assert_unauthenticated(client.post(PASSWORD_CHANGE, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}))


def test_password_change(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    current = login_token(client, user.email)
    others = [login_token(client, user.email), token_for(user)]

    response = client.post(PASSWORD_CHANGE, token=current, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.get_data(as_text=True)
    assert_unauthenticated(log_in(client, user.email, PASSWORD), code="invalid-credentials")
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200
    for token in others:
        assert_unauthenticated(client.get(ME, token=token))
    assert client.get(ME, token=current).status_code == 200
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == user.id)).all()
    assert "account.password_changed" in kinds


# --- resetting a forgotten password ---------------------------------------------------


def test_reset_request_answers_the_same_for_unknown_addresses(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    UserFactory(email="mei@example.org")

    known = client.post(RESET, json={"email": "Mei@Example.org"})
    unknown = client.post(RESET, json={"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert [email.to for email in mail.sent] == ["mei@example.org"]
    assert len(RESET_TOKEN.findall(mail.sent[0].body)) == 1
    assert "wfr_" not in known.get_data(as_text=True)
    assert count(session, PasswordReset) == 1


def test_reset_request_for_a_deactivated_account_sends_nothing(
    client: ApiClient, mail: MemorySender
) -> None:
    UserFactory(email="gone@example.org", is_active=False)
    assert client.post(RESET, json={"email": "gone@example.org"}).status_code == 202
    assert mail.sent == []


def test_reset_request_validates_the_address(client: ApiClient, mail: MemorySender) -> None:
    problem = assert_problem(client.post(RESET, json={"email": "nope"}), 422)
    assert set(problem["errors"]) == {"email"}
    assert mail.sent == []


def test_password_reset_flow(client: ApiClient, mail: MemorySender, session: Session) -> None:
    user = UserFactory(email="mei@example.org")
    old_tokens = [login_token(client, user.email), token_for(user)]
    assert client.post(RESET, json={"email": "mei@example.org"}).status_code == 202
    [reset_token] = tokens_in(mail, "mei@example.org", RESET_TOKEN)

    response = client.post(RESET_CONFIRM, json={"token": reset_token, "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.get_data(as_text=True)
    for token in old_tokens:
        assert_unauthenticated(client.get(ME, token=token))
    assert_unauthenticated(log_in(client, user.email, PASSWORD))
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == user.id)).all()
    assert "account.password_changed" in kinds

    # The token works once.
    again = client.post(RESET_CONFIRM, json={"token": reset_token,
                                              "new_password": "yet another one!"})
    problem = assert_problem(again, 422)
    assert set(problem["errors"]) == {"token"}
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200


def test_a_reset_ends_every_other_open_reset_link(client: ApiClient, mail: MemorySender) -> None:
    user = UserFactory(email="mei@example.org")
    for _ in range(2):
        assert client.post(RESET, json={"email": user.email}).status_code == 202
    first, second = tokens_in(mail, user.email, RESET_TOKEN)

    ok = client.post(RESET_CONFIRM, json={"token": second, "new_password": NEW_PASSWORD})
    assert ok.status_code == 204

    # The older link, sitting in the same mailbox, no longer changes the password.
    stale = client.post(RESET_CONFIRM, json={"token": first, "new_password": "an attacker's pick"})
    problem = assert_problem(stale, 422)
    assert set(problem["errors"]) == {"token"}
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200


def test_a_password_change_ends_open_reset_links(client: ApiClient, mail: MemorySender) -> None:
    user = UserFactory(email="mei@example.org")
    client.post(RESET, json={"email": user.email})
    [reset_token] = tokens_in(mail, user.email, RESET_TOKEN)
    token = login_token(client, user.email)
    assert client.post(PASSWORD_CHANGE, token=token, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204

    stale = client.post(RESET_CONFIRM, json={"token": reset_token,
                                             "new_password": "an attacker's pick"})
    assert_problem(stale, 422)
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200


def test_reset_with_a_weak_password_keeps_the_token(client: ApiClient, mail: MemorySender) -> None:
    user = UserFactory(email="mei@example.org")
    client.post(RESET, json={"email": user.email})
    [reset_token] = tokens_in(mail, user.email, RESET_TOKEN)

    problem = assert_problem(
        client.post(RESET_CONFIRM, json={"token": reset_token, "new_password": "short"}), 422)
    assert set(problem["errors"]) == {"new_password"}
    # Nothing was used up by the failed attempt.
    response = client.post(RESET_CONFIRM, json={"token": reset_token, "new_password": NEW_PASSWORD})
    assert response.status_code == 204


@pytest.mark.parametrize("token", ["wfr_unknown", "wf_" + "x" * 43, "x"])
def test_unknown_reset_tokens_are_rejected(client: ApiClient, token: str) -> None:
    problem = assert_problem(
        client.post(RESET_CONFIRM, json={"token": token, "new_password": NEW_PASSWORD}), 422)
    assert set(problem["errors"]) == {"token"}


def test_api_token_is_not_a_reset_token(client: ApiClient) -> None:
    user = UserFactory()
    api_token = login_token(client, user.email)
    problem = assert_problem(
        client.post(RESET_CONFIRM, json={"token": api_token, "new_password": NEW_PASSWORD}), 422)
    assert set(problem["errors"]) == {"token"}
    assert log_in(client, user.email).status_code == 200


def test_reset_token_expires_after_an_hour(client: ApiClient, mail: MemorySender) -> None:
    user = UserFactory(email="mei@example.org")
    client.post(RESET, json={"email": user.email})
    [reset_token] = tokens_in(mail, user.email, RESET_TOKEN)

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1, minutes=1), tick=False):
        response = client.post(RESET_CONFIRM, json={"token": reset_token,
                                                    "new_password": NEW_PASSWORD})
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"token"}
    assert log_in(client, user.email).status_code == 200


# --- invitations ----------------------------------------------------------------------


def invite(client: ApiClient, admin: User, email: str, role: str = "reviewer") -> TestResponse:
    return client.post(INVITATIONS, as_user=admin, json={"email": email, "role": role})


def accept_body(token: str, **changes: Any) -> dict[str, Any]:
    body = {"token": token, "password": NEW_PASSWORD, "display_name": "Rui Reviewer",
            "timezone": "Europe/Lisbon", "languages": ["pt-pt", "en"]}
    body.update(changes)
    return body


def test_invitation_round_trip(client: ApiClient, mail: MemorySender, session: Session) -> None:
    admin = StaffFactory(role=Role.ADMIN)

    response = invite(client, admin, "Rui@Example.org")

    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert "token" not in data and "token_hash" not in data
    assert "wfi_" not in response.get_data(as_text=True)
    assert data["email"] == "rui@example.org"
    assert data["role"] == "reviewer"
    assert data["status"] == "pending"
    assert [email.to for email in mail.sent] == ["rui@example.org"]
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    created = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "invitation.created", AuditEvent.object_id == data["id"])).all()
    assert len(created) == 1
    assert created[0].actor_id == admin.id
    assert created[0].organisation_id == admin.organisation_id

    accepted = client.post(ACCEPT, json=accept_body(token))

    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    user_data = accepted.get_json()
    assert "password" not in user_data and "password_hash" not in user_data
    assert user_data["email"] == "rui@example.org"
    assert user_data["role"] == "reviewer"
    assert user_data["organisation_id"] == str(admin.organisation_id)
    assert user_data["languages"] == ["pt-PT", "en"]
    [user] = users_with_email(session, "rui@example.org")
    assert user.role is Role.REVIEWER
    assert user.organisation_id == admin.organisation_id
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "invitation.accepted", AuditEvent.object_id == str(user.id),
        AuditEvent.organisation_id == admin.organisation_id)).one()
    assert session.scalars(select(Notification).where(
        Notification.user_id == admin.id, Notification.kind == "invitation.accepted")).one()
    assert log_in(client, "rui@example.org", NEW_PASSWORD).status_code == 200

    # The invitation is used up.
    before = row_counts(session)
    again = client.post(ACCEPT, json=accept_body(token, password="another password!"))
    problem = assert_problem(again, 422)
    assert set(problem["errors"]) == {"token"}
    assert row_counts(session) == before

    listed = client.get(INVITATIONS, as_user=admin).get_json()["items"]
    assert [(item["id"], item["status"]) for item in listed] == [(data["id"], "accepted")]


def test_invitation_accept_validates_its_fields(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invite(client, admin, "rui@example.org")
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)

    response = client.post(ACCEPT, json=accept_body(
        token, timezone="Nowhere/Land", languages=["??"], role="admin", email="x@example.org"))

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"timezone", "languages.0", "role", "email"}
    problem = assert_problem(client.post(ACCEPT, json=accept_body(token, password="short")), 422)
    assert set(problem["errors"]) == {"password"}
    assert users_with_email(session, "rui@example.org") == []
    assert users_with_email(session, "x@example.org") == []
    # The invitation still works.
    assert client.post(ACCEPT, json=accept_body(token)).status_code == 201


@pytest.mark.parametrize("role", ["trainer", "superuser", "", None])
def test_only_staff_roles_are_invited(
    client: ApiClient, mail: MemorySender, session: Session, role: Any
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    response = invite(client, admin, "someone@example.org", role=role)
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == {"role"}
    assert count(session, Invitation) == 0
    assert mail.sent == []


def test_inviting_an_existing_account_is_a_conflict(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    UserFactory(email="taken@example.org")
    assert_problem(invite(client, admin, "Taken@Example.org"), 409, code="email-taken")
    assert count(session, Invitation) == 0
    assert mail.sent == []


def test_reinvitation_revokes_the_open_one(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    first = invite(client, admin, "rui@example.org").get_json()
    second = invite(client, admin, "rui@example.org", role="finance").get_json()
    first_token, second_token = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    assert first_token != second_token

    problem = assert_problem(client.post(ACCEPT, json=accept_body(first_token)), 422)
    assert set(problem["errors"]) == {"token"}

    statuses = {item["id"]: item["status"]
                for item in client.get(INVITATIONS, as_user=admin).get_json()["items"]}
    assert statuses == {first["id"]: "revoked", second["id"]: "pending"}

    accepted = client.post(ACCEPT, json=accept_body(second_token))
    assert accepted.status_code == 201
    assert accepted.get_json()["role"] == "finance"


def test_revoked_invitation_cannot_be_accepted(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invitation = invite(client, admin, "rui@example.org").get_json()
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)

    response = client.delete(f"{INVITATIONS}/{invitation['id']}", as_user=admin)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "revoked"
    assert_problem(client.post(ACCEPT, json=accept_body(token)), 422)
    assert users_with_email(session, "rui@example.org") == []
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "invitation.revoked",
        AuditEvent.object_id == invitation["id"])).one()


def test_reinviting_after_a_revocation(client: ApiClient, mail: MemorySender) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    first = invite(client, admin, "rui@example.org").get_json()
    client.delete(f"{INVITATIONS}/{first['id']}", as_user=admin)
    assert invite(client, admin, "rui@example.org").status_code == 201
    _, token = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    assert client.post(ACCEPT, json=accept_body(token)).status_code == 201


def test_accepting_after_the_address_signed_up_is_a_conflict(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invite(client, admin, "rui@example.org")
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    assert client.post(SIGNUP, json=signup_body(email="rui@example.org")).status_code == 201

    assert_problem(client.post(ACCEPT, json=accept_body(token)), 409, code="email-taken")
    [user] = users_with_email(session, "rui@example.org")
    assert user.role is Role.TRAINER and user.organisation_id is None


def test_admin_of_another_organisation_cannot_see_or_revoke(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    stranger = StaffFactory(role=Role.ADMIN)
    assert stranger.organisation_id != admin.organisation_id
    invitation = invite(client, admin, "rui@example.org").get_json()
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)

    assert_problem(client.delete(f"{INVITATIONS}/{invitation['id']}", as_user=stranger), 404)
    assert_problem(client.delete(f"{INVITATIONS}/{uuid.uuid4()}", as_user=admin), 404)
    assert client.get(INVITATIONS, as_user=stranger).get_json()["items"] == []

    # Still open for the invitee.
    accepted = client.post(ACCEPT, json=accept_body(token))
    assert accepted.status_code == 201
    assert accepted.get_json()["organisation_id"] == str(admin.organisation_id)


def test_accepted_invitation_cannot_be_revoked(client: ApiClient, mail: MemorySender) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invitation = invite(client, admin, "rui@example.org").get_json()
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    assert client.post(ACCEPT, json=accept_body(token)).status_code == 201
    assert_problem(client.delete(f"{INVITATIONS}/{invitation['id']}", as_user=admin), 409)


def test_list_invitations_shows_status(client: ApiClient, mail: MemorySender) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    pending = invite(client, admin, "a@example.org").get_json()
    revoked = invite(client, admin, "b@example.org").get_json()
    client.delete(f"{INVITATIONS}/{revoked['id']}", as_user=admin)

    response = client.get(INVITATIONS, as_user=admin)

    assert response.status_code == 200
    page = response.get_json()
    assert page["next_cursor"] is None
    statuses = {item["email"]: item["status"] for item in page["items"]}
    assert statuses == {"a@example.org": "pending", "b@example.org": "revoked"}
    assert all("token" not in item and "token_hash" not in item for item in page["items"])
    assert pending["id"] in {item["id"] for item in page["items"]}
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=False):
        # Expired invitations say so (the admin's test token has long expired: log in).
        token = login_token(client, admin.email)
        items = client.get(INVITATIONS, token=token).get_json()["items"]
    assert {item["email"]: item["status"] for item in items} == {
        "a@example.org": "expired", "b@example.org": "revoked"}


def test_expired_invitation_cannot_be_accepted(client: ApiClient, mail: MemorySender) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invite(client, admin, "rui@example.org")
    [token] = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1), tick=False):
        assert_problem(client.post(ACCEPT, json=accept_body(token)), 422)


@pytest.mark.parametrize("role", [Role.VENDOR_MANAGER, Role.REVIEWER, Role.FINANCE, Role.TRAINER])
def test_only_admins_invite(client: ApiClient, mail: MemorySender, role: Role) -> None:
    user = UserFactory(role=role) if role is Role.TRAINER else StaffFactory(role=role)
    assert_problem(invite(client, user, "rui@example.org"), 403)
    assert_problem(client.get(INVITATIONS, as_user=user), 403)
    assert mail.sent == []


def test_invitations_need_a_token(client: ApiClient) -> None:
    assert_unauthenticated(client.post(INVITATIONS, json={"email": "a@example.org",
                                                          "role": "reviewer"}))


# --- the caller's profile -------------------------------------------------------------


def test_update_my_profile(client: ApiClient, session: Session) -> None:
    user = UserFactory(display_name="Mei", timezone="Asia/Hong_Kong")

    response = client.patch(ME, as_user=user, json={
        "display_name": "Mei Chan", "timezone": "Europe/London", "languages": ["en-gb", "yue-hk"],
        "country": "gb"})

    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["display_name"] == "Mei Chan"
    assert data["timezone"] == "Europe/London"
    assert data["languages"] == ["en-GB", "yue-HK"]
    assert data["country"] == "GB"
    session.refresh(user)
    assert (user.display_name, user.timezone, user.languages, user.country) == (
        "Mei Chan", "Europe/London", ["en-GB", "yue-HK"], "GB")
    assert client.get(ME, as_user=user).get_json()["timezone"] == "Europe/London"


def test_profile_display_name_is_trimmed(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    response = client.patch(ME, as_user=user, json={"display_name": "  Mei Chan \n"})
    assert response.status_code == 200
    assert response.get_json()["display_name"] == "Mei Chan"


def test_partial_profile_update_changes_only_what_is_sent(
    client: ApiClient, session: Session
) -> None:
    user = UserFactory(display_name="Mei", timezone="Asia/Hong_Kong")
    response = client.patch(ME, as_user=user, json={"display_name": "Mei C."})
    assert response.status_code == 200
    session.refresh(user)
    assert (user.display_name, user.timezone, user.languages) == (
        "Mei C.", "Asia/Hong_Kong", ["yue-HK", "en-GB"])


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"timezone": "Asia/Atlantis"}, {"timezone"}),
        ({"timezone": None}, {"timezone"}),
        ({"languages": ["en", "klingon!"]}, {"languages.1"}),
        ({"country": "ZZ"}, {"country"}),
        ({"display_name": ""}, {"display_name"}),
        ({"display_name": " \t "}, {"display_name"}),
        ({"display_name": "Mei\x00"}, {"display_name"}),
        ({"role": "admin"}, {"role"}),
        ({"email": "new@example.org"}, {"email"}),
        ({"is_active": False, "organisation_id": None}, {"is_active", "organisation_id"}),
        ({"id": str(uuid.uuid4())}, {"id"}),
        ({"display_name": "Ok name", "role": "admin"}, {"role"}),
        ({"timezone": "Europe/London", "email": "new@example.org"}, {"email"}),
    ],
)
def test_bad_profile_updates_change_nothing(
    client: ApiClient, session: Session, changes: dict[str, Any], fields: set[str]
) -> None:
    user = UserFactory(email="mei@example.org", display_name="Mei", timezone="Asia/Hong_Kong")
    token = token_for(user)
    snapshot = (user.email, user.role, user.display_name, user.timezone, list(user.languages),
                user.country, user.is_active, user.organisation_id)

    response = client.patch(ME, token=token, json=changes)

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == fields
    session.refresh(user)
    assert (user.email, user.role, user.display_name, user.timezone, list(user.languages),
            user.country, user.is_active, user.organisation_id) == snapshot


def test_profile_update_needs_a_token(client: ApiClient) -> None:
    assert_unauthenticated(client.patch(ME, json={"display_name": "x"}))



def test_a_weak_password_is_reported_with_every_other_bad_field(
    client: ApiClient, session: Session
) -> None:
    before = row_counts(session)
    body = signup_body(password="short", country="ZZ", timezone="Mars/Olympus")
    problem = assert_problem(client.post(SIGNUP, json=body), 422, code="validation-error")
    assert set(problem["errors"]) == {"password", "country", "timezone"}
    assert any("at least" in message for message in problem["errors"]["password"])
    assert row_counts(session) == before


# --- look-alike addresses ---------------------------------------------------------------


@pytest.mark.parametrize("look_alike", [
    "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in "mei@example.org"),  # fullwidth
    "MEI@EXAMPLE.ORG",
    " Mei@Example.org ",
])
def test_an_address_spelt_with_other_code_points_is_the_same_account(
    client: ApiClient, session: Session, look_alike: str
) -> None:
    """Found end to end: fullwidth letters and ligatures signed up as new accounts."""
    assert client.post(SIGNUP, json=signup_body(email="mei@example.org")).status_code == 201
    before = row_counts(session)
    response = client.post(SIGNUP, json=signup_body(email=look_alike))
    assert_problem(response, 409, code="email-taken")
    assert row_counts(session) == before
    assert log_in(client, look_alike, signup_body()["password"]).status_code == 200


def test_a_ligature_is_read_as_its_letters(client: ApiClient, session: Session) -> None:
    response = client.post(SIGNUP, json=signup_body(email="o\ufb03ce@example.org"))  # ﬃ
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["email"] == "office@example.org"
    assert_problem(client.post(SIGNUP, json=signup_body(email="office@example.org")), 409,
                   code="email-taken")
    assert_problem(client.post(SIGNUP, json=signup_body(email="OFFICE@example.org")), 409,
                   code="email-taken")


@pytest.mark.parametrize(("address", "says"), [
    ("m\u0435i@example.org", "CYRILLIC SMALL LETTER IE"),  # Latin with a Cyrillic e
    ("mei@\u0435x\u0430mple.org", "mixes Cyrillic and Latin"),  # in the domain
    ("\u0440\u0430\u0443@example.org", "read as 'pay'"),  # wholly Cyrillic look-alikes
    ("mei@xn--80ak6aa92e.com", "read as 'appie'"),  # the same, spelt as IDNA
    ("m\u0251ry@example.org", "looks like 'a'"),  # LATIN SMALL LETTER ALPHA
    ("m\u200dei@example.org", "unsafe characters"),  # a zero-width joiner
])
def test_an_address_that_could_pass_for_another_is_refused(
    client: ApiClient, session: Session, mail: MemorySender, address: str, says: str
) -> None:
    assert client.post(SIGNUP, json=signup_body(email="mei@example.org")).status_code == 201
    before = row_counts(session)

    response = client.post(SIGNUP, json=signup_body(email=address))

    problem = assert_problem(response, 422, code="validation-error")
    assert list(problem["errors"]) == ["email"]
    assert says in problem["errors"]["email"][0], problem
    assert row_counts(session) == before
    admin = StaffFactory(role=Role.ADMIN)
    invited = assert_problem(invite(client, admin, address), 422, code="validation-error")
    assert says in invited["errors"]["email"][0]
    # Only the first sign-up's verification e-mail.
    assert [m.to for m in mail.sent] == ["mei@example.org"]


@pytest.mark.parametrize("address", [
    "\u043c\u0430\u0440\u0438\u044f@example.org",  # Cyrillic, not all look-alikes
    "\u9673\u5927\u6587@example.org",  # Han
    "jos\u00e9@b\u00fccher.de",  # Latin letters with accents
])
def test_addresses_in_one_script_that_pass_for_no_other_are_welcome(
    client: ApiClient, address: str
) -> None:
    response = client.post(SIGNUP, json=signup_body(email=address))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert log_in(client, address, signup_body()["password"]).status_code == 200


def test_an_idna_domain_is_one_address_in_either_spelling(client: ApiClient) -> None:
    response = client.post(SIGNUP, json=signup_body(email="mei@xn--bcher-kva.de"))
    assert response.status_code == 201
    assert response.get_json()["email"] == "mei@b\u00fccher.de"
    assert_problem(client.post(SIGNUP, json=signup_body(email="Mei@B\u00dcCHER.de")), 409,
                   code="email-taken")
    assert log_in(client, "mei@xn--bcher-kva.de", signup_body()["password"]).status_code == 200


# --- language tags ------------------------------------------------------------------------


def test_a_language_tag_with_underscores_is_refused_with_the_tag_it_meant(
    client: ApiClient, session: Session
) -> None:
    """Found end to end: ``yue_HK`` was stored as ``yue-HK`` (langcodes reads POSIX
    locales); BCP 47 has hyphens, and the caller is told which tag they meant."""
    response = client.post(SIGNUP, json=signup_body(languages=["en", "yue_HK"]))
    problem = assert_problem(response, 422, code="validation-error")
    assert list(problem["errors"]) == ["languages.1"]
    assert "'yue-HK'" in problem["errors"]["languages.1"][0]
    assert users_with_email(session, signup_body()["email"]) == []

    trainer = UserFactory(languages=["en"])
    response = client.patch(ME, as_user=trainer, json={"languages": ["zh_Hant_HK"]})
    problem = assert_problem(response, 422, code="validation-error")
    assert "'zh-Hant-HK'" in problem["errors"]["languages.0"][0]
    session.refresh(trainer)
    assert trainer.languages == ["en"]
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    response = client.post("/api/v1/qualifications", as_user=manager, json={
        "code": "yue-listening", "name": "Cantonese listening", "locale": "yue_HK"})
    problem = assert_problem(response, 422, code="validation-error")
    assert "'yue-HK'" in problem["errors"]["locale"][0]


# --- resending an invitation ------------------------------------------------------------


def resend(client: ApiClient, admin: User, invitation_id: str) -> TestResponse:
    return client.post(f"{INVITATIONS}/{invitation_id}/resend", as_user=admin)


def test_resending_an_invitation_issues_a_new_token_and_revokes_the_old(
    client: ApiClient, mail: MemorySender, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    first = invite(client, admin, "rui@example.org").get_json()
    later = datetime.now(UTC) + timedelta(days=3)
    with time_machine.travel(later, tick=False):
        token = login_token(client, admin.email)
        response = client.post(f"{INVITATIONS}/{first['id']}/resend", token=token)

    assert response.status_code == 200, response.get_data(as_text=True)
    again = response.get_json()
    assert again["id"] == first["id"] and again["status"] == "pending"
    assert "acceptance" not in again and "wfi_" not in response.get_data(as_text=True)
    assert datetime.fromisoformat(again["expires_at"]) == later + timedelta(days=7)
    old_token, new_token = tokens_in(mail, "rui@example.org", INVITATION_TOKEN)
    assert old_token != new_token
    [event] = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "invitation.resent", AuditEvent.object_id == first["id"])).all()
    assert event.actor_id == admin.id and event.after["expires_at"] > event.before["expires_at"]

    assert_problem(client.post(ACCEPT, json=accept_body(old_token)), 422)
    assert client.post(ACCEPT, json=accept_body(new_token)).status_code == 201
    assert_problem(client.post(f"{INVITATIONS}/{first['id']}/resend", token=token), 409,
                   code="invitation-accepted")


def test_an_expired_invitation_may_be_resent_and_a_revoked_one_not(
    client: ApiClient, mail: MemorySender
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    expired = invite(client, admin, "late@example.org").get_json()
    revoked = invite(client, admin, "gone@example.org").get_json()
    client.delete(f"{INVITATIONS}/{revoked['id']}", as_user=admin)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=False):
        token = login_token(client, admin.email)
        response = client.post(f"{INVITATIONS}/{expired['id']}/resend", token=token)
        assert response.status_code == 200
        assert response.get_json()["status"] == "pending"
        _, fresh = tokens_in(mail, "late@example.org", INVITATION_TOKEN)
        assert client.post(ACCEPT, json=accept_body(fresh)).status_code == 201
        refused = client.post(f"{INVITATIONS}/{revoked['id']}/resend", token=token)
    assert_problem(refused, 409, code="invitation-revoked")


def test_only_the_organisations_admins_resend(client: ApiClient, mail: MemorySender) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    invitation = invite(client, admin, "rui@example.org").get_json()
    stranger = StaffFactory(role=Role.ADMIN)
    colleague = StaffFactory(role=Role.VENDOR_MANAGER, organisation_id=admin.organisation_id)
    assert_problem(resend(client, stranger, invitation["id"]), 404)
    assert_problem(resend(client, admin, str(uuid.uuid4())), 404)
    assert_problem(resend(client, colleague, invitation["id"]), 403)
    assert len(mail.sent) == 1


@pytest.fixture
def development_app(app: Flask, settings: Settings, database: Database) -> Iterator[Flask]:
    """A second app on the same database, as ``make run`` starts it (log sender)."""
    development = create_app(
        replace(settings, env=Environment.DEVELOPMENT, public_base_url="http://127.0.0.1:5055"),
        database=database, email_sender=LogSender(), configure_logging=False)
    try:
        yield development
    finally:
        # create_app points the shared session factory at its own outbox; restore ours.
        database.session_factory.configure(info={OUTBOX_KEY: app.extensions["workforce"].outbox})


def test_in_development_the_admin_sees_how_to_accept(
    development_app: Flask, session: Session
) -> None:
    """With the console or log sender a development invitation reaches nobody: the admin
    who creates or resends it is shown the URL and the token (only in development)."""
    client = ApiClient(development_app.test_client(), session)
    admin = StaffFactory(role=Role.ADMIN)

    created = invite(client, admin, "rui@example.org")
    assert created.status_code == 201
    acceptance = created.get_json()["acceptance"]
    assert acceptance["method"] == "POST"
    assert acceptance["url"] == "http://127.0.0.1:5055/api/v1/auth/invitations/accept"
    resent = resend(client, admin, created.get_json()["id"]).get_json()["acceptance"]
    assert resent["token"] != acceptance["token"]
    assert_problem(client.post(ACCEPT, json=accept_body(acceptance["token"])), 422)
    accepted = client.post(ACCEPT, json=accept_body(resent["token"]))
    assert accepted.status_code == 201 and accepted.get_json()["role"] == "reviewer"
