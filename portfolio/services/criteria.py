"""Criteria with their rubrics and a project's current levels."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from portfolio.enums import CriterionSource
from portfolio.models import Criterion, CriterionLevel
from portfolio.services.common import project_by_slug
from portfolio.services.projects import current_assessments


def assessed_criteria(*, session: Session, slug: str | None = None) -> list[dict[str, Any]]:
    """Return the assessed criteria with their rubric levels and a project's current levels."""
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
    if slug is not None:
        project = project_by_slug(session, slug)
        assert project.id is not None
        current = {
            a["criterion"]: a for a in current_assessments(session=session, project_id=project.id)
        }
    return [
        {
            "key": c.key,
            "name": c.name,
            "description": c.description,
            "dimension": c.dimension,
            "min_level": c.min_level,
            "max_level": c.max_level,
            "levels": levels.get(c.id or 0, []),
            # The form starts from the newest assessment (the level that scores may be a median).
            "level": current.get(c.key, {}).get("latest_level"),
            "rationale": current.get(c.key, {}).get("rationale", ""),
            "assessed_at": current.get(c.key, {}).get("assessed_at"),
            "scoring_level": current.get(c.key, {}).get("level"),
            "assessors": len(current.get(c.key, {}).get("assessors", [])),
            "low": current.get(c.key, {}).get("low"),
            "high": current.get(c.key, {}).get("high"),
        }
        for c in criteria
    ]
