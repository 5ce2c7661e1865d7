"""The portfolio revision: any write to a portfolio table moves it on, by itself.

Pages and caches keep what they derived from the portfolio under its revision, so a write that
did not move it would leave them serving stale data. Rather than trust every write to remember,
the engine watches every INSERT, UPDATE and DELETE statement and moves the revision once per
transaction, in that transaction, on the first one that touches a portfolio table.

Beside it, the ranked revision names the last transaction whose writes the ranking reads: one
that changed only project fields the ranking never reads (UNRANKED_PROJECT_FIELDS) leaves it,
so the stored ranking is carried forward to the new revision instead of computed again. Only a
plain UPDATE of the project table setting those fields alone is such a write; any other write
to a portfolio table moves the ranked revision too.

Each revision also leaves a row in the change log (`portfolio_change`): the projects the
transaction changed when all it did to the portfolio was UPDATE named projects' own fields
(never a slug) or add assessments of named projects, else none (NULL). A process that kept
the portfolio's frames from an earlier revision patches those projects' rows and assessments
in them rather than read 100,000 projects again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    BooleanClauseList,
    Connection,
    Engine,
    Insert,
    Update,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.sql import operators
from sqlmodel import Session, col

from portfolio.models import PortfolioChange, PortfolioRevision

# Every table is one or the other (a test checks): the portfolio the engine ranks and pages show,
PORTFOLIO_TABLES = frozenset({
    "organisation", "project", "dataset", "project_dataset", "project_dependency",
    "project_partner", "criterion", "criterion_level", "assessment", "weight_profile",
    "profile_weight", "profile_revision", "review_decision", "organisation_capacity",
    # Agreements set links' readiness; IG stages gate the workflow; readiness history is shown.
    "sharing_agreement", "agreement_party", "agreement_dataset", "project_ig_stage",
    "dataset_readiness_assessment",
})
# or not: who may act, what was recorded about it, and what the engine stored from it. A write
# to a table in neither set moves the revision too: a forgotten table costs a re-ranking, never
# a stale page.
NOT_PORTFOLIO_TABLES = frozenset({
    "user_account", "api_token", "login_attempt", "audit_event", "portfolio_revision",
    "portfolio_change",
    "ranking_run", "ranking_row", "snapshot", "import_run", "user_session",
    "scenario", "dismissed_suggestion", "benefit_realisation",
    "snapshot_body", "snapshot_export", "attachment",
    "external_identity", "group_mapping", "job_outcome",
    # Work handed to the job queue: an upload waiting to be imported, a scenario's solution.
    "import_upload", "scenario_solution",
    # Working together (owner, progress, discussion, notifications): read fresh by the pages
    # that show them, never ranked.
    "project_stewardship", "progress_update", "project_comment", "project_watch",
    "notification_event", "notification", "notification_preference", "email_outbox",
    # Asking to partner grants and ranks nothing; the partner link an acceptance makes does.
    "partner_request",
    # Who signed for each party: the agreement's own status, which the last signature sets,
    # is what the ranking reads.
    "agreement_signature",
})

# Project fields the ranking never reads (`frames.load_projects` and the engine; a test changes
# them all and ranks again): what pages and exports show, never what orders the backlog.
UNRANKED_PROJECT_FIELDS = frozenset({
    "title", "description", "start_date", "end_date", "mandatory_justification",
    "override_justification", "version", "updated_at",
})

# Schema migrations run before the revision's table exists, and restart every process anyway.
UNWATCHED = {"portfolio_revision_unwatched": True}

# The revision a transaction made, for the page that wants to see its own write.
WROTE_REVISION = "wrote_revision"
_MADE = "portfolio_revision_made"
_RANKED = "portfolio_revision_ranked"
# The projects the transaction's portfolio writes changed so far (None: it cannot tell).
_CHANGED = "portfolio_revision_changed"
_KEPT = (_MADE, _RANKED, _CHANGED)
# A transaction naming more projects than this is logged as naming none: each project it adds
# rewrites its row of the log, and a bulk write is rare enough to read the portfolio again after.
MOST_PROJECTS_LOGGED = 50
# Projects patched into kept frames at most: beyond, the whole portfolio is read again.
MOST_PROJECTS_PATCHED = 1000
# Change-log rows kept: a process whose frames are older reads the portfolio again.
CHANGES_KEPT = 1000
# What had been moved when each open savepoint began, innermost last.
_SAVEPOINTS = "portfolio_revision_savepoints"

_MOVE = (update(PortfolioRevision).where(col(PortfolioRevision.id) == 1)
         .values(revision=PortfolioRevision.revision + 1)
         .returning(col(PortfolioRevision.revision)))
# Run after _MOVE in the same transaction: the ranked revision becomes this transaction's.
_MOVE_RANKED = (update(PortfolioRevision).where(col(PortfolioRevision.id) == 1)
                .values(ranked_revision=PortfolioRevision.revision))


def watch(engine: Engine) -> None:
    """Move the revision on portfolio writes made through this engine."""
    event.listen(engine, "before_execute", _before_execute)
    for ending in ("begin", "commit", "rollback"):
        event.listen(engine, ending, _forget)
    event.listen(engine, "savepoint", _mark)
    event.listen(engine, "rollback_savepoint", _undo)
    event.listen(engine, "release_savepoint", _keep)


def _before_execute(conn: Connection, clauseelement: Any, multiparams: Any, params: Any,
                    execution_options: Any) -> None:
    """Move the revision on a transaction's first portfolio write, the ranked one on its first
    write the ranking reads, and log which projects its writes change."""
    # Named as SQLAlchemy names the event's arguments (it tells signatures apart by name).
    connection, statement = conn, clauseelement
    if not getattr(statement, "is_dml", False) or _settled(connection):
        return
    if connection.get_execution_options().get("portfolio_revision_unwatched"):
        return
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) in NOT_PORTFOLIO_TABLES or table is None:
        return
    changed = _capped(changed_projects(statement, multiparams, params))
    if _MADE not in connection.info:
        connection.info[_MADE] = None  # the move below is a write too: it must not recurse
        made = connection.info[_MADE] = connection.execute(_MOVE).scalar()
        connection.info[_CHANGED] = changed
        if made is not None:
            _log_first(connection, int(made), changed)
    else:
        _log_more(connection, changed)
    if _RANKED not in connection.info and not unranked(statement, multiparams, params):
        connection.info[_RANKED] = True
        connection.execute(_MOVE_RANKED)


def _log_first(connection: Connection, made: int, changed: frozenset[int] | None) -> None:
    """Add the transaction's row to the change log, forgetting rows long past now and then."""
    connection.execute(insert(PortfolioChange).values(revision=made, projects=_logged(changed)))
    if made % CHANGES_KEPT == 0:
        connection.execute(delete(PortfolioChange).where(
            col(PortfolioChange.revision) <= made - CHANGES_KEPT))


