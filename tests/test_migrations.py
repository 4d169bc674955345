"""The Alembic revisions and the models describe the same schema, on this backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, update
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


def test_0011_g2_cuts_stored_rates_to_the_whole_second(
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


def test_0011_g2_puts_each_suspensions_moment_on_its_project(
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
    """0011_g3: every assignment so far showed its task at the claim, so its exposure
    (now counted from the reveal) and its submission stay as they were."""
    claimed_at = datetime(2030, 1, 8, 9, tzinfo=UTC)
    assignment = worked_task(ProjectFactory(), UserFactory(), claimed_at=claimed_at,
                             submitted_at=claimed_at + timedelta(minutes=5))
    migrate.downgrade(settings, "0010", connection=connection)
    migrate.upgrade(settings, "head", connection=connection)
    assert connection.execute(select(Assignment.revealed_at).where(
        Assignment.id == assignment.id)).scalar_one() == claimed_at
