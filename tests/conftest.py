"""Test harness: the whole suite runs on SQLite (default) or on PostgreSQL.

Set ``WORKFORCE_TEST_DATABASE_URL=postgresql+psycopg://...`` to run on PostgreSQL;
the database is migrated with Alembic (the real migrations, not ``create_all``)
once per run, and every test runs inside a transaction that is rolled back.
Sessions opened by the code under test join it through savepoints, so their
commits stay invisible to the next test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.orm import Session

from tests import factories
from tests.client import ApiClient
from workforce import migrate
from workforce.accounts import passwords
from workforce.api.ratelimit import limiter
from workforce.app import create_app
from workforce.db import Database
from workforce.notifications.senders import MemorySender
from workforce.settings import Environment, Settings

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
        migrations_dir=str(Path(__file__).resolve().parent.parent / "migrations"),
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
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()
        database.session_factory.configure(
            bind=database.engine, join_transaction_mode="conservative_savepoint"
        )


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
