"""The `portfolio` command: database, seeds, the web server and portfolio queries."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlmodel import col

from portfolio import migrate
from portfolio.db import Database
from portfolio.enums import ProjectStatus
from portfolio.errors import DomainError, Invalid, NotFound
from portfolio.faults import classify
from portfolio.services import projects as project_service
from portfolio.services.filters import require_organisation
from portfolio.settings import Settings
from portfolio.text import whole_number
from portfolio.writers import sqlite_file

app = typer.Typer(help="Data project portfolio and prioritisation tracker.", no_args_is_help=True)
db_app = typer.Typer(help="Migrate the database.", no_args_is_help=True)
seed_app = typer.Typer(help="Load demo or synthetic portfolios.", no_args_is_help=True)
projects_app = typer.Typer(help="Read projects, move them along the workflow, decide, "
                                "override priorities.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
graph_app = typer.Typer(help="Export the portfolio graph.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(users_app, name="users")
app.add_typer(graph_app, name="graph")

DEMO_ACCOUNTS = Path("var") / "demo-accounts.txt"


def demo_accounts_file(database_url: str) -> Path:
    """Return where a database's demo accounts are kept: the default one's in DEMO_ACCOUNTS.

    Another database has its own (another SQLite file's beside it; PostgreSQL's named by its
    URL's hash), so seeding it never replaces the passwords `make run` prints.
    """
    if database_url == Settings.model_fields["database_url"].default:
        return DEMO_ACCOUNTS
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(f"{url.database}.demo-accounts.txt")
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return DEMO_ACCOUNTS.with_name(f"demo-accounts-{digest}.txt")


# No markup: what is printed holds people's text (titles, labels, file names), and "[/x]" in
# it crashed the command while "[link=...]" hid words. Styles are given as Text instead.
console = Console(width=None if sys.stdout.isatty() else 160, markup=False)
err_console = Console(stderr=True, markup=False)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class RankFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def database(*, create: bool = False) -> Database:
    """Open the database named by the PORTFOLIO_ settings; refuse an address it cannot use.

    Only a command that makes the database (`create`: `db upgrade`, `seed`) may name an SQLite
    file that is not there yet; opening one makes its folder and an empty file.
    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    settings = Settings()
    try:
        url = make_url(settings.database_url)
        file = sqlite_file(url) if url.get_backend_name() == "sqlite" else None
        if file is None or create or file.exists():
            return Database(settings)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError):
        # Its value is not repeated: it may carry a password.
        raise fail("PORTFOLIO_DATABASE_URL is not a database the portfolio can use: give "
                   "sqlite:///FILE or postgresql+psycopg://USER@HOST:5432/NAME") from None
    # A mistyped path made its folders and an empty file, then was said to need an upgrade.
    raise fail(f"the database file {file} does not exist: check PORTFOLIO_DATABASE_URL, or "
               "create it with: portfolio db upgrade")


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what native code prints on stdout to stderr, keeping JSON output clean."""
    # HiGHS prints debug lines straight to file descriptor 1, below Python's sys.stdout.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def say_error(message: str) -> None:
    """Print an error on stderr as one line, however long."""
    # soft_wrap: the console folded a long message at 80 columns when stderr was not a terminal.
    err_console.print(Text.assemble(("error:", "red"), f" {message}"), soft_wrap=True,
                      highlight=False)


def fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise."""
    say_error(message)
    return typer.Exit(code=2)


def chosen(field: str, value: str | None, choices: type[StrEnum]) -> str | None:
    """Return a filter's value if it is one of its closed list's, else refuse it naming them."""
    # As the API answers 422: an unknown status listed nothing and exited 0, as if none matched.
    # Invalid, so that main() names the field as the command's option.
    names = [choice.value for choice in choices]
    if value is None or value in names:
        return value
    raise Invalid({field: f"{value!r} is not one of the choices: {', '.join(names[:-1])} or "
                          f"{names[-1]}."})


def writable(out: Path) -> Path:
    """Return a file path to write, or refuse one whose folder is missing or that is a folder."""
    if out.is_dir():
        raise fail(f"cannot write {out}: it is a folder; name a file in it")
    if not out.parent.is_dir():
        raise fail(f"cannot write {out}: the folder {out.parent} does not exist")
    return out


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Refuse in one line a write of `out` that fails (a full disk, a read-only place).

    Without it an OSError was a traceback, or, for a full disk, "the database is out of disk
    space" (exit 3) when the database was fine.
    """
    try:
        yield
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None


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


@contextmanager
def known_revision(revision: str) -> Iterator[None]:
    """Refuse in one line a revision Alembic cannot find (it was a 170-line traceback)."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError:
        raise fail(f"no migration {revision!r}: name one of migrations/versions (such as "
                   "0033), 'head' or, to downgrade, 'base'") from None


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Revision to upgrade to.")] = "head",
) -> None:
    """Upgrade the database schema (creates it when empty)."""
    db = database(create=True)
    with known_revision(revision):
        migrate.upgrade(db.engine, revision)
    console.print(f"database at revision {migrate.current_revision(db.engine)}")
    if not db.is_sqlite:
        from portfolio.jobs import ensure_schema

        # The job queue's own tables (procrastinate's schema), so a worker can start at once.
        if ensure_schema(db.settings):
            console.print("job queue schema created")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to downgrade to; 'base' empties.")],
) -> None:
    """Downgrade the database schema."""
    db = database()
    with known_revision(revision):
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
    today: Annotated[str | None, typer.Option(
        help="Date the demo's current work relative to this day (YYYY-MM-DD; default today); "
             "the day it was written for (WRITTEN_FOR in seeds/loader.py) keeps its dates as "
             "written.")] = None,
) -> None:
    """Load the London demo portfolio (running it twice changes nothing)."""
    from datetime import date

    from seeds.loader import load_london

    try:
        on = date.fromisoformat(today) if today else None
    except ValueError:
        raise fail("--today is written YYYY-MM-DD") from None
    db = database(create=True)
    kept = demo_accounts_file(db.settings.database_url)
    with db.write() as session:
        if if_empty and project_service.count_projects(session=session) > 0:
            console.print("database already holds projects: London seed skipped")
            if kept.exists():
                console.print(kept.read_text().rstrip())
            return
        report = load_london(session, today=on)
    added = ", ".join(f"{n} {t}" for t, n in sorted(report.added.items())) or "nothing"
    console.print(f"London seed: added {added}")
    if report.credentials:
        lines = ["Demo accounts of the London seed (development only; change or remove them",
                 "before real use):"]
        lines += [f"  {role:<11} {email:<32} password: {password}"
                  for email, role, password in report.credentials]
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text("\n".join(lines) + "\n")
        kept.chmod(0o600)
        console.print("\n".join(lines))


