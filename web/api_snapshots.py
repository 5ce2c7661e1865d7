"""The JSON API for snapshots, exports of a snapshot or the live portfolio, and imports."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.schemas import FILLED_LINE_PATTERN
from portfolio.services import exports, import_runs, imports, snapshots
from portfolio.services.snapshots import TABLE_NAMES, SnapshotContent
from web.api_contract import ERRORS
from web.deps import app_database, current_actor, read_session
from web.routing import Router
from web.security import Policy, RowId, policy
from web.templating import path_for

router = Router(prefix="/api/v1", tags=["snapshots"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
# The reader, or None for an anonymous visitor where reading is public.
Reader = Annotated[Actor | None, READ]
IMPORT = Depends(policy(Policy.IMPORT))
SNAPSHOT = Depends(policy(Policy.SNAPSHOT))
ReadSession = Annotated[Session, Depends(read_session)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
AppDatabase = Annotated[Database, Depends(app_database)]
Format = Annotated[exports.ExportFormat, Query(
    alias="format", description="; ".join(f"{f.name}: {f.note}" for f in exports.FORMATS.values()))]
# The snapshot's tables by name, so the schema lists them.
SnapshotTable = StrEnum("SnapshotTable", {name: name for name in TABLE_NAMES})  # type: ignore[misc]
TableName = Annotated[SnapshotTable | None, Query(
    max_length=32, description="For csv and parquet: the table (default: projects)")]


class SnapshotIn(BaseModel):
    """A label for the new snapshot and, optionally, the weight profile to rank with."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=200,
                       json_schema_extra={"pattern": FILLED_LINE_PATTERN})
    profile: str | None = Field(default=None, max_length=120)


def export_response(content: SnapshotContent, fmt: exports.ExportFormat,
                    table: str | None) -> StreamingResponse:
    """Stream an export as a download, with the snapshot's hash in the headers."""
    table = exports.check_table(fmt, table)
    headers = {
        "Content-Disposition":
            f'attachment; filename="{exports.export_filename(content, fmt, table)}"',
    }
    if content.complete:  # a live export of one table has no hash of the whole portfolio
        headers["X-Content-Hash"] = f"sha256:{content.content_hash}"
    if content.id is not None:
        # The same snapshot always exports to the same bytes.
        headers["ETag"] = f'"{content.content_hash[:32]}-{fmt}-{table}"'
    return StreamingResponse(exports.stream_export(content, fmt, table),
                             media_type=exports.FORMATS[fmt].media_type, headers=headers)


@router.get("/snapshots")
def list_snapshots(session: ReadSession, actor: Reader) -> list[dict[str, Any]]:
    """List snapshots, newest first: label, author (email, and `author_name`), time, profile,
    method and content hash; `author` is null for an anonymous reader (public read)."""
    return snapshots.list_snapshots(session=session, actor=actor)


@router.post("/snapshots", status_code=201, dependencies=[SNAPSHOT])
def create_snapshot(body: SnapshotIn, db: AppDatabase, actor: CurrentActor) -> dict[str, Any]:
    """Freeze the portfolio, the weights, the method version and the ranking they give."""
    return snapshots.create_snapshot(db, actor=actor, label=body.label, profile=body.profile)


@router.get("/snapshots/{snapshot_id}")
def get_snapshot(snapshot_id: RowId, session: ReadSession, actor: Reader) -> dict[str, Any]:
    """Return one snapshot's summary."""
    return snapshots.get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)


@router.get("/snapshots/{snapshot_id}/verify")
def verify_snapshot(snapshot_id: RowId, session: ReadSession, actor: Reader) -> dict[str, Any]:
    """Recompute a snapshot's content hash and check its recorded facts."""
    return snapshots.verify_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)


@router.get("/snapshots/{snapshot_id}/export", response_class=StreamingResponse)
def export_snapshot(snapshot_id: RowId, session: ReadSession, actor: Reader, fmt: Format,
                    table: TableName = None) -> StreamingResponse:
    """Download a snapshot (signed-in readers: it holds users' email addresses); exporting it
    twice gives byte-identical files."""
    content = snapshots.content_to_download(session=session, actor=actor,
                                            snapshot_id=snapshot_id)
    return export_response(content, fmt, table)


