"""Database faults in words: unavailable, read-only, out of space, busy, schema out of date.

The web app, the CLI and the background work answer a database fault through this module, so
every interface says the same thing about it and the log carries its cause once.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import exc as sa_exc

LOG = logging.getLogger("portfolio.database")


class FaultKind(StrEnum):
    """What is wrong with the database, as a user would put it."""

    BUSY = "busy"
    READ_ONLY = "read_only"
    OUT_OF_SPACE = "out_of_space"
    UNAVAILABLE = "unavailable"
    SCHEMA = "schema"


# What a user is told (nothing was written), and when to try again (seconds).
MESSAGES: dict[FaultKind, tuple[str, int]] = {
    FaultKind.BUSY: ("the database is busy; nothing was written, please try again", 1),
    FaultKind.READ_ONLY: ("the database is read-only, so the portfolio can be read but not "
                          "changed; nothing was written", 60),
    FaultKind.OUT_OF_SPACE: ("the database is out of disk space, so the portfolio can be read "
                             "but not changed; nothing was written", 60),
    FaultKind.UNAVAILABLE: ("the database is unavailable; nothing was written, please try "
                            "again shortly", 5),
    FaultKind.SCHEMA: ("the database's schema is not up to date (run: portfolio db upgrade); "
                       "nothing was written", 60),
}

SUMMARIES: dict[FaultKind, str] = {
    FaultKind.BUSY: "the database is busy",
    FaultKind.READ_ONLY: "the database is read-only",
    FaultKind.OUT_OF_SPACE: "the database is out of disk space",
    FaultKind.UNAVAILABLE: "the database is unavailable",
    FaultKind.SCHEMA: "the database's schema is not up to date",
}

# Faults that leave the portfolio readable but not writable: the app says it is read-only.
WRITE_FAULTS = frozenset({FaultKind.READ_ONLY, FaultKind.OUT_OF_SPACE})

# PostgreSQL SQLSTATEs by kind (Appendix A of its manual); classes 08 and 57 are unavailability.
PG_STATES = {
    "25006": FaultKind.READ_ONLY,  # read_only_sql_transaction (also a hot standby)
    "53100": FaultKind.OUT_OF_SPACE,  # disk_full
    "55P03": FaultKind.BUSY,  # lock_not_available
    "40001": FaultKind.BUSY,  # serialization_failure
    "40P01": FaultKind.BUSY,  # deadlock_detected
    "53300": FaultKind.BUSY,  # too_many_connections
    "42P01": FaultKind.SCHEMA,  # undefined_table
    "42703": FaultKind.SCHEMA,  # undefined_column
}
SQLITE_NAMES = {
    "SQLITE_BUSY": FaultKind.BUSY,
    "SQLITE_LOCKED": FaultKind.BUSY,
    "SQLITE_READONLY": FaultKind.READ_ONLY,
    "SQLITE_FULL": FaultKind.OUT_OF_SPACE,
    "SQLITE_CANTOPEN": FaultKind.UNAVAILABLE,
    "SQLITE_IOERR": FaultKind.UNAVAILABLE,
}
# SQLite reports some errors by message only (extended codes share these words).
SQLITE_WORDS = (
    ("locked", FaultKind.BUSY), ("busy", FaultKind.BUSY),
    ("readonly", FaultKind.READ_ONLY), ("read-only", FaultKind.READ_ONLY),
    ("disk is full", FaultKind.OUT_OF_SPACE), ("no such table", FaultKind.SCHEMA),
    ("no such column", FaultKind.SCHEMA), ("unable to open", FaultKind.UNAVAILABLE),
    ("disk i/o error", FaultKind.UNAVAILABLE),
)


@dataclass(frozen=True)
class Fault:
    """A classified database fault: its kind, the words for users, the cause for the log."""

    kind: FaultKind
    cause: str

    @property
    def message(self) -> str:
        """Return what a user is told."""
        return MESSAGES[self.kind][0]

    @property
    def summary(self) -> str:
        """Return what is wrong in a few words (the read-only notice on every page)."""
        return SUMMARIES[self.kind]

    @property
    def retry_after(self) -> int:
        """Return the seconds after which trying again makes sense."""
        return MESSAGES[self.kind][1]

    @property
    def blocks_writes(self) -> bool:
        """Tell whether the portfolio stays readable but cannot be changed."""
        return self.kind in WRITE_FAULTS


def classify(error: BaseException) -> Fault | None:
    """Return the database fault an exception is or arose from, or None (then it is a bug)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify_one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify_one(error: BaseException) -> Fault | None:
    """Return the database fault one exception is, or None."""
    if isinstance(error, DatabaseFault):
        return error.fault
    if isinstance(error, sa_exc.TimeoutError):
        # Every pooled connection in use past the pool's time-out.
        return Fault(FaultKind.BUSY, str(error).splitlines()[0])
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return Fault(FaultKind.OUT_OF_SPACE, str(error))
    orig: BaseException | None
    if isinstance(error, sa_exc.DBAPIError):
        orig = error.orig
        lost = error.connection_invalidated or isinstance(error, sa_exc.OperationalError)
    elif hasattr(error, "sqlstate") or hasattr(error, "sqlite_errorname"):
        # The driver's own error, from a raw connection.
        orig, lost = error, type(error).__name__ == "OperationalError"
    else:
        return None
    cause = _cause(orig)
    state = getattr(orig, "sqlstate", None)
    if state:
        if state in PG_STATES:
            return Fault(PG_STATES[state], cause)
        if state[:2] in ("08", "57"):  # connection exception, operator intervention
            return Fault(FaultKind.UNAVAILABLE, cause)
    name = getattr(orig, "sqlite_errorname", None) or ""
    for prefix, kind in SQLITE_NAMES.items():
        if name == prefix or name.startswith(prefix + "_"):
            return Fault(kind, cause)
    if lost:
        lowered = cause.lower()
        for words, kind in SQLITE_WORDS:
            if words in lowered:
                return Fault(kind, cause)
        # A lost or refused connection (PostgreSQL restarting, a network fault).
        return Fault(FaultKind.UNAVAILABLE, cause)
    return None


