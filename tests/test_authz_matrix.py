"""The authorization matrix: every route of the URL map, called by every role, by the
same roles of another organisation, by API keys of every scope (and of another
organisation), with an expired and a revoked token or key and with none, and compared
with the declared policy (`tests/authz_policy.py`).

Each call runs inside a savepoint that is rolled back, so one call (a logout, a
cancelled run) never changes what the next one finds. Routes aim at the real objects of
a two-organisation world (`tests/authz_world.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from werkzeug.routing import Rule as UrlRule
from werkzeug.test import TestResponse

from tests import authz_world
from tests.authz_policy import DEFAULT_OBJECTS, POLICY, Rule, insiders, open_to_outsiders
from tests.client import ApiClient, answer_text, assert_problem
from tests.factories import token_for
from workforce import clock
from workforce.accounts.models import Role
from workforce.api.ratelimit import limiter
from workforce.db import Database
from workforce.integrations import keys
from workforce.integrations.scopes import Scope

# A walk of the whole API per role: about 40 s.
pytestmark = pytest.mark.slow
API_PREFIX = "/api/v1"
NOT_CALLED = frozenset({"HEAD", "OPTIONS"})
_PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
HEADING = "authorization matrix"
ROLE_ORDER = (Role.ADMIN, Role.VENDOR_MANAGER, Role.REVIEWER, Role.FINANCE, Role.TRAINER)


@dataclass(frozen=True)
class Operation:
    key: str  # "METHOD /rule", the policy's key
    method: str
    rule: UrlRule
    policy: Rule

    @property
    def object_params(self) -> list[str]:
        return [m.group("name") for m in _PLACEHOLDER.finditer(self.rule.rule)
                if m.group("converter") == "uuid"]


def operations(app: Flask) -> list[tuple[str, str, UrlRule]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        for method in sorted((rule.methods or set()) - NOT_CALLED):
            found.append((f"{method} {rule.rule}", method, rule))
    return found


def declared(app: Flask) -> list[Operation]:
    return [Operation(key, method, rule, POLICY[key])
            for key, method, rule in operations(app) if key in POLICY]


def test_every_route_is_in_the_policy_and_every_policy_entry_is_a_route(app: Flask) -> None:
    keys = {key for key, _, _ in operations(app)}
    missing = sorted(keys - POLICY.keys())
    stale = sorted(POLICY.keys() - keys)
    assert not missing, "routes without a declared policy in tests/authz_policy.py:\n" + \
        "\n".join(missing)
    assert not stale, "policy entries for routes that do not exist:\n" + "\n".join(stale)
    assert len(keys) > 150  # the walk is not vacuous
    for key, rule in POLICY.items():
        params = Operation(key, "", next(r for k, _, r in operations(app) if k == key),
                           rule).object_params
        assert bool(params) == (rule.reach is not None), (
            f"{key}: routes aiming at an object declare their reach, and only they")


# --- calling a route -------------------------------------------------------------------


def path_for(op: Operation, side: authz_world.Side, caller_role: Role) -> str:
    def sample(match: re.Match[str]) -> str:
        name = match.group("name")
        if match.group("converter") == "uuid":
            target = op.policy.objects.get(name) or DEFAULT_OBJECTS[name]
            if target in ("notification", "api_token"):  # the caller's own
                target = f"{target}_{caller_role.value}"
            if target == "user_reviewer":
                return str(side.people[Role.REVIEWER].id)
            return str(side.objects[target])
        now = clock.now()
        return {"currency": "USD", "country": "PH", "category": "violence",
                "year": str(now.year), "month": str(now.month),
                "filename": "swagger-ui.css", "number": "1", "token": "not-a-token"}[name]

    return _PLACEHOLDER.sub(sample, op.rule.rule)


def call(client: ApiClient, op: Operation, side: authz_world.Side, caller_role: Role,
         token: str | None) -> TestResponse:
    kwargs: dict[str, Any] = {}
    if op.policy.raw is not None:
        kwargs["data"], kwargs["content_type"] = op.policy.raw[1], op.policy.raw[0]
    elif op.method != "GET":
        body = op.policy.body
        kwargs["json"] = body(side) if callable(body) else (body or {})
    return client.request(op.method, path_for(op, side, caller_role), token=token, **kwargs)


@contextmanager
def rolled_back(session: Session, connection: Connection) -> Iterator[None]:
    """Whatever the call writes is undone, so every call meets the same world."""
    session.commit()
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        session.rollback()
        if savepoint.is_active:
            savepoint.rollback()
        session.expire_all()


def leaks(response: TestResponse, other: authz_world.Side, shared: tuple[str, ...]) -> set[str]:
    """Ids and e-mail addresses of the other side found anywhere in the response."""
    text = answer_text(response)
    found = {value for value in other.ids_except(shared) if value in text}
    found |= {email for email in other.emails if email in text}
    return found


def server_error(response: TestResponse) -> bool:
    """A 5xx other than the documented 503 (the Stripe webhook without Stripe set up)."""
    return response.status_code >= 500 and response.status_code != 503


@dataclass
class Matrix:
    client: ApiClient
    session: Session
    connection: Connection
    world: authz_world.World


@pytest.fixture(scope="module")
def matrix(app: Flask, database: Database) -> Iterator[Matrix]:
    """One world for the whole module (built once: it is the slow part), inside a
    transaction rolled back at the end, like conftest's per-test one."""
    with authz_world.isolated(database) as (connection, session):
        client = ApiClient(app.test_client(), session)
        yield Matrix(client, session, connection, authz_world.build(client, session))


