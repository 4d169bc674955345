"""The Alembic revisions and the models describe the same schema, on this backend."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, DateTime, Uuid, column, insert, inspect, text
from sqlalchemy import table as table_

from workforce import migrate
from workforce.db import Base
from workforce.models import accounts  # noqa: F401  (every model is registered)
from workforce.settings import Settings


def _diff(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def test_models_match_migrations(connection: Connection) -> None:
    assert _diff(connection) == []


def test_a_model_change_without_revision_is_caught(connection: Connection) -> None:
    from sqlalchemy import Column, Integer, Table

    extra = Table("not_migrated", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        assert any(op[0] == "add_table" for op in _diff(connection))
    finally:
        Base.metadata.remove(extra)


def test_downgrade_to_base_and_back(connection: Connection, settings: Settings) -> None:
    # Transactional DDL (PostgreSQL, and SQLite as configured) keeps this inside the
    # test's transaction, which is rolled back afterwards.
    migrate.downgrade(settings, "base", connection=connection)
    assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(settings, "head", connection=connection)
    assert _diff(connection) == []


def test_one_head(settings: Settings) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(settings))
    assert len(script.get_heads()) == 1


def test_0011_g6_scrubs_stored_secrets_and_normalises_addresses(
    connection: Connection, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens already stored in e-mail bodies are taken out (a waiting message keeps its
    token apart until the token expires); addresses are rewritten in their normal form,
    except one that would then be another account's, which is reported, not merged."""
    before = ScriptDirectory.from_config(migrate.alembic_config(settings)) \
        .get_revision("0011_g6").down_revision
    migrate.downgrade(settings, str(before), connection=connection)
    now = datetime.now(UTC)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "mei") + "@example.org"
    users = {name: uuid.uuid4() for name in ("mei", "fullwidth", "ana", "office")}
    emails = {"mei": "mei@example.org", "fullwidth": fullwidth, "ana": "Ana@Example.ORG",
              "office": "o\ufb03ce@example.org"}
    _insert(connection, "users", [
        {"id": users[name], "email": email, "password_hash": "x", "display_name": name,
         "role": "trainer", "timezone": "UTC", "languages": "[]", "is_active": True,
         "created_at": now, "updated_at": now}
        for name, email in emails.items()])
    organisation = uuid.uuid4()
    _insert(connection, "organisations", [{"id": organisation, "name": "O", "slug": "o",
                                           "created_at": now, "updated_at": now}])
    invited, sent, unknown = ("wfi_" + "A" * 43, "wfr_" + "A" * 43, "wfi_" + "B" * 43)
    expires = now + timedelta(days=5)
    _insert(connection, "invitations", [{
        "id": uuid.uuid4(), "organisation_id": organisation, "email": "Rui@EXAMPLE.org",
        "role": "reviewer", "token_hash": hashlib.sha256(invited.encode()).hexdigest(),
        "invited_by_id": users["mei"], "expires_at": expires, "created_at": now,
        "updated_at": now}])
    outbox = {"waiting": ("pending", invited), "sent": ("sent", sent),
              "lost": ("pending", unknown)}
    ids = {name: uuid.uuid4() for name in outbox}
    _insert(connection, "outbound_emails", [
        {"id": ids[name], "to_address": "x@example.org", "subject": name,
         "body": f"Token: {token}\nThanks.", "status": status, "attempts": 1,
         "created_at": now, "updated_at": now}
        for name, (status, token) in outbox.items()])

    with caplog.at_level(logging.WARNING):
        migrate.upgrade(settings, "head", connection=connection)

    rows = {row.subject: row for row in connection.execute(text(
        "SELECT subject, body, status, secret, secret_expires_at FROM outbound_emails"))}
    assert all(row.body == "Token: {secret}\nThanks." for row in rows.values())
    assert rows["waiting"].status == "pending" and rows["waiting"].secret == invited
    waits_until = rows["waiting"].secret_expires_at
    assert _utc(waits_until) == expires
    assert (rows["sent"].status, rows["sent"].secret) == ("sent", None)
    assert (rows["lost"].status, rows["lost"].secret) == ("failed", None)
    stored = dict(connection.execute(text("SELECT display_name, email FROM users")).all())
    assert stored == {"mei": "mei@example.org", "fullwidth": fullwidth,
                      "ana": "ana@example.org", "office": "office@example.org"}
    assert connection.execute(text("SELECT email FROM invitations")).scalar() == \
        "rui@example.org"
    assert f"users {users['fullwidth']}" in caplog.text and "not merged" in caplog.text


def _insert(connection: Connection, table: str, rows: list[dict]) -> None:
    columns = [column(name, Uuid() if isinstance(value, uuid.UUID) else
                      DateTime(timezone=True) if isinstance(value, datetime) else None)
               for name, value in rows[0].items()]
    connection.execute(insert(table_(table, *columns)), rows)


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite gives back text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
