"""The process's BLAS on one thread once scoring is imported, whatever thread asks otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, threading
import numpy
from scoring import blas
import scoring.robustness  # the products' module: the limit is set as it is imported
from threadpoolctl import threadpool_limits
seen = {}
def elsewhere():
    seen["thread"] = blas.numpy_threads()
    with threadpool_limits(2, user_api="blas"):  # another thread cannot raise it
        seen["raised"] = blas.numpy_threads()
worker = threading.Thread(target=elsewhere)
worker.start(); worker.join()
print(json.dumps({"main": blas.numpy_threads(), **seen}))
"""


def test_scoring_puts_blas_on_one_thread_for_the_whole_process() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True,
                          env={"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"})
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"main": 1, "thread": 1, "raised": 1}
