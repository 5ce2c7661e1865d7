"""Run Alembic migrations from code (the CLI, the app's set-up and the tests)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text

from portfolio.revision import UNWATCHED
from portfolio.writers import WaitingWriters, sqlite_file

if TYPE_CHECKING:
    # Alembic is imported where migrations run: a web worker only reads the revisions (for
    # /readyz), and importing Alembic added 9 MB to it (measured with the app's modules).
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    """Return an Alembic configuration pointing at this project's migrations."""
    from alembic.config import Config

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
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the database to a revision ("base" empties it)."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return current_revision_on(connection)


def current_revision_on(connection: Connection) -> str | None:
    """Return the revision of the database behind an open connection (as Alembic reads it)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found: list[str] = list(connection.execute(
        text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all())
    if len(found) > 1:
        raise RuntimeError(f"the database is at several revisions: {', '.join(found)}")
    return found[0] if found else None


def head_revision(engine: Engine | None = None) -> str | None:
    """Return the newest revision in the migrations folder."""
    return _head()


def _assigned(source: str, name: str) -> Any:
    """Return the literal a migration's module assigns to a name (None when it does not)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    return None


@lru_cache(maxsize=1)
def _head() -> str | None:
    """Read the migrations folder once per process (it changes only with the code).

    The revision no other revises, read from each migration's `revision` and
    `down_revision` as Alembic reads them.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision = _assigned(source, "revision")
        if revision is None:
            continue
        revisions.add(revision)
        down = _assigned(source, "down_revision")
        revised.update([down] if isinstance(down, str) else down or ())
    heads = sorted(revisions - revised)
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {', '.join(heads)}")
    return heads[0] if heads else None
