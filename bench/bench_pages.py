"""Time the backlog, project and graph pages against a raw-SQL floor app and Datasette.

Each run creates a fresh database (an SQLite temp file or a PostgreSQL database on
127.0.0.1:5432), seeds a synthetic portfolio, serves the app with `portfolio serve --workers 1`
and measures sequential keep-alive requests on loopback. The floor is a bare Starlette app in
this file (one raw SQL query, f-string HTML); the peer is Datasette over the same SQLite file.

    python -m bench.bench_pages --projects 10000 --database sqlite --requests 200
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

PAGE_SIZE = 50
THEME = "housing"
UNSEEN = "backlog pages viewed once each"
FIRST_MOVE = "what-if: first slider move"
MOVES = "what-if: slider moves (each weights once)"
SLIDER_MOVES = 20
# The backlog opens on the candidates view, paged by the rank in that view.
VIEW = "candidates"
INDEX = "ix_ranking_row_run_view_position"
DATASETTE = common.BIN / "datasette"
FLOOR_COLUMNS = ("position", "slug", "title", "organisation", "theme", "status", "composite",
                 "impact", "feasibility", "readiness")


def floor_sql(database: str, filtered: bool) -> str:
    """Return the floor's keyset query (the same 50 rows the backlog's default view shows)."""
    mark = "?" if database == "sqlite" else "%s"
    theme = f" AND p.theme = {mark}" if filtered else ""
    return (
        "SELECT r.position, p.slug, p.title, o.code, p.theme, p.status, r.composite, r.impact, "
        "r.feasibility, r.readiness FROM ranking_row r "
        "JOIN project p ON p.id = r.project_id JOIN organisation o ON o.id = p.owner_id "
        f"WHERE r.run_id = {mark} AND r.backlog_view = '{VIEW}' AND r.view_position > {mark}"
        f"{theme} ORDER BY r.view_position LIMIT {PAGE_SIZE}"
    )


def floor_app() -> Any:
    """Build the floor: raw Starlette, one raw SQL fetch, rows joined into minimal HTML."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    url = os.environ["BENCH_FLOOR_URL"]
    run_id = int(os.environ["BENCH_FLOOR_RUN_ID"])
    if url.startswith("sqlite"):
        import sqlite3

        database = "sqlite"
        connection: Any = sqlite3.connect(common.sqlite_path(url), check_same_thread=False)
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        database = "postgresql"
        u = make_url(url)
        connection = psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                                     dbname=u.database, password=u.password, autocommit=True)

    def fetch(after: int, theme: str | None) -> list[tuple[Any, ...]]:
        params: tuple[Any, ...] = (run_id, after) + ((theme,) if theme else ())
        cursor = connection.execute(floor_sql(database, bool(theme)), params)
        return list(cursor.fetchall())

    async def backlog(request: Request) -> HTMLResponse:
        after = int(request.query_params.get("after", "0"))
        rows = fetch(after, request.query_params.get("theme") or None)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in rows)
        return HTMLResponse(f"<!doctype html><title>Backlog</title><table>{body}</table>")

    async def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/backlog", backlog), Route("/healthz", healthz)])


@contextmanager
def floor_server(database_url: str, run_id: int) -> Iterator[str]:
    """Serve the floor app with uvicorn on a free loopback port; yield its base URL."""
    port = common.free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.bench_pages:floor_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--log-level", "warning", "--no-access-log"]
    env = common.bench_env(database_url, BENCH_FLOOR_URL=database_url,
                           BENCH_FLOOR_RUN_ID=str(run_id),
                           PYTHONPATH=str(common.ROOT))
    with common.serve(command, port=port, env=env) as base:
        yield base


@contextmanager
def datasette_server(path: str) -> Iterator[str]:
    """Serve an SQLite file with Datasette on a free loopback port; yield its base URL."""
    port = common.free_port()
    command = [str(DATASETTE), "serve", path, "-h", "127.0.0.1", "-p", str(port),
               "--setting", "sql_time_limit_ms", "100000",
               "--setting", "max_returned_rows", "1000"]
    with common.serve(command, port=port, health_path="/-/versions.json") as base:
        yield base


PEER_VIEW = "bench_backlog"


