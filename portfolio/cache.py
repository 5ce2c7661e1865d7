"""What a process keeps: values derived from one revision or run, and work in the background.

Keys name what they hold first (`("ranking run", profile, revision)`), so a kept value is found
again only for the same revision or run: a write moves the revision (portfolio/revision.py), and
with it every key.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from portfolio.faults import FaultLog, classify

LOG = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Return the C library's malloc_trim, or None where there is none (not glibc)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Hand the memory a large computation freed back to the operating system.

    glibc keeps freed memory in its arenas (one per thread that allocated it) for reuse: after
    a ranking, a similarity model or a graph at 100,000 projects, hundreds of megabytes stay
    resident in a web worker that may never need them again.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def release_garbage() -> None:
    """Collect the cyclic garbage a large request left (data frames, graphs), then release it.

    Reference counting frees most of a request's temporaries when it ends; those caught in
    reference cycles wait for a full collection, which could come long after, and so would the
    memory they hold (34 MB after a live export at 100,000 projects, measured).
    """
    gc.collect()
    release_freed_memory()


class Memo:
    """A small least-recently-used store of values this process derived from the database."""

    def __init__(self, entries: int = 64) -> None:
        self.entries = entries
        self._values: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any | None:
        """Return the value kept under a key, or None."""
        with self._lock:
            if key not in self._values:
                return None
            self._values.move_to_end(key)
            return self._values[key]

    def put(self, key: tuple, value: Any) -> Any:
        """Keep a value under a key, forgetting the least recently used beyond the limit."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.entries:
                self._values.popitem(last=False)
        return value

    def put_latest(self, key: tuple, value: Any) -> Any:
        """Keep a value as the only one of its kind (key[0]): older ones are dead weight."""
        with self._lock:
            stale = [self._values.pop(k) for k in list(self._values)
                     if k[0] == key[0] and k != key]
        kept = self.put(key, value)
        # The values kept this way are the large ones (built in seconds, with temporaries as
        # large again): what their building and the stale ones held goes back to the system.
        del stale
        release_freed_memory()
        return kept

    def latest(self, kind: str) -> tuple[tuple, Any] | None:
        """Return the key and value kept by `put_latest` for a kind (key[0]), if any."""
        with self._lock:
            return next(((key, value) for key, value in reversed(self._values.items())
                         if key[0] == kind), None)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()

    def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Return the value under a key, computing and keeping it when absent."""
        found = self.get(key)
        return found if found is not None else self.put(key, compute())


class Background:
    """Work a process runs in daemon threads, one job per key, awaited on dispose."""

    def __init__(self, faults: FaultLog | None = None) -> None:
        self._jobs: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self._threads: dict[tuple, tuple[threading.Thread, float]] = {}
        self.faults = faults

    def submit(self, key: tuple, work: Callable[[], Any]) -> Future:
        """Start work under a key unless a job under it is running; return the job's future."""
        with self._lock:
            running = self._jobs.get(key)
            if running is not None:
                return running
            future: Future = Future()
            self._jobs[key] = future
            thread = threading.Thread(target=self._run, args=(key, work, future), daemon=True,
                                      name=f"background-{key[0]}")
            self._threads[key] = (thread, time.monotonic())
        thread.start()
        return future

    def health(self, stuck_after: float = 600.0) -> tuple[bool, dict[str, Any]]:
        """Tell whether background work is alive: no job's thread died or ran past a limit."""
        now = time.monotonic()
        with self._lock:
            running = [(key, self._threads[key]) for key in self._jobs if key in self._threads]
        dead = [str(key[0]) for key, (thread, _at) in running
                if thread.ident is not None and not thread.is_alive()]
        oldest = max((now - at for _key, (_thread, at) in running), default=0.0)
        alive = not dead and oldest < stuck_after
        return alive, {"running": len(running), "oldest_seconds": round(oldest, 1),
                       "dead": dead}

    def _run(self, key: tuple, work: Callable[[], Any], future: Future) -> None:
        """Run one job and settle its future, logging a failure nobody may be waiting for."""
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
            release_freed_memory()
            fault = classify(exc)
            if fault is not None and self.faults is not None:
                # The database's state, not a bug: its cause once, not a traceback per job.
                self.faults.note(fault)
            else:
                LOG.exception("background job %s failed", key)
            self._forget(key)
            future.set_exception(exc)
        else:
            # A job (a ranking, say) frees temporaries as large as what it keeps: they go back
            # to the system before whoever waits on it reads on.
            release_freed_memory()
            # Forgotten before it is settled, so no later submit is handed a finished job.
            self._forget(key)
            future.set_result(result)

    def _forget(self, key: tuple) -> None:
        """Drop a job from the running ones."""
        with self._lock:
            self._jobs.pop(key, None)
            self._threads.pop(key, None)

    def wait(self, timeout: float = 120.0) -> None:
        """Wait for the running jobs, one deadline in all (never drop a database under one)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            try:
                job.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001, S110 - logged by _run, or past the deadline
                pass
