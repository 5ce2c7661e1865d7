"""Resident memory of one web worker through a signed-in session, against earlier code.

Run: python -m bench.bench_worker_memory [--kind sqlite|postgresql|both] [--database FILE]
     python -m bench.bench_worker_memory --kind postgresql --postgres-url URL

One `portfolio serve --workers 1` process serves a seeded portfolio (100,000 projects by
default) and a browser signs in and walks a session: the backlog's first page, a filtered page,
the last page, a project page and its similar projects, the dependency graph API, a what-if
slider move, the dashboard and a CSV export. The server's resident memory (VmRSS, and the peak
VmHWM, from /proc/<pid>/status) is read after start-up and after each step. The same session is
walked over the code of git commit REF (default BASELINE, "today's code") served from a
`git archive` checkout, and over this tree's code, one after the other on copies of the same
database. On SQLite the web process ranks the portfolio itself (in its own threads); on
PostgreSQL with the job queue (PORTFOLIO_JOBS=queue) a `portfolio worker` process ranks and
the web process only reads the stored run (the worker's memory is shown beside it). Nothing is
asserted: the figures are for the issue's aim, each web worker under 500 MB resident.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_recompute import _checkout  # noqa: E402
from bench.common import (  # noqa: E402
    ROOT,
    bench_env,
    copy_postgres_database,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    machine_info,
    make_token,
    prepare_database,
    print_table,
    run_cli,
    serve,
    sign_in,
)

# The code before this benchmark's changes: "today's code" for the comparison.
BASELINE = "83e34aa"
THEME = "housing"
AIM_MB = 500
# Memory is read this long after each answer: a worker hands back what a long request freed just
# after sending it (web/server.py), and resident memory is what stays, not the moment between.
SETTLE_SECONDS = 0.5
# Serve the CLI of one tree: its packages first on the path, and the editable install's finder
# (which would hand out this tree's packages whatever the path) removed.
LAUNCH = (
    "import sys; code = sys.argv.pop(1); "
    "sys.path[:] = [code] + [p for p in sys.path if p not in ('', code, {root!r})]; "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "from portfolio.cli import app; app(prog_name='portfolio')"
)


def _checkout_with_web(ref: str, folder: Path) -> Path:
    """Write the packages of commit `ref` a server needs (web and migrations too) into a folder."""
    _checkout(ref, folder)
    archive = subprocess.run(["git", "archive", ref, "web", "migrations", "alembic.ini"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    # The browser libraries come from npm at set-up, outside git: share this tree's.
    if (ROOT / "node_modules").exists():
        (folder / "node_modules").symlink_to(ROOT / "node_modules")
    return folder


def _launch(code: Path, *args: str) -> list[str]:
    """Return the command that runs `portfolio <args>` with the packages of `code`."""
    return [sys.executable, "-c", LAUNCH.format(root=str(ROOT)), str(code), *args]


def memory(pid: int) -> dict[str, float]:
    """Return a process's resident memory now and at its peak, in MB (VmRSS, VmHWM)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name.lower() + "_mb"] = int(value.split()[0]) / 1024
    return fields


def _children(pid: int) -> list[int]:
    """Return the processes whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (in brackets) may hold spaces: the parent comes after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _listener(port: int) -> int:
    """Return the process started to serve on a port (its command line names the port)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(port).encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no server process for port {port}")


def app_pid(port: int) -> int:
    """Return the process that runs the app: uvicorn's worker child if it has one, else itself."""
    pid = _listener(port)
    # With one worker uvicorn serves in its own process; with more (or reload) in spawned
    # children (other children, such as a solver's, are not the app).
    spawned = [child for child in _children(pid)
               if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return spawned[0] if len(spawned) == 1 else pid


@contextmanager
def background(command: list[str], env: dict[str, str]) -> Iterator[int]:
    """Run a process (the job queue's worker) for the length of a block; yield its pid."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process.pid
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
            if process.returncode not in (0, -signal.SIGTERM, None):
                log.seek(0)
                print(f"worker exited {process.returncode}: "
                      f"{log.read().decode(errors='replace')[-2000:]}", file=sys.stderr)


def last_page(database_url: str) -> tuple[int, str]:
    """Return the last page's `after` in the candidates view and the top project's slug."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            run_id: int = conn.execute(text("SELECT max(id) FROM ranking_run WHERE complete")
                                  ).scalar_one()
            last: int = conn.execute(text(
                "SELECT max(view_position) FROM ranking_row WHERE run_id = :r AND "
                "backlog_view = 'candidates'"), {"r": run_id}).scalar_one()
            top: str = conn.execute(text(
                "SELECT p.slug FROM ranking_row r JOIN project p ON p.id = r.project_id "
                "WHERE r.run_id = :r ORDER BY r.position LIMIT 1"), {"r": run_id}).scalar_one()
    finally:
        engine.dispose()
    return max(0, int(last) - 50), str(top)


