"""Run every benchmark and write bench/results.json and bench/results.md (`make bench`).

    python -m bench.run_all            # the full suite, sized to finish within 25 minutes
    python -m bench.run_all --quick    # small sizes, a smoke run of a few minutes
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import aims, common  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
BUDGET_S = {"full": 25 * 60, "quick": 3 * 60}
# "Today's code" for issue 19's ratios: the commit before its work began.
TODAY = "83e34aa"


def stages(quick: bool, tmp: Path) -> list[tuple[str, float, Callable[[], Any]]]:
    """Return (name, estimated seconds, call) for every benchmark at the chosen sizes."""
    from bench import (
        bench_fuzz,
        bench_graph,
        bench_load,
        bench_pages,
        bench_plan,
        bench_recompute,
        bench_scoring,
        bench_single_edit,
        bench_worker_memory,
    )

    shared = str(tmp / ("pages-small.db" if quick else "pages-100k.db"))
    shared_10k = str(tmp / "pages-10k.db")

    def exports(projects: int, database: str, **kwargs: Any) -> Any:
        try:
            module = importlib.import_module("bench.bench_exports")
        except ImportError as exc:
            return {"status": "missing", "detail": f"bench.bench_exports: {exc}"}
        if Path(database).exists():
            kwargs["database"] = database
        return module.run(projects, **kwargs)

    # XLSX took about 350 s at 100,000 projects in one run: it is measured at 10,000.
    formats_100k = ["csv", "json", "parquet", "datapackage", "graphml"]

    if quick:
        return [
            ("scoring", 5, lambda: bench_scoring.run(10_000, 200, 2_000, repeats=1)),
            ("graph", 5, lambda: bench_graph.run(5_000, repeat=1)),
            ("plan", 10, lambda: bench_plan.run((1_000,), time_limit=10)),
            ("pages sqlite 500", 30, lambda: bench_pages.run(
                500, "sqlite", 20, max_seconds=2, graph_requests=2, sqlite_file=shared)),
            ("pages postgresql 500", 25, lambda: bench_pages.run(
                500, "postgresql", 20, max_seconds=2, graph_requests=2)),
            ("load", 30, lambda: bench_load.run(5, 8, 500, baseline_seconds=4)),
            ("fuzz", 20, lambda: bench_fuzz.run(examples=3, min_total=50)),
            ("exports", 30, lambda: exports(500, shared, import_rows=200)),
            ("recompute sqlite 500", 30, lambda: bench_recompute.run(500)),
        ]
    return [
        ("scoring", 10, lambda: bench_scoring.run()),
        ("graph", 35, lambda: bench_graph.run(100_000, repeat=1)),
        ("plan", 60, lambda: bench_plan.run((5_000, 20_000), time_limit=60)),
        ("pages sqlite 1,000", 70, lambda: bench_pages.run(
            1_000, "sqlite", 200, max_seconds=8, graph_requests=10)),
        ("pages sqlite 10,000", 115, lambda: bench_pages.run(
            10_000, "sqlite", 100, max_seconds=8, graph_requests=3, sqlite_file=shared_10k)),
        ("pages postgresql 10,000", 100, lambda: bench_pages.run(
            10_000, "postgresql", 100, max_seconds=8, graph_requests=3)),
        ("pages sqlite 100,000", 320, lambda: bench_pages.run(
            100_000, "sqlite", 50, max_seconds=8, graph_requests=1, sqlite_file=shared)),
        ("load", 110, lambda: bench_load.run(20, 60, 2_000, baseline_seconds=10)),
        ("fuzz", 80, lambda: bench_fuzz.run(min_total=1_000)),
        # Each format is written by today's code too (bytes compared): twice the time.
        ("exports", 300, lambda: exports(100_000, shared, formats=formats_100k)),
        ("exports xlsx 10,000", 90, lambda: exports(10_000, shared_10k, formats=["xlsx"],
                                                     import_rows=0)),
        # This code against the code before issue 19's work, on the same 100,000 projects.
        ("recompute sqlite 100,000", 150, lambda: bench_recompute.run(
            100_000, shared if Path(shared).exists() else None, baseline=TODAY)),
        ("recompute postgresql 100,000", 240, lambda: bench_recompute.run(
            100_000, kind="postgresql", baseline=TODAY)),
        # A single edit re-ranked: one the ranking does not read (carried), one it reads.
        ("single edit sqlite 100,000", 60, lambda: bench_single_edit.run(
            100_000, "sqlite", shared if Path(shared).exists() else None)),
        ("single edit postgresql 100,000", 120, lambda: bench_single_edit.run(
            100_000, "postgresql")),
        ("worker memory sqlite 100,000", 240, lambda: bench_worker_memory.run(
            ["sqlite"], Path(shared) if Path(shared).exists() else None, baseline=TODAY)),
        # Last, so that the time budget drops it before anything else.
        ("pages postgresql 100,000", 200, lambda: bench_pages.run(
            100_000, "postgresql", 50, max_seconds=6, graph_requests=1)),
    ]


def run(quick: bool = False, out_dir: Path = BENCH_DIR,
        only: set[str] | None = None) -> dict[str, Any]:
    """Run the stages within the time budget; write and return the results.

    With `only`, just those stages run again: their entries in the last results.json are
    replaced (each saying when and at which commit it was run again), the rest kept as they were.
    """
    budget = BUDGET_S["quick" if quick else "full"]
    results: dict[str, Any] = {"machine": common.machine_info(), "quick": quick,
                               "budget_s": budget, "benchmarks": {}}
    if only:
        results = json.loads((out_dir / "results.json").read_text())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-all-") as tmp:
        for name, estimate, call in stages(quick, Path(tmp)):
            if only and name not in only:
                continue
            elapsed = time.perf_counter() - started
            entry: dict[str, Any] = {"started_at_s": round(elapsed, 1)}
            if only:
                now = common.machine_info()
                entry["run_again"] = {k: now[k] for k in ("date", "commit")}
            elif elapsed + estimate > budget:
                entry.update(status="skipped",
                             detail=f"time budget: {elapsed:.0f} s spent, about {estimate} s "
                                    f"needed, {budget} s allowed")
                print(f"\n=== {name}: SKIPPED ({entry['detail']})", flush=True)
                results["benchmarks"][name] = entry
                continue
            print(f"\n=== {name} (at {elapsed:.0f} s)", flush=True)
            stage_started = time.perf_counter()
            try:
                figures = call()
                status = "ok"
                if isinstance(figures, dict) and figures.get("status") == "missing":
                    status = "missing"
                entry.update(status=status, figures=figures)
            except Exception as exc:  # noqa: BLE001 - one failure must not hide the rest
                entry.update(status="failed", detail=f"{type(exc).__name__}: {exc}",
                             traceback=traceback.format_exc()[-4000:])
                print(f"=== {name}: FAILED {entry['detail']}", flush=True)
            entry["seconds"] = round(time.perf_counter() - stage_started, 1)
            problems = findings(name, entry.get("figures"))
            if problems:
                entry["problems"] = problems
                print(f"=== {name}: PROBLEMS: {'; '.join(problems)}", flush=True)
            results["benchmarks"][name] = entry
            print(f"=== {name}: {entry['status']} in {entry['seconds']:.0f} s", flush=True)
    if not only:
        results["total_s"] = round(time.perf_counter() - started, 1)
    end = common.machine_info()
    if not only:
        results["machine_at_end"] = {k: end[k] for k in ("date", "commit",
                                                          "uncommitted_changes")}
    if not only and end["commit"] != results["machine"]["commit"]:
        print(f"NOTE: the commit changed during the run ({results['machine']['commit']} -> "
              f"{end['commit']}): the stages did not all measure the same code")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=_plain) + "\n")
    (out_dir / "results.md").write_text(markdown(results))
    print(f"\nall benchmarks: {results['total_s']:.0f} s; wrote {out_dir / 'results.json'} and "
          f"{out_dir / 'results.md'}")
    if not quick and out_dir == BENCH_DIR:
        # Only a full run speaks for the README: a quick one measures other sizes.
        written = aims.update_readme(results)
        print("README.md: the aims table " + ("rewritten" if written else "markers not found"))
    return results


def findings(name: str, figures: Any) -> list[str]:
    """Return what must be looked at in a stage's figures: errors, 5xx, slow pages."""
    if not isinstance(figures, dict):
        return []
    problems = []
    if name == "load":
        if figures.get("total_errors"):
            problems.append(f"{figures['total_errors']} errors (5xx, timeouts, connection): "
                            f"{figures.get('errors_by_kind')}")
        if not figures.get("audit_matches", True):
            problems.append(f"audit {figures['audit_updates']} != accepted writes "
                            f"{figures['accepted_writes']}")
    if name == "fuzz" and figures.get("failed_paths"):
        problems.append(f"fuzz failures: {figures['failed_paths']}")
    for row in figures.get("table", []) if name.startswith("pages") else []:
        if row["p50_ms"] > 1000:
            problems.append(f"{row['page']} p50 {row['p50_ms'] / 1000:.1f} s")
    return problems


