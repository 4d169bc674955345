"""Fuzzing every operation of the OpenAPI document with schemathesis, in process (the
Flask app through its WSGI interface), on SQLite and on PostgreSQL.

The world is the demo organisation (staff, trainers, projects, tasks, a payout schedule,
a bonus) plus a reviewer. Generated path parameters are replaced, most of the time, by
ids that exist, so the fuzzer reaches the services and not only the 404 of an unknown id.

For each operation:

- ``WORKFORCE_FUZZ_EXAMPLES`` generated requests (valid and invalid input mixed), each
  sent as one of the roles the policy admits (every one of them with
  ``WORKFORCE_FUZZ_EVERY_ROLE=1``): no 5xx, and the status, content type, headers and
  body of every answer are declared by the document;
- the first one also as a role the policy refuses (every one with ``EVERY_ROLE``):
  403 (or 404 where the route hides the object, 422 when the input is refused first);
- and without a token: 401 (public operations are fuzzed unauthenticated).

Across the 189 operations every role is exercised. The CI run is bounded (two examples
per operation, about 750 requests); ``make fuzz`` runs the same module with every role
and many more examples (see docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import StaffFactory, UserFactory, token_for
from tests.payout_helpers import configure
from tests.stripe_standin import StripeStandin, stripe_standin
from tests.test_openapi import OPENAPI, documented_rules
from workforce import demo
from workforce.accounts.models import Role, User
from workforce.api.ratelimit import limiter
from workforce.api.security import policy_of

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

EXAMPLES = int(os.environ.get("WORKFORCE_FUZZ_EXAMPLES", "2"))
EVERY_ROLE = os.environ.get("WORKFORCE_FUZZ_EVERY_ROLE", "") not in ("", "0")
SEED = int(os.environ.get("WORKFORCE_FUZZ_SEED", "0")) or None
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance,
    response_headers_conformance, response_schema_conformance,
]
# Path parameters that name rows, and the tables they come from.
ID_TABLES: dict[str, tuple[str, ...]] = {
    "appeal_id": ("task_appeals",), "assessment_id": ("assessments",),
    "assignment_id": ("task_assignments",), "attempt_id": ("attempts",),
    "case_id": ("support_cases",), "entry_id": ("journal_entries", "time_entries"),
    "flag_id": ("content_flags",), "grading_id": ("gradings",),
    "invitation_id": ("invitations",), "item_id": ("payout_items",),
    "membership_id": ("project_members",), "notification_id": ("notifications",),
    "payout_item_id": ("payout_items",), "project_id": ("projects",),
    "qualification_id": ("qualifications",), "question_id": ("questions",),
    "run_id": ("payout_runs",), "schedule_id": ("payout_schedules",),
    "timesheet_id": ("timesheets",), "user_id": ("users",),
}
KNOWN_VALUES = {
    "currency": ["USD", "EUR", "HKD"], "country": ["HK", "US", "GB"],
    "category": ["graphic_violence", "self_harm"], "year": [2025, 2026], "month": [1, 6, 12],
}
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass
class Tally:
    """What the run did, for docs/reliability.md and for the failure message."""

    cases: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def report(self) -> str:
        return (f"{sum(self.cases.values())} cases {dict(self.cases)}; "
                f"statuses {dict(sorted(self.statuses.items()))}")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """The demo organisation with a reviewer, a token per role, and the ids that exist."""
    accounts = demo.seed(session)
    assert accounts is not None
    session.commit()
    users = {account.user.role: account.user for account in accounts}
    organisation = users[Role.ADMIN].organisation
    users[Role.REVIEWER] = StaffFactory(role=Role.REVIEWER, organisation=organisation)
    return {"users": users, "ids": known_ids(session)}


def known_ids(session: Session) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for name, tables in ID_TABLES.items():
        values: list[Any] = []
        for table in tables:
            query = text(f"SELECT id FROM {table}")  # noqa: S608 (names from the map above)
            values += [str(uuid.UUID(str(row))) for row in session.scalars(query)]
        found[name] = values
    return {**found, **KNOWN_VALUES}


@pytest.fixture
def stripe_app(app: Flask, stripe_standin: StripeStandin,
               monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Stripe configured and pointed at the stand-in, so payout accounts and webhooks
    answer as in production (not 503 "not configured")."""
    configure(monkeypatch, app, stripe_api_key=stripe_standin.api_key,
              stripe_api_base=stripe_standin.url,
              stripe_webhook_secret=stripe_standin.webhook_secret,
              stripe_connect_webhook_secret=stripe_standin.connect_webhook_secret,
              public_base_url="https://workforce.example")
    return app


@pytest.fixture
def schema(stripe_app: Flask, session: Session) -> Any:
    return schemathesis.openapi.from_wsgi(OPENAPI, stripe_app)


@pytest.fixture
def no_rate_limits() -> Iterator[None]:
    """Thousands of requests from one address: the limits are tested elsewhere."""
    limiter.enabled = False
    try:
        yield
    finally:
        limiter.enabled = True


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        if hasattr(result, "err"):
            raise AssertionError(f"the document does not load: {result.err()}")
        yield result.ok()


def policy(app: Flask, operation: Any):
    endpoint = documented_rules(app)[(operation.path, operation.method.lower())]
    return policy_of(app.view_functions[endpoint])


