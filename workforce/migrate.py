"""Alembic, driven from Python: the CLI and the tests use the same entry points."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from workforce.settings import Settings


def alembic_config(settings: Settings, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", settings.migrations_dir)
    # Percent signs in passwords would otherwise be read as interpolation.
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(
    settings: Settings, revision: str = "head", connection: Connection | None = None
) -> None:
    command.upgrade(alembic_config(settings, connection), revision)


def downgrade(settings: Settings, revision: str, connection: Connection | None = None) -> None:
    command.downgrade(alembic_config(settings, connection), revision)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=False)
