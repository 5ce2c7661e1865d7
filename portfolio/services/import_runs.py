"""The import history: each import's who, when, counts and report, kept to be read later."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Invalid, NotFound
from portfolio.faults import classify
from portfolio.models import ImportRun, User, utcnow
from portfolio.services import imports

SOURCES = ("page", "api", "cli")
HISTORY_SHOWN = 200
# How each status reads on the history page.
STATUS_WORDS = {
    "running": "running, or stopped before it finished (then nothing was written)",
    "imported": "imported", "unchanged": "nothing to change", "checked": "checked (dry run)",
    "refused": "refused: problems in the file", "failed": "failed: nothing was written",
}


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
             f"the import failed and nothing was written ({type(exc).__name__})")
        raise
    if not report.written and run_id is not None:
        _best_effort(db, lambda session: _finish(session, run_id, report))
    return report, run_id


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


def _finish(session: Session, run_id: int, report: imports.ImportReport) -> None:
    """Record an import's outcome and its report."""
    if not report.ok:
        status = "refused"
    elif report.dry_run:
        status = "checked"
    else:
        status = "imported" if report.written else "unchanged"
    session.execute(update(ImportRun).where(col(ImportRun.id) == run_id).values(
        status=status, finished_at=utcnow(), rows=report.rows, created=len(report.created),
        updated=len(report.updated), unchanged=len(report.unchanged),
        errors=len(report.errors), report=report.as_dict()))


def _visible(actor: Actor) -> Any:
    """Return the condition for the imports an actor may read: staff all, a lead their own."""
    imports.require_importer(actor)
    if actor.role == Role.LEAD:
        return ImportRun.actor_id == actor.id
    return col(ImportRun.id).is_not(None)


COLUMNS = tuple(col(c) for c in (
    ImportRun.id, ImportRun.filename, ImportRun.source, ImportRun.dry_run, ImportRun.status,
    ImportRun.started_at, ImportRun.finished_at, ImportRun.rows, ImportRun.created,
    ImportRun.updated, ImportRun.unchanged, ImportRun.errors, User.email))


def _summary(row: Any) -> dict[str, Any]:
    """Return one history entry as a page or the API shows it."""
    (run_id, filename, source, dry_run, status, started, finished, rows, created, updated,
     unchanged, errors, email) = row
    return {"id": run_id, "filename": filename, "source": source, "dry_run": dry_run,
            "status": status, "status_words": STATUS_WORDS[status], "started_at": started,
            "finished_at": finished, "rows": rows, "created": created, "updated": updated,
            "unchanged": unchanged, "errors": errors,
            "who": email or "the system (command line)"}


def list_imports(*, session: Session, actor: Actor,
                 limit: int = HISTORY_SHOWN) -> list[dict[str, Any]]:
    """List the imports an actor may see, newest first."""
    rows = session.execute(select(*COLUMNS).outerjoin(User, col(User.id) == col(ImportRun.actor_id))
                           .where(_visible(actor)).order_by(col(ImportRun.id).desc())
                           .limit(limit)).all()
    return [_summary(row) for row in rows]


def get_import(*, session: Session, actor: Actor, run_id: int) -> dict[str, Any]:
    """Return one import with its report (the report object a page renders) and failure."""
    row = session.execute(select(*COLUMNS, col(ImportRun.report), col(ImportRun.failure))
                          .outerjoin(User, col(User.id) == col(ImportRun.actor_id))
                          .where(_visible(actor), col(ImportRun.id) == run_id)).first()
    if row is None:
        raise NotFound("import", run_id)
    found = _summary(row[:-2])
    stored, failure = row[-2], row[-1]
    found["failure"] = failure
    found["report"] = report_from(stored) if stored else None
    return found


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