@seed_app.command("synthetic")
def seed_synthetic(
    projects: Annotated[
        int, typer.Option(min=1, max=2_000_000, help="Number of projects to generate.")
    ] = 1000,
    seed: Annotated[int, typer.Option(
        min=0, help="Random seed (0 or more); the same seed gives the same data.")] = 0,
) -> None:
    """Generate a deterministic synthetic portfolio with bulk inserts."""
    from seeds.synthetic import seed_synthetic as generate

    db = database(create=True)
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


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    role: Annotated[str, typer.Option(help="admin, cdo, lead or researcher.")],
    organisation: Annotated[str | None, typer.Option(
        help="Organisation code (required for a lead).")] = None,
    name: Annotated[str | None, typer.Option(
        help="Display name (default: the email's part before @, never the address).")] = None,
    password: Annotated[str | None, typer.Option(
        help="First password; prompted for when omitted (12 characters or more).")] = None,
) -> None:
    """Add a user who can sign in."""
    from portfolio.actors import SYSTEM
    from portfolio.services import accounts

    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database().write() as session:
        user = accounts.add_user(session=session, actor=SYSTEM, password=secret, data={
            # The name is shown where the address is not (public read): never the address.
            "email": email, "name": name or email.split("@", 1)[0], "role": role,
            "organisation": organisation})
    console.print(f"added {user['email']} ({user['role']}"
                  f"{', ' + user['organisation'] if user['organisation'] else ''})")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    # A port past 65535 was passed on, and the server listened on it modulo 65536.
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")
                    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    # "\\[" keeps each default's brackets from being read as Rich markup (and dropped).
    header_timeout: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds a client has to send a request's headers before its connection "
        "is closed \\[default: PORTFOLIO_HEADER_TIMEOUT_SECONDS, 10].")] = None,
    body_timeout: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds a request body may stall (no part of it arriving) before the "
        "answer is 408 \\[default: PORTFOLIO_BODY_TIMEOUT_SECONDS, 30].")] = None,
    keep_alive: Annotated[int | None, typer.Option(
        min=1, help="Seconds an idle keep-alive connection stays open "
        "\\[default: PORTFOLIO_KEEP_ALIVE_SECONDS, 5].")] = None,
    max_connections: Annotated[int | None, typer.Option(
        min=1, help="Open connections per worker; beyond it requests get 503 "
        "\\[default: PORTFOLIO_MAX_CONNECTIONS, 200].")] = None,
) -> None:
    """Serve the web app and the API with uvicorn."""
    import uvicorn

    from web.server import uvicorn_options

    settings = Settings()
    try:
        settings.resolved_secret_key()  # refused here in one line, not in each worker's log
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    if body_timeout is not None:
        # The app reads its settings in each worker, from the environment.
        os.environ["PORTFOLIO_BODY_TIMEOUT_SECONDS"] = str(body_timeout)
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        reload=reload,
        # The app itself believes X-Forwarded-* only from PORTFOLIO_FORWARDED_ALLOW_IPS.
        proxy_headers=False,
        **uvicorn_options(settings, host=host, port=port, workers=workers,
                          header_timeout=header_timeout, keep_alive=keep_alive,
                          max_connections=max_connections),
    )


@app.command("worker")
def worker(
    concurrency: Annotated[int, typer.Option(
        min=1, help="Jobs this worker runs at once (each in a thread).")] = 1,
    wait: Annotated[bool, typer.Option(
        help="Keep waiting for jobs; --no-wait stops once the queue is empty.")] = True,
) -> None:
    """Run background jobs (rankings) from the PostgreSQL job queue; start one or more."""
    from portfolio.jobs import run_worker

    settings = Settings()
    if settings.is_sqlite:
        raise fail("the job queue needs PostgreSQL (PORTFOLIO_DATABASE_URL); with SQLite "
                   "each web process runs its background work itself")
    run_worker(settings, concurrency=concurrency, wait=wait)


