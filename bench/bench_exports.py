"""Benchmark snapshot exports to every format, a 10,000-row import, and Datasette's CSV export.

Seeds a synthetic SQLite portfolio (100,000 projects by default) into a temporary file, takes
a snapshot, exports it to each format in a fresh process (rows per second, peak memory as the
growth of the process's peak RSS during the export), imports 10,000 new project rows (rows per
second), and streams the same database's `project` table as CSV from Datasette in the same run,
when Datasette is installed (`pip install datasette`, for the benchmark only). Each format is
exported by the code of git commit BASELINE too (--baseline; "none" skips it), in its own fresh
process on the same snapshot, one after the other: its seconds, the ratio (baseline / this) and
whether both wrote the same bytes are printed. Figures are printed, never asserted: machines
here are noisy, so compare the ratios of one run. Issue 19's aims: CSV, Data Package and
GraphML of 100,000 projects, XLSX of 10,000:

    python bench/bench_exports.py                     # 100,000 projects
    python bench/bench_exports.py --projects 10000 --formats xlsx
    python bench/bench_exports.py --projects 5000     # quicker
    python bench/bench_exports.py --database var/bench.db --formats csv,parquet
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_recompute import _checkout  # noqa: E402
from bench.common import (  # noqa: E402
    BIN,
    ROOT,
    free_port,
    machine_info,
    prepare_database,
    print_table,
    serve,
)

# The code before issue 19's export work: "today's code" for the ratios.
BASELINE = "83e34aa"
# Issue 19's aims: seconds to export a snapshot of so many projects.
AIMS = {"csv": (100_000, 0.5), "datapackage": (100_000, 2.0), "graphml": (100_000, 3.0),
        "xlsx": (10_000, 2.0)}
IMPORT_ROWS = 10_000
GRAPH_TABLES = ("projects", "datasets", "organisations", "links", "dependencies", "partners")


def _status_kb(field: str) -> int:
    """Return a memory figure of this process from /proc/self/status, in KB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux: writing 5 to clear_refs); tell whether it could."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def export_one(database_url: str, snapshot_id: int, fmt: str, out: str) -> dict[str, Any]:
    """Export one snapshot to one format in this process; return time, size and peak memory."""
    from portfolio.db import Database
    from portfolio.services import exports, snapshots
    from portfolio.settings import Settings

    db = Database(Settings(database_url=database_url))
    # As the export routes load it, with the copies kept beside it (earlier code kept none).
    kept = {"kept": True} if "kept" in inspect.signature(snapshots.load_content).parameters else {}
    with db.read() as session:
        content = snapshots.load_content(session=session, snapshot_id=snapshot_id, **kept)
    db.dispose()
    export_format = exports.ExportFormat(fmt)
    # ru_maxrss survives exec on Linux (a child reports its parent's peak), so the peak is
    # read from VmHWM, reset just before the export where the kernel allows it.
    reset = _reset_peak()
    before_kb = _status_kb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    with open(out, "wb") as file:
        exports.write_export(content, export_format, file)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    peak_kb = _status_kb("VmHWM")
    counts = content.row_counts
    if exports.FORMATS[export_format].single_table:
        rows = counts["projects"]
    elif export_format == exports.ExportFormat.graphml:
        rows = sum(counts[t] for t in GRAPH_TABLES)
    else:
        rows = sum(counts.values())
    return {
        "format": fmt, "seconds": seconds, "rows": rows, "bytes": Path(out).stat().st_size,
        # CPU seconds of every thread of the process: steadier than wall time when other work
        # competes for the cores, but counting in full what a second thread overlaps.
        "cpu_seconds": cpu_seconds,
        "rows_per_s": rows / seconds if seconds else float("inf"),
        # Peak RSS during the export, above what the process held when it began.
        "peak_mb": max(peak_kb - before_kb, 0) / 1024 if reset else None,
        "process_peak_mb": peak_kb / 1024,
        "payload_mb": len(content.body) / 1_048_576,
    }


