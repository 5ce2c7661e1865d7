"""The dataset catalogue, editable: readiness assessed with evidence, and what depends on each.

A readiness level set here is kept in the dataset's history with the evidence and who assessed
it (`dataset_readiness_assessment`); the dataset's level is the newest one.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import ReadinessLevel
from portfolio.errors import Conflict, Invalid
from portfolio.models import (
    Dataset,
    DatasetReadinessAssessment,
    Project,
    ProjectDataset,
    User,
    utcnow,
)
from portfolio.schemas import Input, LongText, NumberOnly, parse
from portfolio.services.common import dataset_by_code, record, rows_changed

INACTIVE = ("delivered", "rejected")


class ReadinessInput(Input):
    """A dataset's readiness level with the evidence for it."""

    drl: ReadinessLevel
    evidence: LongText
    version: Annotated[int, NumberOnly] | None = None


def assess_readiness(*, session: Session, actor: Actor, code: str,
                     data: dict[str, Any]) -> dict[str, Any]:
    """Set a dataset's readiness level with evidence; the assessment is kept in its history."""
    dataset = dataset_by_code(session, code)
    require(actor, Capability.EDIT_DATASET, dataset, doing="assess datasets' readiness")
    values: ReadinessInput = parse(ReadinessInput, data)
    if not values.evidence.strip():
        raise Invalid({"evidence": "Say what the level rests on: the checks done, the access "
                                   "tried, the documentation read."})
    if values.version is not None and values.version != dataset.version:
        raise _stale(code, dataset)
    previous = dataset.drl
    session.add(DatasetReadinessAssessment(dataset_id=int(dataset.id or 0), drl=values.drl.value,
                                           previous_drl=previous,
                                           evidence=values.evidence.strip(),
                                           assessor_id=actor.id))
    version = dataset.version
    query = update(Dataset).where(col(Dataset.id) == dataset.id)
    if values.version is not None:
        # Compare-and-set: a level recorded since this one read the dataset wins, not this one.
        query = query.where(col(Dataset.version) == values.version)
    result = session.execute(query.values(drl=values.drl.value, version=Dataset.version + 1,
                                          updated_at=utcnow()))
    session.refresh(dataset)
    if rows_changed(result) != 1:
        raise _stale(code, dataset)
    record(session, actor, action="update", entity="dataset", entity_id=dataset.id,
           before={"drl": previous, "version": version},
           after={"drl": dataset.drl, "version": dataset.version,
                  "evidence": values.evidence.strip()})
    return {"code": code, "drl": dataset.drl, "previous_drl": previous,
            "version": dataset.version}


def _stale(code: str, dataset: Dataset) -> Conflict:
    """Return the refusal of a level recorded from an older version of the dataset."""
    return Conflict(f"dataset {code!r} changed while you were assessing it (now version "
                    f"{dataset.version}): reload it", current={"version": dataset.version,
                                                               "drl": dataset.drl})


def readiness_history(*, session: Session, code: str) -> list[dict[str, Any]]:
    """Return a dataset's readiness assessments, newest first, with who assessed them."""
    dataset = dataset_by_code(session, code)
    assessment = DatasetReadinessAssessment
    rows = session.execute(
        select(col(assessment.drl), col(assessment.previous_drl), col(assessment.evidence),
               col(assessment.assessed_at), col(User.name))
        .outerjoin(User, col(User.id) == col(assessment.assessor_id))
        .where(col(assessment.dataset_id) == dataset.id)
        .order_by(col(assessment.id).desc())).all()
    return [{"drl": d, "previous_drl": p, "evidence": e, "assessed_at": at,
             "assessor": who or "System"} for d, p, e, at, who in rows]


def dependants(*, session: Session, values: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Return, per dataset code, the active projects whose required use waits on it and value.

    Value: the sum of those projects' composites in the current ranking (each once).
    """
    rows = cast(list[tuple[str, str]], session.execute(
        select(col(Dataset.code), col(Project.slug))
        .join(ProjectDataset, col(ProjectDataset.dataset_id) == col(Dataset.id))
        .join(Project, col(Project.id) == col(ProjectDataset.project_id))
        .where(col(ProjectDataset.relation) == "uses", col(ProjectDataset.required).is_(True),
               col(Project.status).not_in(INACTIVE))).all())
    out: dict[str, dict[str, Any]] = {}
    for code, slug in rows:
        found = out.setdefault(code, {"projects": set(), "value": 0.0})
        if slug not in found["projects"]:
            found["projects"].add(slug)
            found["value"] += values.get(slug) or 0.0
    return {code: {"projects": len(v["projects"]), "value": round(v["value"], 2)}
            for code, v in out.items()}


def count_assessments(*, session: Session) -> int:
    """Return how many readiness assessments are kept."""
    return int(session.execute(select(func.count()).select_from(DatasetReadinessAssessment)
                               ).scalar() or 0)