@contextmanager
def peer_view(path: str) -> Iterator[str]:
    """Add a view of the rows the backlog shows, for the peer (Datasette pages views too)."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute(
            f"CREATE VIEW IF NOT EXISTS {PEER_VIEW} AS SELECT r.run_id, r.backlog_view, "
            "r.view_position, p.slug, "
            "p.title, o.code AS organisation, p.theme, p.status, r.composite, r.impact, "
            "r.feasibility, r.readiness FROM ranking_row r JOIN project p ON p.id = r.project_id "
            "JOIN organisation o ON o.id = p.owner_id")
        connection.commit()
        yield PEER_VIEW
    finally:
        connection.execute(f"DROP VIEW IF EXISTS {PEER_VIEW}")
        connection.commit()
        connection.close()


def distinct_offsets(last_position: int, count: int) -> list[int]:
    """Return page offsets spread over the ranking, none of them 0 (each page viewed once)."""
    step = max(1, last_position // (count + 1))
    return [step * (i + 1) for i in range(count) if step * (i + 1) < last_position]


def slider_moves(count: int) -> list[str]:
    """Return backlog fragment URLs with distinct what-if weights (slider moves by htmx)."""
    # Away from every seeded profile's impact weight (50 or 60), so each move is a what-if.
    return ["/backlog?" + urlencode({"view": "candidates", "w_impact": 61 + i,
                                     "w_feasibility": 30 - i % 7, "w_readiness": 20 + i % 5})
            for i in range(count)]


def measure_each(client: httpx.Client, urls: list[str], *,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET each URL once (pages this server has not served before)."""
    durations: list[float] = []
    for url in urls:
        durations += common.timed_get(client, url, 1, headers=headers)
    return {"url": urls[0] if urls else "", **common.summary_ms(durations)}


def measure_pairs(app: httpx.Client, floor: httpx.Client, urls: list[str], *,
                  headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET each URL once from the app, then at once from the floor (the same moment's load)."""
    floor.get("/healthz")  # the connection is open before the first timed request
    ours: list[float] = []
    theirs: list[float] = []
    for url in urls:
        ours += common.timed_get(app, url, 1, headers=headers)
        theirs += common.timed_get(floor, url, 1)
    first = urls[0] if urls else ""
    return ({"url": first, **common.summary_ms(ours)},
            {"url": first, **common.summary_ms(theirs)})


def measure(client: httpx.Client, url: str, n: int, max_seconds: float, *, min_n: int = 3,
            warmup: int = 1, headers: dict[str, str] | None = None,
            expect: str | None = None) -> dict[str, Any]:
    """GET a URL up to n times (stopping after max_seconds, but at least min_n times)."""
    for _ in range(warmup):
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:300]}")
        if expect is not None and expect not in response.text:
            raise RuntimeError(f"GET {url}: the answer does not contain {expect!r}")
    durations: list[float] = []
    deadline = time.monotonic() + max_seconds
    while len(durations) < n and (len(durations) < min_n or time.monotonic() < deadline):
        durations += common.timed_get(client, url, 1, headers=headers)
    return {"url": url, **common.summary_ms(durations)}


