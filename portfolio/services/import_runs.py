"""The import history: each import's who, when, counts and report, kept to be read later.

With the job queue (portfolio/jobs.py) an uploaded file is kept in `import_upload` until a
worker has imported it; the history entry says it is queued until then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import DomainError, Invalid, NotAllowed, NotFound, WorkerStopped
from portfolio.faults import classify
from portfolio.models import ImportRun, ImportUpload, User, utcnow
from portfolio.services import accounts, imports

SOURCES = ("page", "api", "cli")
HISTORY_SHOWN = 200
# How each status reads on the history page.
STATUS_WORDS = {
    "running": "running, or stopped before it finished (then nothing was written)",
    "imported": "imported", "unchanged": "nothing to change", "checked": "checked (dry run)",
    "refused": "refused: problems in the file", "failed": "failed: nothing was written",
}
QUEUED_WORDS = "queued: a worker imports it"
# What an uploader is told of a fault the import does not know: its text may name hosts or
# data they should not see. A worker's is on the admins' jobs page; the web's, in its log.
UNEXPECTED = "an unexpected fault stopped it"
UNEXPECTED_QUEUED = f"{UNEXPECTED}; an admin can see which on the jobs page"


def run_import(db: Database, *, actor: Actor, content: bytes, filename: str, source: str,
               dry_run: bool = False, progress: imports.Progress | None = None,
               sheet: imports.Sheet | None = None,
               run_id: int | None = None) -> tuple[imports.ImportReport, int | None]:
    """Import a file in one transaction and keep its report in the history; return both.

    A written import's history entry is completed in the import's own transaction, so the
    history never says "imported" for an import that was rolled back. A caller that showed
    the entry before the import began (the streamed page) passes its `run_id`.
    """
    imports.require_importer(actor)
    if run_id is None:
        run_id = begin(db, actor=actor, filename=filename, source=source, dry_run=dry_run)
    try:
        session_of = db.read if dry_run else db.write
        with session_of() as session:
            report = imports.import_projects(session=session, actor=actor, content=content,
                                             filename=filename, dry_run=dry_run,
                                             progress=progress, sheet=sheet,
                                             limits=imports.ImportLimits.of(db.settings))
            if report.written and run_id is not None:
                _finish(session, run_id, report)
    except Invalid as exc:
        fail(db, run_id, exc.message)
        raise
    except Exception as exc:
        fault = classify(exc)
        fail(db, run_id, fault.message if fault else
             f"the import failed and nothing was written ({UNEXPECTED})")
        raise
    if not report.written and run_id is not None:
        _best_effort(db, lambda session: _finish(session, run_id, report))
    return report, run_id


def queue_import(db: Database, *, actor: Actor, content: bytes, filename: str, source: str,
                 dry_run: bool = False) -> int:
    """Keep an uploaded file in the database and queue its import for a worker; return the run."""
    imports.require_importer(actor)
    if source not in SOURCES:
        raise ValueError(f"unknown import source {source!r}")
    assert db.queue is not None, "only a process on the job queue queues imports"
    with db.write() as session:
        run = ImportRun(actor_id=actor.id, filename=filename[:255], source=source,
                        dry_run=dry_run)
        session.add(run)
        session.flush()
        assert run.id is not None
        run_id = run.id
        session.add(ImportUpload(run_id=run_id, content=content))
    try:
        db.queue.import_file(run_id)
    except Exception:
        fail(db, run_id, "the import could not be queued; nothing was written")
        discard_upload(db, run_id)
        raise
    return run_id


def run_queued_import(db: Database, *, run_id: int) -> str:
    """Import a file a web process queued, as the user who uploaded it; say what it did.

    A refusal (a bad file, a user no longer allowed to import) is the import's outcome, kept
    in the history, not a failure of the job to try again.
    """
    with db.read() as session:
        run, upload = session.get(ImportRun, run_id), session.get(ImportUpload, run_id)
        if run is None or upload is None:
            # A worker that died after the import committed: the file went with the commit.
            return f"import {run_id} had already ended"
        content = bytes(upload.content)
    try:
        actor = _uploader(db, run.actor_id)
        report, _run = run_import(db, actor=actor, content=content, filename=run.filename,
                                  source=run.source, dry_run=run.dry_run, run_id=run_id)
    except DomainError as exc:
        fail(db, run_id, exc.message)
        discard_upload(db, run_id)
        return f"import {run_id} refused: {exc.message}"
    with db.read() as session:
        if session.get(ImportUpload, run_id) is not None:
            # The report of an import that wrote nothing is kept best effort; without it the
            # entry would say queued for ever. Trying again is safe: nothing was written.
            raise RuntimeError(f"import {run_id} ran but its report could not be kept")
    return f"import {run_id}: {_finished_status(report)}, {report.rows} row(s), " \
           f"{len(report.errors)} problem(s)"


def _uploader(db: Database, actor_id: int | None) -> Actor:
    """Return who uploaded a queued file, as they are now (their role may have changed)."""
    actor = None
    if actor_id is not None:
        with db.connect() as connection:
            actor = accounts.actor_by_id(connection=connection, user_id=actor_id)
    if actor is None:
        raise NotAllowed("the user who uploaded this file can no longer sign in")
    return actor


def discard_upload(db: Database, run_id: int) -> None:
    """Delete a queued import's file (its job ended or gave up), best effort."""
    _best_effort(db, lambda session: session.execute(
        delete(ImportUpload).where(col(ImportUpload.run_id) == run_id)))


