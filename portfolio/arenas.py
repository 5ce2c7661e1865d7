"""One malloc arena per process: glibc's arenas per thread held freed memory apart.

glibc gives each new thread an arena of its own (up to eight per core), and memory a thread
frees stays in its arena for that arena's next allocations. The ranking's robustness threads and
the web server's thread pool each grew one, and a 100,000-project re-ranking peaked 35-40 MB
higher on them than on a single arena, for the same time (measured: README, "Performance").
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter for the most arenas it may create
ARENAS = 1


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Ask the C library to keep at most `arenas` malloc arenas; False where it cannot.

    An operator's MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES, stands; a C
    library without mallopt (not glibc) is left be.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or _tuned_arenas(os.environ.get("GLIBC_TUNABLES", "")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def _tuned_arenas(tunables: str) -> bool:
    """Tell whether GLIBC_TUNABLES ("name=value:name=value") sets the most malloc arenas."""
    return any(pair.partition("=")[0].strip() == "glibc.malloc.arena_max"
               for pair in tunables.split(":"))
