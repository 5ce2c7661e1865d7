"""An import killed with SIGKILL in the middle of its transaction leaves nothing written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portfolio.db import Database
from portfolio.models import AuditEvent, ImportRun, Project
from tests.factories import make_organisation


def counts(db: Database) -> tuple[int, int]:
    """Return how many projects and audit events there are."""
    with db.read() as session:
        return (session.execute(select(func.count()).select_from(Project)).scalar_one(),
                session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def import_started(db: Database) -> bool:
    """Tell whether the import has entered the history (its own transaction comes next)."""
    with db.read() as session:
        return session.execute(select(func.count()).select_from(ImportRun)).scalar_one() > 0


def holds_uncommitted_writes(database_url: str) -> bool:
    """Tell whether another connection is in a write transaction on this database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True  # "database is locked": the import holds the write lock
        finally:
            probe.close()
    conninfo = (f"host={url.host} port={url.port or 5432} user={url.username} "
                f"dbname={url.database}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # backend_xid is set once a transaction has written something.
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND backend_xid IS NOT NULL AND pid <> "
                            "pg_backend_pid()").fetchone()[0] > 0


def test_an_import_killed_mid_transaction_leaves_nothing_written(
        db: Database, database_url: str, tmp_path: Path) -> None:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
    before = counts(db)
    rows = "".join(f"killed-{n},Killed import {n},E09000002,housing\n" for n in range(20000))
    source = tmp_path / "big.csv"
    source.write_text(f"slug,title,owner,theme\n{rows}")
    command = [str(Path(sys.executable).with_name("portfolio")), "import", "projects",
               str(source)]
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": database_url}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (import_started(db) and holds_uncommitted_writes(database_url)):
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import never began its transaction"
            time.sleep(0.01)
        process.kill()
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -9
    assert counts(db) == before
    with db.read() as session:
        entry = session.execute(select(ImportRun)).scalars().one()
    assert (entry.status, entry.created) == ("running", 0)
    # The lock went with the process: the next write goes through at once.
    with db.write() as session:
        make_organisation(session, "E09000007", name="Camden")
    assert counts(db)[0] == before[0]
