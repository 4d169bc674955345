"""Data safety: a failure in the middle of a request leaves nothing behind, and the
migrations go down and up again on a database that holds data.

A database error is injected at the statement level (an ``OperationalError`` raised as a
chosen INSERT is about to run, after the request has already written other rows); a
gateway timeout comes from the Stripe stand-in holding its answer past the client's
timeout. Each time the whole database is compared, row by row, before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import time_machine
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import event, inspect, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests import factories
from tests.client import ApiClient
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    staff,
)
from tests.payout_helpers import EARNED_AT, NOW, schedule, sign_in_for_days, trainer_owed
from tests.stripe_standin import StripeStandin, stripe_standin
from tests.test_migrations import _diff
from workforce import demo, migrate
from workforce.accounts.models import Role, User
from workforce.billing import payouts
from workforce.billing.models import PayoutItem, PayoutRun
from workforce.db import Base, Database, make_engine
from workforce.settings import Settings

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

API = "/api/v1"


# --- comparing the whole database ------------------------------------------------------------


def state(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as text, sorted: what "nothing was written" compares."""
    session.expire_all()
    connection = session.connection()
    dump = {}
    for table in Base.metadata.sorted_tables:
        rows = connection.execute(table.select()).all()
        dump[table.name] = sorted(repr(tuple(row)) for row in rows)
    return dump


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


@contextmanager
def failing_insert(database: Database, table: str) -> Iterator[list[str]]:
    """Raise a database error when the next INSERT into ``table`` is about to run; yields
    the statements that ran before it (so a test can show the request had written)."""
    seen: list[str] = []
    fired = [False]

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               executemany: bool) -> None:
        words = statement.lstrip().split(None, 3)
        verb = words[0].upper() if words else ""
        target = words[2].strip('"') if verb == "INSERT" and len(words) > 2 else ""
        if verb == "INSERT" and target == table and not fired[0]:
            fired[0] = True
            raise OperationalError(statement, params, Exception("injected: server closed"))
        if verb in ("INSERT", "UPDATE", "DELETE"):
            seen.append(f"{verb} {words[2] if verb != 'UPDATE' else words[1]}")

    event.listen(database.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", before)
    assert fired[0], f"no INSERT into {table} was reached"


# --- a database error in the middle of a request ----------------------------------------------


def grant_bonus(client: ApiClient, session: Session) -> Callable[[], Any]:
    manager = StaffFactory()
    trainer = UserFactory()
    staff(ProjectFactory(manager=manager), trainer)
    body = {"trainer_id": str(trainer.id), "amount": 1500, "currency": "USD",
            "reason": "Excellent accuracy", "idempotency_key": f"k-{uuid.uuid4()}"}
    client.token(manager)  # issued now, not inside the request under test
    return lambda: client.post(f"{API}/bonuses", as_user=manager, json=body)


def submit_auto_approved(client: ApiClient, session: Session) -> Callable[[], Any]:
    project = ProjectFactory(review_sample_percent=0)
    trainer = UserFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    lease = client.post(f"{API}/projects/{project.id}/claims", as_user=trainer).get_json()
    return lambda: client.post(f"{API}/me/assignments/{lease['id']}/submit", as_user=trainer,
                               json={"answer": {"accent": "hk"}, "active_seconds": 60})


def approve_review(client: ApiClient, session: Session) -> Callable[[], Any]:
    project = ProjectFactory(review_sample_percent=100)
    trainer = UserFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    lease = client.post(f"{API}/projects/{project.id}/claims", as_user=trainer).get_json()
    done = client.post(f"{API}/me/assignments/{lease['id']}/submit", as_user=trainer,
                       json={"answer": {"accent": "hk"}, "active_seconds": 60})
    assert done.status_code == 200, done.get_json()
    manager = session.get(User, project.created_by_id)
    client.token(manager)
    return lambda: client.post(f"{API}/assignments/{lease['id']}/review", as_user=manager,
                               json={"decision": "approve"})


def run_now(client: ApiClient, session: Session) -> Callable[[], Any]:
    finance = StaffFactory(role=Role.FINANCE)
    found = schedule(session, finance.organisation_id)
    for amount in (1200, 3400, 560):
        trainer_owed(finance.organisation_id, amount)
    sign_in_for_days(client, finance)

    def call() -> Any:
        with time_machine.travel(NOW, tick=False):
            return client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=finance)

    return call


