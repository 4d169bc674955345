"""OWASP API5:2023, broken function-level authorization: a user whose role a function
is not for gets 403 ``role-forbidden`` and nothing is written.

The matrix (test_authz_matrix.py) checks the status of every route for every role; here
every write operation called by a role it is not for is also checked against the whole
database, before and after (every table, every row). The cases an attacker would try
first (a trainer paying themselves, a reviewer acting as a manager, a vendor manager
moving money) are spelled out with a control: the same request from a role it is for
does write, so the refusal is about the function, not the request. And a role taken
away takes the functions with it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests import authz_world
from tests.client import ApiClient, assert_problem
from tests.test_authz_matrix import ROLE_ORDER, call, declared, rolled_back
from workforce.accounts.models import Role
from workforce.api.ratelimit import limiter
from workforce.db import Base, Database

API = "/api/v1"
A, V, R, F, T = Role.ADMIN, Role.VENDOR_MANAGER, Role.REVIEWER, Role.FINANCE, Role.TRAINER
# Written by a successful authentication (at most once a minute), not by the function.
NOT_COMPARED = {("api_tokens", "last_used_at")}
HEADING = "API5 function-level authorization"


@pytest.fixture(scope="module")
def env(app: Flask, database: Database) -> Iterator[tuple[ApiClient, Session, Any, Any]]:
    with authz_world.isolated(database) as (connection, session):
        client = ApiClient(app.test_client(), session)
        yield client, session, connection, authz_world.build(client, session)


@pytest.fixture(scope="module")
def baseline(env) -> dict[str, list[str]]:
    """The world's rows before any call (every call is rolled back, so it stays so)."""
    return snapshot(env[1])


