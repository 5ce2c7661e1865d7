"""Run a long schemathesis fuzz of the API over a London-seeded SQLite database; count 5xx.

Reuses `fuzz()` from tests/web/test_api_fuzz.py, one API path at a time so that a 5xx on one
operation (which `fuzz` raises on) is reported without losing the counts of the others.

    python -m bench.bench_fuzz --min-total 1000
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402


def london_app(tmp: str) -> tuple[Any, str]:
    """Migrate and seed London into a temp SQLite file; return the app and an admin token."""
    from portfolio import migrate
    from portfolio.db import Database, make_engine
    from portfolio.settings import Settings
    from seeds.loader import load_london
    from tests.web.auth import token_for
    from web.app import create_app

    url = f"sqlite:///{Path(tmp) / 'london.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    # As the test suite's fuzz runs it: the test environment answers the in-process client's
    # "testserver" host (the production default refuses hosts it was not told of, with a 400).
    settings = Settings(database_url=url, environment="test", secret_key=common.BENCH_SECRET,
                        attachments_dir=Path(tmp) / "attachments")
    db = Database(settings)
    with db.write() as session:
        load_london(session)
    token = token_for(db, "admin")
    db.dispose()
    return create_app(settings), token


def api_paths(app: Any, skip: str) -> list[str]:
    """Return the API paths of the app's OpenAPI schema, without the skipped ones."""
    import schemathesis

    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    paths = []
    for result in loaded.get_all_operations():
        path = result.ok().path
        if not re.search(skip, path) and path not in paths:
            paths.append(path)
    return paths


def run(examples: int | None = None, min_total: int = 1000, verbose: bool = True
        ) -> dict[str, Any]:
    """Fuzz every operation; return counts per operation, the total and the 5xx found."""
    from tests.web.test_api_fuzz import SLOW_OPERATIONS, fuzz

    log = print if verbose else (lambda *_a, **_k: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="portfolio-fuzz-") as tmp:
        app, token = london_app(tmp)
        paths = api_paths(app, SLOW_OPERATIONS)
        operations = sum(len(fuzz_methods(app, p)) for p in paths)
        per_operation = examples or max(5, math.ceil(min_total / max(1, operations)))
        log(f"[fuzz] {operations} operations on {len(paths)} paths, {per_operation} "
            f"examples each ...", flush=True)
        counts: dict[str, int] = {}
        failures: dict[str, str] = {}
        todo, batch, passes = list(paths), per_operation, 0
        # Operations with few possible inputs stop early; top up the others until the
        # total reaches the minimum (at most three passes).
        while todo and passes < 3:
            passes += 1
            saturated = []
            for path in todo:
                only = f"^(?!{re.escape(path)}$)|{SLOW_OPERATIONS}"
                try:
                    found = fuzz(app, token, batch, skip=only)
                except Exception as exc:  # noqa: BLE001 - a 5xx (or anything else) is the finding
                    failures[path] = f"{type(exc).__name__}: {str(exc)[:500]}"
                    log(f"  FAILED {path}: {failures[path]}", flush=True)
                    continue
                for label, n in found.items():
                    counts[label] = counts.get(label, 0) + n
                if any(n >= batch for n in found.values()):
                    saturated.append(path)
            missing = min_total - sum(counts.values())
            if examples is not None or missing <= 0 or not saturated:
                break
            todo = saturated
            operations_left = sum(len(fuzz_methods(app, p)) for p in todo)
            batch = math.ceil(missing / operations_left) + 2
            log(f"[fuzz] {sum(counts.values())} cases so far: {batch} more for "
                f"{operations_left} operations ...", flush=True)
    total = sum(counts.values())
    report = {
        "operations": operations, "examples_per_operation": per_operation, "passes": passes,
        "counts": counts, "total": total, "failed_paths": failures,
        "server_errors_5xx": sum(1 for m in failures.values() if "AssertionError" in m),
        "other_failures": sum(1 for m in failures.values() if "AssertionError" not in m),
        "skipped": SLOW_OPERATIONS, "seconds": time.perf_counter() - started,
        "min_total": min_total, "meets_minimum": total >= min_total,
    }
    if verbose:
        print_report(report)
    return report


def fuzz_methods(app: Any, path: str) -> list[str]:
    """Return the HTTP methods the schema lists for a path."""
    schema = app.openapi()
    return [m for m in schema["paths"].get(path, {}) if m in
            {"get", "post", "put", "patch", "delete"}]


def print_report(r: dict[str, Any]) -> None:
    """Print the count per operation, the total and the 5xx."""
    print(f"\nFuzz: schemathesis over London on SQLite ({r['seconds']:.0f} s; skipped "
          f"{r['skipped']})")
    common.print_table(["operation", "cases"], sorted(r["counts"].items()))
    minimum = "" if r["meets_minimum"] else f"  (BELOW the {r['min_total']:,} aimed for)"
    print(f"total generated cases: {r['total']:,}{minimum}")
    verdict = "OK" if not r["failed_paths"] else "FAILED"
    print(f"*** 5xx answers: {r['server_errors_5xx']}; other failures: "
          f"{r['other_failures']} -> {verdict} ***")
    for path, message in r["failed_paths"].items():
        print(f"    {path}: {message}")


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None,
                        help="examples per operation (default: enough for --min-total)")
    parser.add_argument("--min-total", type=int, default=1000, help="cases aimed for in all")
    args = parser.parse_args()
    report = run(args.examples, args.min_total)
    sys.exit(0 if not report["failed_paths"] else 1)


if __name__ == "__main__":
    main()
