"""OWASP API1:2023, broken object-level authorization: a trainer never reaches another
trainer's objects, and a manager never reaches another organisation's, by id or through
a list. (The matrix in test_authz_matrix.py checks every route; these are the cases the
issue names, spelled out, with "nothing written" checked too.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import authz_world
from tests.client import ApiClient, assert_problem
from workforce.accounts.models import AuditEvent, Role
from workforce.db import Database

API = "/api/v1"


@pytest.fixture(scope="module")
def world_env(app: Flask, database: Database) -> Iterator[tuple[ApiClient, Session, object]]:
    with authz_world.isolated(database) as (_, session):
        client = ApiClient(app.test_client(), session)
        yield client, session, authz_world.build(client, session)


# (method, path with {object}, body): trainer B aims at trainer A's objects.
TRAINER_OBJECTS = [
    ("GET", "/me/attempts/{attempt}", None),
    ("PUT", "/me/attempts/{attempt}/answers/{question}", {"text": "Mine now."}),
    ("POST", "/me/attempts/{attempt}/submit", None),
    ("GET", "/me/assignments/{assignment}", None),
    ("POST", "/me/assignments/{assignment}/submit", {"answer": "hk", "active_seconds": 5}),
    ("POST", "/me/assignments/{assignment}/flag", {"category": "violence", "severity": "low"}),
    ("POST", "/me/assignments/{submitted_assignment}/appeal", {"message": "Mine."}),
    ("GET", "/me/statements/payouts/{payout_item}", None),
    ("GET", "/me/support-cases/{case}", None),
    ("POST", "/me/support-cases/{case}/notes", {"body": "Reading along."}),
    ("GET", "/me/timesheets/{timesheet}", None),
    ("POST", "/me/timesheets/{timesheet}/submit", None),
    ("POST", "/me/sessions/{session}/stop", None),
    ("DELETE", "/me/time-entries/{time_entry}", None),
    ("POST", "/me/memberships/{membership}/leave", {}),
    ("POST", "/me/notifications/{notification_trainer}/read", None),
    ("GET", "/me/projects/{project}", None),
    ("POST", "/projects/{project}/claims", None),
]

# Trainer A's lists, read by trainer B: nothing of A's may show.
TRAINER_LISTS = ["/me/earnings/items", "/me/earnings/summary", "/me/attempts", "/me/flags",
                 "/me/check-ins", "/me/support-cases", "/me/payout-account",
                 "/me/assignments", "/me/time-entries", "/me/timesheets", "/me/notifications",
                 f"/me/statements/monthly/{2030}/{1}"]

# (role of organisation B, method, path): aimed at organisation A's objects.
MANAGER_OBJECTS = [
    (Role.VENDOR_MANAGER, "GET", "/projects/{project}"),
    (Role.VENDOR_MANAGER, "GET", "/projects/{project}/report"),
    (Role.VENDOR_MANAGER, "GET", "/projects/{project}/tasks"),
    (Role.VENDOR_MANAGER, "GET", "/flags/{flag}"),
    (Role.VENDOR_MANAGER, "GET", "/projects/{project}/wellbeing"),
    (Role.VENDOR_MANAGER, "GET", "/assessments/{assessment}/questions"),
    (Role.ADMIN, "GET", "/support-cases/{case}"),
    (Role.ADMIN, "GET", "/users/{user_reviewer}"),
    (Role.FINANCE, "GET", "/payout-runs/{payout_run}"),
    (Role.FINANCE, "GET", "/payout-runs/{payout_run}/items.csv"),
    (Role.FINANCE, "GET", "/payout-items/{payout_item}"),
    (Role.FINANCE, "POST", "/payout-runs/{payout_run}/cancel"),
    (Role.FINANCE, "GET", "/payout-schedules/{payout_schedule}"),
]
MANAGER_LISTS = [
    (Role.VENDOR_MANAGER, "/projects"), (Role.VENDOR_MANAGER, "/flags"),
    (Role.ADMIN, "/support-cases"), (Role.FINANCE, "/payout-runs"),
    (Role.FINANCE, "/payout-accounts"), (Role.FINANCE, "/ledger/entries"),
    (Role.FINANCE, "/ledger/entries.csv"), (Role.FINANCE, "/bonuses"),
    (Role.ADMIN, "/audit-events"), (Role.ADMIN, "/users"),
]


def _path(template: str, side: authz_world.Side) -> str:
    values = {name: str(value) for name, value in side.objects.items()}
    values["user_reviewer"] = str(side.people[Role.REVIEWER].id)
    return API + template.format(**values)


def _writes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize(("method", "template", "body"), TRAINER_OBJECTS,
                         ids=[f"{m} {t}" for m, t, _ in TRAINER_OBJECTS])
def test_a_trainer_cannot_reach_another_trainers_object(world_env, method, template, body):
    client, session, world = world_env
    before = _writes(session)
    response = client.request(method, _path(template, world.a), as_user=world.b.trainer,
                              json=body if method != "GET" else None)
    assert_problem(response, 404)
    assert _writes(session) == before
    # Its owner does reach it (so the 404 is about reach, not a broken path).
    if method == "GET":
        assert client.get(_path(template, world.a), as_user=world.a.trainer).status_code == 200


@pytest.mark.parametrize("path", TRAINER_LISTS)
def test_a_trainers_lists_show_nothing_of_another_trainer(world_env, path):
    client, _, world = world_env
    response = client.get(API + path, as_user=world.b.trainer)
    assert response.status_code in (200, 404)
    text = response.get_data(as_text=True)
    assert not {i for i in world.a.ids if i in text}
    assert world.a.trainer.email not in text
    # And the owner's own list is not empty where the world gave them something.
    if path in ("/me/earnings/items", "/me/flags", "/me/check-ins", "/me/support-cases",
                "/me/attempts"):
        own = client.get(API + path, as_user=world.a.trainer).get_json()
        assert own["items"], path


@pytest.mark.parametrize(("role", "method", "template"), MANAGER_OBJECTS,
                         ids=[f"{r.value} {m} {t}" for r, m, t in MANAGER_OBJECTS])
def test_staff_cannot_reach_another_organisations_object(world_env, role, method, template):
    client, session, world = world_env
    before = _writes(session)
    response = client.request(method, _path(template, world.a), as_user=world.b.people[role],
                              json={} if method != "GET" else None)
    assert_problem(response, 404)
    assert _writes(session) == before


@pytest.mark.parametrize(("role", "path"), MANAGER_LISTS,
                         ids=[f"{r.value} {p}" for r, p in MANAGER_LISTS])
def test_staff_lists_show_nothing_of_another_organisation(world_env, role, path):
    client, _, world = world_env
    response = client.get(API + path, as_user=world.b.people[role])
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert not {i for i in world.a.ids if i in text}
    assert not {e for e in world.a.emails if e in text}
