"""Run Alembic migrations from code (the CLI, the app's set-up and the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from portfolio.revision import UNWATCHED
from portfolio.writers import WaitingWriters, sqlite_file

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """Return an Alembic configuration pointing at this project's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in one transaction for migrations, SQLite's foreign keys off.

    SQLite alters a table by copying it and dropping the old one; with foreign keys on, that
    drop cascades and deletes the rows that refer to it (a project's links, say).
    """
    sqlite = engine.dialect.name == "sqlite"
    # Said, so that a ranking another process stores meanwhile lets the migration in.
    writers = WaitingWriters.beside(sqlite_file(engine.url)) if sqlite else None
    try:
        with writers.writing() if writers else nullcontext(), engine.connect() as connection:
            raw: Any = connection.connection.driver_connection
            if sqlite:
                # On the driver's connection: SQLAlchemy would BEGIN first, and SQLite ignores
                # this pragma inside a transaction.
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                connection.execution_options(**UNWATCHED)
                with connection.begin():
                    yield connection
            finally:
                if sqlite:
                    raw.execute("PRAGMA foreign_keys=ON")
    finally:
        if writers is not None:
            writers.close()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to a revision."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the database to a revision ("base" empties it)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def current_revision_on(connection: Connection) -> str | None:
    """Return the revision of the database behind an open connection."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine | None = None) -> str | None:
    """Return the newest revision in the migrations folder."""
    return _head()


@lru_cache(maxsize=1)
def _head() -> str | None:
    """Read the migrations folder once per process (it changes only with the code)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()
