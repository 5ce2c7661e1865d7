"""Lookups and the audit trail shared by the services."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from portfolio.actors import Actor
from portfolio.errors import Invalid, NotFound
from portfolio.models import AuditEvent, Dataset, Organisation, PortfolioRevision, Project

if TYPE_CHECKING:
    from portfolio.db import Database

# Keep IN lists well inside SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 500


def record(
    session: Session,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    project_id: int | None = None,
) -> None:
    """Write an audit event in the caller's transaction (the write itself moves the revision)."""
    if before is not None and after is not None:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        changed |= IDENTIFYING & set(after)  # which link an update was to, changed or not
        before = {k: before.get(k) for k in sorted(changed)}
        after = {k: after.get(k) for k in sorted(changed)}
    session.add(
        AuditEvent(
            actor_id=actor.id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            project_id=project_id if project_id is not None
            else entity_id if entity == "project" else None,
        )
    )


# Fields that say which link an event is about; kept in an update's record though unchanged.
IDENTIFYING = frozenset({"dataset_id", "organisation_id", "relation"})


def current_revision(session: Session) -> int:
    """Return the portfolio revision (how many writes it has seen)."""
    # Read on every page view: Core on the session's connection skips the ORM's result work.
    value = session.connection().execute(REVISION).scalar()
    return int(value or 0)


REVISION = select(PortfolioRevision.revision).where(PortfolioRevision.id == 1)
RANKED_REVISION = select(PortfolioRevision.ranked_revision).where(PortfolioRevision.id == 1)


def ranked_revision(session: Session) -> int:
    """Return the revision of the last write the ranking reads (portfolio/revision.py)."""
    return int(session.connection().execute(RANKED_REVISION).scalar() or 0)


def consistent_read(session: Session) -> None:
    """Read every table from one snapshot of the database (PostgreSQL reads commit by commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def portfolio_revision(db: Database) -> int:
    """Return the portfolio revision, for a page that reads several values kept per revision."""
    with db.connect() as connection:
        return int(connection.execute(REVISION).scalar() or 0)


def at_revision(db: Database, name: str, read: Callable[[Session], Any], *,
                revision: int | None = None) -> Any:
    """Return what read(session) gives, read once per portfolio revision by this process.

    Every portfolio write moves the revision on (record() does), so a value kept under the
    current revision is current: one small query stands in for the reads. A caller that has
    just read the revision passes it, and a kept value then costs no query at all.
    """
    if revision is not None:
        kept = db.memo.get((name, revision))
        if kept is not None:
            return kept
    return kept_under(db, name, read, current_revision)


def at_ranked_revision(db: Database, name: str, read: Callable[[Session], Any]) -> Any:
    """Return what read(session) gives, read once per ranked revision by this process.

    For values that read no project field the ranking leaves aside (a title, a description,
    dates, justifications): an edit to those alone leaves the ranked revision where it was.
    """
    return kept_under(db, name, read, ranked_revision)


def kept_under(db: Database, name: str, read: Callable[[Session], Any],
               version_of: Callable[[Session], Hashable]) -> Any:
    """Return read(session), kept under a name and what version_of reads in the same snapshot."""
    with db.read() as session:
        consistent_read(session)
        key = (name, version_of(session))
        found = db.memo.get(key)
        if found is None:
            found = db.memo.put(key, read(session))
    return found


def add_new(session: Session, row: SQLModel, *, taken: Mapping[str, str]) -> None:
    """Add a row whose name must be new; one added meanwhile is refused as `taken` says.

    The look-up before an add cannot see a row another transaction has not committed yet; the
    unique constraint refuses it then (in a savepoint, so the session lives on), and the user
    is told the name is taken as the look-up would have told them, not shown a server error.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Invalid(taken) from None


def save_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]], *,
              key: tuple[str, ...]) -> None:
    """Insert rows, each updating instead the row that has its key (one added meanwhile too).

    For a person's own settings (a watch, a notification channel): a look-up before an insert
    cannot see the row another tab's save has not committed yet, and the key refused the second
    insert. ON CONFLICT waits for that save and writes over it, so the save made last is kept.
    """
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # In key order: two saves of several rows then never each wait for a row the other holds.
    statement = insert(model).values(sorted(rows, key=lambda row: [row[k] for k in key]))
    session.execute(statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in rows[0] if name not in key}))


def one_at_a_time(session: Session, kind: str) -> None:
    """Make this transaction's writes of a kind wait for another's to commit first.

    For a rule that reads rows no lock covers (a cycle through any project's dependencies):
    PostgreSQL takes a transaction-level advisory lock named by the kind; SQLite's one writer
    already writes one transaction at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:kind))"), {"kind": kind})


def is_unique_violation(error: IntegrityError) -> bool:
    """Tell whether an insert or update was refused by a unique constraint or key."""
    cause = error.orig
    # PostgreSQL's SQLSTATE unique_violation; SQLite says so in words.
    return getattr(cause, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(cause)


def as_record(row: SQLModel, *, exclude: Iterable[str] = ("created_at", "updated_at")) -> dict:
    """Return a row's fields as JSON-ready values for the audit trail."""
    return row.model_dump(mode="json", exclude=set(exclude))


def organisation_by_code(
    session: Session, code: str, *, field: str = "organisation"
) -> Organisation:
    """Return the organisation with a code, or raise Invalid naming the field."""
    found = session.exec(select(Organisation).where(Organisation.code == code)).first()
    if found is None:
        raise Invalid({field: f"unknown organisation code {code!r}"})
    return found


def project_by_slug(session: Session, slug: str, *, for_update: bool = False) -> Project:
    """Return the project with a slug, or raise NotFound; locked until commit `for_update`."""
    query = select(Project).where(Project.slug == slug)
    if for_update:
        # FOR NO KEY UPDATE: rows that refer to the project can still be added meanwhile.
        query = query.with_for_update(key_share=True)
    found = session.exec(query).first()
    if found is None:
        raise NotFound("project", slug)
    return found


def dataset_by_code(session: Session, code: str, *, field: str | None = None) -> Dataset:
    """Return the dataset with a code; raise Invalid on a field, or NotFound."""
    found = session.exec(select(Dataset).where(Dataset.code == code)).first()
    if found is None:
        if field:
            raise Invalid({field: f"unknown dataset code {code!r}"})
        raise NotFound("dataset", code)
    return found


# The escape character of every LIKE pattern made by `escape_like`.
LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """Return text for a LIKE pattern that matches its % and _ as typed, not as wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def containing(column: Any, text: str) -> Any:
    """Return the condition that a text column holds the text as typed, in any case."""
    return column.ilike(f"%{escape_like(text)}%", escape=LIKE_ESCAPE)


def chunks(values: list, size: int = IN_CHUNK) -> Iterable[list]:
    """Yield slices of a list small enough for an IN clause."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_changed(result: Any) -> int:
    """Return how many rows an UPDATE or DELETE changed (the check of a versioned write)."""
    return int(result.rowcount)