def _cause(orig: BaseException | None) -> str:
    """Return the driver's first line of an error, without statements or parameters."""
    text = str(orig) if orig is not None else ""
    return (text.strip().splitlines() or ["unknown"])[0][:300]


class DatabaseFault(Exception):
    """A database fault raised on purpose (a probe, or a write refused up front)."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.message)
        self.fault = fault


class FaultLog:
    """Log each database fault's cause once while it lasts, not a traceback per request."""

    def __init__(self, quiet_seconds: float = 60.0) -> None:
        self.quiet_seconds = quiet_seconds
        self._last: dict[FaultKind, tuple[str, float, int]] = {}
        self._lock = threading.Lock()

    def note(self, fault: Fault) -> None:
        """Log a fault unless the same one was logged within the quiet period."""
        now = time.monotonic()
        with self._lock:
            cause, at, repeats = self._last.get(fault.kind, ("", -1e18, 0))
            if cause == fault.cause and now - at < self.quiet_seconds:
                self._last[fault.kind] = (cause, at, repeats + 1)
                return
            self._last[fault.kind] = (fault.cause, now, 0)
        more = f" ({repeats} more since it was last logged)" if repeats else ""
        LOG.warning("database %s: %s%s", fault.kind.value.replace("_", " "), fault.cause, more)

    def recovered(self) -> None:
        """Log, once, that writes succeed again after a fault."""
        with self._lock:
            if not self._last:
                return
            kinds = ", ".join(k.value.replace("_", " ") for k in self._last)
            self._last.clear()
        LOG.warning("database recovered (was: %s)", kinds)