def give_up(db: Database, *, run_id: int, error: Exception) -> None:
    """Record that a queued import's last attempt failed, and delete its file."""
    # Never the error's own text: it may name hosts or data the uploader should not see
    # (admins read it on the jobs page); a worker that died is ours to say.
    fail(db, run_id, "the import failed on every attempt; nothing was written ("
                     + (str(error) if isinstance(error, WorkerStopped) else UNEXPECTED_QUEUED)
                     + ")")
    discard_upload(db, run_id)


def begin(db: Database, *, actor: Actor, filename: str, source: str,
          dry_run: bool) -> int | None:
    """Record that an import started; None when the database cannot be written now."""
    if source not in SOURCES:
        raise ValueError(f"unknown import source {source!r}")

    def add(session: Session) -> int:
        run = ImportRun(actor_id=actor.id, filename=filename[:255], source=source,
                        dry_run=dry_run)
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id

    return _best_effort(db, add)


def fail(db: Database, run_id: int | None, failure: str) -> None:
    """Record why an import failed (best effort: the database may be what failed)."""
    if run_id is None:
        return
    _best_effort(db, lambda session: session.execute(
        update(ImportRun).where(col(ImportRun.id) == run_id)
        .values(status="failed", failure=failure[:2000], finished_at=utcnow())))


def _best_effort(db: Database, work: Any) -> Any:
    """Run a small write of the history; a database fault leaves the history without it."""
    try:
        with db.write() as session:
            return work(session)
    except Exception as exc:
        if classify(exc) is None:
            raise
        return None


def _finished_status(report: imports.ImportReport) -> str:
    """Return the history's status for an import that ran to its end."""
    if not report.ok:
        return "refused"
    if report.dry_run:
        return "checked"
    return "imported" if report.written else "unchanged"


def _finish(session: Session, run_id: int, report: imports.ImportReport) -> None:
    """Record an import's outcome and its report; a queued file goes in the same transaction."""
    session.execute(update(ImportRun).where(col(ImportRun.id) == run_id).values(
        status=_finished_status(report), finished_at=utcnow(), rows=report.rows,
        created=len(report.created), updated=len(report.updated),
        unchanged=len(report.unchanged), errors=len(report.errors), report=report.as_dict(),
        # A queued import's earlier attempt may have failed before this one ran through.
        failure=None))
    # With the write it was read for, so a worker started again never imports it twice.
    session.execute(delete(ImportUpload).where(col(ImportUpload.run_id) == run_id))


