"""Writers waiting for an SQLite file's write lock, told across processes by a lock file.

SQLite cannot say whether anyone waits for its write lock: a waiting writer sleeps in its busy
handler and tries again. So that a long job storing in batches (a ranking run) need not leave
the lock free for long after every batch just in case, each process holds a shared `flock` on
`<database file>-writers` while any of its threads is in a write transaction; the job tries an
exclusive lock on it through another descriptor, which fails while anyone holds the shared one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: the job leaves the lock free for a fixed time instead
    fcntl = None  # type: ignore[assignment]

LOG = logging.getLogger(__name__)
SUFFIX = "-writers"


class WaitingWriters:
    """One process's side of an SQLite file's lock file of writers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writing = 0
        self._pid = -1
        self._said = self._probe = -1
        self._failed = False  # said once in the log

    @classmethod
    def beside(cls, database: Path | None) -> WaitingWriters | None:
        """Return the writers of a database file, or None where no lock can be taken."""
        if fcntl is None or database is None:
            return None
        return cls(database.with_name(database.name + SUFFIX))

    def _open(self) -> bool:
        """Open both descriptors, again in a forked child (a lock held through a descriptor
        the parent opened would be the parent's lock too); tell whether they are open.
        """
        if self._pid == os.getpid():
            return True
        self._writing = 0
        try:
            said = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if not self._failed:
                LOG.info("cannot open %s (%s): ranking batches pause for a fixed time",
                         self.path, exc)
            self._failed = True
            return False
        probe = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        self._said, self._probe, self._pid = said, probe, os.getpid()
        return True

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Say that this process wants or holds the write lock, for the block's duration."""
        with self._lock:
            opened = self._open()
            if opened:
                self._writing += 1
                if self._writing == 1:
                    fcntl.flock(self._said, fcntl.LOCK_SH)
        try:
            yield
        finally:
            if opened:
                with self._lock:
                    self._writing -= 1
                    if self._writing == 0:
                        fcntl.flock(self._said, fcntl.LOCK_UN)

    def waiting(self) -> bool | None:
        """Tell whether any process (this one included) wants or holds the write lock; None
        when the lock file cannot be opened.
        """
        with self._lock:
            if not self._open():
                return None
            try:
                fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(self._probe, fcntl.LOCK_UN)
            return False

    def close(self) -> None:
        """Close the descriptors (their locks go with them)."""
        with self._lock:
            if self._pid == os.getpid():
                os.close(self._said)
                os.close(self._probe)
            self._pid = -1