def steps(after_last: int, top: str) -> list[tuple[str, str, dict[str, str]]]:
    """Return the session after the first backlog page: (step, path, extra headers)."""
    slider = "&".join(("view=candidates", "w_impact=61", "w_feasibility=30", "w_readiness=20"))
    return [
        (f"backlog ?theme={THEME}", f"/backlog?theme={THEME}", {}),
        ("backlog last page", f"/backlog?after={after_last}", {}),
        ("project page", f"/projects/{top}", {}),
        ("similar projects", f"/projects/{top}/similar", {}),
        (f"graph API ?theme={THEME}", f"/api/v1/graph?theme={THEME}", {"auth": "token"}),
        ("what-if slider move", f"/backlog?{slider}", {"HX-Request": "true"}),
        ("dashboard", "/dashboard", {}),
        ("CSV export (live)", "/api/v1/export?format=csv", {"auth": "token"}),
    ]


def walk(code: Path, database_url: str, *, queue: bool) -> dict[str, Any]:
    """Serve a database with one tree's code, walk the session; return memory after each step."""
    extra = {"PORTFOLIO_JOBS": "queue" if queue else "in-process"}
    env = bench_env(database_url, **extra)
    port = free_port()
    command = _launch(code, "serve", "--host", "127.0.0.1", "--port", str(port),
                      "--workers", "1")
    worker = background(_launch(code, "worker"), env) if queue else _nothing()
    figures: dict[str, Any] = {"code": str(code), "steps": []}
    with worker as worker_pid, serve(command, port=port, env=env, timeout=180) as base:
        pid = app_pid(port)

        def note(step: str, seconds: float = 0.0) -> None:
            time.sleep(SETTLE_SECONDS)
            row = {"step": step, "seconds": seconds, **memory(pid)}
            if worker_pid is not None:
                row["worker_rss_mb"] = memory(worker_pid)["vmrss_mb"]
            figures["steps"].append(row)
            print(f"  {step:<28} {row['vmrss_mb']:7.0f} MB (peak {row['vmhwm_mb']:.0f})"
                  f"  {seconds:6.1f} s", flush=True)

        note("start-up")
        token = make_token(database_url, "admin")
        with httpx.Client(base_url=base, timeout=1800) as client:
            client.cookies = sign_in(base, database_url, "admin")
            note("signed in")
            note("backlog first page", _get(client, "/backlog", {}, token))
            after_last, top = last_page(database_url)
            for step, path, headers in steps(after_last, top):
                note(step, _get(client, path, headers, token))
    return figures


@contextmanager
def _nothing() -> Iterator[None]:
    """Stand in for the worker when the web process ranks itself."""
    yield None


