"""The assessments read beside a PostgreSQL transaction never hide a deadlock from the server."""

from __future__ import annotations

import threading
import time

import pandas as pd
import psycopg
import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from portfolio.db import Database
from portfolio.models import Project
from portfolio.services import frames
from portfolio.services.common import consistent_read


@pytest.fixture
def backend() -> str:
    """Locks and snapshots of PostgreSQL."""
    return "postgresql"


def test_a_lock_the_second_connection_waits_for_is_waited_for_where_postgresql_sees_it(
        london: Database) -> None:
    """A migration that locks the assessments, then waits for a lock the reader holds, is a
    deadlock: PostgreSQL breaks it, as it did when one connection read everything.
    """
    url = london.engine.url
    conninfo = f"host={url.host} port={url.port} user={url.username} dbname={url.database}"
    locked, outcome = threading.Event(), {}

    def migration() -> None:
        with psycopg.connect(conninfo) as connection:
            connection.execute("SET lock_timeout = '20s'")
            connection.execute("LOCK TABLE assessment IN ACCESS EXCLUSIVE MODE")
            locked.set()
            try:
                connection.execute("LOCK TABLE project IN ACCESS EXCLUSIVE MODE")
                outcome["migration"] = "locked both"
            except psycopg.Error as error:
                outcome["migration"] = type(error).__name__
            connection.rollback()

    with london.read() as session:
        consistent_read(session)
        session.execute(select(col(Project.id))).first()  # holds ACCESS SHARE on project
        other = threading.Thread(target=migration)
        other.start()
        assert locked.wait(10)
        time.sleep(0.3)  # the migration now waits for project
        try:
            frames.load_portfolio(session)
            outcome["reader"] = "read"
        except OperationalError as error:
            outcome["reader"] = type(error.orig).__name__
    other.join(30)
    # Found by PostgreSQL's deadlock check, which aborts one of the two (the reader, unless
    # the migration was slow to ask for its second lock), not ended by the migration's lock
    # timeout (LockNotAvailable) after the reader had hung for 20 s.
    assert outcome in ({"reader": "DeadlockDetected", "migration": "locked both"},
                       {"reader": "read", "migration": "DeadlockDetected"})


def test_the_assessments_are_read_in_the_transaction_when_no_second_connection_opens(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server at its max_connections, say: the re-ranking reads on, on its own connection."""
    with london.read() as session:
        whole = frames.load_portfolio(session)
    refused = make_url(london.engine.url).set(port=1)  # nothing listens there
    monkeypatch.setattr(frames, "_UNPOOLED", {})
    monkeypatch.setattr(frames, "create_engine",
                        lambda url, **options: create_engine(refused, **options))
    with london.read() as session:
        consistent_read(session)
        alone = frames.load_portfolio(session)
    pd.testing.assert_frame_equal(alone.levels, whole.levels)
    pd.testing.assert_frame_equal(alone.assessments, whole.assessments)
