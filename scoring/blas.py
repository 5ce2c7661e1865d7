"""The process's BLAS on one thread, set once when scoring's products are first imported.

Robustness and what-if multiply thin float32 matrices (a dozen criteria), and a product's
rounding depends on how BLAS splits it across threads: with OpenBLAS's two threads about one
rank interval end in 700 moved at 100,000 projects, and the threads cost more than they saved
(the ranking took 4.2-8.6 s against 1.9-3.5 s on a shared 2-core machine); robustness spreads
its samples over the cores itself. threadpoolctl lets only one Python thread at a time set the
limit, and a `with` block restores the previous one as it ends, under any other thread still
multiplying: so the limit is set here, once, for the whole process, and never restored.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def one_thread() -> None:
    """Put every BLAS library this process has loaded (numpy's among them) on one thread."""
    np.ones(1)  # numpy's OpenBLAS, the one its products call, is loaded with numpy
    threadpool_limits(1, user_api="blas")


def numpy_threads() -> int | None:
    """Return the threads of the BLAS library numpy's products call (None if none is found)."""
    for lib in threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in str(lib["filepath"]):
            return int(lib["num_threads"])
    return None


one_thread()