SCENARIOS = {
    # request: the INSERT that fails, after the request wrote other rows
    "bonus": (grant_bonus, "notifications"),
    "bonus-ledger": (grant_bonus, "postings"),
    "auto-approved-submission": (submit_auto_approved, "postings"),
    "review-approval": (approve_review, "journal_entries"),
    "payout-run-now": (run_now, "audit_events"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_database_error_mid_request_writes_nothing(
    name: str, client: ApiClient, session: Session, database: Database,
) -> None:
    prepare, table = SCENARIOS[name]
    with time_machine.travel(EARNED_AT, tick=False) if name == "payout-run-now" else _nothing():
        call = prepare(client, session)
    before = state(session)
    with failing_insert(database, table) as written:
        response = call()
    assert response.status_code == 500, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert "Traceback" not in response.get_data(as_text=True)
    assert written, "the failure came before the request wrote anything"
    assert changed(before, state(session)) == []
    # The same request without the failure goes through and writes: the injected error
    # really fell in the middle of the work.
    retried = call()
    assert retried.status_code < 300, retried.get_json()
    assert table in changed(before, state(session))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# --- a gateway timeout in the middle of a request ----------------------------------------------


@pytest.fixture
def slow_stripe(app: Flask, stripe_standin: StripeStandin,
                monkeypatch: pytest.MonkeyPatch) -> StripeStandin:
    """Stripe configured and pointed at the stand-in, with a client that gives up after
    half a second (the stand-in's planned timeouts hold the answer for two)."""
    services = app.extensions["workforce"]
    monkeypatch.setattr(services, "settings", replace(
        services.settings, stripe_api_key=stripe_standin.api_key,
        stripe_api_base=stripe_standin.url, public_base_url="https://workforce.example"))
    monkeypatch.setattr(services, "gateway", stripe_standin.gateway(timeout=0.5))
    return stripe_standin


@pytest.mark.parametrize("route", ["POST /v1/accounts", "POST /v1/account_links"])
def test_a_gateway_timeout_while_connecting_stripe_writes_nothing(
    route: str, client: ApiClient, session: Session, slow_stripe: StripeStandin,
) -> None:
    """The account (or, later in the same request, its onboarding link) times out at
    Stripe: the payout account row, its audit record and any hold are all rolled back;
    the retry creates the payout account once and reuses the Stripe account that the
    first attempt may have made (the idempotency key is the trainer's)."""
    trainer = UserFactory()
    client.token(trainer)  # issued now, not inside the request under test
    before = state(session)
    slow_stripe.timeout_next(route, seconds=2.0, process=True)
    response = client.post(f"{API}/me/payout-account/stripe", as_user=trainer)
    assert response.status_code in (502, 503), response.get_json()
    assert response.mimetype == "application/problem+json"
    assert changed(before, state(session)) == []

    retried = client.post(f"{API}/me/payout-account/stripe", as_user=trainer)
    assert retried.status_code == 200, retried.get_json()
    assert len(slow_stripe.accounts) == 1
    assert retried.get_json()["account"]["stripe_account_id"] in slow_stripe.accounts


# --- migrations on a database with data ---------------------------------------------------------


@pytest.fixture
def scratch_url(settings: Settings, tmp_path: Any) -> Iterator[str]:
    """An empty database of the suite's backend, for migrating up and down for real."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"{url.database}_migrations"
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fill(database: Database) -> dict[str, int]:
    """The demo data and a payout run paid by hand; returns a few counts."""
    session = database.session()
    factories.bind(session)
    try:
        assert demo.seed(session) is not None
        session.commit()
        finance = StaffFactory(role=Role.FINANCE)
        with time_machine.travel(EARNED_AT, tick=False):
            found = schedule(session, finance.organisation_id)
            for amount in (1500, 2500):
                trainer_owed(finance.organisation_id, amount, method="manual")
        with time_machine.travel(NOW, tick=False):
            run, _ = payouts.run_now(session, finance, found.id)
            payouts.approve_run(session, finance, run.id)
            for item in session.scalars(select(PayoutItem).where(PayoutItem.run_id == run.id)):
                payouts.record_manual_payment(session, finance, item.id, f"BANK-{item.id.hex[:8]}")
            session.commit()
        return {"runs": len(session.scalars(select(PayoutRun)).all()),
                "users": session.scalar(text("SELECT count(*) FROM users"))}
    finally:
        factories.bind(None)
        session.close()


@pytest.mark.slow
def test_migrations_go_down_and_up_on_a_database_with_data(
    settings: Settings, scratch_url: str
) -> None:
    """Filled with the demo data and a paid payout run, the database goes down one
    revision at a time to base (every downgrade runs against real rows) and back up to
    head, where the schema matches the models and the demo can be seeded again."""
    scratch = replace(settings, database_url=scratch_url)
    database = Database(scratch_url)
    try:
        with database.engine.connect() as connection:
            migrate.upgrade(scratch, "head", connection=connection)
            connection.commit()
        counts = fill(database)
        assert counts["runs"] == 1 and counts["users"] > 5
        revisions = [r.revision for r in ScriptDirectory.from_config(
            migrate.alembic_config(scratch)).walk_revisions()]
        with database.engine.connect() as connection:
            for _ in revisions:
                migrate.downgrade(scratch, "-1", connection=connection)
                connection.commit()
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
            migrate.upgrade(scratch, "head", connection=connection)
            connection.commit()
            assert _diff(connection) == []
        again = fill(database)
        assert again["runs"] == 1
    finally:
        database.dispose()
