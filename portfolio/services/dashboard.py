"""The portfolio at a glance: counts, value by theme, the impact-feasibility matrix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from portfolio.db import Database
from portfolio.models import Organisation, Project, RankingRow
from portfolio.services import prioritisation
from portfolio.services.ranking import api_row, backlog, ensure_ranking

# The matrix draws the best-ranked projects only: thousands of bubbles say nothing.
MATRIX_LIMIT = 300


def dashboard(db: Database, *, profile: str | None = None,
              seen: int | None = None) -> dict[str, Any]:
    """Return what the dashboard shows for a weight profile."""
    run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds, seen=seen)
    with db.read() as session:
        by_status = dict(session.execute(
            select(col(Project.status), func.count()).group_by(col(Project.status))).all())
        by_theme = dict(session.execute(
            select(col(Project.theme), func.count()).group_by(col(Project.theme))).all())
        by_organisation = session.execute(
            select(col(Organisation.code), col(Organisation.name), func.count(col(Project.id)))
            .join(Project, col(Project.owner_id) == col(Organisation.id))
            .group_by(Organisation.code, Organisation.name)
            .order_by(func.count(col(Project.id)).desc(), col(Organisation.name)).limit(12)).all()
        value_by_theme = session.execute(
            select(col(Project.theme), func.sum(col(RankingRow.composite)), func.count())
            .join(RankingRow, col(RankingRow.project_id) == col(Project.id))
            .where(col(RankingRow.run_id) == run.id)
            .group_by(Project.theme).order_by(func.sum(RankingRow.composite).desc())).all()
        matrix = session.execute(
            select(col(Project.slug), col(Project.title), col(RankingRow.impact),
                   col(RankingRow.feasibility),
                   Project.cost_gbp, RankingRow.readiness)
            .join(RankingRow, RankingRow.project_id == Project.id)
            .where(col(RankingRow.run_id) == run.id, col(RankingRow.impact).is_not(None),
                   col(RankingRow.feasibility).is_not(None))
            .order_by(RankingRow.position).limit(MATRIX_LIMIT)).all()
        top = [api_row(r) for r in backlog(session, run, view="candidates", limit=5)]
        total = sum(by_status.values())
    return {
        "profile": run.profile, "revision": run.revision, "behind": run.behind, "total": total,
        "by_status": by_status, "by_theme": by_theme,
        "by_organisation": [{"code": c, "name": n, "count": k} for c, n, k in by_organisation],
        "value_by_theme": [{"theme": t, "value": round(float(v or 0), 1), "count": k}
                           for t, v, k in value_by_theme],
        "matrix": [{"slug": s, "title": t, "impact": i, "feasibility": f, "cost_gbp": c,
                    "readiness": r} for s, t, i, f, c, r in matrix],
        "matrix_limited": len(matrix) == MATRIX_LIMIT,
        "top": top,
        "plumbing": prioritisation.plumbing(db, profile=run.profile, top=5, seen=seen),
    }
