"""OWASP API3:2023, broken object property-level authorization: a body cannot set what
its caller may not (role, organisation, amounts, payout account ids, states): 422 naming
the field, nothing written. And no response carries a password hash, a token hash, a
gold answer or an answer key, or another user's e-mail address."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import authz_world
from tests.authz_policy import POLICY
from tests.client import ApiClient, answer_text, assert_problem
from tests.factories import _password_hash
from tests.test_authz_matrix import Operation, declared, path_for, rolled_back
from workforce.accounts.models import ApiToken, AuditEvent, Role, User
from workforce.api.ratelimit import limiter
from workforce.billing.models import Bonus, PayoutAccount
from workforce.db import Database
from workforce.projects.models import Project

API = "/api/v1"


@pytest.fixture(scope="module")
def env(app: Flask, database: Database) -> Iterator[tuple[ApiClient, Session, Any, Any]]:
    with authz_world.isolated(database) as (connection, session):
        client = ApiClient(app.test_client(), session)
        yield client, session, connection, authz_world.build(client, session)


# (role, method, path template, body, the field that must be refused)
MASS_ASSIGNMENT = [
    (Role.TRAINER, "PATCH", "/me", {"role": "admin"}, "role"),
    (Role.TRAINER, "PATCH", "/me", {"organisation_id": "{organisation}"}, "organisation_id"),
    (Role.TRAINER, "PATCH", "/me", {"email": "new@example.org"}, "email"),
    (Role.TRAINER, "PATCH", "/me", {"is_active": True}, "is_active"),
    (Role.REVIEWER, "PATCH", "/me", {"role": "admin"}, "role"),
    (Role.ADMIN, "PATCH", "/users/{user_reviewer}", {"organisation_id": "{organisation}"},
     "organisation_id"),
    (Role.ADMIN, "PATCH", "/users/{user_reviewer}", {"password_hash": "x"}, "password_hash"),
    (Role.TRAINER, "PUT", "/me/payout-account/manual",
     {"holder_name": "M", "bank_name": "B", "country": "DE", "iban": "DE89370400440532013000",
      "stripe_account_id": "acct_attacker"}, "stripe_account_id"),
    (Role.TRAINER, "PUT", "/me/payout-account/manual",
     {"holder_name": "M", "bank_name": "B", "country": "DE", "iban": "DE89370400440532013000",
      "payouts_enabled": True}, "payouts_enabled"),
    (Role.TRAINER, "PUT", "/me/payout-account/manual",
     {"holder_name": "M", "bank_name": "B", "country": "DE", "iban": "DE89370400440532013000",
      "hold_until": None}, "hold_until"),
    (Role.VENDOR_MANAGER, "PATCH", "/projects/{project}", {"state": "closed"}, "state"),
    (Role.VENDOR_MANAGER, "PATCH", "/projects/{project}",
     {"organisation_id": "{organisation}"}, "organisation_id"),
    (Role.VENDOR_MANAGER, "PATCH", "/projects/{project}", {"rate": 1}, "rate"),
    (Role.VENDOR_MANAGER, "POST", "/bonuses",
     {"trainer_id": "{trainer}", "amount": 500, "currency": "USD", "reason": "Thanks",
      "idempotency_key": "k-1", "organisation_id": "{organisation}"}, "organisation_id"),
    (Role.VENDOR_MANAGER, "POST", "/bonuses",
     {"trainer_id": "{trainer}", "amount": 500, "currency": "USD", "reason": "Thanks",
      "idempotency_key": "k-2", "state": "paid"}, "state"),
    (Role.FINANCE, "PATCH", "/payout-schedules/{payout_schedule}",
     {"organisation_id": "{organisation}"}, "organisation_id"),
    (Role.FINANCE, "POST", "/payout-items/{payout_item}/manual-payment",
     {"reference": "R", "amount": 999999}, "amount"),
    (Role.TRAINER, "POST", "/me/assignments/{assignment}/submit",
     {"answer": "hk", "active_seconds": 5, "state": "approved"}, "state"),
    (Role.TRAINER, "POST", "/me/check-ins", {"mood": 4, "trainer_id": "{trainer}"},
     "trainer_id"),
    (Role.ADMIN, "PATCH", "/organisation/pay-policy", {"organisation_id": "{organisation}"},
     "organisation_id"),
]


def _fill(value: Any, side: authz_world.Side) -> Any:
    names = {k: str(v) for k, v in side.objects.items()}
    names["trainer"] = str(side.trainer.id)
    names["user_reviewer"] = str(side.people[Role.REVIEWER].id)
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, side) for k, v in value.items()}
    return value


def _state(session: Session) -> tuple:
    session.expire_all()
    return (
        tuple(session.execute(select(User.id, User.role, User.organisation_id, User.email,
                                     User.password_hash).order_by(User.id)).all()),
        tuple(session.execute(select(PayoutAccount.id, PayoutAccount.stripe_account_id,
                                     PayoutAccount.hold_until, PayoutAccount.payouts_enabled,
                                     PayoutAccount.bank_details)).all()),
        tuple(session.execute(select(Project.id, Project.state, Project.organisation_id)
                              .order_by(Project.id)).all()),
        session.scalar(select(func.count()).select_from(Bonus)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


@pytest.mark.parametrize(("role", "method", "template", "body", "field"), MASS_ASSIGNMENT,
                         ids=[f"{r.value} {m} {t} {f}" for r, m, t, _, f in MASS_ASSIGNMENT])
def test_a_body_cannot_set_what_the_caller_may_not(env, role, method, template, body, field):
    client, session, _, world = env
    side = world.a
    before = _state(session)
    response = client.request(method, API + _fill(template, side), as_user=side.people[role],
                              json=_fill(body, side))
    problem = assert_problem(response, 422, code="validation-error")
    assert field in problem["errors"], problem
    assert _state(session) == before


# --- what responses never carry -------------------------------------------------------

# Where a staff member legitimately sees someone else's e-mail address: an admin managing
# their own organisation's staff and invitations, and the support-case handler who may
# need to reach the trainer who asked for help.
EMAIL_ALLOWED = {
    "GET /api/v1/users", "GET /api/v1/users/<uuid:user_id>",
    "PATCH /api/v1/users/<uuid:user_id>", "GET /api/v1/invitations",
    "POST /api/v1/invitations", "DELETE /api/v1/invitations/<uuid:invitation_id>",
    "GET /api/v1/support-cases", "GET /api/v1/support-cases/<uuid:case_id>",
    "POST /api/v1/support-cases/<uuid:case_id>/acknowledge",
    "POST /api/v1/support-cases/<uuid:case_id>/close",
    "POST /api/v1/support-cases/<uuid:case_id>/notes",
    "GET /api/v1/audit-events",
}
# Where gold answers and answer keys belong: the managers' own views of tasks and
# questions (never a trainer's).
KEYS_ALLOWED = {
    "GET /api/v1/projects/<uuid:project_id>/tasks",
    "GET /api/v1/assessments/<uuid:assessment_id>/questions",
    "POST /api/v1/assessments/<uuid:assessment_id>/questions",
    "PATCH /api/v1/assessments/<uuid:assessment_id>/questions/<uuid:question_id>",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)
    elif value is not None:
        yield str(value)


@pytest.mark.slow
def test_no_response_carries_secrets_keys_or_other_peoples_addresses(app: Flask, env) -> None:
    client, session, connection, world = env
    side = world.a
    token_hashes = {row for row in session.scalars(select(ApiToken.token_hash))}
    password_hash = _password_hash()
    failures, walked = [], 0
    for op in declared(app):
        if op.policy.roles is None or op.key.endswith(("docs", "openapi.json")):
            continue
        for role in sorted(op.policy.roles, key=lambda r: r.value):
            user = side.people[role]
            limiter.reset()
            with rolled_back(session, connection):
                response = _call(client, op, side, role, user)
            if response.status_code >= 400:
                continue
            walked += 1
            text = answer_text(response)
            try:
                values = list(_strings(json.loads(text))) if response.is_json else [text]
            except ValueError:
                values = [text]
            found = []
            for value in values:
                if password_hash in value or "argon2" in value:
                    found.append("a password hash")
                if value in token_hashes or any(h in value for h in token_hashes):
                    found.append("a token hash")
                if op.key not in KEYS_ALLOWED and (authz_world.GOLD_MARKER in value
                                                  or authz_world.ANSWER_KEY_MARKER in value):
                    found.append("a gold answer or answer key")
                if op.key not in EMAIL_ALLOWED:
                    others = {u.email for r, u in side.people.items() if u is not user}
                    found += [f"{e}'s address" for e in others if e in value]
            if found:
                failures.append(f"{role.value} {op.key}: {sorted(set(found))}")
    assert walked > 150, walked
    assert not failures, "\n".join(failures)


def _call(client: ApiClient, op: Operation, side: Any, role: Role, user: User) -> Any:
    kwargs: dict[str, Any] = {}
    if op.policy.raw is not None:
        kwargs["data"], kwargs["content_type"] = op.policy.raw[1], op.policy.raw[0]
    elif op.method != "GET":
        body = POLICY[op.key].body
        kwargs["json"] = body(side) if callable(body) else (body or {})
    return client.request(op.method, path_for(op, side, role), as_user=user, **kwargs)


def test_token_hashes_in_the_walk_are_real(env) -> None:
    """The walk above looks for real hashes: the world's tokens are stored as SHA-256."""
    _, session, _, world = env
    raw = env[0].token(world.a.trainer)
    assert hashlib.sha256(raw.encode()).hexdigest() in set(
        session.scalars(select(ApiToken.token_hash)))
