"""Database engines and units of work for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlmodel import Session

from portfolio import revision
from portfolio.cache import Background, Memo
from portfolio.errors import Invalid
from portfolio.faults import DatabaseFault, Fault, FaultKind, FaultLog, classify
from portfolio.settings import Settings
from portfolio.writers import WaitingWriters, sqlite_file

if TYPE_CHECKING:
    from portfolio.jobs import JobQueue

LOG = logging.getLogger(__name__)


def make_engine(database_url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL, a busy timeout and immediate writes."""
    url = make_url(database_url)
    # Ranking rows carry JSON lists and maps; orjson decodes a page of them several times faster.
    json = {"json_deserializer": orjson.loads}
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, pool_size=10, max_overflow=10, **json)
        _ping_when_in_doubt(engine)
        _refuse_nul_text(engine)
        return engine
    if url.database and url.database != ":memory:" and not url.query.get("uri"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, echo=echo, **json,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


# A pooled PostgreSQL connection idle this long is pinged before it is handed out.
PING_AFTER_IDLE = 1.0
IDLE_SINCE = "portfolio_idle_since"


def _ping_when_in_doubt(engine: Engine) -> None:
    """Ping a pooled connection at checkout when the server may have ended it, and replace it
    if it did.

    pool_pre_ping would ping at every checkout (0.1 ms each, and a page takes three or four).
    Here a connection is pinged when its socket has something to read (an idle connection
    has nothing to read unless the server ended it: a restart or pg_terminate_backend send a
    last message and close) or when it sat idle PING_AFTER_IDLE seconds (a peer gone silently).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_in_doubt(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is None:  # just connected
            return
        if time.monotonic() - since < PING_AFTER_IDLE and not _has_news(dbapi_connection):
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As pool_pre_ping does: this slot connects afresh, and every connection older than
            # now is replaced at its next checkout without a ping of its own (after a failover
            # each would otherwise wait for its own ping to time out).
            raise sa_exc.InvalidatePoolError(
                f"a pooled connection was lost: {error}") from error


# What psycopg says, before sending anything, of a text parameter holding U+0000.
NUL_REFUSED = "cannot contain NUL (0x00)"


def _refuse_nul_text(engine: Engine) -> None:
    """Answer a text holding U+0000, which PostgreSQL cannot store, as bad input (422), not a
    fault: a slug, a filter or a field with it was a 500 on every route that read it."""

    @event.listens_for(engine, "handle_error")
    def _nul_is_bad_input(context: Any) -> BaseException | None:
        if NUL_REFUSED in str(context.original_exception):
            return Invalid({"text": "text must not contain the NUL character (U+0000)"})
        return None


def _has_news(dbapi_connection: Any) -> bool:
    """Tell whether an idle psycopg connection's socket has something to read (or cannot say)."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - a closed connection, or no poll: ping to find out
        return True


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Install the connection pragmas and explicit BEGINs that keep SQLite honest."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
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
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front so two read-modify-write transactions
        # serialise instead of failing with "database is locked" at commit.
        options = connection.get_execution_options()
        if options.get("sqlite_immediate"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get("sqlite_statement_reads"):
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
        # Who waits for an SQLite file's write lock, so that batches need not guess.
        self.writers = WaitingWriters.beside(sqlite_file(self.engine.url)) if self.is_sqlite \
            else None
        self._writer = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        # How `connect` reads: one statement at a time, outside any transaction.
        self._statement_reads: dict[str, Any] = (
            {"sqlite_statement_reads": True} if self.is_sqlite
            else {"isolation_level": "AUTOCOMMIT"})
        # Values derived from one portfolio revision or one ranking run, and the rankings
        # being computed in the background, belong to this database alone.
        self.memo = Memo(entries=256)
        # The pages this worker has shown (a backlog page's rows, its table and its form):
        # many, and quick to make again, so kept apart where browsing cannot push out the
        # figures, plans and solves above.
        self.page_memo = Memo(entries=256)
        # Large results of one revision or ranking run, the latest of each kind only: the
        # portfolio's frames, the graph, a graph's run values, the what-if sliders' parts and
        # the similarity model under two keys (a spare place, so that one more kind would not
        # evict the 4 s frames). Apart from `memo`, whose hundreds of small pages would.
        self.run_memo = Memo(entries=7)
        self.faults = FaultLog()
        self.background = Background(self.faults)
        # The PostgreSQL job queue (portfolio/jobs.py) when this process uses one.
        self.queue: JobQueue | None = None
        # The last write refused because the database cannot be written (read-only, full):
        # pages say the app is read-only until a write succeeds again.
        self._write_fault: tuple[Fault, float] | None = None
        self._probed: tuple[float, Fault | None] = (-1e18, None)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open a session for reading."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Open a plain connection for reads of one statement each (no session: it costs less).

        Each statement reads on its own, with no BEGIN: a snapshot held across statements is
        what `read` is for. BEGIN and the ROLLBACK after it were a third of such a read on
        SQLite, and two of its three round trips on PostgreSQL (a page makes three or four).
        """
        with self.engine.connect() as connection:
            connection.execution_options(**self._statement_reads)
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on any error.

        After a commit that wrote the portfolio, `session.info[WROTE_REVISION]` holds the
        revision it made.
        """
        with self._writing(), Session(self._writer, expire_on_commit=False) as session:
            try:
                yield session
                made = revision.made_by(session)
                session.commit()
                if made is not None:
                    session.info[revision.WROTE_REVISION] = made
                # Work the write asked for once it is committed (notifications to deliver).
                for hook in session.info.pop("after_commit", []):
                    hook(self)
            except BaseException as exc:
                self._refused(exc)
                try:
                    session.rollback()
                except Exception as rollback_error:  # noqa: BLE001 - the first error says why
                    LOG.debug("rollback after a failed write failed too: %s", rollback_error)
                raise
        refused = self._write_fault
        # A small write may fit where a large one did not: the notice stays for the time the
        # refusal told clients to wait (Retry-After), then until a write succeeds.
        if refused is not None and time.monotonic() - refused[1] >= refused[0].retry_after:
            self._write_fault = None
            self.faults.recovered()

    def _writing(self) -> AbstractContextManager[None]:
        """Say, for a write's duration, that this process wants the SQLite write lock."""
        return self.writers.writing() if self.writers is not None else nullcontext()

    def writers_waiting(self) -> bool | None:
        """Tell whether a write through any process waits for (or holds) SQLite's write lock;
        None when that cannot be told (PostgreSQL, an in-memory database, no lock file).
        """
        return self.writers.waiting() if self.writers is not None else None

    def _refused(self, error: BaseException) -> None:
        """Remember a write the database refused because it cannot be written."""
        fault = classify(error)
        if fault is None:
            return
        self.faults.note(fault)
        if fault.blocks_writes:
            self._write_fault = (fault, time.monotonic())

    def write_fault(self, *, probe_every: float = 5.0) -> Fault | None:
        """Return why the database cannot be written now, or None when it can (as far as known).

        A refused write says so for its Retry-After, then until a write succeeds; a read-only
        SQLite file or a read-only PostgreSQL (a hot standby, default_transaction_read_only)
        is found by a cheap probe made at most every few seconds. A full disk shows only when
        a write fails.
        """
        if self._write_fault is not None:
            return self._write_fault[0]
        at, found = self._probed
        if time.monotonic() - at < probe_every:
            return found
        try:
            found = self._probe_read_only()
        except Exception as exc:  # noqa: BLE001 - an unreachable database is another page's news
            fault = classify(exc)
            if fault is None:
                raise
            found = None
        self._probed = (time.monotonic(), found)
        return found

    def _probe_read_only(self) -> Fault | None:
        """Return a read-only fault when the database says it cannot be written, without writing."""
        url = self.engine.url
        if self.is_sqlite:
            path = str(url.database or "")
            if url.query.get("mode") == "ro" or "mode=ro" in path or "immutable=1" in path:
                return Fault(FaultKind.READ_ONLY, "the SQLite file is opened read-only")
            plain = sqlite_file(url)
            if plain is not None and plain.exists() and not (
                    os.access(plain, os.W_OK) and os.access(plain.parent, os.W_OK)):
                return Fault(FaultKind.READ_ONLY, f"no permission to write {plain}")
            return None
        # On the driver's connection: the probe is housekeeping, not part of a page's queries.
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
            standby, read_only = cursor.fetchone() or (False, "off")
            raw.rollback()
        finally:
            raw.close()
        if standby:
            return Fault(FaultKind.READ_ONLY, "PostgreSQL is a hot standby (in recovery)")
        if read_only == "on":
            return Fault(FaultKind.READ_ONLY, "PostgreSQL transactions are read-only")
        return None

    def check_writable(self) -> None:
        """Raise a DatabaseFault unless a write can be made now (nothing is written)."""
        fault = self.write_fault(probe_every=0.0)
        if fault is not None:
            raise DatabaseFault(fault)
        if self.is_sqlite:
            # Take the write lock and give it back: a file that cannot be written refuses.
            # On the driver's connection: the engine's own BEGIN would come first otherwise.
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA busy_timeout=1000")
                try:
                    # Said, so that a ranking stored meanwhile lets it in.
                    with self._writing():
                        cursor.execute("BEGIN IMMEDIATE")
                        cursor.execute(
                            "UPDATE portfolio_revision SET revision = revision WHERE id = 1")
                        cursor.execute("ROLLBACK")
                finally:
                    cursor.execute(
                        f"PRAGMA busy_timeout={int(self.settings.sqlite_busy_timeout_ms)}")
            finally:
                raw.close()
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
            connection.exec_driver_sql(
                "UPDATE portfolio_revision SET revision = revision WHERE id = 1")
            connection.rollback()

    def dispose(self) -> None:
        """Wait for background work, then close every pooled connection."""
        self.background.wait()
        if self.queue is not None:
            self.queue.close()
        self.engine.dispose()
        if self.writers is not None:
            self.writers.close()
