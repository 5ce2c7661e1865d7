"""Database engines and units of work for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from portfolio import revision
from portfolio.cache import Background, Memo
from portfolio.settings import Settings

LOG = logging.getLogger(__name__)


def make_engine(database_url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL, a busy timeout and immediate writes."""
    url = make_url(database_url)
    # Ranking rows carry JSON lists and maps; orjson decodes a page of them several times faster.
    json = {"json_deserializer": orjson.loads}
    if url.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                             **json)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, echo=echo, **json,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Install the connection pragmas and explicit BEGINs that keep SQLite honest."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's implicit transactions lose updates under concurrent writers: we emit
        # BEGIN ourselves (see ENGINEERING-NOTES.md, "Database").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # Writers take the write lock up front so two read-modify-write transactions
        # serialise instead of failing with "database is locked" at commit.
        if connection.get_execution_options().get("sqlite_immediate"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


class Database:
    """One engine per process and the sessions the services work in."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        revision.watch(self.engine)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        # Values derived from one portfolio revision or one ranking run, and the rankings
        # being computed in the background, belong to this database alone.
        self.memo = Memo(entries=256)
        # Large results of one ranking run (graphs of up to 100,000 projects): only a few.
        self.results = Memo(entries=4)
        self.background = Background()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open a session for reading."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Open a plain connection for a one-statement read (no session: it costs less)."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on any error.

        After a commit that wrote the portfolio, `session.info[WROTE_REVISION]` holds the
        revision it made.
        """
        with Session(self._writer, expire_on_commit=False) as session:
            try:
                yield session
                made = revision.made_by(session)
                session.commit()
                if made is not None:
                    session.info[revision.WROTE_REVISION] = made
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Wait for background work, then close every pooled connection."""
        self.background.wait()
        self.engine.dispose()
