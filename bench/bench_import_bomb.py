"""The review's XLSX declared-dimension bomb and a 100,000-column CSV header against a baseline.

The baseline, measured in the same run, is reading the import template as a workbook (two
projects). For each file: median time over a few runs and the peak extra memory (tracemalloc)
of reading it, and their ratio to the baseline. Aim: the bomb refused in under 1 s with under
50 MB of extra memory (before the fix: 13 s and 1.35 GB).

    .venv/bin/python bench/bench_import_bomb.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portfolio.services import imports  # noqa: E402
from tests.security.xlsx import declared_dimension_bomb, workbook  # noqa: E402


def measure(read: Callable[[], object], repeat: int) -> dict[str, object]:
    """Return the median seconds, the peak extra MB and the outcome of reading a file."""
    times = []
    outcome = "read"
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            read()
        except imports.BadFile as exc:
            outcome = f"refused: {exc.errors['file'][:80]}"
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    try:
        read()
    except imports.BadFile:
        pass
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": statistics.median(times), "peak_mb": peak / 1_048_576,
            "outcome": outcome}


def main() -> None:
    """Measure the baseline, the bomb, the bomb's cells within limits and a wide CSV header."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per file (median taken)")
    args = parser.parse_args()
    files = {
        "baseline: template workbook (2 projects)": imports.template_xlsx(),
        "bomb: A1:XFD8000 declared, a value in XFD8000": declared_dimension_bomb(8000),
        "bomb: A1:XFD1048576 declared, a value in XFD1048576": declared_dimension_bomb(
            1_048_576),
        "A1:XFD8000 declared, one project in row 8000": workbook("A1:XFD8000", [(8000, [
            ("A8000", "far"), ("B8000", "Far"), ("C8000", "GLA"), ("D8000", "housing")])]),
        "CSV header of 100,000 columns": (",".join(
            ["slug", "title", "owner", "theme"] + [f"c{i}" for i in range(100_000)])
            + "\nx,X,GLA,housing\n").encode(),
    }
    results = {}
    for name, content in files.items():
        results[name] = {"bytes": len(content),
                         **measure(lambda c=content: imports.read_sheet(c), args.repeat)}
    base = next(iter(results.values()))
    print(f"{'file':55} {'bytes':>8} {'ms':>8} {'x base':>7} {'peak MB':>8} {'x base':>7}  "
          "outcome")
    for name, found in results.items():
        found["time_ratio"] = found["seconds"] / base["seconds"]
        found["memory_ratio"] = found["peak_mb"] / base["peak_mb"]
        print(f"{name:55} {found['bytes']:>8,} {found['seconds'] * 1000:>8.1f} "
              f"{found['time_ratio']:>7.2f} {found['peak_mb']:>8.2f} "
              f"{found['memory_ratio']:>7.2f}  {found['outcome']}")
    bomb = results["bomb: A1:XFD8000 declared, a value in XFD8000"]
    print(f"\nbomb refused in {bomb['seconds'] * 1000:.1f} ms ({bomb['time_ratio']:.2f}x the "
          f"baseline), {bomb['peak_mb']:.2f} MB extra ({bomb['memory_ratio']:.2f}x); aim: "
          "under 1 s and under 50 MB")


if __name__ == "__main__":
    main()
