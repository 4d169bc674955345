"""The Alembic revisions and the models describe the same schema, on this backend."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, DateTime, Uuid, column, insert, inspect, select, text, update
from sqlalchemy import table as table_
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, UserFactory, worked_task
from workforce import migrate
from workforce.db import Base
from workforce.models import accounts  # noqa: F401  (every model is registered)
from workforce.projects.models import (
    Assignment,
    Project,
    ProjectRate,
    ProjectState,
    Suspension,
)
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


@pytest.mark.slow
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


def test_0011_cuts_stored_rates_to_the_whole_second(
    connection: Connection, session: Session, settings: Settings
) -> None:
    project = ProjectFactory()
    rates = ProjectRate.__table__
    exact = datetime(2030, 1, 7, 1, 0, 0, 300_000, tzinfo=UTC)
    # Written as 0010 let them be, around the model's own cut.
    session.execute(update(rates).where(rates.c.project_id == project.id)
                    .values(effective_from=exact))
    session.commit()
    migrate.downgrade(settings, "0010", connection=connection)

    migrate.upgrade(settings, "head", connection=connection)

    stored = session.scalar(select(rates.c.effective_from)
                            .where(rates.c.project_id == project.id))
    assert stored == exact.replace(microsecond=0)


def test_0011_puts_each_suspensions_moment_on_its_project(
    connection: Connection, session: Session, settings: Settings
) -> None:
    moment = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    pending, suspended, resumed, cancelled = (
        ProjectFactory(state=state) for state in (
            ProjectState.ACTIVE, ProjectState.SUSPENDED, ProjectState.ACTIVE,
            ProjectState.PAUSED))
    for project, applied, called_off in ((pending, None, None), (suspended, moment, None),
                                         (resumed, moment, None), (cancelled, None, moment)):
        session.add(Suspension(project_id=project.id, reason="Stop.", announced_at=moment,
                               effective_at=moment, notice_days=7, applied_at=applied,
                               cancelled_at=called_off, created_by_id=project.created_by_id))
    session.commit()
    migrate.downgrade(settings, "0010", connection=connection)

    migrate.upgrade(settings, "head", connection=connection)

    projects = Project.__table__
    stored = dict(session.execute(select(projects.c.id, projects.c.suspension_effective_at)
                                  .where(projects.c.id.in_([pending.id, suspended.id,
                                                            resumed.id, cancelled.id]))).all())
    assert stored == {pending.id: moment, suspended.id: moment, resumed.id: None,
                      cancelled.id: None}


def test_assignments_made_before_the_reveal_step_count_as_revealed_at_their_claim(
    connection: Connection, settings: Settings, session: Session
) -> None:
    """0014: every assignment so far showed its task at the claim, so its exposure
    (now counted from the reveal) and its submission stay as they were."""
    claimed_at = datetime(2030, 1, 8, 9, tzinfo=UTC)
    assignment = worked_task(ProjectFactory(), UserFactory(), claimed_at=claimed_at,
                             submitted_at=claimed_at + timedelta(minutes=5))
    migrate.downgrade(settings, "0010", connection=connection)
    migrate.upgrade(settings, "head", connection=connection)
    assert connection.execute(select(Assignment.revealed_at).where(
        Assignment.id == assignment.id)).scalar_one() == claimed_at


def test_0015_scrubs_stored_secrets_and_normalises_addresses(
    connection: Connection, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens already stored in e-mail bodies are taken out (a waiting message keeps its
    token apart until the token expires); addresses are rewritten in their normal form,
    except one that would then be another account's, which is reported, not merged."""
    before = ScriptDirectory.from_config(migrate.alembic_config(settings)) \
        .get_revision("0015").down_revision
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


def test_0022_gold_verdicts_become_scores_and_back(
    connection: Connection, settings: Settings, session: Session
) -> None:
    """Right is 1 and wrong is 0; going back, only a full score is right."""
    project, trainer = ProjectFactory(), UserFactory()
    made = {score: worked_task(project, trainer, submitted_at=datetime.now(UTC))
            for score in ("1", "0.5", "0", None)}
    for score, assignment in made.items():
        assignment.gold_score = None if score is None else Decimal(score)
        assignment.gold_scores = None if score is None else {"accent": score}
    session.commit()
    ids = {assignment.id: score for score, assignment in made.items()}

    before = ScriptDirectory.from_config(migrate.alembic_config(settings)) \
        .get_revision("0022").down_revision
    migrate.downgrade(settings, str(before), connection=connection)
    rows = connection.execute(text("SELECT id, gold_correct FROM task_assignments")).all()
    verdicts = {ids[_uuid(row.id)]: row.gold_correct for row in rows if _uuid(row.id) in ids}
    assert {k: None if v is None else bool(v) for k, v in verdicts.items()} == {
        "1": True, "0.5": False, "0": False, None: None}

    migrate.upgrade(settings, "head", connection=connection)
    stored = dict(connection.execute(select(Assignment.id, Assignment.gold_score)
                                     .where(Assignment.id.in_(ids))).all())
    assert {ids[k]: v for k, v in stored.items()} == {
        "1": 1, "0.5": 0, "0": 0, None: None}


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _insert(connection: Connection, table: str, rows: list[dict]) -> None:
    columns = [column(name, Uuid() if isinstance(value, uuid.UUID) else
                      DateTime(timezone=True) if isinstance(value, datetime) else None)
               for name, value in rows[0].items()]
    connection.execute(insert(table_(table, *columns)), rows)


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite gives back text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_0024_keeps_one_aggregate_per_task_and_field(
    connection: Connection, session: Session, settings: Settings
) -> None:
    """The aggregates table survives a downgrade and upgrade, and refuses a second row
    for the same task and field."""
    from sqlalchemy.exc import IntegrityError

    from tests.factories import TaskFactory
    from workforce.results.aggregates import TaskAggregate, for_tasks

    before = ScriptDirectory.from_config(migrate.alembic_config(settings)) \
        .get_revision("0024").down_revision
    migrate.downgrade(settings, str(before), connection=connection)
    assert "task_aggregates" not in inspect(connection).get_table_names()
    migrate.upgrade(settings, "head", connection=connection)

    task = TaskFactory(project=ProjectFactory())
    row = {"task_id": task.id, "field": "label",
           "kind": "single_choice", "method": "dawid_skene", "value": "hk",
           "confidence": 0.9, "answers_count": 3, "template_version": 1,
           "computed_at": datetime(2030, 1, 7, tzinfo=UTC)}
    session.add(TaskAggregate(**row))
    session.flush()
    assert for_tasks(session, [task.id])[task.id]["label"].value == "hk"
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(TaskAggregate(**row))
        session.flush()