def _export_in_child(database_url: str, snapshot_id: int, fmt: str, out: Path,
                     code: Path = ROOT) -> dict[str, Any]:
    """Run export_one in a fresh interpreter whose portfolio and scoring come from `code`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        # The editable install's finder would hand out this tree's packages whatever the path.
        [sys.executable, "-c", "import json, sys; sys.path.append(sys.argv[1]); "
         "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
         # Bound to `code` before bench (which puts this tree first on the path) is imported.
         "import portfolio, scoring; from bench.bench_exports import export_one; "
         "print(json.dumps(export_one(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])))",
         str(ROOT), database_url, str(snapshot_id), fmt, str(out)],
        cwd=code, env=env, capture_output=True, text=True, timeout=3600, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export {fmt} ({code}) failed: {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    figures["content_sha256"] = _content_digest(out)
    return figures


def _content_digest(path: Path) -> str:
    """Return a digest of a file's content: of its members' names and bytes when it is a zip."""
    digest = hashlib.sha256()
    if not zipfile.is_zipfile(path):
        digest.update(path.read_bytes())
        return digest.hexdigest()
    # Compression may differ (the Data Package deflates at level 4 since 2026-12-04).
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            digest.update(info.filename.encode() + b"\0" + archive.read(info) + b"\0")
    return digest.hexdigest()


def _export_both(database_url: str, snapshot_id: int, fmt: str, out: Path,
                 baseline: Path | None) -> dict[str, Any]:
    """Export with the baseline's code, then this tree's; return this tree's figures, the ratio."""
    before = (_export_in_child(database_url, snapshot_id, fmt, out, baseline)
              if baseline else None)
    figures = _export_in_child(database_url, snapshot_id, fmt, out)
    if before:
        figures["baseline_seconds"] = before["seconds"]
        figures["baseline_cpu_seconds"] = before.get("cpu_seconds")
        figures["ratio"] = before["seconds"] / figures["seconds"] if figures["seconds"] else None
        figures["same_bytes"] = before["sha256"] == figures["sha256"]
        figures["same_content"] = before["content_sha256"] == figures["content_sha256"]
    return figures


def import_file(database_url: str, rows: int) -> bytes:
    """Return a CSV of new projects over the portfolio's organisations and datasets."""
    from sqlalchemy import select

    from portfolio.db import Database
    from portfolio.models import Dataset, Organisation
    from portfolio.settings import Settings

    db = Database(Settings(database_url=database_url))
    with db.read() as session:
        owners = list(session.execute(select(Organisation.code).order_by(Organisation.id)
                                      .limit(40)).scalars())
        datasets = list(session.execute(select(Dataset.code).order_by(Dataset.id)
                                        .limit(200)).scalars())
    db.dispose()
    themes = ("housing", "transport", "health_social_care", "cost_of_living", "planning")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["slug", "title", "owner", "theme", "status", "cost_gbp", "effort_pm",
                     "start_date", "personal_data", "dpia_status", "datasets", "depends_on",
                     "description"])
    for i in range(rows):
        prerequisite = f"bench-import-{i - 1:05d}" if i % 7 else ""
        writer.writerow([
            f"bench-import-{i:05d}", f"Imported project {i}", owners[i % len(owners)],
            themes[i % len(themes)], "proposed", 10_000 + 37 * i, 1 + i % 30,
            # Personal data needs its DPIA's stage (DESIGN.md, information governance).
            f"2027-{1 + i % 12:02d}-01", "true" if i % 5 == 0 else "false",
            "in_progress" if i % 5 == 0 else "",
            ";".join(datasets[(i + k) % len(datasets)] for k in range(i % 3)),
            prerequisite, "A benchmark project imported from a spreadsheet.",
        ])
    return out.getvalue().encode("utf-8")


def time_import(database_url: str, content: bytes) -> dict[str, Any]:
    """Import a file as the system and return rows per second; then import it again."""
    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.services import imports
    from portfolio.settings import Settings

    db = Database(Settings(database_url=database_url))
    figures: dict[str, Any] = {}
    for name in ("first", "again"):
        started = time.perf_counter()
        with db.write() as session:
            report = imports.import_projects(session=session, actor=SYSTEM, content=content,
                                             filename="bench.csv")
        seconds = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"benchmark import refused: {report.errors[:3]}")
        figures[name] = {"seconds": seconds, "rows": report.rows,
                         "rows_per_s": report.rows / seconds, "created": len(report.created),
                         "unchanged": len(report.unchanged)}
    db.dispose()
    return figures


