"""Safe sign-in (issue 20): e-mail verification before a trainer applies or claims, a
second factor (TOTP and recovery codes) for finance and admin, common passwords refused,
and the caller's own sessions."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import time_machine
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.client import ApiClient, assert_problem
from tests.factories import (
    PASSWORD,
    TOTP_SECRET,
    ProjectFactory,
    StaffFactory,
    UserFactory,
    fresh_otp,
    staff,
)
from workforce import clock, migrate
from workforce.accounts.models import (
    ApiToken,
    AuditEvent,
    EmailVerification,
    RecoveryCode,
    Role,
    TotpFactor,
    User,
)
from workforce.notifications.models import OutboundEmail
from workforce.notifications.senders import MemorySender
from workforce.settings import Settings

API = "/api/v1"
LOGIN = f"{API}/auth/login"
SIGNUP = f"{API}/auth/signup"
CONFIRM = f"{API}/auth/email-verification/confirm"
RESEND = f"{API}/me/email-verification"
MARKET = f"{API}/marketplace/projects"
VERIFY_TOKEN = re.compile(r"wfv_[A-Za-z0-9_-]{43}")


def signup_body(**changes: Any) -> dict[str, Any]:
    return {"email": "mei@example.org", "password": "a long and private phrase",
            "display_name": "Mei Chan", "country": "HK", "timezone": "Asia/Hong_Kong",
            "languages": ["yue-HK"], **changes}


def log_in(client: ApiClient, email: str, password: str = PASSWORD, **more: str) -> TestResponse:
    return client.post(LOGIN, json={"email": email, "password": password, **more})


def tokens_in(mail: MemorySender) -> list[str]:
    return [t for email in mail.sent for t in VERIFY_TOKEN.findall(email.body)]


# --- e-mail verification -------------------------------------------------------------


def test_a_new_trainer_verifies_their_address_before_applying(
    client: ApiClient, session: Session, mail: MemorySender
) -> None:
    response = client.post(SIGNUP, json=signup_body())
    assert response.status_code == 201
    assert response.get_json()["email_verified_at"] is None
    [token] = tokens_in(mail)
    # Hashed at rest: neither the stored e-mail nor any table holds the token.
    stored = session.scalars(select(OutboundEmail)).one()
    assert token not in stored.body and stored.secret is None
    assert session.scalar(select(func.count()).select_from(EmailVerification)) == 1
    trainer = session.scalars(select(User).where(User.email == "mei@example.org")).one()
    project = ProjectFactory()

    market = client.get(MARKET, as_user=trainer).get_json()["items"]
    entry = next(p for p in market if p["id"] == str(project.id))
    assert entry["eligible"] is False
    assert [u["code"] for u in entry["unmet"]] == ["email-unverified"]
    refused = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer, json={})
    assert "verify your e-mail" in assert_problem(refused, 403, code="email-unverified")[
        "detail"].lower()

    assert client.post(CONFIRM, json={"token": token}).status_code == 204
    assert client.get(f"{API}/me", as_user=trainer).get_json()["email_verified_at"]
    entry = client.get(f"{MARKET}/{project.id}", as_user=trainer).get_json()
    assert entry["eligible"] is True and entry["unmet"] == []
    assert client.post(f"{MARKET}/{project.id}/applications", as_user=trainer,
                       json={}).status_code == 201
    # The token worked once.
    assert_problem(client.post(CONFIRM, json={"token": token}), 422)


def test_an_unverified_trainer_cannot_claim(client: ApiClient) -> None:
    trainer = UserFactory(email_verified_at=None)
    project = ProjectFactory()
    staff(project, trainer)

    response = client.post(f"{API}/projects/{project.id}/claims", as_user=trainer, json={})

    assert_problem(response, 403, code="email-unverified")


def test_resending_retires_the_earlier_token_and_is_limited(
    client: ApiClient, mail: MemorySender
) -> None:
    assert client.post(SIGNUP, json=signup_body()).status_code == 201
    token = log_in(client, "mei@example.org", signup_body()["password"]).get_json()["token"]

    assert client.post(RESEND, token=token, json={}).status_code == 202
    first, second = tokens_in(mail)
    assert_problem(client.post(CONFIRM, json={"token": first}), 422)
    assert client.post(RESEND, token=token, json={}).status_code == 202
    assert client.post(RESEND, token=token, json={}).status_code == 202
    limited = assert_problem(client.post(RESEND, token=token, json={}), 429,
                             code="rate-limited")
    assert limited["detail"]

    last = tokens_in(mail)[-1]
    assert_problem(client.post(CONFIRM, json={"token": second}), 422)
    assert client.post(CONFIRM, json={"token": last}).status_code == 204


def test_a_verified_address_needs_no_resend(client: ApiClient, mail: MemorySender) -> None:
    trainer = UserFactory()
    assert_problem(client.post(RESEND, as_user=trainer, json={}), 409,
                   code="email-already-verified")
    assert mail.sent == []


def test_accepting_an_invitation_verifies_the_address(
    client: ApiClient, session: Session, mail: MemorySender
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    assert client.post(f"{API}/invitations", as_user=admin, json={
        "email": "rui@example.org", "role": "reviewer"}).status_code == 201
    [token] = re.findall(r"wfi_[A-Za-z0-9_-]+", mail.sent[-1].body)
    accepted = client.post(f"{API}/auth/invitations/accept", json={
        "token": token, "password": "a long and private phrase", "display_name": "Rui"})
    assert accepted.status_code == 201
    assert accepted.get_json()["email_verified_at"] is not None


def test_existing_accounts_count_as_verified_after_the_migration(
    connection: Connection, session: Session, settings: Settings
) -> None:
    trainer = UserFactory(email_verified_at=None)
    migrate.downgrade(settings, "0015", connection=connection)
    migrate.upgrade(settings, "head", connection=connection)
    session.expire_all()
    assert session.get_one(User, trainer.id).email_verified_at == trainer.created_at


# --- the second factor ---------------------------------------------------------------


def enrol(client: ApiClient, user: User, token: str | None = None) -> tuple[str, list[str]]:
    """Enrol through the API; the secret and the recovery codes."""
    who: dict[str, Any] = {"token": token} if token else {"as_user": user}
    started = client.post(f"{API}/me/mfa/totp", json={}, **who)
    assert started.status_code == 201, started.get_data(as_text=True)
    secret = started.get_json()["secret"]
    uri = urlparse(started.get_json()["otpauth_uri"])
    assert uri.scheme == "otpauth" and parse_qs(uri.query)["secret"] == [secret]
    wrong = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "000000"}, **who)
    if pyotp.TOTP(secret).now() != "000000":
        assert_problem(wrong, 422)
    confirmed = client.post(f"{API}/me/mfa/totp/confirm",
                            json={"code": pyotp.TOTP(secret).now()}, **who)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    return secret, confirmed.get_json()["recovery_codes"]


def test_finance_without_a_second_factor_may_only_enrol(
    client: ApiClient, session: Session
) -> None:
    finance = StaffFactory(role=Role.FINANCE, second_factor=False)
    with time_machine.travel(clock.now(), tick=False) as traveller:
        answer = log_in(client, finance.email)
        assert answer.status_code == 200
        assert answer.get_json()["mfa_enrolment_required"] is True
        token = answer.get_json()["token"]
        refused = client.get(f"{API}/payout-runs", token=token)
        assert "second factor" in assert_problem(
            refused, 403, code="mfa-enrolment-required")["detail"]
        assert client.get(f"{API}/me", token=token).status_code == 200
        assert client.get(f"{API}/me/mfa", token=token).get_json() == {
            "required": True, "enrolled": False, "enrolled_at": None, "recovery_codes_left": 0}

        secret, codes = enrol(client, finance, token)

        assert len(codes) == 10 and len(set(codes)) == 10
        assert client.get(f"{API}/payout-runs", token=token).status_code == 200
        stored = session.scalars(select(RecoveryCode.code_hash)).all()
        assert not set(codes) & set(stored)  # hashed at rest
        assert session.scalar(select(AuditEvent.action).where(
            AuditEvent.object_id == str(finance.id))) == "user.mfa_enrolled"

        # From now on, login asks for the code.
        assert_problem(log_in(client, finance.email), 401, code="mfa-required")
        assert_problem(log_in(client, finance.email, otp="000001"), 401, code="invalid-otp")
        traveller.shift(timedelta(seconds=30))
        code = pyotp.TOTP(secret).now()
        answer = log_in(client, finance.email, otp=code)
        assert answer.status_code == 200
        assert answer.get_json()["mfa_enrolment_required"] is False
        # The same code a second time, still within its window: refused.
        assert_problem(log_in(client, finance.email, otp=code), 401, code="invalid-otp")


def test_a_code_from_the_step_before_is_accepted_once(client: ApiClient) -> None:
    finance = StaffFactory(role=Role.FINANCE)
    totp = pyotp.TOTP(TOTP_SECRET)
    with time_machine.travel(clock.now(), tick=False) as traveller:
        previous = totp.generate_otp(totp.timecode(clock.now()) - 1)
        assert log_in(client, finance.email, otp=previous).status_code == 200
        # Older steps than the last one taken are refused, even within the window.
        traveller.shift(timedelta(seconds=30))
        assert_problem(log_in(client, finance.email, otp=previous), 401, code="invalid-otp")
        assert log_in(client, finance.email, otp=totp.now()).status_code == 200


def test_recovery_codes_work_once_each_and_can_be_regenerated(
    client: ApiClient, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN, second_factor=False)
    with time_machine.travel(clock.now(), tick=False) as traveller:
        secret, codes = enrol(client, admin)

        assert log_in(client, admin.email, recovery_code=codes[0].upper()).status_code == 200
        assert_problem(log_in(client, admin.email, recovery_code=codes[0]), 401,
                       code="invalid-recovery-code")
        assert client.get(f"{API}/me/mfa", as_user=admin).get_json()["recovery_codes_left"] == 9

        traveller.shift(timedelta(seconds=30))
        renewed = client.post(f"{API}/me/mfa/recovery-codes", as_user=admin,
                              json={"code": pyotp.TOTP(secret).now()})
        assert renewed.status_code == 200
        fresh = renewed.get_json()["recovery_codes"]
        assert len(fresh) == 10 and not set(fresh) & set(codes)
        assert_problem(log_in(client, admin.email, recovery_code=codes[1]), 401,
                       code="invalid-recovery-code")
        assert log_in(client, admin.email, recovery_code=fresh[1]).status_code == 200
    left = session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == admin.id, RecoveryCode.used_at.is_(None)))
    assert left == 9


def test_a_second_enrolment_is_refused(client: ApiClient) -> None:
    finance = StaffFactory(role=Role.FINANCE)
    assert_problem(client.post(f"{API}/me/mfa/totp", as_user=finance, json={}), 409,
                   code="mfa-already-enrolled")


def test_a_trainer_may_enrol_too_and_then_logs_in_with_a_code(client: ApiClient) -> None:
    trainer = UserFactory()
    with time_machine.travel(clock.now(), tick=False) as traveller:
        secret, _ = enrol(client, trainer)
        assert_problem(log_in(client, trainer.email), 401, code="mfa-required")
        traveller.shift(timedelta(seconds=30))
        assert log_in(client, trainer.email, otp=pyotp.TOTP(secret).now()).status_code == 200


def test_an_admin_removes_a_locked_out_colleagues_factor(
    client: ApiClient, session: Session
) -> None:
    admin = StaffFactory(role=Role.ADMIN)
    finance = StaffFactory(role=Role.FINANCE, organisation=admin.organisation)
    outsider = StaffFactory(role=Role.ADMIN)
    old_token = client.token(finance)

    assert_problem(client.delete(f"{API}/users/{finance.id}/mfa", as_user=outsider), 404)
    assert_problem(client.delete(f"{API}/users/{admin.id}/mfa", as_user=admin), 409,
                   code="mfa-own-account")
    assert_problem(client.delete(f"{API}/users/{finance.id}/mfa", as_user=finance), 403,
                   code="role-forbidden")
    assert client.delete(f"{API}/users/{finance.id}/mfa", as_user=admin).status_code == 204

    assert session.scalar(select(TotpFactor).where(TotpFactor.user_id == finance.id)) is None
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "user.mfa_removed")).one()
    assert (event.actor_id, event.object_id) == (admin.id, str(finance.id))
    assert_problem(client.get(f"{API}/me", token=old_token), 401)  # sessions ended
    # They log in with the password alone, to enrol again.
    answer = log_in(client, finance.email)
    assert answer.status_code == 200 and answer.get_json()["mfa_enrolment_required"] is True
    assert_problem(client.delete(f"{API}/users/{finance.id}/mfa", as_user=admin), 409,
                   code="mfa-not-enrolled")


def test_being_told_to_send_the_code_is_not_a_failed_login(client: ApiClient) -> None:
    finance = StaffFactory(role=Role.FINANCE)
    for _ in range(8):  # more than the 5 failures an account may have
        assert_problem(log_in(client, finance.email), 401, code="mfa-required")
    assert log_in(client, finance.email, otp=fresh_otp(finance.id)).status_code == 200


# --- common passwords ----------------------------------------------------------------


@pytest.mark.parametrize("password", ["password1234", "QWERTYUIOP12", " 1q2w3e4r5t6y7u8i9o0p "])
def test_common_passwords_are_refused_in_any_case(
    client: ApiClient, session: Session, password: str
) -> None:
    response = client.post(SIGNUP, json=signup_body(password=password))

    problem = assert_problem(response, 422, code="validation-error")
    assert any("most common passwords" in m for m in problem["errors"]["password"])
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_common_password_is_refused_at_change_and_reset(
    client: ApiClient, mail: MemorySender
) -> None:
    trainer = UserFactory()
    change = client.post(f"{API}/auth/password", as_user=trainer, json={
        "current_password": PASSWORD, "new_password": "Password1234"})
    assert "new_password" in assert_problem(change, 422)["errors"]

    assert client.post(f"{API}/auth/password-reset",
                       json={"email": trainer.email}).status_code == 202
    [reset] = re.findall(r"wfr_[A-Za-z0-9_-]+", mail.sent[-1].body)
    refused = client.post(f"{API}/auth/password-reset/confirm", json={
        "token": reset, "new_password": "QAZWSXEDCRFV"})
    assert "new_password" in assert_problem(refused, 422)["errors"]
    assert log_in(client, trainer.email).status_code == 200  # unchanged


# --- sessions ------------------------------------------------------------------------


def test_users_list_and_revoke_their_own_sessions(client: ApiClient, session: Session) -> None:
    trainer = UserFactory()
    other = UserFactory()
    body = {"email": trainer.email, "password": PASSWORD}
    first = client.post(LOGIN, json=body, headers={"User-Agent": "phone/1.0"}).get_json()
    second = client.post(LOGIN, json=body, headers={"User-Agent": "laptop/2.0"}).get_json()
    theirs = client.token(other)

    listed = client.get(f"{API}/me/sessions", token=second["token"]).get_json()
    assert [s["id"] for s in listed["items"]] == [second["token_id"], first["token_id"]]
    assert [(s["user_agent"], s["current"]) for s in listed["items"]] == [
        ("laptop/2.0", True), ("phone/1.0", False)]
    assert all(s["client_address"] == "127.0.0.1" for s in listed["items"])
    assert listed["next_cursor"] is None

    their_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == other.id)).one()
    assert_problem(client.delete(f"{API}/me/sessions/{their_id}", token=second["token"]), 404)
    assert client.get(f"{API}/me", token=theirs).status_code == 200

    assert client.delete(f"{API}/me/sessions/{first['token_id']}",
                         token=second["token"]).status_code == 204
    assert_problem(client.get(f"{API}/me", token=first["token"]), 401, code="invalid-token")
    remaining = client.get(f"{API}/me/sessions", token=second["token"]).get_json()["items"]
    assert [s["id"] for s in remaining] == [second["token_id"]]


def test_expired_sessions_are_not_listed(client: ApiClient, session: Session) -> None:
    trainer = UserFactory()
    token = client.token(trainer)
    old = log_in(client, trainer.email).get_json()["token_id"]
    session.execute(update(ApiToken).where(ApiToken.id == uuid.UUID(old))
                    .values(expires_at=clock.now() - timedelta(minutes=1)))
    session.commit()
    listed = client.get(f"{API}/me/sessions", token=token).get_json()["items"]
    assert old not in {s["id"] for s in listed} and len(listed) == 1
