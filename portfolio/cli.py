"""The `portfolio` command: database, seeds, the web server and portfolio queries."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portfolio import migrate
from portfolio.db import Database
from portfolio.errors import DomainError
from portfolio.services import projects as project_service
from portfolio.settings import Settings

app = typer.Typer(help="Data project portfolio and prioritisation tracker.", no_args_is_help=True)
db_app = typer.Typer(help="Migrate the database.", no_args_is_help=True)
seed_app = typer.Typer(help="Load demo or synthetic portfolios.", no_args_is_help=True)
projects_app = typer.Typer(help="Read projects.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
graph_app = typer.Typer(help="Export the portfolio graph.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(graph_app, name="graph")

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class RankFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def database() -> Database:
    """Open the database named by the PORTFOLIO_ settings."""
    return Database(Settings())


def fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def print_rows(
    rows: list[dict[str, Any]], columns: list[str], fmt: OutputFormat, title: str = ""
) -> None:
    """Print rows as a table or as JSON."""
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Revision to upgrade to.")] = "head",
) -> None:
    """Upgrade the database schema (creates it when empty)."""
    db = database()
    migrate.upgrade(db.engine, revision)
    console.print(f"database at revision {migrate.current_revision(db.engine)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to downgrade to; 'base' empties.")],
) -> None:
    """Downgrade the database schema."""
    db = database()
    migrate.downgrade(db.engine, revision)
    console.print(f"database at revision {migrate.current_revision(db.engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one available."""
    db = database()
    current = migrate.current_revision(db.engine)
    head = migrate.head_revision(db.engine)
    console.print(f"current: {current or 'base (empty)'}  head: {head}")


@seed_app.command("london")
def seed_london(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Seed only when the database holds no project yet.")
    ] = False,
) -> None:
    """Load the London demo portfolio (running it twice changes nothing)."""
    from seeds.loader import load_london

    db = database()
    with db.write() as session:
        if if_empty and project_service.count_projects(session=session) > 0:
            console.print("database already holds projects: London seed skipped")
            return
        report = load_london(session)
    added = ", ".join(f"{n} {t}" for t, n in sorted(report.added.items())) or "nothing"
    console.print(f"London seed: added {added}")


