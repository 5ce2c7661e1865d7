"""Criteria with their rubrics and a project's current levels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from portfolio.enums import CriterionSource
from portfolio.models import Assessment, Criterion, CriterionLevel
from portfolio.services.common import project_by_slug
from portfolio.services.projects import current_assessments


def assessed_criteria(*, session: Session, slug: str | None = None,
                      assessor_id: int | None = None) -> list[dict[str, Any]]:
    """Return the assessed criteria with their rubric levels and a project's current levels.

    Each criterion's form starts from `assessor_id`'s own newest level and rationale (none if
    they have not assessed it): another assessor's, saved as it stands, would be recorded as
    theirs. The newest level by anyone is given beside it (`latest_level`).
    """
    criteria = session.exec(
        select(Criterion)
        .where(Criterion.source == CriterionSource.ASSESSED.value)
        .order_by(col(Criterion.position), col(Criterion.key))
    ).all()
    levels: dict[int, list[dict[str, Any]]] = {}
    for criterion_id, level, descriptor in session.exec(
        select(CriterionLevel.criterion_id, CriterionLevel.level, CriterionLevel.descriptor)
        .join(Criterion, col(Criterion.id) == col(CriterionLevel.criterion_id))
        .where(Criterion.source == CriterionSource.ASSESSED.value)
        .order_by(col(CriterionLevel.criterion_id), col(CriterionLevel.level))
    ).all():
        levels.setdefault(criterion_id, []).append({"level": level, "descriptor": descriptor})
    current: dict[str, dict[str, Any]] = {}
    own: dict[int, tuple[int, str]] = {}
    if slug is not None:
        project = project_by_slug(session, slug)
        assert project.id is not None
        current = {
            a["criterion"]: a for a in current_assessments(session=session, project_id=project.id)
        }
        if assessor_id is not None:
            own = _own_newest(session, project.id, assessor_id)
    return [
        {
            "key": c.key,
            "name": c.name,
            "description": c.description,
            "dimension": c.dimension,
            "min_level": c.min_level,
            "max_level": c.max_level,
            "levels": levels.get(c.id or 0, []),
            "level": own.get(c.id or 0, (None, ""))[0],
            "rationale": own.get(c.id or 0, (None, ""))[1],
            "latest_level": current.get(c.key, {}).get("latest_level"),
            "assessed_at": current.get(c.key, {}).get("assessed_at"),
            "scoring_level": current.get(c.key, {}).get("level"),
            "assessors": len(current.get(c.key, {}).get("assessors", [])),
            "low": current.get(c.key, {}).get("low"),
            "high": current.get(c.key, {}).get("high"),
        }
        for c in criteria
    ]


def _own_newest(session: Session, project_id: int, assessor_id: int) -> dict[int, tuple[int, str]]:
    """Return one assessor's newest level and rationale on a project, by criterion id."""
    newest = (select(func.max(Assessment.id))
              .where(Assessment.project_id == project_id, Assessment.assessor_id == assessor_id)
              .group_by(col(Assessment.criterion_id)))
    rows = session.exec(select(Assessment.criterion_id, Assessment.level, Assessment.rationale)
                        .where(col(Assessment.id).in_(newest))).all()
    return {criterion: (level, rationale) for criterion, level, rationale in rows}
