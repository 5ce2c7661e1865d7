"""Writers waiting for an SQLite file's write lock, told across processes by a lock file.

SQLite cannot say whether anyone waits for its write lock: a waiting writer sleeps in its busy
handler and tries again. So that a long job storing in batches (a ranking run) need not leave
the lock free for long after every batch just in case, each process holds a shared `flock` on
`<database file>-writers` while any of its threads writes (or waits to); the job tries an
exclusive lock on it through another descriptor, which fails while anyone holds the shared one.
The lock file is advisory only: where it cannot be used, a write goes ahead unannounced.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: the job leaves the lock free for a fixed time instead
    fcntl = None  # type: ignore[assignment]

LOG = logging.getLogger(__name__)
SUFFIX = "-writers"
# A shared lock waits only while a job's probe holds the exclusive one (microseconds): it is
# tried this many times, SAY_RETRY seconds apart, before the write goes ahead unannounced.
SAY_TRIES = 50
SAY_RETRY = 0.0001


def sqlite_file(url: Any) -> Path | None:
    """Return the file an SQLite URL names, or None for an in-memory database."""
    path = str(url.database or "")
    plain = path.removeprefix("file:").split("?")[0]
    if not plain or plain == ":memory:" or "mode=memory" in path \
            or url.query.get("mode") == "memory":
        return None
    return Path(plain)


class WaitingWriters:
    """One process's side of an SQLite file's lock file of writers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writing = 0  # writes of this process in progress, while it holds the shared lock
        self._pid = -1  # the process that opened the descriptors (-1: none open)
        self._said = self._probe = -1
        self._closing = False  # close once the writes in progress are done
        self._failed = False  # the log said so once

    @classmethod
    def beside(cls, database: Path | None) -> WaitingWriters | None:
        """Return the writers of a database file, or None where no lock can be taken."""
        if fcntl is None or database is None:
            return None
        return cls(database.with_name(database.name + SUFFIX))

    def _open(self) -> bool:
        """Open both descriptors (again in a forked child); tell whether they are open."""
        pid = os.getpid()
        if self._pid == pid:
            return True
        if self._pid != -1:
            # Forked: the parent's descriptors are its locks too. Unlocking through them would
            # drop the parent's lock; closing these copies leaves it alone.
            for descriptor in (self._said, self._probe):
                with suppress(OSError):
                    os.close(descriptor)
        self._pid, self._writing, self._closing = -1, 0, False
        try:
            said = _readable(self.path)
        except OSError as exc:
            self._cannot(exc)
            return False
        try:
            probe = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(said)
            self._cannot(exc)
            return False
        self._said, self._probe, self._pid = said, probe, pid
        return True

    def _cannot(self, error: OSError) -> None:
        """Log once that the lock file cannot be used."""
        if not self._failed:
            LOG.warning("cannot use %s (%s): writes from this process go unannounced, so a "
                        "ranking stored meanwhile may make them wait longer", self.path, error)
        self._failed = True

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Say that this process wants or holds the write lock, for the block's duration."""
        with self._lock:
            said = self._open() and self._say()
        try:
            yield
        finally:
            if said:
                with self._lock:
                    self._writing -= 1
                    if self._writing == 0:
                        with suppress(OSError):
                            fcntl.flock(self._said, fcntl.LOCK_UN)
                        if self._closing:
                            self._close_now()

    def _say(self) -> bool:
        """Count one more write, taking the shared lock for the first; False if it cannot."""
        if self._writing == 0:
            for _ in range(SAY_TRIES):
                try:
                    fcntl.flock(self._said, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # a probe holds the exclusive lock for a moment
                    time.sleep(SAY_RETRY)
                except OSError as exc:
                    self._cannot(exc)
                    return False
            else:
                return False
        self._writing += 1
        return True

    def waiting(self) -> bool | None:
        """Tell whether any process (this one included) wants or holds the write lock; None
        when the lock file cannot be used.
        """
        with self._lock:
            if not self._open():
                return None
            try:
                fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            except OSError as exc:
                self._cannot(exc)
                return None
            with suppress(OSError):
                fcntl.flock(self._probe, fcntl.LOCK_UN)
            return False

    def close(self) -> None:
        """Close the descriptors (their locks go with them), once no write is in progress."""
        with self._lock:
            if self._writing:
                self._closing = True
            else:
                self._close_now()

    def _close_now(self) -> None:
        if self._pid == os.getpid():
            for descriptor in (self._said, self._probe):
                with suppress(OSError):
                    os.close(descriptor)
        self._pid, self._closing = -1, False


def _readable(path: Path) -> int:
    """Open the lock file for reading (enough for flock), creating it readable by every user
    so that every account that writes the database can announce itself.
    """
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        with suppress(OSError):
            os.fchmod(descriptor, 0o644)  # whatever the umask
        return descriptor
