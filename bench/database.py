"""Creating, migrating and dropping the benchmark's PostgreSQL database."""

from __future__ import annotations

import os

import psycopg
from alembic import command
from sqlalchemy.engine import make_url

from workforce.migrate import alembic_config
from workforce.settings import Settings

SERVER = os.environ.get("WORKFORCE_BENCH_SERVER", "postgresql://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("WORKFORCE_BENCH_PREFIX", "workforce_bench")


def name_for(size: str) -> str:
    """The database of a size's data: ``workforce_bench_small`` unless the prefix is set."""
    return f"{PREFIX}_{size}"


def psycopg_url(name: str, port: int | None = None) -> str:
    """The database on the server; with ``port``, through that port of this machine
    (a PgBouncer in front of the server)."""
    if port is None:
        return f"{SERVER}/{name}"
    return make_url(f"{SERVER}/{name}").set(host="127.0.0.1", port=port).render_as_string(
        hide_password=False)


def sqlalchemy_url(name: str) -> str:
    url = make_url(psycopg_url(name))
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _admin() -> psycopg.Connection:
    return psycopg.connect(psycopg_url("postgres"), autocommit=True)


def exists(name: str) -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [name]).fetchone() is not None


def create(name: str) -> None:
    """A fresh database (dropped first if it exists), migrated to the head revision."""
    drop(name)
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = Settings.from_env({"WORKFORCE_DATABASE_URL": sqlalchemy_url(name)})
    command.upgrade(alembic_config(settings), "head")


def drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def size_of(name: str) -> str:
    with _admin() as conn:
        return conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", [name]).fetchone()[0]


def migrate(name: str) -> None:
    """Bring a kept database to the head revision (a new index since it was made)."""
    settings = Settings.from_env({"WORKFORCE_DATABASE_URL": sqlalchemy_url(name)})
    command.upgrade(alembic_config(settings), "head")