def datasette_csv(sqlite_file: Path) -> dict[str, Any] | None:
    """Stream the `project` table as CSV from Datasette; None when Datasette is missing."""
    executable = BIN / "datasette"
    if not executable.exists():
        found = shutil.which("datasette")
        if not found:
            return None
        executable = Path(found)
    port = free_port()
    command = [str(executable), "serve", str(sqlite_file), "--host", "127.0.0.1", "--port",
               str(port)]
    url = f"/{sqlite_file.stem}/project.csv?_stream=on&_size=max"
    with serve(command, port=port, health_path="/-/versions.json") as base, httpx.Client(
            timeout=600) as client:
        started = time.perf_counter()
        lines = 0
        size = 0
        with client.stream("GET", base + url) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": lines - 1, "bytes": size,
            "rows_per_s": (lines - 1) / seconds}


def run(projects: int = 100_000, *, database: str | None = None, formats: list[str] | None = None,
        import_rows: int = IMPORT_ROWS, verbose: bool = True,
        baseline: str | None = BASELINE) -> dict[str, Any]:
    """Seed (or reuse) a portfolio, snapshot it, export (with the baseline's code too), import
    and compare with Datasette.
    """
    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.services import exports, snapshots
    from portfolio.services.ranking import ensure_ranking
    from portfolio.settings import Settings

    formats = formats or [f.value for f in exports.ExportFormat]
    report: dict[str, Any] = {"machine": machine_info(), "projects": projects,
                              "baseline_ref": baseline}
    if database:
        report["projects"] = None  # whatever the given database holds (see the snapshot)
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-exports-") as tmp:
        workdir = Path(tmp)
        if database:
            sqlite_file = Path(database).resolve()
        else:
            sqlite_file = workdir / "bench.db"
            if verbose:
                print(f"seeding {projects:,} synthetic projects into {sqlite_file} ...")
            report["prepare"] = prepare_database(f"sqlite:///{sqlite_file}", projects)
        url = f"sqlite:///{sqlite_file}"
        db = Database(Settings(database_url=url))
        started = time.perf_counter()
        ensure_ranking(db)
        report["ranking_s"] = time.perf_counter() - started
        started = time.perf_counter()
        made = snapshots.create_snapshot(db, actor=SYSTEM, label="Benchmark")
        report["snapshot_s"] = time.perf_counter() - started
        report["snapshot"] = {k: made[k] for k in ("id", "row_counts", "bytes", "content_hash")}
        report["kept_csv"] = time_kept_csv(db, made["id"])
        db.dispose()
        if verbose:
            print(f"ranking {report['ranking_s']:.1f} s, snapshot {report['snapshot_s']:.1f} s "
                  f"({made['bytes'] / 1_048_576:.0f} MB canonical): {made['row_counts']}")

        report["exports"] = []
        old_code = _checkout(baseline, workdir / "baseline") if baseline else None
        for fmt in formats:
            out = workdir / f"export.{exports.FORMATS[exports.ExportFormat(fmt)].extension}"
            if verbose:
                print(f"exporting {fmt} ...", flush=True)
            report["exports"].append(_export_both(url, made["id"], fmt, out, old_code))
            out.unlink(missing_ok=True)

        report["datasette_csv"] = datasette_csv(sqlite_file)
        if import_rows:
            report["import"] = time_import(url, import_file(url, import_rows))
    if verbose:
        _print(report)
    return report


def time_kept_csv(db: Any, snapshot_id: int) -> dict[str, float]:
    """Time what taking a snapshot spends on the CSV it keeps: writing it, then compressing it."""
    from portfolio.services import snapshots
    from portfolio.services.exports import kept

    with db.read() as session:
        content = snapshots.load_content(session=session, snapshot_id=snapshot_id, kept=True)
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in kept.projects_csv(content))
    written = time.perf_counter() - started
    started = time.perf_counter()
    copies = kept.kept_exports(content)
    both = time.perf_counter() - started
    return {"written_s": written, "written_and_compressed_s": both, "bytes": size,
            "compressed_bytes": len(copies[kept.PROJECTS_CSV][1])}


