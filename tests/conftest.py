"""Fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from portfolio import migrate
from portfolio.db import Database, make_engine
from portfolio.models import metadata
from portfolio.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "PORTFOLIO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def unavailable(reason: str) -> None:
    """Fail in CI, where nothing may silently skip; skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)")
    pytest.skip(reason)


def _admin_conninfo() -> str:
    url = make_url(POSTGRES_ADMIN_URL)
    return (
        f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
        f"user={url.username or 'postgres'} dbname={url.database or 'test'}"
        + (f" password={url.password}" if url.password else "")
    )


def create_postgres_database(template: str | None = None) -> str:
    """Create a fresh PostgreSQL database (a copy of a template when named) and return its URL."""
    name = f"portfolio_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {exc}")
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database this suite created."""
    name = make_url(url).database
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database backend a test runs on."""
    return request.param


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a brand-new, empty database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file to head; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """Create and migrate one PostgreSQL database for the session; tests truncate it."""
    url = create_postgres_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def seed_london(url: str) -> None:
    """Load the London demo portfolio into a migrated database, dated as it was written."""
    # Tests name its days (an agreement expiring on 29 January 2027, say): seeded relative to
    # the day the suite runs, they would move.
    from seeds.loader import WRITTEN_FOR, load_london

    database = Database(Settings(database_url=url))
    with database.write() as session:
        load_london(session, today=WRITTEN_FOR)
    database.dispose()


@pytest.fixture(scope="session")
def sqlite_london_template(sqlite_template: Path) -> Path:
    """Seed London once into a copy of the migrated SQLite file."""
    path = sqlite_template.with_name("london.db")
    shutil.copyfile(sqlite_template, path)
    seed_london(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_london_template() -> Iterator[str]:
    """Create one migrated PostgreSQL database holding London, to copy per test."""
    url = create_postgres_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    seed_london(url)
    try:
        yield str(make_url(url).database)
    finally:
        drop_postgres_database(url)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Yield the URL of a migrated database: empty, or holding London for `london` tests."""
    seeded = "london" in request.fixturenames
    if backend == "sqlite":
        template = request.getfixturevalue(
            "sqlite_london_template" if seeded else "sqlite_template")
        target = tmp_path / "portfolio.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    if seeded:
        url = create_postgres_database(request.getfixturevalue("postgres_london_template"))
        try:
            yield url
        finally:
            drop_postgres_database(url)
        return
    url = request.getfixturevalue("postgres_migrated")
    yield url
    engine = make_engine(url)
    tables = ", ".join(
        f'"{t.name}"' for t in metadata.sorted_tables if t.name != "portfolio_revision"
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE portfolio_revision SET revision = 0"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at this test's database (and its own folder of documents)."""
    return Settings(database_url=database_url, environment="test", secret_key="test-secret",
                    attachments_dir=tmp_path / "attachments")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """Yield the test's database."""
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def london(db: Database) -> Database:
    """Yield the test's database, holding the London demo portfolio (copied from a template)."""
    return db


class HeldRankings:
    """Background re-rankings held back until released: what a large portfolio looks like."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._released = threading.Event()
        self._release_on_wait = False
        # How long each caller asked to wait for a re-ranking (None: until it is done).
        self.waits: list[float | None] = []

    def hold(self) -> None:
        """Hold every re-ranking started from now on."""
        from portfolio.services import ranking

        compute = ranking._compute_and_store

        def held(db, profile):  # type: ignore[no-untyped-def]
            self._released.wait(60)
            return compute(db, profile)

        self._monkeypatch.setattr(ranking, "_compute_and_store", held)

    def watch(self, db: Database) -> None:
        """Record how long callers wait on the database's background jobs (in `waits`)."""
        submit = db.background.submit

        def submitted(key, work):  # type: ignore[no-untyped-def]
            future = submit(key, work)
            result = future.result

            def waited(timeout=None):  # type: ignore[no-untyped-def]
                self.waits.append(timeout)
                if self._release_on_wait and (timeout is None or timeout > 0):
                    self._released.set()
                return result(timeout)

            future.result = waited  # type: ignore[method-assign]
            return future

        self._monkeypatch.setattr(db.background, "submit", submitted)

    def release_when_awaited(self) -> None:
        """Let the held re-rankings run as soon as a watched caller waits for one."""
        self._release_on_wait = True

    def release(self) -> None:
        """Let the held re-rankings run."""
        self._released.set()


@pytest.fixture
def rankings(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldRankings]:
    """Hold re-rankings on request; whatever happens, they are released at the end."""
    held = HeldRankings(monkeypatch)
    yield held
    held.release()