def _settled(connection: Connection) -> bool:
    """Tell whether no later write can change what this transaction has moved and logged."""
    info = connection.info
    return _RANKED in info and _CHANGED in info and info[_CHANGED] is None


def _log_more(connection: Connection, changed: frozenset[int] | None) -> None:
    """Add a later statement's projects to the transaction's row of the change log."""
    logged = connection.info.get(_CHANGED)
    if logged is None:
        return  # it already names none
    merged = None if changed is None else _capped(logged | changed)
    if merged == logged:
        return
    connection.info[_CHANGED] = merged
    if connection.info.get(_MADE) is None:
        return
    connection.execute(update(PortfolioChange)
                       .where(col(PortfolioChange.revision) == connection.info[_MADE])
                       .values(projects=_logged(merged)))


def _capped(changed: frozenset[int] | None) -> frozenset[int] | None:
    """Return the projects as logged: None (any) beyond MOST_PROJECTS_LOGGED."""
    return None if changed is None or len(changed) > MOST_PROJECTS_LOGGED else changed


def _logged(changed: frozenset[int] | None) -> str | None:
    """Return a change-log row's projects as stored: a JSON list, or NULL for any."""
    return None if changed is None else orjson.dumps(sorted(changed)).decode()


def changed_projects(statement: Any, multiparams: Any = (),
                     params: Any = None) -> frozenset[int] | None:
    """Return the projects a write changes, when it changes only their own rows; None otherwise.

    Only `UPDATE project SET ... WHERE project.id = <id> [AND ...]` (the service's
    compare-and-set and the ORM's flush both write so) and an INSERT of assessments with their
    project ids as parameters (the ORM's) name their projects; a slug changed, or any other
    portfolio write, may change what other tables' rows are read as.
    """
    if isinstance(statement, Insert) and getattr(statement.table, "name", None) == "assessment":
        return _assessed_projects(statement, multiparams, params)
    if not isinstance(statement, Update) or getattr(statement.table, "name", None) != "project":
        return None
    names = _set_columns(statement, multiparams, params)
    if not names or names & {"id", "slug"}:
        return None
    key = _id_condition(statement.whereclause)
    if key is None:
        return None
    given = _given(multiparams, params)
    # Parameters sent with the statement win over the values bound in it: any that is neither
    # a column set nor the id's own may be another bound value's (the id's, say), so: any.
    columns = set(statement.table.columns.keys())
    if any(name not in columns and name != key.key for p in given for name in p):
        return None
    if any(key.key in p for p in given):
        if not all(key.key in p for p in given):
            return None
        ids = {p[key.key] for p in given}
    elif key.value is not None and not key.callable:
        ids = {key.value}
    else:
        return None
    return _project_ids(ids)


def _project_ids(values: set[Any]) -> frozenset[int] | None:
    """Return the values as project ids; None (any) when there are none or one is not an id."""
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return frozenset(values)