@seed_app.command("synthetic")
def seed_synthetic(
    projects: Annotated[
        int, typer.Option(min=1, max=2_000_000, help="Number of projects to generate.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 0,
) -> None:
    """Generate a deterministic synthetic portfolio with bulk inserts."""
    from seeds.synthetic import seed_synthetic as generate

    db = database()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def tick(step: str, n: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=None)
            progress.advance(tasks[step], n)

        with db.write() as session:
            report = generate(session, projects=projects, seed=seed, progress=tick)
    if not report.added.get("project"):
        console.print("a synthetic portfolio is already there: nothing added")
        return
    added = ", ".join(f"{n:,} {t}" for t, n in sorted(report.added.items()))
    console.print(f"synthetic seed {seed}: added {added}")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the web app and the API with uvicorn."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        reload=reload,
        proxy_headers=True,
    )


@projects_app.command("list")
def projects_list(
    organisation: Annotated[str | None, typer.Option(help="Owner organisation code.")] = None,
    status: Annotated[str | None, typer.Option(help="Only projects with this status.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """List projects, optionally for one organisation."""
    db = database()
    with db.read() as session:
        rows = project_service.list_projects(
            session=session, organisation=organisation, status=status
        )
    print_rows(rows, ["slug", "title", "organisation", "status", "theme"], fmt)


@app.command("rank")
def rank(
    profile: Annotated[str | None, typer.Option(help="Weight profile name (default: the first).")]
    = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show only the first N rows.")] = None,
    samples: Annotated[int, typer.Option(
        min=0, max=20_000, help="Monte Carlo weight samples for robustness (0 skips it).")] = 1000,
    fmt: Annotated[RankFormat, typer.Option("--format", help="Output format.")] = (
        RankFormat.table),
) -> None:
    """Print the dependency-aware ranking with scores, robustness and blockers."""
    from portfolio.services import ranking as ranking_service

    db = database()
    if samples == ranking_service.DEFAULT_SAMPLES:
        run, rows = ranking_service.ranked_rows(db, profile=profile, top=top)
        err_console.print(f"profile {run.profile!r} v{run.profile_version}, "
                          f"revision {run.revision}, method {run.method_version}")
    else:
        rows = ranking_service.adhoc_rows(db, profile=profile, top=top, samples=samples)
    if fmt == RankFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    flat = [
        {**{k: r[k] for k in ("rank", "slug", "organisation", "status", "score", "p_top_k",
                               "unlock_value")},
         "interval": "" if r["rank_interval"] is None else "%d-%d" % tuple(r["rank_interval"]),
         "flags": " ".join(f for f, on in (("mandatory", r["effective_mandatory"]),
                                              ("override", r["override"]),
                                              ("fragile", r["fragile"]),
                                              (r["score_status"], r["score_status"] != "scored"))
                           if on),
         "blocked_by": ", ".join(r["blocked_by"])}
        for r in rows
    ]
    columns = ["rank", "slug", "organisation", "status", "score", "p_top_k", "interval",
               "unlock_value", "flags", "blocked_by"]
    if fmt == RankFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flat)
        return
    print_rows(flat, columns, OutputFormat.table)


@app.command("plan")
def plan(
    budget: Annotated[float, typer.Option(help="Budget in GBP.")],
    capacity: Annotated[float, typer.Option(help="Capacity in person-months.")],
    profile: Annotated[str | None, typer.Option(help="Weight profile name.")] = None,
    force_in: Annotated[list[str] | None, typer.Option(
        "--force-in", help="Project slug that must be chosen (repeatable).")] = None,
    force_out: Annotated[list[str] | None, typer.Option(
        "--force-out", help="Project slug that must not be chosen (repeatable).")] = None,
    wall_clock: Annotated[float, typer.Option(
        help="Hard limit in seconds for the solve (run in a subprocess when large).")] = 60.0,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """Choose the projects that maximise value within a budget and a capacity, in waves."""
    from portfolio.services import prioritisation

    result = prioritisation.plan(database(), budget=budget, capacity=capacity, profile=profile,
                                 force_in=force_in or [], force_out=force_out or [],
                                 wall_clock_seconds=wall_clock)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    if result["status"] == "infeasible":
        raise fail(result["infeasible_reason"] or "the plan is infeasible")
    gap = "" if result["gap"] is None else f", gap {result['gap']:.4%}"
    console.print(f"{result['status']}: {len(result['selected'])} projects, value "
                  f"{result['objective']:.1f}, GBP {result['budget_used']:,.0f} of {budget:,.0f}, "
                  f"{result['capacity_used']:,.1f} of {capacity:,.1f} person-months{gap}")
    for number, wave in enumerate(result["waves"], start=1):
        console.print(f"wave {number}: {', '.join(wave)}")


@app.command("plumbing")
def plumbing(
    profile: Annotated[str | None, typer.Option(help="Weight profile name.")] = None,
    top: Annotated[int, typer.Option(min=1, help="How many recommendations.")] = 10,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """Rank the dataset improvements and sharing agreements that would raise value most."""
    from portfolio.services import prioritisation

    rows = prioritisation.plumbing(database(), profile=profile, top=top)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    flat = [{"gain": f"{r['gain']:.2f}", "description": r["description"],
             "unblocks": ", ".join(r["projects_unblocked"])} for r in rows]
    print_rows(flat, ["gain", "description", "unblocks"], OutputFormat.table)


@graph_app.command("export")
def graph_export(
    out: Annotated[Path, typer.Option(help="Where to write the GraphML file.")],
) -> None:
    """Write the portfolio graph as GraphML (for networkx or Gephi)."""
    from portfolio.services import prioritisation

    out.write_bytes(prioritisation.graphml(database()))
    console.print(f"wrote {out}")


def main() -> None:
    """Run the CLI, turning domain errors into a message and exit code 2."""
    try:
        app()
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise SystemExit(2) from None
