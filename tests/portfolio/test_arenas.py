"""The process keeps one malloc arena however many threads allocate (portfolio.arenas)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="malloc arenas are glibc's")

# Four threads allocate at once, then glibc's malloc_info tells how many arenas (heaps) exist.
COUNT_ARENAS = textwrap.dedent("""
    import ctypes, sys, tempfile, threading
    {prelude}
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.fopen.restype = ctypes.c_void_p
    barrier = threading.Barrier(4)
    held = []

    def allocate():
        barrier.wait()
        held.append(bytearray(4096))
        barrier.wait()

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tempfile.NamedTemporaryFile() as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(open(report.name).read().count("<heap nr="))
""")


def arenas_after(prelude: str, **environment: str) -> int:
    """Return the malloc arenas of a fresh interpreter that ran `prelude`, then four threads."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")} | environment
    done = subprocess.run([sys.executable, "-c", COUNT_ARENAS.format(prelude=prelude)],
                          capture_output=True, text=True, env=env, timeout=60,
                          cwd=Path(__file__).resolve().parents[2], check=True)
    return int(done.stdout)


def test_threads_share_one_arena_once_the_portfolio_is_imported() -> None:
    assert arenas_after("") > 1  # glibc's own default: an arena per thread, on these cores
    assert arenas_after("import portfolio") == 1


def test_an_operators_malloc_arena_max_stands() -> None:
    assert arenas_after("import portfolio", MALLOC_ARENA_MAX="3") == 3


def test_an_operators_glibc_tunable_for_arenas_stands() -> None:
    # Found in review: only MALLOC_ARENA_MAX was honoured.
    tunables = "glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=3"
    assert arenas_after("import portfolio", GLIBC_TUNABLES=tunables) == 3
    assert arenas_after("import portfolio",
                        GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072") == 1