def _stage_detail(entry: dict[str, Any]) -> str:
    """Say what a stage found, and when it was run again on its own (`--only`)."""
    said = "; ".join(entry.get("problems", [])) or entry.get("detail", "")
    again = entry.get("run_again")
    if again:
        said = f"run again alone on {again['date']} at {again['commit']}" + (
            f"; {said}" if said else "")
    return said


def _plain(value: Any) -> Any:
    """Turn numpy scalars and other objects into JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _num(value: Any, digits: int = 1) -> str:
    """Format a number for a markdown cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3g}"
    return str(value)


def _plan(found: dict[str, Any]) -> str:
    """Summarise a backlog query plan: ordered index scan, index then sort, or no index."""
    word = ("no index" if not found["uses_index"] else
            "index + sort" if found.get("sorts") else "ordered index")
    after = found.get("after_analyze")
    return f"{word} (after ANALYZE: {_plan(after)})" if after else word


def _times(ratio: float | None) -> str | None:
    """Format a ratio as 12.3x."""
    return None if ratio is None else f"{ratio:.1f}x"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """Return a markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_num(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _flat(figures: dict[str, Any]) -> list[list[Any]]:
    """Return the scalar figures of a flat report as rows."""
    return [[k, v] for k, v in figures.items() if isinstance(v, int | float | str | bool)]


AIM_FLOOR_P95 = 3.0
AIM_DATASETTE = 50.0


def page_aims(pages: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Say, page by page at 100,000 projects, whether the issue's aims are met."""
    rows = []
    for _name, f in pages:
        if f["projects"] < 100_000:
            continue
        for r in f["table"]:
            ratio, speedup = r.get("p95_ratio_to_floor"), r.get("speedup_vs_datasette")
            if ratio is None:
                continue
            rows.append([f"{f['projects']:,} {f['database']}", r["page"], _times(ratio),
                         "met" if ratio <= AIM_FLOOR_P95 else "NOT met", _times(speedup),
                         "-" if speedup is None else
                         "met" if speedup >= AIM_DATASETTE else "NOT met"])
    if not rows:
        return []
    return [f"Aims at 100,000 projects: p95 within {AIM_FLOOR_P95:.0f}x of the floor's p95, and "
            f"at least {AIM_DATASETTE:.0f}x faster than Datasette.", ""] + _table(
        ["size", "page", "p95 x floor", "aim", "vs Datasette", "aim"], rows)


