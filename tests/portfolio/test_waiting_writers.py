"""Writes say, across processes, that they want SQLite's write lock; a ranking's batches let
them in at once and otherwise barely pause.
"""

from __future__ import annotations

import errno
import os
import select as pipes
import stat
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from portfolio import migrate, writers
from portfolio.db import Database
from portfolio.models import RankingRun
from portfolio.services import ranking
from portfolio.settings import Settings
from portfolio.writers import SUFFIX, WaitingWriters, sqlite_file


def sqlite_database(path: Path) -> Database:
    return Database(Settings(database_url=f"sqlite:///{path}", environment="test",
                             secret_key="test-secret"))


def _read(descriptor: int, size: int) -> bytes:
    """Read from a pipe, failing instead of hanging when nothing comes within 10 s."""
    ready, _, _ = pipes.select([descriptor], [], [], 10)
    assert ready, "the other process said nothing"
    return os.read(descriptor, size)


def _fork_writer(db: Database) -> tuple[int, int, int]:
    """Fork a process that writes through `db` until told to stop; return (pid, its "in"
    pipe, the "stop" pipe) once it is inside its write.
    """
    said_r, said_w = os.pipe()
    stop_r, stop_w = os.pipe()
    child = os.fork()
    if child == 0:  # another process, with this Database forked into it
        try:
            os.close(said_r)
            os.close(stop_w)
            with db.write():
                os.write(said_w, b"in")
                pipes.select([stop_r], [], [], 30)
        finally:
            os._exit(0)
    os.close(said_w)
    os.close(stop_r)
    assert _read(said_r, 2) == b"in"
    return child, said_r, stop_w


def _stop(child: int, said_r: int, stop_w: int) -> None:
    os.write(stop_w, b"x")
    os.waitpid(child, 0)
    os.close(said_r)
    os.close(stop_w)


def test_a_write_through_another_process_is_seen_waiting_until_it_ends(tmp_path: Path) -> None:
    ours = sqlite_database(tmp_path / "portfolio.db")
    assert ours.writers_waiting() is False
    child = _fork_writer(ours)
    try:
        assert ours.writers_waiting() is True
    finally:
        _stop(*child)
    assert ours.writers_waiting() is False
    ours.dispose()


def test_a_forked_child_says_so_with_its_own_lock_not_its_parents(tmp_path: Path) -> None:
    db = sqlite_database(tmp_path / "portfolio.db")
    with db.write():
        child = _fork_writer(db)
    try:
        # The parent's write is over; the child's goes on, so a writer still waits.
        assert db.writers_waiting() is True
    finally:
        _stop(*child)
    assert db.writers_waiting() is False
    db.dispose()


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


def test_a_lock_file_that_fails_never_fails_the_write_nor_leaves_it_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite_database(tmp_path / "portfolio.db")
    flock = writers.fcntl.flock

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(writers.fcntl, "flock", no_locks)
    with db.write() as session:  # goes ahead, unannounced
        session.execute(text("CREATE TABLE note (body TEXT)"))
    assert db.writers_waiting() is None
    monkeypatch.setattr(writers.fcntl, "flock", flock)
    assert db.writers_waiting() is False
    with db.write():
        assert db.writers_waiting() is True
    assert db.writers_waiting() is False
    db.dispose()


def test_a_lock_held_exclusively_for_good_does_not_hold_up_a_write(tmp_path: Path) -> None:
    db = sqlite_database(tmp_path / "portfolio.db")
    assert db.writers_waiting() is False  # the lock file exists
    holder = os.open(tmp_path / ("portfolio.db" + SUFFIX), os.O_RDONLY)
    writers.fcntl.flock(holder, writers.fcntl.LOCK_EX)  # a probe that never lets go
    done = threading.Event()

    def write() -> None:
        with db.write():
            done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert done.wait(10), "the write waited for the lock file"
    finally:
        os.close(holder)
    writer.join(10)
    db.dispose()


def test_closing_while_a_write_is_in_progress_waits_for_it(tmp_path: Path) -> None:
    db = sqlite_database(tmp_path / "portfolio.db")
    inside, leave = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def write() -> None:
        try:
            with db.write():
                inside.set()
                leave.wait(10)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failed.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(10)
    assert db.writers is not None
    db.writers.close()
    assert db.writers_waiting() is True  # still open: the write goes on
    leave.set()
    writer.join(10)
    assert failed == []
    assert db.writers_waiting() is False  # opened again
    db.dispose()


def test_the_lock_file_is_readable_by_every_account_and_used_read_only(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        db = sqlite_database(tmp_path / "portfolio.db")
        assert db.writers_waiting() is False
    finally:
        os.umask(old)
    lock_file = tmp_path / ("portfolio.db" + SUFFIX)
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o644
    db.dispose()
    lock_file.chmod(0o444)  # another account's file: this one may only read it
    other = sqlite_database(tmp_path / "portfolio.db")
    with other.write():
        assert other.writers_waiting() is True
    other.dispose()


def test_the_apps_writes_outside_sessions_say_so_too(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[Path] = []
    writing = WaitingWriters.writing

    def recorded(self: WaitingWriters):  # type: ignore[no-untyped-def]
        said.append(self.path)
        return writing(self)

    monkeypatch.setattr(WaitingWriters, "writing", recorded)
    file = tmp_path / "portfolio.db"
    db = sqlite_database(file)
    migrate.upgrade(db.engine)  # a migration
    assert said == [tmp_path / ("portfolio.db" + SUFFIX)]
    db.check_writable()  # the readiness probe takes the write lock
    assert len(said) == 2
    db.dispose()


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
