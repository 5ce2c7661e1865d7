"""The cyclic collector's pause around bulk work: nested and concurrent callers share one."""

from __future__ import annotations

import gc
import threading

from scoring import collector


def test_the_collector_resumes_only_when_the_last_caller_leaves() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer caller is still inside
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failing_block_still_resumes_the_collector() -> None:
    try:
        with collector.paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_concurrent_callers_share_one_pause() -> None:
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with collector.paused():
            inside.set()
            leave.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    assert inside.wait(5)
    with collector.paused():
        pass
    assert not gc.isenabled()  # the other thread's block is still running
    leave.set()
    worker.join(5)
    assert gc.isenabled()
