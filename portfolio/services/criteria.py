"""Criteria with their rubrics, and what the project editor reads."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import CriterionSource
from portfolio.models import Criterion, CriterionLevel
from portfolio.services.common import project_by_slug
from portfolio.services.organisations import list_organisations, organisations_for
from portfolio.services.projects import current_assessments, get_project, with_partners


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


def project_editor(*, session: Session, slug: str, actor: Actor | None = None) -> dict[str, Any]:
    """Return what the project editor shows: the project, its links, organisations and rubrics.

    Given an actor, refuse one who may not edit the project (the page is not offered at all)
    and list only the organisations they may move it to.
    """
    # The owner's id lets the page ask `can(...)` about this project.
    project = get_project(session=session, slug=slug) | {
        "owner_id": project_by_slug(session, slug).owner_id}
    if actor is not None:
        require(actor, Capability.EDIT_PROJECT, project)
    return {
        "project": project,
        "organisations": (organisations_for(session=session, actor=actor,
                                            capability=Capability.EDIT_PROJECT)
                          if actor is not None else list_organisations(session=session)),
        "criteria": assessed_criteria(session=session, slug=slug),
    }


def assessor_page(*, session: Session, slug: str, actor: Actor) -> dict[str, Any]:
    """Return what the assess page shows to one who may assess (a partner's lead included)."""
    found = project_by_slug(session, slug)
    require(actor, Capability.ASSESS_PROJECT, with_partners(session, found))
    return {"project": get_project(session=session, slug=slug),
            "criteria": assessed_criteria(session=session, slug=slug)}
