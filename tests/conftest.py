"""Test harness: the whole suite runs on SQLite (default) or on PostgreSQL.

Set ``WORKFORCE_TEST_DATABASE_URL=postgresql+psycopg://...`` to run on PostgreSQL;
the database is migrated with Alembic (the real migrations, not ``create_all``)
once per run, and every test runs inside a transaction that is rolled back.
Sessions opened by the code under test join it through savepoints, so their
commits stay invisible to the next test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.orm import Session

from tests import factories
from tests.client import ApiClient
from tests.factories import StaffFactory, UserFactory
from tests.task_helpers import staffed_project
from tests.upload_helpers import moto_server
from workforce import migrate
from workforce.accounts import passwords
from workforce.accounts.models import Role, User
from workforce.api.ratelimit import limiter
from workforce.app import create_app
from workforce.db import Database, make_engine
from workforce.notifications.senders import MemorySender
from workforce.projects.models import Project
from workforce.settings import Environment, Settings
from workforce.storage.s3 import S3FileStore
from workforce.uploads.links import FileAccess

S3_BUCKET = "workforce-test"

# Production keeps argon2's defaults; tests hash hundreds of passwords.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("WORKFORCE_TEST_DATABASE_URL")
    if url:
        name = make_url(url).database or ""
        if "test" not in name and "ci" not in name:
            raise pytest.UsageError(
                f"refusing to wipe database {name!r}: its name must contain 'test' or 'ci'"
            )
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'workforce-test.db'}"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=_database_url(tmp_path_factory),
        email_sender="memory",
        log_format="json",
        # The webhook tests' receiver listens on 127.0.0.1.
        webhook_allow_loopback=True,
        migrations_dir=str(Path(__file__).resolve().parent.parent / "migrations"),
        data_export_dir=str(tmp_path_factory.mktemp("exports")),
        file_store_dir=str(tmp_path_factory.mktemp("files")),
    )


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    with database.engine.begin() as connection:
        _wipe(connection)
    with database.engine.connect() as connection:
        migrate.upgrade(settings, "head", connection=connection)
        connection.commit()
    yield database
    database.dispose()


def _wipe(connection: Connection) -> None:
    """Start from an empty schema, whatever an interrupted earlier run left."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        return
    for table in inspect(connection).get_table_names():
        connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database) -> Flask:
    return create_app(settings, database=database, email_sender=MemorySender(),
                      configure_logging=False)


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    connection = database.engine.connect()
    transaction = connection.begin()
    factory_settings = dict(database.session_factory.kw)
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()
        database.session_factory.kw = factory_settings


@pytest.fixture
def session(database: Database, connection: Connection) -> Iterator[Session]:
    session = database.session()
    factories.bind(session)
    try:
        yield session
    finally:
        factories.bind(None)
        session.close()


@pytest.fixture(autouse=True)
def _fresh_limits_and_mail(app: Flask) -> Iterator[None]:
    limiter.reset()
    sender = app.extensions["workforce"].outbox.sender
    sender.sent.clear()
    yield


@pytest.fixture
def mail(app: Flask) -> MemorySender:
    return app.extensions["workforce"].outbox.sender


@pytest.fixture
def client(app: Flask, session: Session) -> ApiClient:
    return ApiClient(app.test_client(), session)


# --- the file store, on both backends --------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto, server mode) for the whole run, started on first
    use, with one bucket."""
    with moto_server() as endpoint:
        S3FileStore(bucket=S3_BUCKET, region="us-east-1", endpoint_url=endpoint
                    ).client.create_bucket(Bucket=S3_BUCKET)
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, app: Flask) -> Iterator[FileAccess]:
    """The application's file store for this test: the local folder or S3 (each test
    that asks runs on both)."""
    services = app.extensions["workforce"]
    saved = services.files
    if request.param == "s3":
        store = S3FileStore(bucket=S3_BUCKET, prefix=f"test-{uuid.uuid4().hex[:8]}",
                            region="us-east-1",
                            endpoint_url=request.getfixturevalue("s3_endpoint"))
        services.files = replace(saved, store=store)
    try:
        yield services.files
    finally:
        services.files = saved


# --- figures of the run, for docs/reliability.md ---------------------------------------

FIGURES = pytest.StashKey[dict[str, dict[str, Any]]]()


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    """Where a test leaves what it measured (calls made, time taken) under a heading:
    ``figures("authorization matrix")["calls as admin"] = 182``. Printed at the end of
    the run, after the tests' own report."""
    found = request.config.stash.setdefault(FIGURES, {})
    return lambda heading: found.setdefault(heading, {})


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(FIGURES, {})
    if found:
        terminalreporter.section("figures of this run (docs/reliability.md)")
    for heading, values in found.items():
        terminalreporter.write_line(
            f"{heading}: " + ", ".join(f"{name} {value}" for name, value in values.items()))


# --- committed data, for races between connections -----------------------------------


@pytest.fixture(scope="session")
def live_database(settings: Settings) -> Iterator[Database]:
    """A second PostgreSQL database whose writes are committed for real, for tests in
    which several connections (threads) race; created for the run and dropped after.

    Tests using it share its data: each must create its own organisation, users and
    projects, and look only at those.
    """
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("races between connections are tested on PostgreSQL")
    name = f"{url.database}_live"
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    live_url = url.set(database=name).render_as_string(hide_password=False)
    database = Database(live_url, pool_size=40, max_overflow=20)
    with database.engine.connect() as connection:
        migrate.upgrade(replace(settings, database_url=live_url), "head", connection=connection)
        connection.commit()
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def live_app(settings: Settings, live_database: Database) -> Flask:
    live_settings = replace(settings, database_url=str(live_database.engine.url))
    return create_app(live_settings, database=live_database, email_sender=MemorySender(),
                      configure_logging=False)


@pytest.fixture
def live_session(live_database: Database) -> Iterator[Session]:
    """A session on the live database; the factories commit through it for real."""
    session = live_database.session()
    factories.bind(session)
    try:
        yield session
    finally:
        factories.bind(None)
        session.close()


@pytest.fixture
def live_client(live_app: Flask, live_session: Session) -> ApiClient:
    """An ``ApiClient`` on the live app. Its Flask test client may be shared by threads
    only through ``live_app.test_client()`` per thread; see ``tests/races.py``."""
    return ApiClient(live_app.test_client(), live_session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the live database is marked ``races``: CI runs them once more
    through PgBouncer in transaction pooling mode (``-m races``, ``.ci/run``)."""
    for item in items:
        if "live_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.races)


# --- the people of a per-task project (a test module may define its own) --------------


@pytest.fixture
def manager(session: Session) -> User:
    """A vendor manager of a new organisation."""
    return StaffFactory()


@pytest.fixture
def reviewer(manager: User) -> User:
    return StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


@pytest.fixture
def project(manager: User, trainer: User) -> Project:
    """A per-task project of the manager's organisation with the trainer staffed."""
    return staffed_project(trainer, manager=manager)
