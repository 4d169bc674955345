"""The database core: UTC timestamps on every backend, and the unit of work."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import OrganisationFactory
from workforce.accounts.models import Organisation
from workforce.db import Database, after_commit


def test_timestamps_come_back_as_aware_utc(session: Session) -> None:
    hong_kong = timezone(timedelta(hours=8))
    organisation = OrganisationFactory(created_at=datetime(2026, 3, 1, 9, 30, tzinfo=hong_kong))
    session.expire_all()
    loaded = session.get(Organisation, organisation.id)
    assert loaded.created_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(Organisation(name="n", slug="naive", created_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()
    session.rollback()


def test_unit_of_work_commits_and_runs_after_commit(database: Database, session: Session) -> None:
    ran: list[str] = []
    with database.unit_of_work() as uow:
        uow.add(Organisation(name="Kept", slug="kept"))
        after_commit(uow, lambda: ran.append("sent"))
    assert ran == ["sent"]
    assert session.scalars(select(Organisation).where(Organisation.slug == "kept")).one()


def test_unit_of_work_rolls_back_on_error(database: Database, session: Session) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        uow.add(Organisation(name="Lost", slug="lost"))
        uow.flush()
        after_commit(uow, lambda: ran.append("sent"))
        raise RuntimeError("boom")
    assert ran == []
    assert session.scalars(select(Organisation).where(Organisation.slug == "lost")).first() is None


def test_a_failing_after_commit_callback_does_not_undo_the_commit(
    database: Database, session: Session
) -> None:
    def broken() -> None:
        raise OSError("mail server down")

    with database.unit_of_work() as uow:
        uow.add(Organisation(name="Still", slug="still"))
        after_commit(uow, broken)
    assert session.scalars(select(Organisation).where(Organisation.slug == "still")).one()


def test_sqlite_units_of_work_that_read_then_write_wait_for_each_other(tmp_path) -> None:
    """The development database (SQLite): a unit of work that reads, then writes while
    another holds the write lock waits for it (the busy timeout) instead of failing
    at once with "database is locked", as a deferred BEGIN made it (a trainer's claim
    during a colleague's submit was a 500)."""
    from workforce.db import Base

    database = Database(f"sqlite:///{tmp_path / 'two-writers.db'}")
    Base.metadata.create_all(database.engine)
    first_wrote, done = threading.Event(), []

    def first() -> None:
        with database.unit_of_work() as uow:
            uow.add(Organisation(name="First", slug="first"))
            uow.flush()
            first_wrote.set()
            time.sleep(0.3)  # still holding the write lock

    def second(session: Session) -> None:
        first_wrote.wait(5)
        seen = session.scalars(select(Organisation)).all()  # reads first
        session.add(Organisation(name="Second", slug="second"))
        session.flush()
        done.append(len(seen))

    holder = threading.Thread(target=first)
    holder.start()
    database.run(second)
    holder.join()
    with database.unit_of_work() as uow:
        assert sorted(uow.scalars(select(Organisation.slug))) == ["first", "second"]
    assert done == [1]  # it read after the first committed
    database.dispose()
