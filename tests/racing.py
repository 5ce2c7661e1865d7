"""Concurrent writers for lost-update tests: threads making edits, and who waits for a lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlmodel import Session

from portfolio.db import Database

T = TypeVar("T")


def race(edit: Callable[[int], str], *, writers: int, edits_each: int) -> list[str]:
    """Run `writers` threads each calling edit(n) `edits_each` times; return every outcome.

    An edit returns what became of it ("ok", "conflict"); any error it raises fails the race,
    as a lock timeout or a 500 would fail a user.
    """
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        for i in range(edits_each):
            try:
                result = edit(w * 100 + i)
            except BaseException as exc:  # noqa: BLE001 - any error is the failure we look for
                errors.append(exc)
                return
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert len(outcomes) == writers * edits_each
    return outcomes


def waiting_for_a_lock(db: Database) -> bool:
    """Tell whether a connection to this PostgreSQL database waits for a lock another holds."""
    with db.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar())


def sent_while_held(db: Database, meanwhile: Callable[[Session], object],
                    send: Callable[[], T]) -> T:
    """Send a request while another's write (`meanwhile`) is made and not yet committed.

    That write commits once the request waits for a lock it holds, or has been answered; the
    request's answer is returned, and anything it raised (a server error) is raised here.
    """
    answered: list[T] = []
    raised: list[BaseException] = []

    def sender() -> None:
        try:
            answered.append(send())
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's own thread
            raised.append(exc)

    with db.write() as session:
        meanwhile(session)
        other = threading.Thread(target=sender)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(db):
            other.join(0.01)
    other.join(30)
    if raised:
        raise raised[0]
    assert answered, "the request did not finish within 30 s of the other write's commit"
    return answered[0]
