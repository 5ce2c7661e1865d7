"""Pages: snapshots (list, create, compare, download) and the spreadsheet import of projects."""

from __future__ import annotations

import queue
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.errors import Invalid, NotFound
from portfolio.faults import classify
from portfolio.services import exports, import_runs, imports, snapshots
from portfolio.services import profiles as profile_service
from portfolio.services.common import portfolio_revision
from web.api_snapshots import EditableFormat, editable_response, export_response, read_upload
from web.deps import remember_write
from web.pages_common import AppDatabase, CurrentActor, when
from web.routing import Router
from web.security import Policy, RowId, csrf_token, policy
from web.templating import path_for, render, templates

router = Router(include_in_schema=False)

READ = Depends(policy(Policy.READ))
# The reader, or None for an anonymous visitor where reading is public.
Reader = Annotated[Actor | None, READ]
IMPORT = Depends(policy(Policy.IMPORT))
SNAPSHOT = Depends(policy(Policy.SNAPSHOT))
# Files with more rows than this are imported behind a streamed progress bar.
PROGRESS_ABOVE_ROWS = 1000
DIFF_ROWS_SHOWN = 100
TOP_PROJECTS_SHOWN = 20


def _shown(summary: dict[str, Any]) -> dict[str, Any]:
    """Add what a page shows of a snapshot: its time in London and its short hash."""
    return {**summary, "when": when(summary["created_at"]),
            "short_hash": summary["content_hash"][:12]}


def _formats() -> list[dict[str, str]]:
    return [{"value": f.name, "note": f.note, "extension": f.extension}
            for f in exports.FORMATS.values()]


def _list_page(request: Request, db: Database, *, status_code: int = 200,
               errors: dict[str, str] | None = None, label: str = "", profile: str = "",
               compare_errors: dict[str, str] | None = None,
               compared: dict[str, int] | None = None):
    with db.read() as session:
        listed = [_shown(s) for s in snapshots.list_snapshots(
            session=session, actor=getattr(request.state, "actor", None))]
        profiles = [p["name"] for p in profile_service.list_profiles(session=session)]
    return render(request, "snapshots.html", {
        "snapshots": listed, "profiles": profiles, "formats": _formats(),
        "errors": errors or {}, "label": label, "profile": profile,
        "compare_errors": compare_errors or {}, "compared": compared or {},
    }, status_code=status_code)


@router.get("/snapshots", name="snapshots", dependencies=[READ])
def snapshots_page(request: Request, db: AppDatabase):
    """List snapshots, with forms to take one and to compare two."""
    return _list_page(request, db)


@router.post("/snapshots", name="snapshot_create", dependencies=[SNAPSHOT])
def snapshot_create(
    request: Request, db: AppDatabase, actor: CurrentActor,
    label: Annotated[str, Form(max_length=500)] = "",
    profile: Annotated[str, Form(max_length=120)] = "",
):
    """Take a snapshot and show it."""
    try:
        made = snapshots.create_snapshot(db, actor=actor, label=label, profile=profile or None)
    except Invalid as exc:
        return _list_page(request, db, status_code=422, errors=exc.errors, label=label,
                          profile=profile)
    except snapshots.QuotaExceeded as exc:
        page = _list_page(request, db, status_code=429, errors={"label": exc.message},
                          label=label, profile=profile)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return RedirectResponse(request.url_for("snapshot", snapshot_id=made["id"]).path, 303)


def _diff_or_form(request: Request, db: Database, actor: Actor | None, a: int,
                  b: int) -> dict[str, Any] | Response:
    """Return two snapshots' comparison, or the comparison form saying which is not there."""
    # Only to a browser, as board_pack answers its page; a script still gets the 404 as JSON.
    try:
        with db.read() as session:
            return snapshots.diff_snapshots(session=session, actor=actor, old_id=a, new_id=b)
    except NotFound as exc:
        missing = {field: f"there is no snapshot #{exc.key}: choose one from the list"
                   for field, chosen in (("a", a), ("b", b)) if chosen == exc.key}
        if not missing or "text/html" not in request.headers.get("accept", ""):
            raise
        return _list_page(request, db, status_code=422, compare_errors=missing,
                          compared={"a": a, "b": b})


