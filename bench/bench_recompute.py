"""A full re-ranking end to end (read, score, order, robustness, store), against earlier code.

Run: python -m bench.bench_recompute [--projects 100000] [--database FILE] [--baseline REF]
     python -m bench.bench_recompute --kind postgresql --projects 20000

The same seeded SQLite portfolio is ranked by this tree's code and by the code of git commit
REF (default BASELINE, the code before this benchmark's changes), each in a fresh process on its
own copy of the database, one after the other in the same run: first end to end, the way a
worker re-ranks (`_compute_and_store`: read, rank, store, mark complete; the process's peak
memory is taken after it), then stage by stage: read (the portfolio frames), rank (scores,
order, unlock value, robustness), store (the run's rows, in the short batches that let edits
in between). Each stage's wall and CPU seconds are printed, with a fingerprint of the ranked
figures, which must be equal for both codes of one method version (2026.12-3 sums each
robustness product on one BLAS thread, which moves a rank interval end in about 700 against
2026.12-2). Nothing is asserted: the machine is shared, so compare the ratios of one run; CPU
seconds are the steadier figure where other work competes for the cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    copy_postgres_database,
    create_postgres_database,
    drop_postgres_database,
    machine_info,
    prepare_database,
    print_table,
)

# The code before issue 19's ranking work: "today's code" for its ratios.
BASELINE = "83e34aa"
FIGURES = ("position", "view", "view_position", "composite", "impact", "feasibility",
           "readiness", "effective_priority", "p_top_k", "rank_p05", "rank_p95", "fragile",
           "unlock_value", "rice", "wsjf")


def _fingerprint(rows: Any) -> str:
    """Return a hash of the ranked figures (slug order, every figure at full precision)."""
    table = rows[["slug", *FIGURES]].sort_values("position")
    text = table.to_csv(index=False, float_format="%.17g")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def measure(database_url: str) -> dict[str, Any]:
    """Read, rank and store a run of the default profile; return each stage's seconds."""
    from sqlalchemy import select

    from portfolio.db import Database
    from portfolio.models import Project
    from portfolio.services import ranking
    from portfolio.services.common import current_revision
    from portfolio.services.frames import load_portfolio, load_profile
    from portfolio.settings import Settings
    from scoring.engine import METHOD_VERSION, rank_portfolio

    db = Database(Settings(database_url=database_url, environment="test",
                           secret_key="bench-secret"))
    figures: dict[str, Any] = {"code": str(Path(ranking.__file__).resolve().parents[2])}

    def forget_runs() -> None:
        with db.engine.begin() as connection:  # a copy that was ranked before: store afresh
            connection.exec_driver_sql("DELETE FROM ranking_row")
            connection.exec_driver_sql("DELETE FROM ranking_run")

    # First the app's own path, as a worker runs it (the aims' figure, and the process's peak
    # memory), then the same work again stage by stage.
    forget_runs()
    wall, cpu = time.perf_counter(), time.process_time()
    ranking._compute_and_store(db, None)
    figures["end_to_end_s"] = time.perf_counter() - wall
    figures["end_to_end_cpu_s"] = time.process_time() - cpu
    figures["peak_rss_mb"] = _peak_mb()
    forget_runs()

    def stage(name: str, work: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        found = work()
        figures[f"{name}_s"] = time.perf_counter() - wall
        figures[f"{name}_cpu_s"] = time.process_time() - cpu
        return found

    def read() -> Any:
        with db.read() as session:
            return (load_portfolio(session), load_profile(session, None),
                    current_revision(session),
                    dict(session.execute(select(Project.slug, Project.id)).all()))

    frames, profile, revision, ids = stage("read", read)
    built = stage("rank", lambda: rank_portfolio(
        frames.projects, frames.criteria, frames.levels, frames.links, frames.dependencies,
        frames.datasets, profile.weights, top_k=ranking.DEFAULT_TOP_K,
        samples=ranking.DEFAULT_SAMPLES, seed=ranking.ROBUSTNESS_SEED))

    def store() -> None:
        run_id = ranking._claim_run(db, profile, revision, 0.0, built.samples)
        ranking._store_rows(db, run_id, built, ids)

    stage("store", store)
    figures["total_s"] = figures["read_s"] + figures["rank_s"] + figures["store_s"]
    figures["total_cpu_s"] = (figures["read_cpu_s"] + figures["rank_cpu_s"]
                              + figures["store_cpu_s"])
    figures["ranked"] = len(built.rows)
    figures["method_version"] = METHOD_VERSION
    figures["fingerprint"] = _fingerprint(built.rows)
    db.dispose()
    return figures


def _peak_mb() -> float:
    """Return this process's peak resident memory in MB (VmHWM: its own since it started).

    getrusage's ru_maxrss is kept across exec on Linux: a child of a large `make bench`
    process would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(code: Path, database_url: str) -> dict[str, Any]:
    """Run `measure` in a fresh interpreter whose portfolio and scoring come from `code`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        # The editable install's finder would hand out this tree's packages whatever the path.
        [sys.executable, "-c", "import json, sys; sys.path.append(sys.argv[2]); "
         "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
         # Bound to `code` before bench (which puts this tree first on the path) is imported.
         "import portfolio, scoring; "
         "from bench.bench_recompute import measure; print(json.dumps(measure(sys.argv[1])))",
         database_url, str(ROOT)],
        cwd=code, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {code} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _checkout(ref: str, folder: Path) -> Path:
    """Write the portfolio, scoring and seeds packages of commit `ref` into a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", ref, "portfolio", "scoring", "seeds"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run(projects: int = 100_000, database: str | None = None, baseline: str = BASELINE,
        kind: str = "sqlite") -> dict[str, Any]:
    """Return both codes' figures on one portfolio and their ratios (baseline / this)."""
    report: dict[str, Any] = {"machine": machine_info(), "baseline_ref": baseline,
                              "database": kind}
    found = {}
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-recompute-") as tmp:
        folder = Path(tmp)
        old_code = _checkout(baseline, folder / "baseline")
        sides = (("baseline", old_code), ("this", ROOT))
        if kind == "postgresql":
            seeded = create_postgres_database()
            try:
                report["prepare"] = prepare_database(seeded, projects)
                for name, code in sides:
                    copy = copy_postgres_database(seeded, "portfolio_bench_copy")
                    try:
                        found[name] = _in_child(code, copy)
                    finally:
                        drop_postgres_database(copy)
            finally:
                drop_postgres_database(seeded)
        else:
            source = Path(database).resolve() if database else folder / "seeded.db"
            if not database:
                report["prepare"] = prepare_database(f"sqlite:///{source}", projects)
            for name, code in sides:
                copy = folder / f"{name}.db"
                shutil.copy(source, copy)
                found[name] = _in_child(code, f"sqlite:///{copy}")
                copy.unlink()
    report.update(found)
    report["same_figures"] = found["baseline"]["fingerprint"] == found["this"]["fingerprint"]
    report["ratios"] = {key: found["baseline"][key] / found["this"][key]
                        for key in found["this"] if key.endswith("_s") and found["this"][key]}
    return report


def print_report(report: dict[str, Any]) -> None:
    """Print both codes' stages side by side."""
    base, this, ratio = report["baseline"], report["this"], report["ratios"]
    rows = []
    for stage in ("end_to_end", "read", "rank", "store", "total"):
        rows.append([stage, f"{base[stage + '_s']:.1f}", f"{this[stage + '_s']:.1f}",
                     f"{ratio[stage + '_s']:.2f}x", f"{base[stage + '_cpu_s']:.1f}",
                     f"{this[stage + '_cpu_s']:.1f}", f"{ratio[stage + '_cpu_s']:.2f}x"])
    rows.append(["peak MB (end to end)", f"{base['peak_rss_mb']:.0f}",
                 f"{this['peak_rss_mb']:.0f}",
                 f"{base['peak_rss_mb'] / this['peak_rss_mb']:.2f}x", "", "", ""])
    print(f"{report['database']}, {this['ranked']:,} ranked projects; "
          f"baseline: commit {report['baseline_ref']} "
          f"({base['code']}); this: {this['code']}")
    print_table(["stage", "baseline s", "this s", "ratio", "baseline CPU s", "this CPU s",
                 "CPU ratio"], rows)
    print(f"same ranked figures: {report['same_figures']} "
          f"({base['fingerprint']} / {this['fingerprint']}; method versions "
          f"{base.get('method_version', '?')} / {this['method_version']})")


def main() -> None:
    """Parse flags, run, print a table and the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects to seed")
    parser.add_argument("--database", help="an SQLite file already seeded (skips seeding)")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the earlier code")
    parser.add_argument("--kind", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the database (PostgreSQL on 127.0.0.1, as the tests use)")
    args = parser.parse_args()
    report = run(args.projects, args.database, args.baseline, args.kind)
    print_report(report)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
