"""Behind a pooler in transaction mode (PgBouncer): nothing a transaction leaves on its
server connection may reach the next one. The live-database tests here run in every
PostgreSQL run and, in CI, once more through a real PgBouncer (``-m races``, ``.ci/run``):
without ``?pooler=pgbouncer`` turning psycopg's prepared statements off, two clients'
``_pg3_0`` meet on one server connection there and the statement fails."""

from __future__ import annotations

import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory
from workforce.db import Database, make_engine, without_parallel_plans
from workforce.results import aggregation

# psycopg prepares a statement on its fifth run on a connection (prepare_threshold=5).
RUNS = 12


def test_an_unknown_pooler_is_refused_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="pooler='pgpool'"):
        make_engine("postgresql+psycopg://u@127.0.0.1:5432/db?pooler=pgpool")


def _postgresql(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("poolers stand in front of PostgreSQL")


def _prepared(database: Database, url: str) -> int:
    """Server-side prepared statements one connection of ``url`` holds after running
    the same statement ``RUNS`` times."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for _ in range(RUNS):
                conn.execute(select(func.count()).select_from(text("pg_class"))).scalar()
            return conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    finally:
        engine.dispose()


def test_pooler_parameter_turns_prepared_statements_off(database: Database) -> None:
    _postgresql(database)
    url = make_url(database.engine.url).render_as_string(hide_password=False)
    pooled = make_url(url).update_query_dict({"pooler": "pgbouncer"})
    assert _prepared(database, pooled.render_as_string(hide_password=False)) == 0
    # The same without the parameter prepares it (what would break behind PgBouncer),
    # unless the suite itself runs behind one.
    if "pooler" not in make_url(database.engine.url).query:
        assert _prepared(database, make_url(url).difference_update_query(["pooler"])
                         .render_as_string(hide_password=False)) >= 1


def test_interleaved_transactions_of_two_connections_share_nothing(
        live_database: Database) -> None:
    """Two pooled connections take turns, each running the same statement in
    transactions of their own many times over: through PgBouncer they land on the same
    server connections, so prepared statements or session settings of one would reach
    the other."""
    with live_database.engine.connect() as first, live_database.engine.connect() as second:
        for turn in range(RUNS):
            for conn in (first, second):
                with conn.begin():
                    assert conn.execute(
                        select(func.count()).select_from(text("pg_class"))).scalar() > 0
                    assert conn.execute(select(turn + 1)).scalar() == turn + 1


def test_set_local_and_advisory_locks_end_with_their_transaction(
        live_database: Database, live_session: Session) -> None:
    with live_database.engine.connect() as conn:
        before = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar()
        conn.rollback()
    project_id = ProjectFactory().id
    live_session.commit()
    key = int.from_bytes(project_id.bytes[:8], "big", signed=True)

    def work(session: Session) -> None:
        without_parallel_plans(session)
        assert session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        assert aggregation.lock_for_run(session, project_id) is not None
        assert _advisory_locks(session, key) == 1

    live_database.run(work)
    for _ in range(3):
        with live_database.unit_of_work() as session:
            assert session.execute(
                text("SHOW max_parallel_workers_per_gather")).scalar() == before
            assert _advisory_locks(session, key) == 0


def _advisory_locks(session: Session, key: int) -> int:
    # A bigint key is held as classid (its high half) and objid (its low half).
    return session.execute(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
        "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key}).scalar()
