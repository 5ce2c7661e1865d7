"""Writes say, across processes, that they want SQLite's write lock; a ranking's batches let
them in at once and otherwise barely pause.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from portfolio.db import Database, sqlite_file
from portfolio.models import RankingRun
from portfolio.services import ranking
from portfolio.settings import Settings
from portfolio.writers import SUFFIX, WaitingWriters


def sqlite_database(path: Path) -> Database:
    return Database(Settings(database_url=f"sqlite:///{path}", environment="test",
                             secret_key="test-secret"))


def test_a_write_through_another_process_is_seen_waiting_until_it_ends(tmp_path: Path) -> None:
    file = tmp_path / "portfolio.db"
    ours = sqlite_database(file)
    assert ours.writers_waiting() is False
    read, write = os.pipe()
    done_r, done_w = os.pipe()
    child = os.fork()
    if child == 0:  # another process, with this Database forked into it
        try:
            with ours.write():
                os.write(write, b"in")
                os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(read, 2) == b"in"
        assert ours.writers_waiting() is True
    finally:
        os.write(done_w, b"x")
        os.waitpid(child, 0)
    assert ours.writers_waiting() is False
    ours.dispose()


def test_this_process_writing_in_another_thread_is_waiting_and_a_failed_write_says_so_no_more(
        tmp_path: Path) -> None:
    db = sqlite_database(tmp_path / "portfolio.db")
    inside, leave = threading.Event(), threading.Event()

    def write() -> None:
        with db.write():
            inside.set()
            leave.wait(10)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(10)
    assert db.writers_waiting() is True
    with pytest.raises(ValueError), db.write():  # two at once: one lock held for both
        raise ValueError("refused")
    assert db.writers_waiting() is True
    leave.set()
    writer.join()
    assert db.writers_waiting() is False
    db.dispose()


def test_where_no_lock_can_be_taken_nobody_can_be_told_waiting(tmp_path: Path) -> None:
    memory = Database(Settings(database_url="sqlite://", environment="test",
                               secret_key="test-secret"))
    assert sqlite_file(memory.engine.url) is None and memory.writers_waiting() is None
    missing = WaitingWriters(tmp_path / "no-such-folder" / ("portfolio.db" + SUFFIX))
    with missing.writing():  # a write goes ahead
        assert missing.waiting() is None


class FakeClock:
    """perf_counter and sleep of a pause, with writers waiting for the first few looks."""

    def __init__(self, now: float, waiting_looks: int | None) -> None:
        self.now, self.slept, self.looks = now, [], 0
        self.waiting_looks = waiting_looks

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def writers_waiting(self) -> bool | None:
        self.looks += 1
        if self.waiting_looks is None:
            return None
        return self.looks <= self.waiting_looks


def pause(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, held: float, freed: float) -> None:
    monkeypatch.setattr(ranking.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(ranking.time, "sleep", clock.sleep)

    class SQLite:
        is_sqlite = True
        writers_waiting = clock.writers_waiting

    ranking._let_writers_in(SQLite(), held, freed)  # type: ignore[arg-type]


def test_with_nobody_waiting_the_next_batch_goes_on_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch held the lock 10 ms and freed it 5 ms ago (the next batch was encoded meanwhile).
    clock = FakeClock(10.0, waiting_looks=0)
    pause(monkeypatch, clock, 0.01, 9.995)
    assert clock.slept == [] and clock.looks == 1


def test_a_waiting_write_has_the_lock_left_free_until_it_is_done(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(10.0, waiting_looks=3)
    pause(monkeypatch, clock, 0.01, 9.995)
    assert clock.slept == [ranking.WAITING_POLL] * 3 and clock.looks == 4


def test_writes_waiting_on_and_on_get_twice_the_time_the_batch_held_the_lock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(10.0, waiting_looks=10**6)
    pause(monkeypatch, clock, 0.01, 9.995)
    assert clock.now == pytest.approx(9.995 + 0.02, abs=ranking.WAITING_POLL)


def test_a_pause_just_after_the_lock_was_freed_lasts_at_least_the_least_pause(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(10.0, waiting_looks=0)
    pause(monkeypatch, clock, 0.01, 10.0)
    assert clock.slept == [pytest.approx(ranking.MIN_PAUSE)]


@pytest.mark.parametrize(("freed", "slept"), [(9.99, 0.01), (9.95, 0.002)])
def test_where_waiting_cannot_be_told_the_pause_is_twice_the_time_held(
        monkeypatch: pytest.MonkeyPatch, freed: float, slept: float) -> None:
    clock = FakeClock(10.0, waiting_looks=None)
    pause(monkeypatch, clock, 0.01, freed)
    assert clock.slept == [pytest.approx(slept)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_store_with_no_edits_waiting_does_not_sleep_between_batches(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "STORE_BATCH", 5)
    monkeypatch.setattr(ranking, "STORE_HOLD_SECONDS", 0.0)  # batches stay at 50 rows
    insert, hold = ranking._insert_rows, time.sleep

    def slow_insert(*args: object) -> None:
        insert(*args)  # type: ignore[arg-type]
        hold(0.02)  # each batch holds the lock 20 ms: a fixed pause would be 40 ms

    monkeypatch.setattr(ranking, "_insert_rows", slow_insert)
    slept: list[float] = []
    monkeypatch.setattr(ranking.time, "sleep", slept.append)
    stored = ranking._compute_and_store(london, None)
    with london.read() as session:
        run = session.execute(select(RankingRun).where(RankingRun.id == stored.id)).scalar_one()
    assert run.complete and run.rows_stored > 50  # more than one batch
    assert all(seconds <= ranking.MIN_PAUSE for seconds in slept)