def _get(client: httpx.Client, path: str, headers: dict[str, str], token: str) -> float:
    """GET a path as the signed-in browser (or with the API token); return its seconds."""
    sent = {"Accept": "text/html", **headers}
    if sent.pop("auth", None):
        sent = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = client.get(path, headers=sent)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} -> {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - started


def on_sqlite(sides: list[tuple[str, Path]], seeded: Path, copies: Path) -> dict[str, Any]:
    """Walk each side over its own copy of a seeded SQLite file (each ranks it afresh)."""
    found = {}
    copies.mkdir(parents=True, exist_ok=True)
    for name, code in sides:
        copy = copies / f"{name}.db"
        shutil.copy(seeded, copy)
        try:
            url = f"sqlite:///{copy}"
            connection = sqlite3.connect(copy)  # a file ranked before: rank it afresh
            with connection:
                connection.execute("DELETE FROM ranking_row")
                connection.execute("DELETE FROM ranking_run")
            connection.close()
            # Both codes read the current schema (later migrations only add tables).
            run_cli(["db", "upgrade"], url)
            print(f"[sqlite] {name}: {code}", flush=True)
            found[name] = walk(code, url, queue=False)
        finally:
            copy.unlink(missing_ok=True)
    return found


def on_postgresql(sides: list[tuple[str, Path]], seeded_url: str | None,
                  projects: int) -> dict[str, Any]:
    """Walk each side over its own copy of a seeded PostgreSQL database, ranked by a worker."""
    found = {}
    own = seeded_url is None
    seeded = seeded_url or create_postgres_database("portfolio_bench_memory_seed")
    try:
        if own:
            prepare_database(seeded, projects)
        for name, code in sides:
            copy = copy_postgres_database(seeded, "portfolio_bench_memory")
            try:
                print(f"[postgresql, job queue] {name}: {code}", flush=True)
                found[name] = walk(code, copy, queue=True)
            finally:
                drop_postgres_database(copy)
    finally:
        if own:
            drop_postgres_database(seeded)
    return found


def run(kinds: list[str], database: Path | None = None, postgres_url: str | None = None,
        projects: int = 100_000, baseline: str = BASELINE) -> dict[str, Any]:
    """Return both codes' memory, step by step, on each database kind.

    Without a seeded SQLite `database`, one of `projects` projects is seeded first.
    """
    report: dict[str, Any] = {"machine": machine_info(), "baseline_ref": baseline,
                              "projects": projects}
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-memory-") as tmp:
        old_code = _checkout_with_web(baseline, Path(tmp) / "baseline")
        sides = [("baseline", old_code), ("this", ROOT)]
        if "sqlite" in kinds:
            if database is None:
                database = Path(tmp) / "seeded.db"
                report["prepare"] = prepare_database(f"sqlite:///{database}", projects)
            report["sqlite"] = on_sqlite(sides, database, Path(tmp) / "copies")
        if "postgresql" in kinds:
            report["postgresql"] = on_postgresql(sides, postgres_url, projects)
    return report


def print_report(report: dict[str, Any]) -> None:
    """Print each database's steps: both codes' resident and peak memory side by side."""
    for kind in ("sqlite", "postgresql"):
        if kind not in report:
            continue
        base, this = report[kind]["baseline"]["steps"], report[kind]["this"]["steps"]
        queue = kind == "postgresql"
        rows = []
        for old, new in zip(base, this, strict=True):
            row = [old["step"], f"{old['vmrss_mb']:.0f}", f"{new['vmrss_mb']:.0f}",
                   f"{new['vmrss_mb'] - old['vmrss_mb']:+.0f}", f"{old['vmhwm_mb']:.0f}",
                   f"{new['vmhwm_mb']:.0f}", f"{old['seconds']:.1f}", f"{new['seconds']:.1f}"]
            if queue:
                row += [f"{old['worker_rss_mb']:.0f}", f"{new['worker_rss_mb']:.0f}"]
            rows.append(row)
        print(f"\n{kind}{' with the job queue' if queue else ' (the web process ranks)'}: "
              f"web process MB, baseline {report['baseline_ref']} vs this tree "
              f"(aim: under {AIM_MB} MB)")
        headers = ["step", "baseline RSS", "this RSS", "change", "baseline peak", "this peak",
                   "baseline s", "this s"]
        print_table(headers + (["baseline worker", "this worker"] if queue else []), rows)


def main() -> None:
    """Parse flags, run, print the tables and the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("sqlite", "postgresql", "both"), default="both",
                        help="the database: SQLite (the web process ranks) or PostgreSQL with "
                        "the job queue (a worker ranks)")
    parser.add_argument("--database", type=Path,
                        help="a seeded SQLite file (copied, never written; default: seed one)")
    parser.add_argument("--postgres-url", help="a seeded PostgreSQL database (copied; "
                        "default: seed a new one)")
    parser.add_argument("--projects", type=int, default=100_000,
                        help="projects to seed without --database or --postgres-url")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the earlier code")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.kind == "both" else [args.kind]
    report = run(kinds, args.database, args.postgres_url, args.projects, args.baseline)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