# --- who may call, and what they reach -------------------------------------------------


def test_unauthenticated_expired_and_revoked_callers_get_401(app: Flask, matrix: Matrix,
                                                            figures: Callable[[str], dict]) -> None:
    client, session, connection, world = (matrix.client, matrix.session, matrix.connection,
                                          matrix.world)
    side = world.a
    expired = token_for(side.people[Role.ADMIN], lifetime=timedelta(seconds=-1))
    revoked = token_for(side.trainer)
    assert client.post(f"{API_PREFIX}/auth/logout", token=revoked).status_code == 204
    expired_key, revoked_key = _spent_keys(session, side)
    failures, calls = [], 0
    for op in declared(app):
        if op.policy.roles is None:
            with rolled_back(session, connection):
                response = call(client, op, side, Role.TRAINER, None)
            calls += 1
            if response.status_code in (401, 403) or server_error(response):
                failures.append(f"public {op.key} -> {response.status_code}")
            continue
        for label, token in (("no token", None), ("expired", expired), ("revoked", revoked),
                             ("expired key", expired_key), ("revoked key", revoked_key)):
            limiter.reset()
            with rolled_back(session, connection):
                response = call(client, op, side, Role.TRAINER, token)
            calls += 1
            try:
                body = assert_problem(response, 401,
                                      code="missing-token" if token is None else "invalid-token")
                assert response.headers["WWW-Authenticate"] == "Bearer", body
            except AssertionError as exc:
                failures.append(f"{label}: {op.key}: {exc}")
    figures(HEADING)["unauthenticated calls"] = calls
    assert not failures, "\n".join(failures)


Judge = Callable[[Operation, TestResponse], None]


def walk(matrix: Matrix, ops: list[Operation], target: authz_world.Side, role: Role,
         token: str, judge: Judge, label: str) -> list[str]:
    """Call each operation aimed at ``target``'s objects (each in a rolled-back
    savepoint) and judge the answer; what the judge refuses, named."""
    failures = []
    for op in ops:
        limiter.reset()
        with rolled_back(matrix.session, matrix.connection):
            response = call(matrix.client, op, target, role, token)
        try:
            judge(op, response)
        except AssertionError as exc:
            failures.append(f"{label}: {op.key} -> {response.status_code}: {str(exc)[:400]}")
    return failures


def answered_without_leaks(other: authz_world.Side) -> Judge:
    """An answer that is neither an authorization refusal nor a server error, and holds
    nothing of ``other``."""
    def judge(op: Operation, response: TestResponse) -> None:
        assert response.status_code not in (401, 403, 404), response.get_data(True)
        assert not server_error(response), response.get_data(True)
        found = leaks(response, other, op.policy.shared)
        assert not found, f"{other.label}'s {sorted(found)[:3]} in the answer"
    return judge


def reaching_nothing(target: authz_world.Side, open_to: Callable[[str], bool]) -> Judge:
    """404 for every object of ``target`` (but those ``open_to`` the caller), and no
    collection showing anything of it."""
    def judge(op: Operation, response: TestResponse) -> None:
        if op.policy.reach is not None and not open_to(op.policy.reach):
            assert_problem(response, 404)
        else:
            assert not server_error(response), response.get_data(True)
        found = leaks(response, target, op.policy.shared)
        assert not found, f"{target.label}'s {sorted(found)[:3]} in the answer"
    return judge


