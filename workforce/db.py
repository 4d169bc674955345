"""Engine, sessions and the declarative base shared by every domain package.

One unit of work is one ``Session``: the API opens one per request, jobs and CLI
commands run theirs with :meth:`Database.run`. Services only ``flush``; whoever opened
the session commits it, or rolls it back on any error. A unit of work that loses a race
on PostgreSQL (a deadlock or a serialization failure) is run again from the start, a
few times at most (:func:`retrying`).
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    Table,
    bindparam,
    case,
    create_engine,
    event,
    insert,
    literal,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator
from uuid6 import uuid7

from workforce import clock

log = logging.getLogger(__name__)
T = TypeVar("T")

# Set before the first migration so that constraint names, and therefore Alembic
# revisions, are stable across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def inline(value: Any, type_: Any = None) -> Any:
    """``value`` (or a tuple of values, for ``IN``) written into the statement's text
    rather than sent as a parameter: for the constants of hot statements.

    psycopg prepares a statement on its fifth run, and PostgreSQL then plans it once for
    every later run (a generic plan) only if that plan looks no costlier than those made
    for the parameters at hand. A constant sent as a parameter hides from the generic
    plan what it needs: that ``open_slots > 0`` implies a partial index's predicate,
    how many rows a ``LIMIT`` keeps. Such statements were planned again on every run
    (the claim's two largest: 0.7 ms of the database's CPU a claim, ``bench/RESULTS.md``).
    """
    if isinstance(value, tuple):
        return bindparam(None, list(value), type_=type_, expanding=True,
                         literal_execute=True)
    return literal(value, type_, literal_execute=True)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are
    normalised to UTC on the way in and UTC is attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        value = clock.as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else clock.as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class IdMixin:
    """A random UUID primary key: ids that reach the API are not guessable."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


def ordered_id() -> uuid.UUID:
    """A new id for a row of an ``OrderedIdMixin`` table that is written by a Core
    statement rather than the unit of work (which calls it as the column's default)."""
    return uuid7()


@functools.cache
def rows_insert(table: Table) -> Any:
    """An INSERT into ``table`` for many rows at once (``session.execute(stmt, rows)``),
    built once. It asks for the ids back though no caller reads them: with RETURNING,
    SQLAlchemy sends the rows as one multi-row INSERT ("insertmanyvalues"); without
    it, psycopg's executemany sends a statement a row in a pipeline, which costs the
    client more (the payout processor's batches: bench/RESULTS.md, round 6)."""
    return insert(table).returning(table.c.id)


def update_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Several rows of ``table`` updated by id, each with its own values (every row
    names the same columns, and ``id``), in one UPDATE: a CASE on the id for each
    column, the statement built once for each number of rows. Where psycopg's
    executemany sends a statement a row in a pipeline, at a higher cost to the client
    (the payout processor records a batch of payments at a time: bench/RESULTS.md,
    round 6)."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != "id")
    params: dict[str, Any] = {}
    for n, row in enumerate(rows):
        params[f"id_{n}"] = row["id"]
        for name in columns:
            params[f"{name}_{n}"] = row[name]
    session.execute(_update_rows_stmt(table, columns, len(rows)), params)


@functools.cache
def _update_rows_stmt(table: Table, columns: tuple[str, ...], count: int) -> Any:
    key = table.c.id
    ids = [bindparam(f"id_{n}", type_=key.type) for n in range(count)]
    return update(table).where(key.in_(ids)).values({
        name: case(*[(key == id_, bindparam(f"{name}_{n}", type_=table.c[name].type))
                     for n, id_ in enumerate(ids)], else_=table.c[name])
        for name in columns})