def _print(report: dict[str, Any]) -> None:
    print()
    snapshot = report["snapshot"]
    print(f"{snapshot['row_counts']['projects']:,} projects; snapshot "
          f"{snapshot['bytes'] / 1e6:.0f} MB canonical; machine: "
          f"{report['machine']['cores']} cores, {report['machine']['memory_mb']:,} MB")
    rows = [[e["format"], f"{e['rows']:,}", f"{e['seconds']:.2f}", f"{e['rows_per_s']:,.0f}",
             f"{e['bytes'] / 1e6:.1f}",
             "-" if e["peak_mb"] is None else f"{e['peak_mb']:.0f}",
             f"{e['process_peak_mb']:.0f}"] for e in report["exports"]]
    datasette = report.get("datasette_csv")
    if datasette:
        rows.append(["datasette csv (project table, HTTP)", f"{datasette['rows']:,}",
                     f"{datasette['seconds']:.2f}", f"{datasette['rows_per_s']:,.0f}",
                     f"{datasette['bytes'] / 1e6:.1f}", "-", "-"])
    print_table(["export", "rows", "seconds", "rows/s", "MB", "peak +MB", "process peak MB"],
                rows)
    _print_against_baseline(report)
    kept_csv = report.get("kept_csv")
    if kept_csv:
        print(f"the CSV a snapshot keeps: written in {kept_csv['written_s']:.2f} s, "
              f"{kept_csv['written_and_compressed_s']:.2f} s with compression when the snapshot "
              f"is taken ({kept_csv['bytes'] / 1e6:.1f} MB, kept as "
              f"{kept_csv['compressed_bytes'] / 1e6:.1f} MB); the export above sends it")
    ours = next((e for e in report["exports"] if e["format"] == "csv"), None)
    if ours and datasette:
        print(f"CSV throughput, ours / Datasette's: "
              f"{ours['rows_per_s'] / datasette['rows_per_s']:.1f}x")
    elif not datasette:
        print("Datasette is not installed: the comparison was skipped "
              "(pip install datasette into the venv to run it).")
    imported = report.get("import")
    if imported:
        print(f"import of {imported['first']['rows']:,} rows: {imported['first']['seconds']:.2f} s"
              f" ({imported['first']['rows_per_s']:,.0f} rows/s); again, unchanged: "
              f"{imported['again']['seconds']:.2f} s ({imported['again']['rows_per_s']:,.0f} "
              f"rows/s)")


def _print_against_baseline(report: dict[str, Any]) -> None:
    """Print each format's seconds beside the baseline's, their ratio and the issue's aim."""
    timed = [e for e in report["exports"] if "ratio" in e]
    if not timed:
        return
    projects = report["snapshot"]["row_counts"]["projects"]
    rows = []
    for e in timed:
        size, aim = AIMS.get(e["format"], (None, None))
        verdict = ("-" if aim is None or size != projects
                   else f"{'under' if e['seconds'] < aim else 'over'} {aim:g} s")
        cpu = (f"{e['baseline_cpu_seconds']:.2f} / {e['cpu_seconds']:.2f}"
               if e.get("baseline_cpu_seconds") else "-")
        rows.append([e["format"], f"{e['baseline_seconds']:.2f}", f"{e['seconds']:.2f}",
                     f"{e['ratio']:.2f}x", cpu, _sameness(e), verdict])
    print(f"\nagainst commit {report['baseline_ref']} (same snapshot, same run):")
    print_table(["export", "baseline s", "this s", "ratio", "CPU s (baseline / this)",
                 "same bytes", f"aim at {projects:,} projects"], rows)


def _sameness(export: dict[str, Any]) -> str:
    """Say whether both wrote the same bytes, or else the same unzipped content."""
    if export["same_bytes"]:
        return "yes"
    return "same content" if export.get("same_content") else "no"


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects to seed")
    parser.add_argument("--database", help="an SQLite file already seeded (skips seeding)")
    parser.add_argument("--formats", help="comma-separated formats (default: all)")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS,
                        help="rows in the import benchmark (0 skips it)")
    parser.add_argument("--baseline", default=BASELINE,
                        help='git commit of the earlier code to compare with ("none" skips it)')
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    report = run(args.projects, database=args.database,
                 formats=args.formats.split(",") if args.formats else None,
                 import_rows=args.import_rows,
                 baseline=None if args.baseline == "none" else args.baseline)
    if args.json:
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
