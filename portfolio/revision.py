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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Update, event, update
from sqlmodel import Session, col

from portfolio.models import PortfolioRevision

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
    write the ranking reads."""
    # Named as SQLAlchemy names the event's arguments (it tells signatures apart by name).
    connection, statement = conn, clauseelement
    if not getattr(statement, "is_dml", False) or _RANKED in connection.info:
        return
    if connection.get_execution_options().get("portfolio_revision_unwatched"):
        return
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) in NOT_PORTFOLIO_TABLES or table is None:
        return
    if _MADE not in connection.info:
        connection.info[_MADE] = None  # the move below is a write too: it must not recurse
        connection.info[_MADE] = connection.execute(_MOVE).scalar()
    if not unranked(statement, multiparams, params):
        connection.info[_RANKED] = True
        connection.execute(_MOVE_RANKED)


def unranked(statement: Any, multiparams: Any = (), params: Any = None) -> bool:
    """Tell whether a write changes only project fields the ranking never reads."""
    if not isinstance(statement, Update) or getattr(statement.table, "name", None) != "project":
        return False
    if getattr(statement, "_ordered_values", None) or getattr(statement, "_multi_values", None):
        return False
    names = {str(getattr(key, "key", key)) for key in (statement._values or {})}
    # The ORM's flush (and an executemany) sends the new values as parameters: SQLAlchemy
    # sets the column a parameter is named after.
    given = [params] if isinstance(params, Mapping) else []
    given += [p for p in (multiparams or ()) if isinstance(p, Mapping)]
    given += [p for batch in (multiparams or ()) if isinstance(batch, (list, tuple))
              for p in batch if isinstance(p, Mapping)]
    columns = set(statement.table.columns.keys())
    names |= {name for parameters in given for name in parameters if name in columns}
    return bool(names) and names <= UNRANKED_PROJECT_FIELDS


def _forget(connection: Connection) -> None:
    """Forget the revisions made by a transaction that has ended (connections are pooled)."""
    for key in (_MADE, _RANKED, _SAVEPOINTS):
        connection.info.pop(key, None)


def _mark(conn: Connection, name: str | None) -> None:
    """Remember which moves were made before a savepoint, should it be rolled back."""
    # A stack, not a dict by name: the event may come before the savepoint has its name.
    kept = {key: conn.info[key] for key in (_MADE, _RANKED) if key in conn.info}
    conn.info.setdefault(_SAVEPOINTS, []).append(kept)


def _undo(conn: Connection, name: str | None, context: Any) -> None:
    """Forget the moves a rolled-back savepoint made: they were rolled back with it."""
    if not conn.info.get(_SAVEPOINTS):
        return
    kept = conn.info[_SAVEPOINTS].pop()
    for key in (_MADE, _RANKED):
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