@pytest.mark.parametrize("role", ROLE_ORDER, ids=lambda role: role.value)
def test_each_role_gets_what_the_policy_says(app: Flask, matrix: Matrix, role: Role,
                                            figures: Callable[[str], dict]) -> None:
    """Side A's user of ``role`` calls every route aimed at side A's objects: 403 for a
    role the route is not for, 404 for an object outside their reach, otherwise an
    answer that is neither an authorization refusal nor a server error, and never
    anything of side B."""
    side, other = matrix.world.a, matrix.world.b
    inside = answered_without_leaks(other)

    def judge(op: Operation, response: TestResponse) -> None:
        assert op.policy.roles is not None
        if role not in op.policy.roles:
            assert_problem(response, 403, code="role-forbidden")
        elif op.policy.reach is not None and not insiders(op.policy.reach, role):
            assert_problem(response, 404)
        else:
            inside(op, response)

    ops = [op for op in declared(app) if op.policy.roles is not None]
    started = time.perf_counter()
    failures = walk(matrix, ops, side, role, matrix.client.token(side.people[role]), judge,
                    role.value)
    figures(HEADING)[f"calls as {role.value}"] = len(ops)
    figures(HEADING)[f"ms as {role.value}"] = round((time.perf_counter() - started) * 1000)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLE_ORDER, ids=lambda role: role.value)
def test_another_organisations_user_reaches_nothing(
    app: Flask, matrix: Matrix, role: Role, figures: Callable[[str], dict]
) -> None:
    """Side B's user of ``role`` calls every route they may call, aimed at side A's
    objects: 404 for every object; collections show nothing of side A. (For trainers,
    "another organisation's" trainer is another trainer: side B's.)"""
    target, caller_side = matrix.world.a, matrix.world.b
    ops = [op for op in declared(app)
           if op.policy.roles is not None and role in op.policy.roles]
    judge = reaching_nothing(target, lambda reach: open_to_outsiders(reach, role))
    failures = walk(matrix, ops, target, role,
                    matrix.client.token(caller_side.people[role]), judge, f"side B {role.value}")
    figures(HEADING)[f"outsider calls as {role.value}"] = len(ops)
    assert not failures, "\n".join(failures)


def _spent_keys(session: Session, side: authz_world.Side) -> tuple[str, str]:
    """Two keys holding every scope: one past its expiry, one revoked."""
    admin = side.people[Role.ADMIN]
    expiring = keys.create_key(session, admin, name="expired", scopes=list(Scope),
                               expires_at=clock.now() + timedelta(days=1))
    expiring.key.expires_at = clock.now() - timedelta(seconds=1)
    revoked = keys.create_key(session, admin, name="revoked", scopes=list(Scope),
                              expires_at=None)
    keys.revoke_key(session, admin, revoked.key.id)
    session.commit()
    return expiring.secret, revoked.secret


# --- API keys ----------------------------------------------------------------------------

KEY_NAMES = [scope.value for scope in Scope] + ["all"]


@pytest.mark.parametrize("name", KEY_NAMES)
def test_each_api_key_gets_what_its_scope_opens(app: Flask, matrix: Matrix, name: str,
                                               figures: Callable[[str], dict]) -> None:
    """Side A's key calls the routes aimed at side A's objects: the key holding every
    scope calls every route, a key of one scope every route some scope opens. A route
    whose scope the key lacks, or that no scope opens, is 403 `scope-forbidden` naming
    the scope it needs (none); one it holds answers as for an admin, without anything
    of side B."""
    side, other = matrix.world.a, matrix.world.b
    held = set(KEY_NAMES) - {"all"} if name == "all" else {name}
    inside = answered_without_leaks(other)

    def judge(op: Operation, response: TestResponse) -> None:
        if op.policy.scope not in held:
            body = assert_problem(response, 403, code="scope-forbidden")
            assert body["required_scope"] == op.policy.scope, body
        else:
            assert op.policy.roles is not None and Role.ADMIN in op.policy.roles
            inside(op, response)

    ops = [op for op in declared(app) if op.policy.roles is not None
           and (name == "all" or op.policy.scope is not None)]
    failures = walk(matrix, ops, side, Role.ADMIN, side.keys[name], judge, f"key {name}")
    figures(HEADING)[f"calls with key {name}"] = len(ops)
    assert not failures, "\n".join(failures)


def test_another_organisations_key_reaches_nothing(app: Flask, matrix: Matrix,
                                                   figures: Callable[[str], dict]) -> None:
    """Side B's key of every scope, aimed at side A's objects: 404 for each, and no
    collection shows anything of side A."""
    target, caller_side = matrix.world.a, matrix.world.b
    ops = [op for op in declared(app) if op.policy.scope is not None]
    failures = walk(matrix, ops, target, Role.ADMIN, caller_side.keys["all"],
                    reaching_nothing(target, lambda reach: False), "side B key")
    figures(HEADING)["outsider calls with a key"] = len(ops)
    assert not failures, "\n".join(failures)