@projects_app.command("list")
def projects_list(
    organisation: Annotated[str | None, typer.Option(help="Owner organisation code.")] = None,
    status: Annotated[str | None, typer.Option(help="Only projects with this status.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """List projects, optionally for one organisation."""
    status = chosen("status", status, ProjectStatus)
    db = database()
    with db.read() as session:
        require_organisation(session, organisation)
        rows = project_service.list_projects(
            session=session, organisation=organisation, status=status
        )
    print_rows(rows, ["slug", "title", "organisation", "status", "theme"], fmt)


@projects_app.command("status")
def projects_status(
    slug: Annotated[str, typer.Argument(help="The project's slug.")],
    status: Annotated[str, typer.Argument(help="The status to move it to (e.g. proposed, "
                                                "in_progress, paused, delivered).")],
    reason: Annotated[str, typer.Option(help="Why: required from the CDO or an admin for a "
                                             "change outside the usual workflow.")] = "",
    as_email: Annotated[str | None, typer.Option(
        "--as", help="Act as this user (email); by default the command acts as the system.")]
    = None,
) -> None:
    """Move a project along the status workflow; a move the user may not make is refused."""
    from portfolio.services import workflow

    actor = acting(as_email)
    with database().write() as session:
        moved = workflow.move(session=session, actor=actor, slug=slug, to=status, reason=reason)
    console.print(f"{slug}: now {moved['status'].replace('_', ' ')} (version {moved['version']})")


@projects_app.command("decide")
def projects_decide(
    slug: Annotated[str, typer.Argument(help="The project's slug.")],
    decision: Annotated[str, typer.Argument(help="approve, reject, defer or needs_information.")],
    rationale: Annotated[str, typer.Option(help="The reasons (for needs_information, the "
                                                "question for the lead).")],
    as_email: Annotated[str | None, typer.Option(
        "--as", help="Act as this user (email); by default the command acts as the system.")]
    = None,
) -> None:
    """Record a review decision with its rationale (the CDO or an admin)."""
    from portfolio.services import reviews

    actor = acting(as_email)
    with database().write() as session:
        done = reviews.decide(session=session, actor=actor, slug=slug, decision=decision,
                              rationale=rationale)
    console.print(f"{slug}: {done['decision'].replace('_', ' ')}; status "
                  f"{done['status'].replace('_', ' ')}")


@projects_app.command("override")
def projects_override(
    slug: Annotated[str, typer.Argument(help="The project's slug.")],
    value: Annotated[float | None, typer.Option(help="The priority to use, 0 to 100.")] = None,
    justification: Annotated[str, typer.Option(
        help="Why: required to set one; with --clear, kept in the history as why it was "
             "removed.")] = "",
    expires: Annotated[str | None, typer.Option(help="Last day it counts, YYYY-MM-DD.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the override.")] = False,
    as_email: Annotated[str | None, typer.Option(
        "--as", help="Act as this user (email); by default the command acts as the system.")]
    = None,
) -> None:
    """Set or clear a project's manual priority override (the CDO or an admin)."""
    from portfolio.services import overrides

    if clear and (value is not None or expires is not None):
        raise fail("--clear removes the override: give it without --value and --expires")
    actor = acting(as_email)
    with database().write() as session:
        if clear:
            try:
                overrides.clear_override(session=session, actor=actor, slug=slug,
                                         justification=justification)
            except Invalid as exc:
                if set(exc.errors) != {"value"}:
                    raise
                # The service names the API's `value`; with --clear no option is at fault,
                # the project has no override.
                raise fail(f"{slug}: {exc.errors['value']}") from None
            console.print(f"{slug}: override cleared")
            return
        done = overrides.set_override(session=session, actor=actor, slug=slug, data={
            "value": value, "justification": justification, "expires_on": expires})
    until = f" until {done['expires_on']}" if done["expires_on"] else ""
    console.print(f"{slug}: priority {done['value']:g}{until} ({done['justification']})")


@app.command("rank")
def rank(
    profile: Annotated[str | None, typer.Option(help="Weight profile name (default: the first).")]
    = None,
    top: Annotated[int | None, typer.Option(min=1, help="Show only the first N rows.")] = None,
    view: Annotated[str, typer.Option(help=(
        "candidates (idea, proposed, approved), committed (in progress, paused) or all; the "
        "rank is the place in the project's view"))] = "candidates",
    samples: Annotated[int, typer.Option(
        min=0, max=20_000, help="Monte Carlo weight samples for robustness (0 skips it).")] = 1000,
    fmt: Annotated[RankFormat, typer.Option("--format", help="Output format.")] = (
        RankFormat.table),
) -> None:
    """Print the dependency-aware ranking with scores, robustness and blockers."""
    from portfolio.services import ranking as ranking_service

    db = database()
    pages: Iterable[list[dict[str, Any]]]
    if samples == ranking_service.DEFAULT_SAMPLES:
        # The stored run, a page at a time: a whole 100,000-project ranking is never held.
        run, pages = ranking_service.ranked_pages(db, profile=profile, top=top, view=view)
        err_console.print(f"profile {run.profile!r} v{run.profile_version}, "
                          f"revision {run.revision}, method {run.method_version}, "
                          f"robustness from {run.samples:,} weight samples")
    else:
        pages = [ranking_service.adhoc_rows(db, profile=profile, top=top, samples=samples,
                                            view=view)]
    if fmt == RankFormat.json:
        write_json_rows(pages, sys.stdout)
        return
    columns = ["rank", "view", "order", "slug", "organisation", "status", "score", "p_top_k",
               "interval", "unlock_value", "flags", "blocked_by"]
    if fmt == RankFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for page in pages:
            writer.writerows(_rank_line(r) for r in page)
        return
    print_rows([_rank_line(r) for page in pages for r in page], columns, OutputFormat.table)


def _rank_line(r: dict[str, Any]) -> dict[str, Any]:
    """Return a ranked row as `portfolio rank` prints it in a table or CSV."""
    return {
        **{k: r[k] for k in ("rank", "view", "order", "slug", "organisation", "status",
                             "score", "p_top_k", "unlock_value")},
        "interval": "" if r["rank_interval"] is None else "{}-{}".format(*r["rank_interval"]),
        "flags": " ".join(f for f, on in (("mandatory", r["effective_mandatory"]),
                                             ("override", r["override"]),
                                             ("fragile", r["fragile"]),
                                             (r["score_status"], r["score_status"] != "scored"))
                          if on),
        "blocked_by": ", ".join(r["blocked_by"]),
    }


def write_json_rows(pages: Iterable[list[dict[str, Any]]], out: TextIO) -> None:
    """Write rows as `json.dumps(rows, indent=2)` would, one row at a time."""
    first = True
    for page in pages:
        for row in page:
            # A nested value is indented one level further; newlines in text are escaped.
            out.write(("[\n  " if first else ",\n  ")
                      + json.dumps(row, indent=2).replace("\n", "\n  "))
            first = False
    out.write("[]\n" if first else "\n]\n")


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
    from portfolio.services import planning

    with stdout_to_stderr():
        result = planning.plan(database(), budget=budget, capacity=capacity,
                                     profile=profile, force_in=force_in or [],
                                     force_out=force_out or [], wall_clock_seconds=wall_clock)
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


@app.command("roadmap")
def roadmap(
    budget: Annotated[float, typer.Option(help="Budget in GBP for each quarter.")],
    horizon: Annotated[int, typer.Option(
        help="How many calendar quarters to plan, from the current one (1 to 40).")] = 8,
    capacity: Annotated[float | None, typer.Option(
        help="Person-months a quarter for all organisations together (default: none; each "
             "organisation's stated capacity always applies).")] = None,
    profile: Annotated[str | None, typer.Option(help="Weight profile name.")] = None,
    discount_rate: Annotated[float, typer.Option(
        help="Yearly rate by which a later start counts for less (0.035: the Green Book's).")
    ] = 0.035,
    deadline: Annotated[list[str] | None, typer.Option(
        "--deadline", help="SLUG=YYYY-MM-DD: a mandatory project must start by then "
                           "(repeatable).")] = None,
    force_in: Annotated[list[str] | None, typer.Option(
        "--force-in", help="Project slug that must start within the horizon, after its "
                           "prerequisites (repeatable).")] = None,
    force_out: Annotated[list[str] | None, typer.Option(
        "--force-out", help="Project slug that must not start (repeatable).")] = None,
    today: Annotated[str | None, typer.Option(
        help="Plan as on this date (YYYY-MM-DD; default today).")] = None,
    wall_clock: Annotated[float, typer.Option(
        help="Hard limit in seconds for the solve (run in a subprocess when large).")] = 60.0,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
    save: Annotated[str | None, typer.Option(
        help="Save this request as a roadmap scenario with this name.")] = None,
    as_email: Annotated[str | None, typer.Option(
        "--as", help="Act as this user (email) when saving; by default the system.")] = None,
) -> None:
    """Choose which candidates start in which quarter, within each quarter's budget and capacity."""
    from datetime import date

    from portfolio.schemas import year_month_day
    from portfolio.services import roadmap as roadmap_service
    from portfolio.services import scenarios

    if as_email is not None and save is None:
        raise fail("--as names who saves the scenario: give it with --save NAME")
    if today is not None and save is not None:
        # A scenario keeps no day: the day given would be dropped from what is saved.
        raise fail("--today is not saved: a saved roadmap is solved as of the day it is "
                   "opened; give --today without --save")
    deadlines: dict[str, date] = {}
    try:
        for item in deadline or []:
            slug, _, when = item.partition("=")
            deadlines[slug.strip()] = year_month_day(when)
        on = year_month_day(today) if today else None
    except ValueError:
        raise fail("dates are written YYYY-MM-DD (--deadline SLUG=YYYY-MM-DD, --today)") from None
    with stdout_to_stderr():
        result = roadmap_service.roadmap(
            database(), budget=budget, horizon=horizon, capacity=capacity, profile=profile,
            discount_rate=discount_rate, deadlines=deadlines, today=on,
            wall_clock_seconds=wall_clock, force_in=tuple(force_in or ()),
            force_out=tuple(force_out or ()))
    if save is not None:  # an empty name is refused by the service, not skipped
        with database().write() as session:
            made = scenarios.create_scenario(session=session, actor=acting(as_email), data={
                "kind": "roadmap", "name": save, "budget": budget, "horizon": horizon,
                "capacity": capacity, "profile": profile, "discount_rate": discount_rate,
                "deadlines": {slug: d.isoformat() for slug, d in deadlines.items()},
                "force_in": force_in or [], "force_out": force_out or []})
        err_console.print(f"saved as roadmap scenario {made['id']}: {made['name']}")
    print_roadmap(result, fmt)


def print_roadmap(result: dict[str, Any], fmt: OutputFormat) -> None:
    """Print a roadmap: its figures and the starts by quarter, or the JSON."""
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        return
    if result["status"] == "infeasible":
        raise fail(result["infeasible_reason"] or "no roadmap fits")
    gap = "" if result["gap"] is None else f", gap {result['gap']:.4%}"
    console.print(f"{result['status']}: {len(result['starts'])} projects start, value "
                  f"{result['value']:.1f} ({result['objective']:.1f} discounted){gap}")
    table = Table("quarter", "starts", "GBP used", "GBP budget")
    for i, label in enumerate(result["quarters"]):
        starting = [s["slug"] for s in result["starts"] if s["start_index"] == i]
        table.add_row(label, ", ".join(starting), f"{result['budget_used'][i]:,.0f}",
                      f"{result['budget'][i]:,.0f}")
    console.print(table)
    for item in result["unschedulable"]:
        console.print(f"not scheduled: {item['slug']}: {item['reason']}")


@app.command("report")
def report(
    out: Annotated[Path, typer.Option(help="Where to write the board pack (a .pdf file).")],
    budget: Annotated[float, typer.Option(help="Roadmap budget in GBP for each quarter.")],
    horizon: Annotated[int, typer.Option(help="Roadmap quarters, 1 to 40.")] = 8,
    capacity: Annotated[float | None, typer.Option(
        help="Person-months a quarter for all organisations together (optional).")] = None,
    profile: Annotated[str | None, typer.Option(help="Weight profile name.")] = None,
    today: Annotated[str | None, typer.Option(
        help="Date the pack as of this day (YYYY-MM-DD; default today): the same portfolio "
             "and date give the same PDF bytes.")] = None,
) -> None:
    """Write the board pack PDF: weights, top candidates, roadmap, blockers, changes, charts."""
    from datetime import date

    from portfolio.services.board_pack import board_pack_data
    from web.board_pack import board_pack_pdf

    writable(out)
    try:
        on = date.fromisoformat(today) if today else date.today()
    except ValueError:
        raise fail("--today is written YYYY-MM-DD") from None
    with stdout_to_stderr():
        data = board_pack_data(database(), budget=budget, horizon=horizon, capacity=capacity,
                               profile=profile, today=on)
        pdf = board_pack_pdf(data)
    with writing(out):
        out.write_bytes(pdf)
    err_console.print(f"wrote {out} ({len(pdf):,} bytes)")


@app.command("plumbing")
def plumbing(
    profile: Annotated[str | None, typer.Option(help="Weight profile name.")] = None,
    top: Annotated[int, typer.Option(min=1, help="How many recommendations.")] = 10,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """Rank the dataset improvements and sharing agreements that would raise value most."""
    from portfolio.services import planning

    rows = planning.plumbing(database(), profile=profile, top=top)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    flat = [{"gain": f"{r['gain']:.2f}", "description": r["description"],
             "unblocks": ", ".join(r["projects_unblocked"])} for r in rows]
    print_rows(flat, ["gain", "description", "unblocks"], OutputFormat.table)


@app.command("notify")
def notify() -> None:
    """Deliver pending notifications: stale projects, fan-out, digests, due emails (for cron)."""
    from portfolio.services import notifications

    db = database()
    done = notifications.deliver_pending(db)
    db.dispose()
    typer.echo(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in done.items()))


@app.command("similar")
def similar(
    slug: Annotated[str, typer.Argument(help="The project's slug.")],
    top: Annotated[int, typer.Option(min=1, max=50, help="How many similar projects.")] = 10,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """List the projects in other organisations most like one project, and why."""
    from portfolio.actors import SYSTEM
    from portfolio.services import collaboration

    found = collaboration.similar_projects(database(), actor=SYSTEM, slug=slug, top=top,
                                           fresh=True)
    if not found["similar"] and fmt == OutputFormat.table:
        console.print(f"No similar projects: {found['none_reason']}.")
        return
    rows = found["similar"] if fmt == OutputFormat.json else [
        {"score": f"{r['score']:.2f}", "project": r["slug"], "organisation":
         r["organisation_name"], "status": r["status"], "why": r["why"]}
        for r in found["similar"]]
    print_rows(rows, ["score", "project", "organisation", "status", "why"], fmt)


@graph_app.command("export")
def graph_export(
    out: Annotated[Path, typer.Option(help="Where to write the GraphML file.")],
) -> None:
    """Write the portfolio graph as GraphML (for networkx or Gephi)."""
    from portfolio.services import network

    writable(out)
    graphml = network.graphml(database())
    with writing(out):
        out.write_bytes(graphml)
    err_console.print(f"wrote {out} ({len(graphml):,} bytes)")


# ---------------------------------------------------------------------------------------------
# Snapshots, exports and imports

snapshot_app = typer.Typer(help="Freeze, list, verify, export and compare portfolio snapshots.",
                           no_args_is_help=True)
import_app = typer.Typer(help="Import projects from a CSV or XLSX file.", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(import_app, name="import")

AsEmail = Annotated[str | None, typer.Option(
    "--as", help="Act as this user (email); by default the command acts as the system.")]


def acting(email: str | None):
    """Return the actor a command runs as: a user by email, or the system."""
    from sqlalchemy import select

    from portfolio.actors import SYSTEM, Actor
    from portfolio.enums import Role
    from portfolio.models import User

    if not email:
        return SYSTEM
    with database().read() as session:
        user = session.execute(select(User).where(col(User.email) == email)).scalars().first()
    if user is None or not user.is_active:
        raise fail(f"no active user {email!r}")
    return Actor(id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                 email=user.email)


def _human_bytes(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


@snapshot_app.command("create")
def snapshot_create(
    label: Annotated[str, typer.Option(help="What this snapshot is for, e.g. 'Q3 board'.")],
    profile: Annotated[str | None, typer.Option(
        help="Weight profile to rank with (default: the first).")] = None,
    as_email: AsEmail = None,
) -> None:
    """Freeze the portfolio, the weights, the method version and the ranking they give."""
    from portfolio.services import snapshots

    with err_console.status("ranking and freezing the portfolio..."):
        made = snapshots.create_snapshot(database(), actor=acting(as_email), label=label,
                                         profile=profile)
    counts = made["row_counts"]
    console.print(f"snapshot {made['id']} {made['label']!r}: {counts.get('projects', 0):,} "
                  f"projects, profile {made['profile']!r} v{made['profile_version']}, method "
                  f"{made['method_version']}, revision {made['revision']}")
    console.print(f"sha256:{made['content_hash']}")


@snapshot_app.command("list")
def snapshot_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """List snapshots, newest first."""
    from portfolio.actors import SYSTEM
    from portfolio.services import snapshots

    with database().read() as session:
        rows = snapshots.list_snapshots(session=session, actor=SYSTEM)
    if fmt == OutputFormat.json:
        print_rows(rows, [], fmt)
        return
    flat = [{**r, "projects": f"{r['row_counts'].get('projects', 0):,}",
             "profile": f"{r['profile']} v{r['profile_version']}",
             "hash": r["content_hash"][:12]} for r in rows]
    print_rows(flat, ["id", "label", "created_at", "author", "projects", "profile",
                      "method_version", "hash"], OutputFormat.table)


@snapshot_app.command("verify")
def snapshot_verify(
    snapshot_id: Annotated[int, typer.Argument(metavar="ID", help="Snapshot id.")],
) -> None:
    """Recompute a snapshot's content hash and check it was not tampered with."""
    from portfolio.actors import SYSTEM
    from portfolio.services import snapshots

    with database().read() as session:
        result = snapshots.verify_snapshot(session=session, actor=SYSTEM,
                                           snapshot_id=snapshot_id)
    if result["valid"]:
        console.print(f"snapshot {snapshot_id} is intact: sha256:{result['content_hash']}")
        return
    for problem in result["problems"]:
        err_console.print(Text.assemble((f"snapshot {snapshot_id}:", "red"), f" {problem}"))
    raise typer.Exit(code=1)


@snapshot_app.command("export")
def snapshot_export(
    snapshot: Annotated[str, typer.Argument(
        metavar="ID", help="Snapshot id, or 'live' for the portfolio as it is now.")],
    fmt: Annotated[str, typer.Option(
        "--format", help="One of the export formats: csv, json, parquet, xlsx, datapackage "
                         "(a zip), graphml.")],
    out: Annotated[Path, typer.Option(help="File to write.")],
    table: Annotated[str | None, typer.Option(
        help="For csv and parquet: the table to write (default: projects in rank order).")]
    = None,
    as_email: AsEmail = None,
) -> None:
    """Write a snapshot (or the live portfolio) in an open format, byte-identical every time."""
    import time

    from portfolio.services import exports, snapshots

    try:
        export_format = exports.ExportFormat(fmt)
    except ValueError:
        raise fail(f"unknown format {fmt!r}; choose one of {exports.FORMAT_NAMES}") from None
    if as_email is not None and snapshot != "live":
        # A stored snapshot reads the same to every user: there is nobody to act as.
        raise fail("--as applies to 'live' only: a snapshot is the same for every reader")
    writable(out)
    started = time.perf_counter()
    db = database()
    if snapshot == "live":
        with err_console.status("reading the live portfolio..."):
            content = exports.live_content(db, acting(as_email), export_format, table)
    else:
        if whole_number(snapshot) is None:
            raise fail(f"{snapshot!r} is not a snapshot id (a number) nor 'live'")
        with db.read() as session:
            content = snapshots.load_content(session=session, snapshot_id=int(snapshot),
                                             kept=True)
    exports.check_table(export_format, table)
    with err_console.status(f"writing {export_format}..."), writing(out):
        if out.is_symlink() or (out.exists() and not out.is_file()):
            # A symlink, a device or a pipe (/dev/stdout) is written through, never replaced;
            # its size is counted as written, since a pipe's says 0.
            size = 0
            with out.open("wb") as file:
                for chunk in exports.stream_export(content, export_format, table):
                    size += file.write(chunk)
        else:
            partial = out.with_name(out.name + ".partial")
            try:
                with partial.open("wb") as file:
                    exports.write_export(content, export_format, file, table)
                size = partial.stat().st_size
                partial.replace(out)
            finally:
                partial.unlink(missing_ok=True)
    # On stderr: on stdout it followed the data written to /dev/stdout.
    err_console.print(f"wrote {out} ({_human_bytes(size)}, "
                      f"{time.perf_counter() - started:.2f} s)")


@snapshot_app.command("diff")
def snapshot_diff(
    old: Annotated[int, typer.Argument(metavar="A", help="The earlier snapshot's id.")],
    new: Annotated[int, typer.Argument(metavar="B", help="The later snapshot's id.")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
    limit: Annotated[int, typer.Option(min=1, help="Rows shown per section in a table.")] = 30,
) -> None:
    """Compare two snapshots: projects, fields, rank moves, and weight or method changes."""
    from portfolio.actors import SYSTEM
    from portfolio.services import snapshots

    with database().read() as session:
        diff = snapshots.diff_snapshots(session=session, actor=SYSTEM, old_id=old, new_id=new)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(diff, indent=2, default=str) + "\n")
        return
    flag = ("  CHANGED", "bold yellow")
    console.print(f"{diff['from']['label']!r} ({diff['from']['created_at']}) -> "
                  f"{diff['to']['label']!r} ({diff['to']['created_at']})")
    method, weights = diff["method"], diff["weights"]
    console.print(Text.assemble(f"method: {method['from']} -> {method['to']}",
                                flag if method["changed"] else "  unchanged"))
    console.print(Text.assemble(f"weights: {weights['from']} -> {weights['to']}",
                                flag if weights["changed"] else "  unchanged"))
    if diff["criteria"]["changed"]:
        console.print(Text.assemble("criteria:", flag))
    console.print(diff["note"])
    projects = diff["projects"]
    for title, rows in (("added", projects["added"]), ("removed", projects["removed"])):
        if rows:
            print_rows(rows[:limit], ["slug", "title", "organisation", "rank", "score"],
                       OutputFormat.table, title=f"projects {title} ({len(rows)})")
    changed = [{"slug": c["slug"], "field": name, "from": d["from"], "to": d["to"]}
               for c in projects["changed"] for name, d in c["fields"].items()]
    if changed:
        print_rows(changed[:limit], ["slug", "field", "from", "to"], OutputFormat.table,
                   title=f"fields changed ({len(changed)})")
    moves = [{**m, "causes": ", ".join(m["causes"])} for m in diff["rank_moves"]]
    if moves:
        # A rank is a place in a view: a project that changed view says from which to which.
        print_rows(moves[:limit], ["slug", "view_from", "rank_from", "view_to", "rank_to",
                                   "rank_change", "score_from", "score_to", "causes"],
                   OutputFormat.table,
                   title=f"rank and score moves ({len(moves)})")
    counts = [{"table": name, **{k: len(v) for k, v in parts.items()}}
              for name, parts in diff["tables"].items()]
    print_rows(counts, ["table", "added", "removed", "changed"], OutputFormat.table,
               title="other tables")


@import_app.command("projects")
def import_projects(
    file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, readable=True, help="A .csv (UTF-8) or .xlsx file.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check every row and report, writing nothing.")] = False,
    as_email: AsEmail = None,
) -> None:
    """Create or update projects from a spreadsheet; one bad row and nothing is written."""
    from portfolio.services import import_runs, imports

    size = file.stat().st_size
    if size > imports.MAX_IMPORT_BYTES:
        raise fail(imports.too_large_message(size))
    actor = acting(as_email)
    db = database()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed:,} of {task.total:,} rows"), TimeElapsedColumn())
    # Small files finish before a bar would be read; large ones show where they are.
    with Progress(*columns, console=err_console, transient=True,
                  disable=size < 256 * 1024) as progress:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = "checking rows" if stage == "check" else "writing"
                tasks[stage] = progress.add_task(label, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        report, _run_id = import_runs.run_import(db, actor=actor, content=file.read_bytes(),
                                                 filename=file.name, source="cli",
                                                 dry_run=dry_run, progress=tick)
    if not report.ok:
        err_console.print(f"{len(report.errors)} problem"
                          f"{'s' if len(report.errors) != 1 else ''} in {file.name}; nothing "
                          f"was written:", style="red")
        table = Table("row", "column", "reason")
        for error in report.errors:
            table.add_row(str(error.row), error.column, error.reason)
        err_console.print(table)
        raise typer.Exit(code=2)
    would = "would create" if dry_run else "created"
    rows = f"{report.rows:,} row{'s' if report.rows != 1 else ''}"
    console.print(
        f"{file.name}: {rows} checked; {would} {len(report.created):,}, "
        f"{'would update' if dry_run else 'updated'} {len(report.updated):,}, unchanged "
        f"{len(report.unchanged):,}; {report.links_added:,} dataset links and "
        f"{report.dependencies_added:,} dependencies {'to add' if dry_run else 'added'}"
        + (" (dry run: nothing written)" if dry_run else ""))


@import_app.command("export-projects")
def export_projects(
    out: Annotated[Path, typer.Argument(
        dir_okay=False, help="The file to write: .csv (UTF-8) or .xlsx, by its name.")],
    as_email: AsEmail = None,
) -> None:
    """Write the projects one may import, with each version, to edit and import again."""
    from portfolio.services import imports

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in imports.EDITABLE_FORMATS:
        raise fail(f"name the file .csv or .xlsx, not {out.name!r}")
    writable(out)
    actor = acting(as_email)
    with database().read() as session:
        content = imports.export_projects(session=session, actor=actor, fmt=fmt)
    with writing(out):
        out.write_bytes(content)
    err_console.print(f"{out.name}: the projects to edit, each with the version it was read at")


catalogue_app = typer.Typer(help="The dataset catalogue and the portals it is harvested from.",
                             no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")


@catalogue_app.command("harvest")
def catalogue_harvest(
    url: Annotated[str, typer.Argument(help=(
        "A CKAN portal (its address, or an action such as .../api/3/action/package_search or "
        "current_package_list_with_resources) or a DCAT catalogue (.../data.json)."))],
    publisher: Annotated[str, typer.Option(help=(
        "Organisation code for entries whose publisher matches no organisation by name."))
    ] = "GLA",
    confirm: Annotated[list[str] | None, typer.Option(help=(
        "Portal identifier of an entry whose title match you have checked (repeatable)."))
    ] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would be added, updated and left, writing nothing.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    as_email: AsEmail = None,
) -> None:
    """Add and update datasets from an open-data portal's catalogue, all or nothing."""
    from portfolio.services.harvest import Limits, harvest

    db = database()
    plan = harvest(db, actor=acting(as_email), url=url, default_publisher=publisher,
                   dry_run=dry_run, confirmed=set(confirm or []), limits=Limits.of(db.settings))
    summary = plan.summary()
    if fmt == OutputFormat.json:
        console.print_json(data=summary)
        return
    counts = summary["counts"]
    verb = "would add" if dry_run else "added"
    console.print(f"{url}: {verb} {counts['add']}, "
                  f"{'would update' if dry_run else 'updated'} {counts['update']}, "
                  f"left {counts['leave']} unchanged; {counts['confirm']} title match(es) to "
                  "confirm")
    for item in summary["confirm"]:
        console.print(f"  confirm? {item['title']!r} looks like {item['matches']!r}: "
                      f"--confirm {item['source_identifier']}")


# Exit codes: 2 for input the command refuses, 3 for a database fault (try again later).
EXIT_DATABASE_FAULT = 3


scenario_app = typer.Typer(help="List saved plan and roadmap scenarios and solve them.",
                           no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("list")
def scenario_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """List the saved scenarios."""
    from portfolio.services import scenarios

    with database().read() as session:
        rows = scenarios.list_scenarios(session=session)
    print_rows(rows, ["id", "name", "kind", "profile", "budget", "capacity", "horizon",
                      "force_in", "force_out"], fmt)


@scenario_app.command("plan")
def scenario_plan(
    scenario_id: Annotated[int, typer.Argument(metavar="ID", help="Scenario id.")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table),
) -> None:
    """Solve a saved scenario at the current revision: waves, and what is left out and why."""
    from portfolio.services import scenarios

    with stdout_to_stderr():
        solved = scenarios.solve_scenario(database(), scenario_id=scenario_id)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps(solved, indent=2, default=str) + "\n")
        return
    if solved["scenario"]["kind"] == "roadmap":
        console.print(f"{solved['scenario']['name']} (roadmap):")
        print_roadmap(solved["roadmap"], fmt)
        return
    plan = solved["plan"]
    if plan["status"] == "infeasible":
        for r in plan["responsible"]:
            err_console.print(f"  {r['slug']}: GBP {r['cost_gbp']:,.0f} ({r['because']})")
        raise fail(plan["infeasible_reason"] or "the plan is infeasible")
    console.print(f"{solved['scenario']['name']}: {plan['status']}, {len(plan['selected'])} "
                  f"projects, value {plan['objective']:.1f}, GBP {plan['budget_used']:,.0f}, "
                  f"{plan['capacity_used']:,.1f} person-months")
    for wave in plan["wave_rows"]:
        console.print(f"wave {wave['number']}: {', '.join(p['slug'] for p in wave['projects'])}")
    for r in plan["left_out"]:
        console.print(f"left out {r['slug']}: {r['reason_label']} ({r['detail']})")


# A service's field, where the command's option for it has another name.
FIELD_OPTIONS = {"status_reason": "reason", "wall_clock_seconds": "wall_clock",
                 "expires_on": "expires"}
# A thing not found, by the option that names it (a profile named by --profile).
NOT_FOUND_OPTIONS = {"weight profile": "profile"}


def shown_names(args: list[str]) -> dict[str, str]:
    """Return the invoked command's parameters as its user sees them: --option, or ARGUMENT."""
    command = typer.main.get_command(app)
    for arg in args:  # down the command groups by the words given
        found = getattr(command, "commands", {}).get(arg)
        if found is None:
            break
        command = found
    names = {}
    for param in command.params:
        if param.param_type_name == "argument":  # as its usage line shows it
            names[str(param.name)] = param.metavar or str(param.name).upper()
        elif long := [o for o in param.opts if o.startswith("--")]:
            names[str(param.name)] = long[0]
    return names


def domain_message(exc: DomainError, args: list[str]) -> str:
    """Return a domain error's words, each field named as the invoked command shows it."""
    shown = shown_names(args)
    if isinstance(exc, NotFound) and exc.key is not None:
        option = shown.get(NOT_FOUND_OPTIONS.get(exc.entity, ""))
        return f"{option}: {exc.message}" if option else exc.message
    if not isinstance(exc, Invalid):
        return exc.message
    return "; ".join(f"{shown.get(FIELD_OPTIONS.get(field, field), field)}: {message}"
                     for field, message in exc.errors.items())


def usage_message(exc: typer.TyperException, args: list[str]) -> str:
    """Return one of Click's usage errors as one line naming the option or argument at fault."""
    param = getattr(exc, "param", None)
    name = shown_names(args).get(str(param.name)) if param is not None else getattr(
        exc, "option_name", None)
    if name is None:
        return " ".join(exc.format_message().split())
    if isinstance(exc, typer.BadParameter):
        # A missing parameter is a BadParameter with no words of its own.
        return f"{name}: {exc.message or 'required'}"
    if hasattr(exc, "possibilities"):  # an option the command does not have
        guesses = " or ".join(exc.possibilities or [])
        return f"{name}: no such option" + (f"; did you mean {guesses}?" if guesses else "")
    return f"{name}: {' '.join(exc.message.split())}"


def main() -> None:
    """Run the CLI: refused input exits 2, a database fault 3, each with one line."""
    try:
        # Not standalone: Click's usage errors come here instead of being printed as a box.
        code = app(standalone_mode=False)
    except typer.TyperException as exc:
        # The help that a bare command group asks for is printed already.
        if type(exc).__name__ != "NoArgsIsHelpError":
            say_error(usage_message(exc, sys.argv[1:]))
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        err_console.print("aborted")
        raise SystemExit(1) from None
    except DomainError as exc:
        say_error(domain_message(exc, sys.argv[1:]))
        raise SystemExit(2) from None
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        # A PORTFOLIO_ variable that cannot be read (PORTFOLIO_PORT=abc) was a traceback. Its
        # value is not repeated: it may be a secret (the key, a database password).
        for error in exc.errors():
            name = "PORTFOLIO_" + "_".join(str(part) for part in error["loc"]).upper()
            say_error(f"{name}: {error['msg']}")
        raise SystemExit(2) from None
    except Exception as exc:
        fault = classify(exc)
        if fault is None:
            raise
        # One line, never the statement and its bound parameters (a 22 KB traceback before).
        sys.stderr.write(f"error: {fault.message} ({fault.cause})\n")
        raise SystemExit(EXIT_DATABASE_FAULT) from None
    if isinstance(code, int) and code:  # typer.Exit(code), returned when not standalone
        raise SystemExit(code)


# The agreements register's commands live in their own module (it uses the helpers above).
from portfolio.cli_agreements import agreements_app  # noqa: E402

app.add_typer(agreements_app, name="agreements")