@router.get("/snapshots/{old_id}/diff/{new_id}")
def diff_snapshots(old_id: RowId, new_id: RowId, session: ReadSession,
                   actor: Reader) -> dict[str, Any]:
    """Compare two snapshots; weight and method changes are flagged apart from project changes."""
    return snapshots.diff_snapshots(session=session, actor=actor, old_id=old_id, new_id=new_id)


@router.get("/export", dependencies=[READ], response_class=StreamingResponse)
def export_live(db: AppDatabase, actor: CurrentActor, fmt: Format,
                table: TableName = None) -> StreamingResponse:
    """Download the portfolio as it is now, ranked with the default weight profile."""
    exports.check_table(fmt, table)
    # CSV and Parquet hold one table: only it (and the organisations' names) is built.
    return export_response(exports.live_content(db, actor, fmt, table), fmt, table)


EditableFormat = Literal["csv", "xlsx"]
EditableQuery = Annotated[EditableFormat, Query(alias="format",
                                                 description="csv (UTF-8) or xlsx")]
EDITABLE_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": exports.MEDIA_TYPES["xlsx"]}


def editable_response(db: Database, actor: Actor, fmt: EditableFormat) -> Response:
    """Answer with the projects the actor may import, as a file to edit and import again."""
    with db.read() as session:
        content = imports.export_projects(session=session, actor=actor, fmt=fmt)
    return Response(content, media_type=EDITABLE_MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="projects-to-edit.{fmt}"'})


@router.get("/import/projects", dependencies=[IMPORT], name="api_import_projects_export",
            response_class=Response, responses={200: {"content": {
                media: {} for media in EDITABLE_MEDIA_TYPES.values()}}})
def export_projects_to_edit(db: AppDatabase, actor: CurrentActor,
                            fmt: EditableQuery = "csv") -> Response:
    """Download the projects one may import, in the import's columns with each `version`."""
    return editable_response(db, actor, fmt)


# Named apart from the page at /import, which the navigation links to by name.
@router.post("/import/projects", dependencies=[IMPORT], name="api_import_projects",
             responses={202: {"description": "Queued for a worker (with the job queue): "
                              "`Location` is the import, which reports how it went."}})
def import_projects(
    request: Request, db: AppDatabase, actor: CurrentActor,
    file: Annotated[UploadFile, File(description="A .csv (UTF-8) or .xlsx file, at most 50 MB")],
    dry_run: Annotated[bool, Form(description="Check and report without writing")] = False,
) -> JSONResponse:
    """Create or update projects from a spreadsheet; any bad row writes nothing (422)."""
    imports.require_importer(actor)
    content = read_upload(file)
    if db.queue is not None:
        queued = import_runs.queue_import(db, actor=actor, content=content,
                                          filename=file.filename or "upload", source="api",
                                          dry_run=dry_run)
        location = path_for(request, "api_import_run", run_id=queued)
        return JSONResponse({"import_id": queued, "status": "queued", "location": location},
                            status_code=202, headers={"Location": location})
    report, run_id = import_runs.run_import(db, actor=actor, content=content,
                                            filename=file.filename or "upload", source="api",
                                            dry_run=dry_run)
    body = report.as_dict() | {"import_id": run_id}
    if not report.ok:
        body["detail"] = (f"{len(report.errors)} problem{'s' if len(report.errors) != 1 else ''}"
                          " in the file; nothing was written")
    return JSONResponse(body, status_code=200 if report.ok else 422)


@router.get("/imports/{run_id}", dependencies=[IMPORT], name="api_import_run")
def import_run(run_id: RowId, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """Return one import: its status (`queued` until a worker has run it), counts and report."""
    return import_runs.import_record(session=session, actor=actor, run_id=run_id)


def read_upload(file: UploadFile) -> bytes:
    """Read an upload, refusing one over the limit before holding or parsing it."""
    if file.size is not None and file.size > imports.MAX_IMPORT_BYTES:
        raise imports.FileTooLarge(imports.too_large_message(file.size))
    content = file.file.read(imports.MAX_IMPORT_BYTES + 1)
    if len(content) > imports.MAX_IMPORT_BYTES:
        raise imports.FileTooLarge(imports.too_large_message(len(content)))
    return content