def markdown(results: dict[str, Any]) -> str:
    """Render the results as markdown tables."""
    m = results["machine"]
    out = [f"# Benchmark results{' (quick)' if results['quick'] else ''}", "",
           f"{m['date']}, commit {m['commit']}, {m['cores']} cores, {m['memory_mb']:,} MB, "
           f"Python {m['python']}; total {results['total_s']:.0f} s. Figures from one run on a "
           "shared machine: compare the ratios within the run.", ""]
    out += ["## Issue 19's aims", "", aims.table(results), "## Stages", ""]
    end = results.get("machine_at_end", {})
    if end.get("commit") and end["commit"] != m["commit"]:
        out += [f"**The commit changed during the run ({m['commit']} -> {end['commit']}).**",
                ""]
    if m.get("uncommitted_changes"):
        out += ["Uncommitted changes outside bench/ at the start: "
                + ", ".join(m["uncommitted_changes"][:30]), ""]
    during = sorted(set(end.get("uncommitted_changes") or [])
                    - set(m.get("uncommitted_changes") or []))
    if during:
        out += ["**Files that became uncommitted changes during the run** (stages after the "
                "change measured the new code): " + ", ".join(during), ""]
    out += _table(["benchmark", "status", "seconds", "problems / detail"],
                  [[n, e["status"], e.get("seconds"), _stage_detail(e)]
                   for n, e in results["benchmarks"].items()])
    pages = [(n, e["figures"]) for n, e in results["benchmarks"].items()
             if n.startswith("pages") and e["status"] == "ok"]
    if pages:
        out += ["## Pages (sequential keep-alive requests on loopback)", ""]
        rows = []
        for _name, f in pages:
            for r in f["table"]:
                rows.append([f"{f['projects']:,} {f['database']}", r["page"], r["n"],
                             r["p50_ms"], r["p95_ms"], r["floor_p50_ms"], r["floor_p95_ms"],
                             _times(r["ratio_to_floor"]), _times(r.get("p95_ratio_to_floor")),
                             r["datasette_p50_ms"], r["datasette_p95_ms"],
                             _times(r["speedup_vs_datasette"])])
        out += _table(["size", "page", "n", "p50 ms", "p95 ms", "floor p50", "floor p95",
                       "x floor (p50)", "x floor (p95)", "Datasette p50", "Datasette p95",
                       "speed-up vs Datasette (p50)"], rows)
        out += page_aims(pages)
        out += _table(["size", "seed s", "first ranking s", "ranked rows",
                       "ix_ranking_row_run_position (first / filtered / last)"],
                      [[f"{f['projects']:,} {f['database']}", f["seed_s"],
                        f["first_ranking_s"], f["ranked_rows"],
                        " / ".join(_plan(f["explain"][k]) for k in ("first", "filtered", "last"))]
                       for _n, f in pages])
    load = results["benchmarks"].get("load", {})
    if load.get("status") == "ok":
        f = load["figures"]
        out += [f"## Load ({f['users']} users, {f['projects']:,} projects, PostgreSQL, "
                f"{f['workers']} workers)", ""]
        rows = []
        for title, p in (("read-only", f.get("read_only")), ("mixed", f)):
            if p:
                rows.append([title, p["elapsed_s"], p["responses"], p["throughput_rps"],
                             p["all"]["p50_ms"], p["all"]["p95_ms"], p["errors"],
                             p["accepted_writes"], p["conflicts_409"]])
        out += _table(["phase", "seconds", "responses", "req/s", "p50 ms", "p95 ms",
                       "errors", "accepted writes", "409"], rows)
        out += _table(["request (mixed)", "n", "p50 ms", "p95 ms", "max ms"],
                      [[k, v["n"], v["p50_ms"], v["p95_ms"], v["max_ms"]]
                       for k, v in f["by_request"].items()])
        runs = (f"; ranking runs stored during the mixed phase: {f['ranking_runs_stored']}"
                if "ranking_runs_stored" in f else "")
        out += [f"Audit: {f['audit_updates']} project updates for {f['accepted_writes']} "
                f"accepted writes ({'match' if f['audit_matches'] else 'MISMATCH'}); "
                f"errors {f['total_errors']}{runs}.", ""]
    fuzz = results["benchmarks"].get("fuzz", {})
    if fuzz.get("status") == "ok":
        f = fuzz["figures"]
        out += [f"## Fuzz (schemathesis, {f['operations']} operations)", ""]
        out += _table(["operation", "cases"], [list(kv) for kv in sorted(f["counts"].items())])
        out += [f"Total {f['total']:,} cases; 5xx: {f['server_errors_5xx']}; other failures: "
                f"{f['other_failures']}.", ""]
    for name in ("scoring", "graph"):
        entry = results["benchmarks"].get(name, {})
        if entry.get("status") == "ok":
            out += [f"## {name.capitalize()}", ""]
            out += _table(["figure", "value"], _flat(entry["figures"]))
    plan = results["benchmarks"].get("plan", {})
    if plan.get("status") == "ok":
        out += ["## Plan", ""]
        out += _table(["candidates", "dependencies", "HiGHS s", "status", "gap", "selected",
                       "waves"],
                      [[r["candidates"], r["dependencies"], r["highs_seconds"],
                        r["highs_status"], r["highs_gap"], r["highs_selected"], r["waves"]]
                       for r in plan["figures"].values()])
    for name, entry in results["benchmarks"].items():
        if not name.startswith("exports") or entry.get("status") != "ok":
            continue
        f = entry["figures"]
        out += [f"## {name.capitalize()}", ""]
        if f.get("status") == "missing":
            out += [f"missing: {f.get('detail')}", ""]
            continue
        out += _table(["figure", "value"], _flat(f))
        formats = list(f.get("exports") or [])
        if f.get("datasette_csv"):
            formats.append({"format": "datasette csv (HTTP)", **f["datasette_csv"]})
        out += _table(["export", "rows", "seconds", "rows/s", "MB", "peak +MB"],
                      [[e.get("format"), e.get("rows"), e.get("seconds"), e.get("rows_per_s"),
                        (e.get("bytes") or 0) / 1_048_576, e.get("peak_mb")]
                       for e in formats if isinstance(e, dict)])
        rows = [[k, json.dumps(v, default=_plain)[:300]] for k, v in f.items()
                if k not in {"exports", "datasette_csv"}
                and not isinstance(v, int | float | str | bool)]
        out += _table(["part", "figures (JSON)"], rows)
    return "\n".join(out)


def main() -> None:
    """Parse flags and run the suite."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR,
                        help="where results.json and results.md go")
    parser.add_argument("--only", action="append", metavar="STAGE",
                        help="run just this stage again (repeatable), keeping the rest of the "
                        "last results.json")
    args = parser.parse_args()
    only = set(args.only) if args.only else None
    results = run(args.quick, args.out_dir, only)
    failed = [n for n, e in results["benchmarks"].items()
              if e["status"] == "failed" or any("error" in p or "fuzz" in p or "audit" in p
                                                for p in e.get("problems", []))]
    if failed:
        print(f"failed or with errors: {', '.join(failed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