def _visible(actor: Actor) -> Any:
    """Return the condition for the imports an actor may read: staff all, a lead their own."""
    imports.require_importer(actor)
    if actor.role == Role.LEAD:
        return ImportRun.actor_id == actor.id
    return col(ImportRun.id).is_not(None)


COLUMNS = tuple(col(c) for c in (
    ImportRun.id, ImportRun.filename, ImportRun.source, ImportRun.dry_run, ImportRun.status,
    ImportRun.started_at, ImportRun.finished_at, ImportRun.rows, ImportRun.created,
    ImportRun.updated, ImportRun.unchanged, ImportRun.errors, User.email,
    ImportUpload.run_id))


def _history() -> Any:
    """Return the select of history entries, with who ran each and whether it waits."""
    return (select(*COLUMNS).outerjoin(User, col(User.id) == col(ImportRun.actor_id))
            .outerjoin(ImportUpload, col(ImportUpload.run_id) == col(ImportRun.id)))


def _summary(row: Any) -> dict[str, Any]:
    """Return one history entry as a page or the API shows it."""
    (run_id, filename, source, dry_run, status, started, finished, rows, created, updated,
     unchanged, errors, email, waiting) = row
    # A file still kept waits for a worker (or for its next attempt after a failed one).
    queued = waiting is not None
    return {"id": run_id, "filename": filename, "source": source, "dry_run": dry_run,
            "status": "queued" if queued else status,
            "status_words": QUEUED_WORDS if queued else STATUS_WORDS[status],
            "started_at": started, "finished_at": None if queued else finished, "rows": rows,
            "created": created, "updated": updated, "unchanged": unchanged, "errors": errors,
            "who": email or "the system (command line)"}


def list_imports(*, session: Session, actor: Actor,
                 limit: int = HISTORY_SHOWN) -> list[dict[str, Any]]:
    """List the imports an actor may see, newest first."""
    rows = session.execute(_history().where(_visible(actor))
                           .order_by(col(ImportRun.id).desc()).limit(limit)).all()
    return [_summary(row) for row in rows]


def get_import(*, session: Session, actor: Actor, run_id: int) -> dict[str, Any]:
    """Return one import with its report (the report object a page renders) and failure."""
    row = session.execute(_history().add_columns(col(ImportRun.report), col(ImportRun.failure))
                          .where(_visible(actor), col(ImportRun.id) == run_id)).first()
    if row is None:
        raise NotFound("import", run_id)
    found = _summary(row[:-2])
    queued = found["status"] == "queued"
    stored, failure = row[-2], row[-1]
    # A failed attempt that a worker will try again is not the import's outcome yet.
    found["failure"] = None if queued else failure
    found["report"] = report_from(stored) if stored and not queued else None
    return found


def import_record(*, session: Session, actor: Actor, run_id: int) -> dict[str, Any]:
    """Return one import as JSON-ready data: its history entry, failure and report."""
    found = get_import(session=session, actor=actor, run_id=run_id)
    report = found["report"]
    return found | {"report": report.as_dict() if report is not None else None}


def report_from(stored: dict[str, Any]) -> imports.ImportReport:
    """Rebuild a report from its stored form (unchanged projects are kept as a count)."""
    report = imports.ImportReport(filename=stored["file"], kind=stored["format"],
                                  rows=stored["rows"], dry_run=stored["dry_run"],
                                  created=list(stored["created"]),
                                  updated=list(stored["updated"]),
                                  # Only the count is kept: a page shows no more of them.
                                  unchanged=[""] * int(stored["unchanged"]),
                                  links_added=stored["links_added"],
                                  dependencies_added=stored["dependencies_added"])
    report.errors = [imports.RowError(e["row"], e["column"], e["reason"])
                     for e in stored["errors"]]
    return report