def _assessed_projects(statement: Insert, multiparams: Any,
                       params: Any) -> frozenset[int] | None:
    """Return the projects an INSERT of assessment rows assesses, from its parameters."""
    if statement._values or getattr(statement, "select", None) is not None:
        return None  # values written into the statement, or rows from a query: any
    return _project_ids({p.get("project_id") for p in _given(multiparams, params)})


def _id_condition(where: Any) -> BindParameter[Any] | None:
    """Return the parameter of a `project.id = :x` that the whole condition requires, if any."""
    if isinstance(where, BooleanClauseList) and where.operator is operators.and_:
        found = (_id_condition(clause) for clause in where.clauses)
        return next((key for key in found if key is not None), None)
    # The ORM's statements compare annotated copies of the column: told apart by name.
    column = getattr(where, "left", None)
    if (getattr(where, "operator", None) is operators.eq
            and getattr(column, "key", None) == "id"
            and getattr(getattr(column, "table", None), "name", None) == "project"
            and isinstance(getattr(where, "right", None), BindParameter)):
        return where.right
    return None


def unranked(statement: Any, multiparams: Any = (), params: Any = None) -> bool:
    """Tell whether a write changes only project fields the ranking never reads."""
    if not isinstance(statement, Update) or getattr(statement.table, "name", None) != "project":
        return False
    names = _set_columns(statement, multiparams, params)
    return bool(names) and names <= UNRANKED_PROJECT_FIELDS


def _set_columns(statement: Update, multiparams: Any, params: Any) -> set[str]:
    """Return the columns an UPDATE sets (empty when it cannot tell)."""
    if getattr(statement, "_ordered_values", None) or getattr(statement, "_multi_values", None):
        return set()
    names = {str(getattr(key, "key", key)) for key in (statement._values or {})}
    # The ORM's flush (and an executemany) sends the new values as parameters: SQLAlchemy
    # sets the column a parameter is named after.
    columns = set(statement.table.columns.keys())
    return names | {name for parameters in _given(multiparams, params) for name in parameters
                    if name in columns}


def _given(multiparams: Any, params: Any) -> list[Mapping[str, Any]]:
    """Return each set of parameters a statement is executed with."""
    given = [params] if isinstance(params, Mapping) else []
    given += [p for p in (multiparams or ()) if isinstance(p, Mapping)]
    given += [p for batch in (multiparams or ()) if isinstance(batch, (list, tuple))
              for p in batch if isinstance(p, Mapping)]
    return [p for p in given if p]  # an executemany comes with an empty mapping beside


def _forget(connection: Connection) -> None:
    """Forget the revisions made by a transaction that has ended (connections are pooled)."""
    for key in (*_KEPT, _SAVEPOINTS):
        connection.info.pop(key, None)


def _mark(conn: Connection, name: str | None) -> None:
    """Remember which moves were made before a savepoint, should it be rolled back."""
    # A stack, not a dict by name: the event may come before the savepoint has its name.
    kept = {key: conn.info[key] for key in _KEPT if key in conn.info}
    conn.info.setdefault(_SAVEPOINTS, []).append(kept)


def _undo(conn: Connection, name: str | None, context: Any) -> None:
    """Forget the moves a rolled-back savepoint made: they were rolled back with it."""
    if not conn.info.get(_SAVEPOINTS):
        return
    kept = conn.info[_SAVEPOINTS].pop()
    for key in _KEPT:
        if key in kept:
            conn.info[key] = kept[key]
        else:
            conn.info.pop(key, None)


def _keep(conn: Connection, name: str | None, context: Any) -> None:
    """Let a released savepoint's moves stand for the rest of the transaction."""
    if conn.info.get(_SAVEPOINTS):
        conn.info[_SAVEPOINTS].pop()


def made_by(session: Session) -> int | None:
    """Return the revision the session's open transaction made, if it wrote the portfolio."""
    if not session.in_transaction():
        return None
    return session.connection().info.get(_MADE)


def changed_since(session: Session, after: int, revision: int) -> frozenset[int] | None:
    """Return the projects the writes after revision `after` up to `revision` changed.

    None when any of them changed more than named projects, the log lacks one of them (it has
    a row for every revision since it began, and keeps the last CHANGES_KEPT), or together they
    name more than MOST_PROJECTS_PATCHED: reading the whole portfolio again costs less then.
    """
    rows: list[str | None] = list(session.execute(select(col(PortfolioChange.projects)).where(
        col(PortfolioChange.revision) > after, col(PortfolioChange.revision) <= revision)
    ).scalars().all())
    named = [row for row in rows if row is not None]
    if len(rows) != revision - after or len(named) != len(rows):
        return None
    changed = frozenset(int(i) for row in named for i in orjson.loads(row))
    return None if len(changed) > MOST_PROJECTS_PATCHED else changed
