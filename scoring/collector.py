"""Pausing Python's cyclic garbage collector around bulk work that makes no reference cycles."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
# Callers inside `paused`, and whether the collector ran before the first of them came in.
_state = {"inside": 0, "was_enabled": False}


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (reference counting still frees everything).

    Hundreds of thousands of small objects (attribute dicts, row tuples, lists of slugs) set
    off repeated full collections that walk every live object: measured at about a third of
    the CPU of ranking 100,000 projects. Nested and concurrent callers share one pause.
    """
    with _LOCK:
        if _state["inside"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["inside"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _state["inside"] -= 1
            if _state["inside"] == 0 and _state["was_enabled"]:
                gc.enable()