def _capture_sql(db: Any, run: Any, after: int, theme: str | None) -> tuple[str, Any]:
    """Return the SQL and parameters the app's backlog query sends for one page."""
    from sqlalchemy import event

    from portfolio.services import ranking as ranking_service

    seen: list[tuple[str, Any]] = []

    def grab(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if "ranking_row" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.read() as session:
            ranking_service.backlog(session, run, view=VIEW, theme=theme, after=after,
                                    limit=PAGE_SIZE + 1)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return seen[-1]


def explain_backlog(database_url: str, last_after: int) -> dict[str, Any]:
    """EXPLAIN the app's own backlog query for the first, filtered and last pages."""
    from portfolio.db import Database
    from portfolio.services import ranking as ranking_service
    from portfolio.settings import Settings

    db = Database(Settings(database_url=database_url, secret_key=common.BENCH_SECRET))
    plans: dict[str, Any] = {}
    try:
        run = ranking_service.ensure_ranking(db)
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        queries = {name: _capture_sql(db, run, after, theme) for name, after, theme in (
            ("first", 0, None), ("filtered", 0, THEME), ("last", last_after, None))}
        with db.engine.connect() as conn:
            for name, (statement, parameters) in queries.items():
                rows = conn.exec_driver_sql(prefix + statement, parameters).all()
                plans[name] = plan_verdict([str(r[-1]) for r in rows] if db.is_sqlite
                                           else [str(r[0]) for r in rows])
        if not db.is_sqlite:
            # Bulk-inserted ranking rows may not be analysed yet: show the plans with statistics.
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE ranking_row, project, organisation")
                conn.commit()
                for name, (statement, parameters) in queries.items():
                    rows = conn.exec_driver_sql(prefix + statement, parameters).all()
                    plans[name]["after_analyze"] = plan_verdict([str(r[0]) for r in rows])
    finally:
        db.dispose()
    return plans


def plan_verdict(lines: list[str]) -> dict[str, Any]:
    """Return a plan with whether it uses the index and whether it sorts every matching row."""
    return {"plan": lines, "uses_index": any(INDEX in line for line in lines),
            "sorts": any("Sort" in line or "TEMP B-TREE" in line for line in lines)}


def describe(found: dict[str, Any]) -> str:
    """Say in words what a plan does with the index."""
    if not found["uses_index"]:
        return f"does NOT use {INDEX}"
    if found["sorts"]:
        return f"uses {INDEX}, but reads and sorts every matching row before the LIMIT"
    return f"uses {INDEX} in order (stops at the LIMIT)"


def stored_run(database_url: str) -> dict[str, Any]:
    """Return the stored ranking run's id, its row count, the default view's last rank and slug,
    and the run count."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT count(*) FROM ranking_run")).scalar_one()
            run_id = conn.execute(text("SELECT max(id) FROM ranking_run")).scalar_one()
            count = conn.execute(text(
                "SELECT count(*) FROM ranking_row WHERE run_id = :r"), {"r": run_id}).scalar_one()
            last = conn.execute(text(
                "SELECT max(view_position) FROM ranking_row WHERE run_id = :r AND "
                "backlog_view = :v"), {"r": run_id, "v": VIEW}).scalar_one()
            last_slug = conn.execute(text(
                "SELECT p.slug FROM ranking_row r JOIN project p ON p.id = r.project_id "
                "WHERE r.run_id = :r AND r.backlog_view = :v AND r.view_position = :p"),
                {"r": run_id, "v": VIEW, "p": last}).scalar_one()
    finally:
        engine.dispose()
    return {"run_id": int(run_id), "rows": int(count), "last_position": int(last),
            "runs": int(runs), "last_slug": str(last_slug)}


def run(projects: int = 10_000, database: str = "sqlite", requests: int = 200,
        max_seconds: float = 30.0, graph_requests: int | None = None,
        datasette: bool = True, sqlite_file: str | None = None,
        verbose: bool = True) -> dict[str, Any]:
    """Seed, serve and time the pages against the floor and (SQLite) Datasette.

    With `sqlite_file`, the SQLite database lives there and is kept (seeded only when the
    file does not exist yet), so that another benchmark can reuse it.
    """
    graph_n = graph_requests if graph_requests is not None else min(requests, 20)
    report: dict[str, Any] = {"projects": projects, "database": database,
                              "requests": requests, "max_seconds_per_page": max_seconds}
    log = print if verbose else (lambda *_a, **_k: None)
    reuse = sqlite_file is not None and database == "sqlite"
    place = (nullcontext(f"sqlite:///{Path(str(sqlite_file)).resolve()}") if reuse
             else common.fresh_database(database))
    with place as url:
        if reuse and Path(str(sqlite_file)).exists():
            log(f"[pages] reusing {sqlite_file}", flush=True)
            report.update(upgrade_s=0.0, seed_s=0.0, reused_database=True)
        else:
            log(f"[pages] {database} {projects:,} projects: migrating and seeding ...",
                flush=True)
            report.update(common.prepare_database(url, projects, seed=1))
        token = common.make_token(url, "admin")
        auth = {"Authorization": f"Bearer {token}"}
        page = {"Accept": "text/html"}  # with the signed-in browser's session cookie
        with common.portfolio_server(url, workers=1) as base, httpx.Client(
                base_url=base, timeout=900) as client:
            client.cookies = common.sign_in(base, url, "admin")
            started = time.perf_counter()
            first = client.get("/api/v1/backlog", params={"top": 1}, headers=auth)
            report["first_ranking_s"] = time.perf_counter() - started
            if first.status_code != 200:
                raise RuntimeError(f"first ranking -> {first.status_code}: {first.text[:300]}")
            top_slug = first.json()[0]["slug"]
            info = stored_run(url)
            last_after = max(0, info["last_position"] - PAGE_SIZE)
            report.update(run_id=info["run_id"], ranked_rows=info["rows"],
                          last_after=last_after)
            log(f"[pages] first ranking {report['first_ranking_s']:.1f} s "
                f"({info['rows']:,} ranked rows); measuring ...", flush=True)
            targets = {
                "backlog first page": ("/backlog", page, requests, None),
                f"backlog ?theme={THEME}": (f"/backlog?theme={THEME}", page, requests, None),
                "backlog last page": (f"/backlog?after={last_after}", page, requests,
                                      info["last_slug"]),
                "project page": (f"/projects/{top_slug}", page, requests, None),
                # The first view reads the counts; later ones, until the portfolio changes,
                # are kept.
                "dashboard, first view": ("/dashboard", page, 1, None),
                "dashboard": ("/dashboard", page, requests, None),
                # The first graph call builds the graph (it may be cached per ranking run).
                f"graph API ?theme={THEME}, first call": (f"/api/v1/graph?theme={THEME}", auth,
                                                          1, None),
                f"graph API ?theme={THEME}": (f"/api/v1/graph?theme={THEME}", auth, graph_n,
                                              None),
            }
            app: dict[str, Any] = {}
            for name, (path, headers, n, expect) in targets.items():
                single = "first" in name or "graph" in name
                app[name] = measure(client, path, n, max_seconds, headers=headers,
                                    expect=expect, min_n=1 if single else 3,
                                    warmup=0 if single else 1)
                log(f"  app {name:<38} n={app[name]['n']:<4} p50 "
                    f"{common.fmt_ms(app[name]['p50_ms'])} ms", flush=True)
            offsets = distinct_offsets(info["last_position"], min(requests, 40))
            # Each page once: the first view of a page, which no worker has rendered yet. The
            # floor serves each right after the app, so a busy machine slows both alike.
            with floor_server(url, info["run_id"]) as floor_base, httpx.Client(
                    base_url=floor_base, timeout=300) as floor_client:
                app[UNSEEN], unseen_floor = measure_pairs(
                    client, floor_client, [f"/backlog?after={a}" for a in offsets], headers=page)
            log(f"  app {UNSEEN:<38} n={app[UNSEEN]['n']:<4} p50 "
                f"{common.fmt_ms(app[UNSEEN]['p50_ms'])} ms", flush=True)
            # What the sliders send: the ranking fragment, re-scored with new weights.
            moves = slider_moves(SLIDER_MOVES + 1)
            fragment = page | {"HX-Request": "true"}
            app[FIRST_MOVE] = measure_each(client, moves[:1], headers=fragment)
            app[MOVES] = measure_each(client, moves[1:], headers=fragment)
            stored = app["backlog first page"]["p50_ms"]
            report["whatif"] = {name: {"p50_ms": app[name]["p50_ms"], "p95_ms": app[name]["p95_ms"],
                                       "ratio_to_stored_page": app[name]["p50_ms"] / stored}
                                for name in (FIRST_MOVE, MOVES)}
            for name in (FIRST_MOVE, MOVES):
                log(f"  app {name:<38} n={app[name]['n']:<4} p50 "
                    f"{common.fmt_ms(app[name]['p50_ms'])} ms, p95 "
                    f"{common.fmt_ms(app[name]['p95_ms'])} ms "
                    f"({app[name]['p50_ms'] / stored:.0f}x the stored-run page)", flush=True)
            report["runs_after"] = stored_run(url)["runs"]
        report["app"] = app
        comparable = {"backlog first page": "/backlog",
                      f"backlog ?theme={THEME}": f"/backlog?theme={THEME}",
                      "backlog last page": f"/backlog?after={last_after}"}
        floor: dict[str, Any] = {}
        with floor_server(url, info["run_id"]) as base, httpx.Client(
                base_url=base, timeout=300) as client:
            for name, path in comparable.items():
                floor[name] = measure(client, path, requests, max_seconds,
                                      expect=info["last_slug"] if "last" in name else None)
            floor[UNSEEN] = unseen_floor
        report["floor"] = floor
        peer: dict[str, Any] = {}
        if database == "sqlite" and datasette:
            db_name = Path(common.sqlite_path(url)).stem
            base_query = {"_sort": "view_position", "run_id": info["run_id"],
                          "backlog_view": VIEW, "_size": PAGE_SIZE}
            with peer_view(common.sqlite_path(url)) as view:
                # The view's table page: the same rows, sort, filter and page size as ours.
                urls = {
                    "backlog first page": f"/{db_name}/{view}?" + urlencode(base_query),
                    f"backlog ?theme={THEME}": f"/{db_name}/{view}?" + urlencode(
                        base_query | {"theme": THEME}),
                    "backlog last page": f"/{db_name}/{view}?" + urlencode(
                        base_query | {"view_position__gt": last_after}),
                }
                with datasette_server(common.sqlite_path(url)) as base, httpx.Client(
                        base_url=base, timeout=300) as client:
                    for name, path in urls.items():
                        peer[name] = measure(client, path, requests, max_seconds,
                                             headers={"Accept": "text/html"})
                    peer[UNSEEN] = measure_each(client, [
                        f"/{db_name}/{view}?" + urlencode(base_query | {"view_position__gt": a})
                        for a in offsets], headers={"Accept": "text/html"})
        report["datasette"] = peer
        report["explain"] = explain_backlog(url, last_after)
    rows = []
    for name, figures in app.items():
        f, d = floor.get(name), peer.get(name)
        rows.append({
            "page": name, "n": figures["n"], "p50_ms": figures["p50_ms"],
            "p95_ms": figures["p95_ms"],
            "floor_p50_ms": f["p50_ms"] if f else None, "floor_p95_ms": f["p95_ms"] if f else None,
            "ratio_to_floor": figures["p50_ms"] / f["p50_ms"] if f else None,
            "p95_ratio_to_floor": figures["p95_ms"] / f["p95_ms"] if f else None,
            "datasette_p50_ms": d["p50_ms"] if d else None,
            "datasette_p95_ms": d["p95_ms"] if d else None,
            "speedup_vs_datasette": d["p50_ms"] / figures["p50_ms"] if d else None,
        })
    report["table"] = rows
    if verbose:
        print_report(report)
    return report


def print_report(report: dict[str, Any]) -> None:
    """Print the table, the first-computation time and the query plans."""
    print(f"\nPages: {report['projects']:,} projects on {report['database']} "
          f"(seed {report['seed_s']:.1f} s; first ranking computation "
          f"{report['first_ranking_s']:.1f} s for {report['ranked_rows']:,} ranked rows; "
          f"stored runs afterwards: {report['runs_after']})")

    def x(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}x"

    common.print_table(
        ["page", "n", "p50 ms", "p95 ms", "floor p50", "floor p95", "x floor", "Datasette p50",
         "Datasette p95", "speed-up vs Datasette"],
        [[r["page"], r["n"], common.fmt_ms(r["p50_ms"]), common.fmt_ms(r["p95_ms"]),
          common.fmt_ms(r["floor_p50_ms"]), common.fmt_ms(r["floor_p95_ms"]),
          x(r["ratio_to_floor"]), common.fmt_ms(r["datasette_p50_ms"]),
          common.fmt_ms(r["datasette_p95_ms"]), x(r["speedup_vs_datasette"])]
         for r in report["table"]])
    for name, figures in report.get("whatif", {}).items():
        print(f"{name}: p50 {common.fmt_ms(figures['p50_ms'])} ms, p95 "
              f"{common.fmt_ms(figures['p95_ms'])} ms, "
              f"{figures['ratio_to_stored_page']:.0f}x the stored-run page's p50")
    slow = [r["page"] for r in report["table"] if r["p50_ms"] > 1000]
    if slow:
        print(f"SLOW (p50 > 1 s): {', '.join(slow)}")
    kind = "EXPLAIN QUERY PLAN" if report["database"] == "sqlite" else "EXPLAIN"
    for name, found in report["explain"].items():
        print(f"{kind} backlog {name} page: {describe(found)}")
        for line in found["plan"]:
            print(f"    {line}")
        if "after_analyze" in found:
            print(f"  after ANALYZE: {describe(found['after_analyze'])}")
            for line in found["after_analyze"]["plan"]:
                print(f"    {line}")


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000, help="synthetic projects")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="time cap per page (at least 3 requests are always made)")
    parser.add_argument("--graph-requests", type=int, default=None,
                        help="requests to the graph API (default min(requests, 20))")
    parser.add_argument("--no-datasette", action="store_true", help="skip the Datasette peer")
    parser.add_argument("--sqlite-file", default=None,
                        help="keep (or reuse, when it exists) the SQLite database at this path")
    args = parser.parse_args()
    run(args.projects, args.database, args.requests, args.max_seconds, args.graph_requests,
        datasette=not args.no_datasette, sqlite_file=args.sqlite_file)


if __name__ == "__main__":
    main()