class OrderedIdMixin:
    """A UUID primary key that orders rows as they were made: version 7 (RFC 9562), its
    leading bits the time in milliseconds, increasing within a process (``uuid6``). For
    trails read in order of (time, id), such as the audit log and the inbox: rows one
    request writes at one ``now`` come back in the order it wrote them, where random ids
    broke the tie either way. 74 random bits: still not guessable."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=ordered_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and transactional DDL;
    # take it over (SQLAlchemy's documented recipe) and turn on foreign keys.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_directory(_dialect: Any, _record: Any, cargs: Any, _kwargs: Any) -> None:
    # The default ./var/workforce.db works on a fresh checkout: make its folder on
    # first connect (not when the engine is built, which does no I/O).
    database = cargs[0] if cargs else ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


# An execution option for work that only reads (the health check, streamed downloads):
# on SQLite it begins without taking the write lock (see ``_sqlite_begin``).
READS_ONLY = "workforce_reads_only"


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: a unit of work takes SQLite's write lock when it starts, waiting for
    # another writer up to the busy timeout. A deferred BEGIN takes it at the first
    # write, and when another writer holds it then, SQLite answers "database is locked"
    # at once rather than wait (it cannot tell whether waiting would deadlock): a
    # claim made while a colleague's submit commits failed at once (500). One writer at
    # a time is SQLite's rule anyway; the development database has few users. Work that
    # only reads begins deferred, beside the writer.
    reads_only = conn.get_execution_options().get(READS_ONLY)
    conn.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


# The URL's query parameter that says a pooler in transaction mode stands between the
# service and PostgreSQL (``?pooler=pgbouncer``); it is ours, not the driver's.
POOLER_PARAMETER = "pooler"
POOLERS = ("pgbouncer",)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        event.listen(engine, "do_connect", _sqlite_directory)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    pooler = parsed.query.get(POOLER_PARAMETER)
    engine = create_engine(parsed, **kwargs)
    if pooler is not None:
        _check_pooler(pooler)
        # The engine's URL keeps the parameter (a second engine made from it is alike).
        event.listen(engine, "do_connect", _behind_pooler)
    return engine


def _check_pooler(pooler: Any) -> None:
    if pooler not in POOLERS:
        raise ValueError(f"database URL: unknown {POOLER_PARAMETER}={pooler!r} "
                         f"(known: {', '.join(POOLERS)})")


def _behind_pooler(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    """A pooler in transaction mode (PgBouncer 1.18) gives each transaction whichever
    server connection is free, so nothing may outlive a transaction on it: psycopg's
    server-side prepared statements (made on a statement's fifth run on a connection)
    would be missing, or another client's, on the next one. They are turned off, and
    the parameter (ours, not libpq's) taken out; everything else the service sets is
    transaction-scoped already (README, "Behind PgBouncer")."""
    cparams.pop(POOLER_PARAMETER, None)
    cparams["prepare_threshold"] = None


AFTER_COMMIT_KEY = "workforce.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed.

    Side effects that leave the process (e-mail, outgoing webhooks) go here so
    that a rolled-back request never sends anything.
    """
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


def commit(session: Session) -> None:
    """Commit the unit of work, then run what was waiting for the commit."""
    session.commit()
    callbacks = session.info.pop(AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The data is committed; a failed side effect is retried by its job.
            log.exception("after-commit callback failed")


def rollback(session: Session) -> None:
    session.info.pop(AFTER_COMMIT_KEY, None)
    session.rollback()


# PostgreSQL's serialization_failure and deadlock_detected: it rolled the transaction
# back because it lost a race with another, and the same work run again meets the
# other's result. SQLite's "database is locked" is not among them: it comes after the
# busy timeout has waited 5 s for the other writer, on the development database.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
RETRY_ATTEMPTS = 3
# Upper bound of the first random pause, doubled after each attempt: long enough for
# the winner of the race to commit, short beside a request's time.
RETRY_PAUSE = 0.05


def is_retryable(error: BaseException) -> bool:
    return (isinstance(error, DBAPIError)
            and getattr(error.orig, "sqlstate", None) in RETRY_SQLSTATES)


@contextmanager
def driver_errors(session: Session) -> Iterator[None]:
    """The driver's errors raised by work done on its own connection (a COPY, a
    streamed read: ``connection.driver_connection``) raised as SQLAlchemy raises them
    for the statements it runs (``DBAPIError`` and its kinds, the driver's error as
    ``orig``): so that :func:`retrying` runs the unit of work again after a deadlock
    there too, and callers catch one kind of database error."""
    dialect = session.get_bind().dialect
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        raise DBAPIError.instance(None, None, error, base, dialect=dialect) from error


def retrying(work: Callable[[], T]) -> T:
    """``work()``, called again after a short random pause while it fails with a
    deadlock or serialization failure, ``RETRY_ATTEMPTS`` times in all; then that error
    is raised. ``work`` must start its unit of work afresh each time."""
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as error:
            if attempt >= RETRY_ATTEMPTS or not is_retryable(error):
                raise
            log.warning("unit of work run again after %s", type(error.orig).__name__,
                        extra={"attempt": attempt, "sqlstate": error.orig.sqlstate})
        time.sleep(random.uniform(0, RETRY_PAUSE * 2 ** (attempt - 1)))  # noqa: S311
        attempt += 1


class Database:
    """The engine and session factory of one application (or CLI invocation)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.session_factory()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session committed when the block ends and rolled back on any error."""
        session = self.session()
        try:
            yield session
            commit(session)
        except BaseException:
            rollback(session)
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a long read of its own (a streamed download), closed (its
        transaction rolled back) when the block ends or the stream is dropped."""
        session = self.session()
        session.connection(execution_options={READS_ONLY: True})
        try:
            yield session
        finally:
            session.close()

    def run(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work(session, *args, **kwargs)`` in a unit of work of its own, run again on
        a fresh session after a deadlock or serialization failure (:func:`retrying`).
        Its after-commit callbacks run once, for the run that committed."""

        def attempt() -> T:
            with self.unit_of_work() as session:
                return work(session, *args, **kwargs)

        return retrying(attempt)

    def dispose(self) -> None:
        self.engine.dispose()


def without_parallel_plans(session: Session) -> None:
    """PostgreSQL: plan the rest of this transaction without parallel workers.

    For a query that walks an index under a LIMIT with a condition the planner thinks
    rare but that nearly every row meets (a trainer's entries that touch their payable
    account: it assumes 2%, all do), PostgreSQL expects to walk far and starts parallel
    workers, whose start-up costs several times the query itself (bench/RESULTS.md).
    ``SET LOCAL`` ends with the transaction; other databases have nothing to turn off."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def insert_for(dialect_name: str) -> Callable[..., Any]:
    """The dialect's own INSERT construct: PostgreSQL's and SQLite's both have
    ``ON CONFLICT``, which the portable one lacks."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def str_enum(enum_cls: type, length: int = 32) -> Any:
    """A ``StrEnum`` column stored by value, with a CHECK constraint on every backend."""
    from sqlalchemy import Enum

    return Enum(
        enum_cls,
        name=enum_cls.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def json_type() -> Any:
    """JSON everywhere; JSONB on PostgreSQL so it can be indexed later."""
    from sqlalchemy import JSON
    from sqlalchemy.dialects.postgresql import JSONB

    return JSON().with_variant(JSONB(), "postgresql")