def snapshot(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as text, in a stable order."""
    session.expire_all()
    connection = session.connection()
    found = {}
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.c if (table.name, c.name) not in NOT_COMPARED]
        found[table.name] = sorted(repr(tuple(row)) for row in
                                   connection.execute(select(*columns)))
    return found


@contextmanager
def writes(database: Database) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements sent to the database meanwhile (the
    token's ``last_used_at`` aside): a refused call sends none at all."""
    sent: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and not (
            verb == "UPDATE" and "api_tokens" in statement and "last_used_at" in statement
        ):
            sent.append(" ".join(statement.split())[:120])

    event.listen(database.engine, "before_cursor_execute", watch)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", watch)


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


@pytest.mark.parametrize("role", ROLE_ORDER, ids=lambda role: role.value)
def test_a_write_refused_for_the_role_writes_nothing(app: Flask, database: Database, env,
                                                      baseline, role: Role,
                                                      figures: Callable[[str], dict]) -> None:
    """Every write operation (POST, PUT, PATCH, DELETE) that ``role`` may not call: 403
    ``role-forbidden``, no write statement sent, and every table as it was."""
    client, session, connection, world = env
    side = world.a
    user = side.people[role]
    failures, calls, started = [], 0, time.perf_counter()
    for op in declared(app):
        if op.method == "GET" or op.policy.roles is None or role in op.policy.roles:
            continue
        limiter.reset()
        with rolled_back(session, connection), writes(database) as sent:
            response = call(client, op, side, role, client.token(user))
        calls += 1
        try:
            assert_problem(response, 403, code="role-forbidden")
            assert not sent, sent
        except AssertionError as exc:
            failures.append(f"{role.value}: {op.key}: {str(exc)[:300]}")
    figures(HEADING)[f"refused writes as {role.value}"] = calls
    figures(HEADING)[f"ms as {role.value}"] = round((time.perf_counter() - started) * 1000)
    assert calls > 0
    assert changed_tables(baseline, snapshot(session)) == []
    assert not failures, "\n".join(failures)


# --- what an attacker tries first, with a control -----------------------------------------

Body = dict[str, Any] | Callable[[authz_world.Side], dict[str, Any]] | None


def _adjustment(side: authz_world.Side) -> dict[str, Any]:
    return {"trainer_id": str(side.trainer.id), "amount": 100000, "currency": "USD",
            "reason": "Back pay"}


def _bonus(side: authz_world.Side) -> dict[str, Any]:
    return {"trainer_id": str(side.trainer.id), "amount": 100000, "currency": "USD",
            "reason": "Well deserved", "idempotency_key": "api5-bonus"}


def _grant(side: authz_world.Side) -> dict[str, Any]:
    return {"trainer_id": str(side.trainer.id), "reason": "Passed elsewhere."}


def _remove(side: authz_world.Side) -> dict[str, Any]:
    return {"reason": "Off the project."}


# (who tries, who may, method, path template, body)
ATTEMPTS: list[tuple[Role, Role, str, str, Body]] = [
    # A trainer acting as finance, manager or admin.
    (T, F, "POST", "/adjustments", _adjustment),
    (T, V, "POST", "/bonuses", _bonus),
    (T, F, "POST", "/payout-schedules/{payout_schedule}/runs", None),
    (T, F, "PUT", "/organisation/wage-floors/USD/countries/PH", {"hourly_amount": 1}),
    (T, V, "POST", "/qualifications/{qualification}/grants", _grant),
    (T, R, "POST", "/assignments/{submitted_assignment}/review", {"decision": "approve"}),
    (T, A, "PATCH", "/users/{user_reviewer}", {"role": "admin"}),
    (T, A, "POST", "/invitations", {"email": "friend@example.org", "role": "admin"}),
    (T, V, "POST", "/projects/{project}/rates", {"amount": 9000, "reason": "A raise."}),
    # A reviewer acting as a manager.
    (R, V, "POST", "/projects/{project}/rates", {"amount": 9000, "reason": "A raise."}),
    (R, V, "POST", "/appeals/{appeal}/decision", {"decision": "overturn", "note": "Fine."}),
    (R, V, "POST", "/bonuses", _bonus),
    (R, V, "POST", "/qualifications/{qualification}/grants", _grant),
    (R, V, "POST", "/projects/{project}/members/{membership}/remove", _remove),
    (R, V, "POST", "/projects/{project}/pause", {"reason": "Waiting for new clips."}),
    # A vendor manager acting as finance (or admin).
    (V, F, "POST", "/adjustments", _adjustment),
    (V, F, "POST", "/payout-schedules/{payout_schedule}/runs", None),
    (V, F, "PUT", "/organisation/wage-floors/USD/countries/PH", {"hourly_amount": 1}),
    (V, F, "PATCH", "/payout-schedules/{payout_schedule}", {"auto_approve": True}),
    (V, A, "PATCH", "/users/{user_reviewer}", {"role": "finance"}),
    # Finance acting as a manager.
    (F, V, "POST", "/bonuses", _bonus),
    (F, V, "POST", "/projects/{project}/rates", {"amount": 9000, "reason": "A raise."}),
]


def _path(template: str, side: authz_world.Side) -> str:
    names = {k: str(v) for k, v in side.objects.items()}
    names["user_reviewer"] = str(side.people[R].id)
    return API + template.format(**names)


@pytest.mark.parametrize(
    ("attacker", "allowed", "method", "template", "body"), ATTEMPTS,
    ids=[f"{a.value} {m} {t} (control: {c.value})" for a, c, m, t, _ in ATTEMPTS])
def test_the_functions_an_attacker_tries_first(env, baseline, attacker, allowed, method,
                                               template, body) -> None:
    client, session, connection, world = env
    side = world.a
    payload = body(side) if callable(body) else body
    before = baseline
    with rolled_back(session, connection):
        refused = client.request(method, _path(template, side), as_user=side.people[attacker],
                                 json=payload)
        assert_problem(refused, 403, code="role-forbidden")
        assert changed_tables(before, snapshot(session)) == []
    with rolled_back(session, connection):
        done = client.request(method, _path(template, side), as_user=side.people[allowed],
                              json=payload)
        assert 200 <= done.status_code < 300, done.get_data(as_text=True)
        assert changed_tables(before, snapshot(session)), "the control wrote nothing"


def test_a_role_taken_away_takes_its_functions_with_it(env, database: Database) -> None:
    """A manager demoted to reviewer, with the token they signed in with before: the
    manager's functions are refused from the next request on; deactivated, nothing."""
    client, session, connection, world = env
    side = world.a
    manager, admin = side.people[V], side.people[A]
    rates = _path("/projects/{project}/rates", side)
    body = {"amount": 9000, "reason": "A raise."}
    with rolled_back(session, connection):
        assert client.post(rates, as_user=manager, json=body).status_code == 201
        with writes(database) as sent:  # (the watch the sweep relies on sees writes)
            demoted = client.patch(f"{API}/users/{manager.id}", as_user=admin,
                                   json={"role": "reviewer"})
        assert any(statement.startswith("UPDATE users") for statement in sent), sent
        assert demoted.status_code == 200, demoted.get_data(as_text=True)
        before = snapshot(session)
        assert_problem(client.post(rates, as_user=manager, json=body), 403,
                       code="role-forbidden")
        assert client.get(f"{API}/projects/{side.objects['project']}",
                          as_user=manager).status_code == 200  # a reviewer may read
        assert client.patch(f"{API}/users/{manager.id}", as_user=admin,
                            json={"is_active": False}).status_code == 200
        assert_problem(client.get(f"{API}/me", as_user=manager), 401)
        changed = set(changed_tables(before, snapshot(session)))
        assert {"users", "audit_events"} <= changed, changed


def test_a_method_override_header_does_not_reach_another_function(env, baseline) -> None:
    """Werkzeug routes on the real method: a trainer's GET that asks to be a POST (a
    proxy trick some frameworks honour) does not approve anything."""
    client, session, connection, world = env
    side = world.a
    before = baseline
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        with rolled_back(session, connection):
            response = client.get(_path("/payout-runs/{payout_run}/approve", side),
                                  as_user=side.trainer, headers={header: "POST"})
            assert response.status_code == 405
            assert changed_tables(before, snapshot(session)) == []