def strategy(operation: Any) -> Any:
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                     operation.as_strategy(GenerationMode.NEGATIVE))


def with_known_ids(case: Any, ids: dict[str, list[Any]], pick: random.Random) -> Any:
    """Most of the time, point the case at objects that exist."""
    for name in list(case.path_parameters or {}):
        if name in ids and ids[name] and pick.random() < 0.85:
            case.path_parameters[name] = pick.choice(ids[name])
    return case


class Caller:
    """Who sends the cases: a fresh token per operation and role, and each user put back
    as they were (the fuzzer logs out, deactivates and changes roles too)."""

    def __init__(self, session: Session, users: dict[Role, User]) -> None:
        self.session = session
        self.users = users
        self.original = {role: (user.role, user.is_active) for role, user in users.items()}

    def tokens(self) -> dict[Role, str]:
        for role, user in self.users.items():
            self.session.refresh(user)
            user.role, user.is_active = self.original[role]
        self.session.commit()
        return {role: token_for(user) for role, user in self.users.items()}


def send(case: Any, token: str | None, tally: Tally, label: str,
         expect: tuple[int, ...] | None) -> None:
    """Send the case as one caller; record every failed check in ``tally``."""
    where = f"{label} {case.operation.method.upper()} {case.operation.path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if token is None and case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    try:
        response = case.call(headers=headers)
    except Exception as exc:  # an exception that escaped the app's error handlers
        tally.failures.append(f"{where}: raised {exc!r}\n    {case.as_curl_command()}")
        return
    tally.cases[label] += 1
    tally.statuses[response.status_code] += 1
    if expect is not None and response.status_code not in expect:
        tally.failures.append(
            f"{where}: {response.status_code}, expected {expect}: {response.text[:300]}"
            f"\n    {case.as_curl_command()}")
        return
    try:
        case.validate_response(response, checks=CHECKS)
    except (AssertionError, BaseExceptionGroup) as exc:
        tally.failures.append(f"{where}: {str(exc)[:1500]}\n    {case.as_curl_command()}")


def fuzz(operation: Any, rule: Any, tokens: dict[Role, str], ids: dict[str, list[Any]],
         tally: Tally) -> None:
    """``EXAMPLES`` generated cases, each sent as one of the roles the policy admits (all
    of them with ``EVERY_ROLE``; no token for a public operation); the first also without
    a token (401) and as a role the policy refuses (all of them with ``EVERY_ROLE``)."""
    allowed = [role for role in tokens if rule.roles is None or role in rule.roles]
    refused = [role for role in tokens if role not in allowed]
    first = [True]

    # The CI run draws the same cases every time (derandomised); a seed draws others.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @seed(SEED or 0)
    @given(case=strategy(operation), salt=st.integers(0, 2**32))
    def run(case: Any, salt: int) -> None:
        pick = random.Random(salt ^ (SEED or 0))
        with_known_ids(case, ids, pick)
        if rule.is_public:
            send(case, None, tally, "public", None)
            return
        if first[0]:
            first[0] = False
            send(case, None, tally, "anonymous", (401,))
            for role in refused if EVERY_ROLE else pick.sample(refused, min(1, len(refused))):
                send(case, tokens[role], tally, role.value, (403, 404, 422))
        for role in allowed if EVERY_ROLE else [pick.choice(allowed)]:
            send(case, tokens[role], tally, role.value, None)

    run()


@pytest.mark.slow
def test_every_operation_as_every_role(
    stripe_app: Flask, schema: Any, world: dict[str, Any], session: Session,
    no_rate_limits: None, record_property: Any, figures: Callable[[str], dict],
) -> None:
    tally = Tally()
    caller = Caller(session, world["users"])
    tokens = caller.tokens()
    for operation in operations(schema):
        fuzz(operation, policy(stripe_app, operation), tokens, world["ids"], tally)
        if operation.method.lower() != "get":  # it may have logged a caller out
            tokens = caller.tokens()
    record_property("fuzz", tally.report())
    figures("fuzzing")["cases"] = tally.report()
    assert not tally.failures, (
        f"{len(tally.failures)} failures; {tally.report()}\n" + "\n".join(tally.failures))


# --- what the fuzzer found, pinned ---------------------------------------------------------


def test_who_asks_is_checked_before_what_they_send(client: Any, session: Session) -> None:
    """Found by the fuzzer: a query parameter holding NUL (or a body of the wrong type)
    was refused with 422 (415) before the missing token was noticed. Authentication and
    the role come first now."""
    trainer = UserFactory()
    path = f"/api/v1/projects/{uuid.uuid4()}/tasks/import?a%00=1"
    assert client.post(path).status_code == 401
    assert client.post("/api/v1/projects", data="x", content_type="text/plain").status_code == 401
    refused = client.post("/api/v1/projects?q%00=1", as_user=trainer, json={})
    assert refused.status_code == 403, refused.get_json()
    # Once the caller may call it, the input checks answer as before.
    manager = StaffFactory(role=Role.VENDOR_MANAGER)
    nul = client.post("/api/v1/projects?q%00=1", as_user=manager, json={})
    assert nul.status_code == 422 and "NUL" in nul.get_json()["detail"]
    plain = client.post("/api/v1/projects", as_user=manager, data="x",
                        content_type="text/plain")
    assert plain.status_code == 415