@router.get("/snapshots/compare", name="snapshot_diff")
def snapshot_diff_page(
    request: Request, db: AppDatabase, actor: Reader,
    a: Annotated[int, Query(description="The earlier snapshot")],
    b: Annotated[int, Query(description="The later snapshot")],
):
    """Compare two snapshots: what changed in the projects, and what moved the ranks."""
    diff = _diff_or_form(request, db, actor, a, b)
    if isinstance(diff, Response):
        return diff
    changed = [{"slug": c["slug"], "title": c["title"], "field": name, **change}
               for c in diff["projects"]["changed"] for name, change in c["fields"].items()]
    return render(request, "snapshots_diff.html", {
        "diff": diff, "changed": changed, "limit": DIFF_ROWS_SHOWN,
        "from_when": when(diff["from"]["created_at"]), "to_when": when(diff["to"]["created_at"]),
    })


@router.get("/snapshots/compare.csv", name="snapshot_diff_export")
def snapshot_diff_export(
    request: Request, db: AppDatabase, actor: Reader,
    a: Annotated[int, Query(description="The earlier snapshot")],
    b: Annotated[int, Query(description="The later snapshot")],
) -> Response:
    """Download a comparison of two snapshots as CSV."""
    diff = _diff_or_form(request, db, actor, a, b)
    if isinstance(diff, Response):
        return diff
    return Response(exports.diff_csv(diff), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="portfolio-snapshots-{a}-{b}.csv"'})


@router.get("/snapshots/live/{fmt}", name="live_download", dependencies=[READ])
def live_download(db: AppDatabase, actor: CurrentActor,
                  fmt: exports.ExportFormat) -> StreamingResponse:
    """Download the portfolio as it is now."""
    return export_response(exports.live_content(db, actor, fmt), fmt, None)


@router.get("/snapshots/{snapshot_id}", name="snapshot")
def snapshot_page(request: Request, db: AppDatabase, snapshot_id: RowId, actor: Reader,
                  verify: bool = False):
    """Show a snapshot: what it froze, its top projects, its downloads; verify it on request."""
    with db.read() as session:
        summary = snapshots.get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
        content = snapshots.load_content(session=session, snapshot_id=snapshot_id)
        others = [_shown(s) for s in snapshots.list_snapshots(session=session, actor=actor)
                  if s["id"] != snapshot_id]
        # Ids grow with time (never reused): a comparison runs from the earlier to the later.
        earlier = [s for s in others if s["id"] < snapshot_id]
        later = [s for s in others if s["id"] > snapshot_id]
        meta: dict[str, Any] = {}
        top: list[dict[str, Any]] = []
        try:
            meta = content.meta
            names = snapshots.organisation_names(content)
            projects = content.table("projects")
            top = [dict(zip(projects.columns, row, strict=True))
                   for row in islice(projects.rows, TOP_PROJECTS_SHOWN)]
            titles = _titles_of_blockers(top, projects)
            for p in top:
                p["organisation_name"] = names.get(p["organisation"], p["organisation"])
                p["blocked_by_titles"] = [(s, titles.get(s, s)) for s in p.get("blocked_by") or []]
        except (zlib.error, ValueError, KeyError):
            verify = True  # an unreadable payload: say why
        # Hashing a large snapshot takes a while, so it is done when asked for.
        check = (snapshots.verify_snapshot(session=session, actor=actor,
                                           snapshot_id=snapshot_id)
                 if verify else None)
    return render(request, "snapshots_detail.html", {
        "snapshot": _shown(summary), "meta": meta, "check": check, "top": top,
        "formats": _formats(), "earlier": earlier, "later": later,
    })


def _titles_of_blockers(top: list[dict[str, Any]], projects: Any) -> dict[str, str]:
    """Return the frozen titles of the projects the top rows wait on, reading only as needed."""
    titles = {p["slug"]: p["title"] for p in top}
    wanted = {s for p in top for s in p.get("blocked_by") or []} - set(titles)
    if wanted:
        slug, title = projects.columns.index("slug"), projects.columns.index("title")
        for row in projects.rows:
            if row[slug] in wanted:
                titles[row[slug]] = row[title]
                wanted.discard(row[slug])
                if not wanted:
                    break
    return titles


@router.get("/snapshots/{snapshot_id}/download/{fmt}", name="snapshot_download")
def snapshot_download(db: AppDatabase, snapshot_id: RowId, actor: Reader,
                      fmt: exports.ExportFormat) -> StreamingResponse:
    """Download a snapshot in one format (signed-in readers: it holds users' emails)."""
    with db.read() as session:
        content = snapshots.content_to_download(session=session, actor=actor,
                                                snapshot_id=snapshot_id)
    return export_response(content, fmt, None)


# ---------------------------------------------------------------------------------------------
# Import


def _import_page(request: Request, *, status_code: int = 200,
                 error: str | None = None, dry_run: bool = False):
    return render(request, "import.html", {
        "error": error, "dry_run": dry_run, "required": imports.REQUIRED,
        "columns": [(name, imports.COLUMN_HELP[name]) for name in imports.COLUMNS],
        "limit_mb": imports.MAX_IMPORT_BYTES // 1_048_576,
    }, status_code=status_code)


@router.get("/import", name="import_projects", dependencies=[IMPORT])
def import_page(request: Request):
    """Show the upload form, the template and what each column means."""
    return _import_page(request)


@router.get("/import/template.csv", name="import_template", dependencies=[IMPORT])
def import_template(db: AppDatabase, actor: CurrentActor) -> Response:
    """Download the CSV template, its examples owned by the user's organisation."""
    with db.read() as session:
        owner = imports.template_owner(session, actor)
    return Response(imports.template_bytes(owner), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="projects-import-template.csv"'})


@router.get("/import/template.xlsx", name="import_template_xlsx", dependencies=[IMPORT])
def import_template_xlsx(db: AppDatabase, actor: CurrentActor) -> Response:
    """Download the template as a workbook, its examples owned by the user's organisation."""
    with db.read() as session:
        owner = imports.template_owner(session, actor)
    return Response(imports.template_xlsx(owner), media_type=exports.FORMATS[
        "xlsx"].media_type, headers={
        "Content-Disposition": 'attachment; filename="projects-import-template.xlsx"'})


@router.get("/import/projects.{fmt}", name="import_projects_export", dependencies=[IMPORT])
def import_projects_export(db: AppDatabase, actor: CurrentActor, fmt: EditableFormat) -> Response:
    """Download the projects the user may import, to edit and import again."""
    return editable_response(db, actor, fmt)


@router.post("/import", name="import_upload", dependencies=[IMPORT])
def import_upload(
    request: Request, db: AppDatabase, actor: CurrentActor,
    file: Annotated[UploadFile | None, File()] = None,
    dry_run: Annotated[str, Form()] = "",
):
    """Check an uploaded file and import it; large files show a progress bar as they go."""
    imports.require_importer(actor)
    checking = dry_run not in ("", "false", "off")
    if file is None:
        # A form sent without its file part (a browser always sends one): the form again.
        return _import_page(request, status_code=422, error="Choose a file to import.",
                            dry_run=checking)
    if db.queue is not None:
        return _queued_import(request, db, actor, file, checking)
    try:
        content = read_upload(file)
        sheet = imports.read_sheet(content, imports.ImportLimits.of(db.settings))
    except imports.BadFile as exc:
        return _import_page(request, status_code=exc.status_code, error=exc.errors["file"],
                            dry_run=checking)
    filename = file.filename or "upload"
    job = ImportJob(db=db, actor=actor, content=content, sheet=sheet, filename=filename,
                    dry_run=checking)
    if len(sheet.rows) <= PROGRESS_ABOVE_ROWS:
        job.run()
        report = job.outcome()[0]
        if not checking and report is not None and report.written:
            remember_write(request, portfolio_revision(db))
        return _report_page(request, job)
    if not checking:
        # The cookie leaves before the import ends; it commits as one revision, the next one.
        remember_write(request, portfolio_revision(db) + 1)
    run_id = job.begin()
    job.start()
    # The page streams: the browser draws each progress line as it arrives, then the report.
    # A browser that leaves goes on importing; the history keeps the report to read later.
    context = {"request": request, "filename": filename, "events": job.events(),
               "result": job.outcome, "dry_run": checking, "csrf": csrf_token(request),
               "actor": actor, "run_url": path_for(request, "import_run", run_id=run_id)
               if run_id is not None else None}
    stream = templates.get_template("import_progress.html").generate(context)
    return StreamingResponse((part.encode("utf-8") for part in stream),
                             media_type="text/html; charset=utf-8",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _queued_import(request: Request, db: Database, actor: Actor, file: UploadFile,
                   checking: bool):
    """Keep the file for a worker, then show the import's entry (queued, then its report)."""
    try:
        content = read_upload(file)
    except imports.BadFile as exc:
        return _import_page(request, status_code=exc.status_code, error=exc.errors["file"],
                            dry_run=checking)
    run_id = import_runs.queue_import(db, actor=actor, content=content,
                                      filename=file.filename or "upload", source="page",
                                      dry_run=checking)
    return RedirectResponse(path_for(request, "import_run", run_id=run_id), status_code=303)


def _report_page(request: Request, job: ImportJob):
    report, failure = job.outcome()
    status = 500 if failure else 200 if report and report.ok else 422
    return render(request, "import_report.html", {
        "report": report, "failure": failure, "filename": job.filename,
        "dry_run": job.dry_run, "run_id": job.run_id,
    }, status_code=status)


@router.get("/imports", name="import_history", dependencies=[IMPORT])
def import_history(request: Request, db: AppDatabase,
                   actor: CurrentActor):
    """List the imports, newest first: who, when, counts and errors, each with its report."""
    with db.read() as session:
        listed = import_runs.list_imports(session=session, actor=actor)
    for entry in listed:
        entry["when"] = when(entry["started_at"])
    return render(request, "import_history.html", {"imports": listed})


@router.get("/imports/{run_id}", name="import_run", dependencies=[IMPORT])
def import_run(request: Request, db: AppDatabase, actor: CurrentActor,
               run_id: RowId):
    """Show one import's report, however long ago it ran and wherever it was started."""
    with db.read() as session:
        found = import_runs.get_import(session=session, actor=actor, run_id=run_id)
    found["when"] = when(found["started_at"])
    return render(request, "import_report.html", {
        "report": found["report"], "failure": found["failure"], "filename": found["filename"],
        "dry_run": found["dry_run"], "entry": found, "run_id": run_id,
    })


@dataclass
class Step:
    """One progress line: a stage and how far it has got."""

    label: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        """Return how far the stage has got, 0-100."""
        return 100 if not self.total else round(100 * self.done / self.total)


@dataclass
class ImportJob:
    """An import run on its own thread, reporting progress through a queue."""

    db: Database
    actor: Actor
    content: bytes
    sheet: imports.Sheet
    filename: str
    dry_run: bool

    def __post_init__(self) -> None:
        self._queue: queue.Queue[Step | None] = queue.Queue()
        self._report: imports.ImportReport | None = None
        self._failure: str | None = None
        self._done: Future[None] | None = None
        self.run_id: int | None = None

    def _tick(self, stage: str, done: int, total: int) -> None:
        label = "Checking rows" if stage == "check" else "Writing"
        self._queue.put(Step(label, done, total))

    def begin(self) -> int | None:
        """Enter the import in the history, so its report can be read after the page."""
        self.run_id = import_runs.begin(self.db, actor=self.actor, filename=self.filename,
                                        source="page", dry_run=self.dry_run)
        return self.run_id

    def run(self) -> None:
        """Run the import in one transaction (a read-only one for a dry run)."""
        try:
            self._report, self.run_id = import_runs.run_import(
                self.db, actor=self.actor, content=self.content, filename=self.filename,
                source="page", dry_run=self.dry_run, progress=self._tick, sheet=self.sheet,
                run_id=self.run_id)
        except Invalid as exc:
            self._failure = exc.message
        except Exception as exc:  # noqa: BLE001 - shown on a page already being streamed
            fault = classify(exc)
            self._failure = fault.message if fault else (
                f"the import failed and nothing was written ({type(exc).__name__})")
        finally:
            self._queue.put(None)

    def start(self) -> None:
        """Run the import as the process's background work (one executor, seen by /healthz)."""
        self._done = self.db.background.submit(("import", self.run_id, id(self)), self.run)

    def events(self) -> Iterator[Step]:
        """Yield progress steps until the import ends."""
        while (step := self._queue.get()) is not None:
            yield step

    def outcome(self) -> tuple[imports.ImportReport | None, str | None]:
        """Return the report, or the reason the import failed."""
        if self._done is not None:
            self._done.result()
        return self._report, self._failure
