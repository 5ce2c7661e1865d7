"""Concurrent writers for lost-update tests: each makes its edits in its own thread."""

from __future__ import annotations

import threading
from collections.abc import Callable


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
