"""The portfolio at a glance: counts, value by theme, the impact-feasibility matrix."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from portfolio.db import Database
from portfolio.models import Dataset, Organisation, Project, RankingRow
from portfolio.services import planning
from portfolio.services.common import at_ranked_revision, at_revision
from portfolio.services.ranking import RunInfo, api_row, backlog, ensure_ranking

# The matrix draws the best-ranked projects only: thousands of bubbles say nothing.
MATRIX_LIMIT = 300
ORGANISATIONS_SHOWN = 12


def dashboard(db: Database, *, profile: str | None = None,
              seen: int | None = None) -> dict[str, Any]:
    """Return what the dashboard shows for a weight profile."""
    run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds, seen=seen)
    # Its counts over every project took 0.4 s a view at 100,000 projects (measured). They
    # read no field an edit can change without moving the ranked revision; the projects
    # shown carry titles, so are kept per revision.
    counts = at_ranked_revision(db, f"dashboard counts of rows {run.rows_id}",
                                lambda session: _counts(session, run))
    shown = at_revision(db, f"dashboard projects of run {run.id}",
                        lambda session: _projects_shown(session, run))
    fixes = planning.plumbing(db, profile=run.profile, top=5, seen=seen)
    with db.read() as session:
        plumbing = name_plumbing(session, fixes)
    return {"profile": run.profile, "revision": run.revision, "behind": run.behind,
            **counts, **shown, "plumbing": plumbing}


def _counts(session: Session, run: RunInfo) -> dict[str, Any]:
    """Return the dashboard's counts of projects and the value by theme in a stored run."""
    # Archived projects have left the lists; the dashboard counts the rest.
    current = col(Project.archived_at).is_(None)
    by_status: dict[str, int] = dict(session.execute(
        select(col(Project.status), func.count()).where(current)
        .group_by(col(Project.status))).all())
    by_theme: dict[str, int] = dict(session.execute(
        select(col(Project.theme), func.count()).where(current)
        .group_by(col(Project.theme))).all())
    by_organisation = session.execute(
        select(col(Organisation.code), col(Organisation.name), func.count(col(Project.id)))
        .join(Project, col(Project.owner_id) == col(Organisation.id)).where(current)
        .group_by(col(Organisation.code), col(Organisation.name))
        .order_by(func.count(col(Project.id)).desc(), col(Organisation.name))
        .limit(ORGANISATIONS_SHOWN)).all()
    organisation_count: int = session.execute(
        select(func.count(func.distinct(col(Project.owner_id)))).where(current)).scalar_one()
    value_by_theme = session.execute(
        select(col(Project.theme), func.sum(col(RankingRow.composite)), func.count())
        .join(RankingRow, col(RankingRow.project_id) == col(Project.id))
        .where(col(RankingRow.run_id) == run.rows_id)
        .group_by(col(Project.theme))
        .order_by(func.sum(col(RankingRow.composite)).desc())).all()
    return {
        "total": sum(by_status.values()),
        "by_status": by_status, "by_theme": by_theme,
        "by_organisation": [{"code": c, "name": n, "count": k} for c, n, k in by_organisation],
        "organisations_left_out": max(organisation_count - len(by_organisation), 0),
        "value_by_theme": [{"theme": t, "value": round(float(cast(float, v) or 0), 1), "count": k}
                           for t, v, k in value_by_theme],
    }


def _projects_shown(session: Session, run: RunInfo) -> dict[str, Any]:
    """Return the impact-feasibility matrix's projects and the top five candidates."""
    matrix = session.execute(
        select(col(Project.slug), col(Project.title), col(RankingRow.impact),
               col(RankingRow.feasibility),
               col(Project.cost_gbp), col(RankingRow.readiness))
        .join(RankingRow, col(RankingRow.project_id) == col(Project.id))
        .where(col(RankingRow.run_id) == run.rows_id, col(RankingRow.impact).is_not(None),
               col(RankingRow.feasibility).is_not(None))
        .order_by(col(RankingRow.position)).limit(MATRIX_LIMIT)).all()
    # Ranked active projects with no impact or no feasibility score have no place to be drawn.
    unplaced: int = session.execute(
        select(func.count()).select_from(RankingRow)
        .where(col(RankingRow.run_id) == run.rows_id,
               or_(col(RankingRow.impact).is_(None), col(RankingRow.feasibility).is_(None)))
    ).scalar_one()
    return {
        "matrix": [{"slug": s, "title": t, "impact": i, "feasibility": f, "cost_gbp": c,
                    "readiness": r} for s, t, i, f, c, r in matrix],
        "matrix_limited": len(matrix) == MATRIX_LIMIT,
        "matrix_unplaced": int(unplaced),
        "top": [api_row(r) for r in backlog(session, run, view="candidates", limit=5)],
    }


def name_plumbing(session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the titles of the datasets and projects a fix-the-plumbing item names."""
    codes = {i["dataset"] for i in items if i.get("dataset")}
    slugs = {i["project"] for i in items if i.get("project")}
    datasets: dict[Any, str] = dict(session.execute(
        select(col(Dataset.code), col(Dataset.title))
        .where(col(Dataset.code).in_(codes))).all()) if codes else {}
    projects: dict[Any, str] = dict(session.execute(
        select(col(Project.slug), col(Project.title))
        .where(col(Project.slug).in_(slugs))).all()) if slugs else {}
    return [{**i, "dataset_title": datasets.get(i.get("dataset"), i.get("dataset")),
             "project_title": projects.get(i.get("project"), i.get("project"))} for i in items]
