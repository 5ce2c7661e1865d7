"""A pooled PostgreSQL connection the server ended is replaced before a request uses it, and
one in use a moment ago is handed out without a ping.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from portfolio import db as db_module
from portfolio.db import Database
from tests.conftest import _admin_conninfo

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def backend_pid(db: Database) -> int:
    with db.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def end_backend(pid: int) -> None:
    """End a server process, as a restart or an administrator would, and wait until it is gone."""
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            gone = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                 (pid,)).fetchone()
            if gone == (0,):
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} is still there")


def pings(db: Database) -> list[str]:
    """Record each ping of a pooled connection."""
    seen: list[str] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append("ping")
        return ping(dbapi_connection)

    db.engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return seen


def test_a_connection_the_server_ended_a_moment_ago_is_replaced(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 3600.0)  # its socket tells, not its age
    first = backend_pid(db)
    end_backend(first)
    assert backend_pid(db) != first  # no error: the pool saw it was gone and connected again


def test_a_connection_gone_silently_is_pinged_once_it_sat_idle(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # A peer that vanished without a word leaves nothing to read: only the idle time tells.
    monkeypatch.setattr(db_module, "_has_news", lambda _connection: False)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)
    first = backend_pid(db)
    end_backend(first)
    assert backend_pid(db) != first


def test_one_lost_connection_found_replaces_every_older_one_without_pinging_each(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "_has_news", lambda _connection: False)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)
    with db.connect() as one, db.connect() as two, db.connect() as three:
        pids = [int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                for c in (one, two, three)]
    for pid in pids:
        end_backend(pid)
    seen = pings(db)
    with db.connect() as one, db.connect() as two, db.connect() as three:
        fresh = [int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                 for c in (one, two, three)]
    assert not set(fresh) & set(pids)
    assert seen == ["ping"]  # the first found the server gone; the others were replaced


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    backend_pid(db)
    seen = pings(db)
    for _ in range(20):
        backend_pid(db)
    assert seen == []
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.05)
    time.sleep(0.1)  # one that sat idle long enough is pinged
    backend_pid(db)
    assert seen == ["ping"]
