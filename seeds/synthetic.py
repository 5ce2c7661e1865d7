"""Generate a deterministic synthetic portfolio at any size, with bulk inserts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
from sqlalchemy import insert, select
from sqlmodel import Session, SQLModel, col

from portfolio.enums import (
    Access,
    Agreement,
    FitForTask,
    OrganisationKind,
    ProjectStatus,
    ReadinessLevel,
    Theme,
    UpdateFrequency,
)
from portfolio.models import (
    Assessment,
    Criterion,
    Dataset,
    Organisation,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    utcnow,
)
from seeds.loader import SeedReport, load_reference

Progress = Callable[[str, int], None]
BATCH = 20_000
SLUG_PREFIX = "syn-"
STATUSES = [s.value for s in ProjectStatus]
STATUS_P = [0.2, 0.3, 0.15, 0.15, 0.1, 0.05, 0.05]
KINDS = [
    OrganisationKind.BOROUGH,
    OrganisationKind.NHS,
    OrganisationKind.UTILITY,
    OrganisationKind.UNIVERSITY,
    OrganisationKind.SUPPLIER,
    OrganisationKind.VOLUNTARY,
]
WORDS = [
    "household",
    "debt",
    "housing",
    "retrofit",
    "footfall",
    "school",
    "care",
    "energy",
    "streetworks",
    "air",
    "flood",
    "tenancy",
    "benefits",
    "library",
    "waste",
    "transport",
    "inclusion",
    "safeguarding",
    "licensing",
    "planning",
]
NOUNS = [
    "single view",
    "dashboard",
    "risk model",
    "data standard",
    "pipeline",
    "index",
    "data-sharing agreement",
    "forecast",
    "map",
    "register",
]


def organisation_count(projects: int) -> int:
    """Return how many organisations a portfolio of this size has (about 400 at 100k)."""
    return int(min(400, max(20, projects // 250)))


def dataset_count(projects: int) -> int:
    """Return how many datasets a portfolio of this size has."""
    return int(max(30, projects // 20))


def already_seeded(session: Session) -> bool:
    """Tell whether a synthetic portfolio is already in the database."""
    query = select(col(Project.id)).where(col(Project.slug).like(f"{SLUG_PREFIX}%")).limit(1)
    return session.execute(query).first() is not None


def seed_synthetic(
    session: Session, *, projects: int, seed: int = 0, progress: Progress | None = None
) -> SeedReport:
    """Insert a synthetic portfolio: ~3 graph edges per project, acyclic dependencies."""
    tick = progress or (lambda _step, _n: None)
    report = load_reference(session)
    if already_seeded(session):
        return report
    rng = np.random.default_rng(seed)
    org_ids = _insert_organisations(session, rng, organisation_count(projects), report)
    dataset_ids = _insert_datasets(session, rng, org_ids, dataset_count(projects), report)
    project_ids = _insert_projects(session, rng, org_ids, projects, report, tick)
    _insert_dependencies(session, rng, project_ids, report, tick)
    _insert_dataset_links(session, rng, project_ids, dataset_ids, report, tick)
    _insert_partners(session, rng, project_ids, org_ids, report, tick)
    _insert_assessments(session, rng, project_ids, report, tick)
    return report


def _bulk(
    session: Session,
    table: type[SQLModel],
    rows: list[dict],
    report: SeedReport,
    tick: Progress | None = None,
    step: str = "",
) -> None:
    """Insert rows in batches with Core (ORM unit-of-work is ~8x slower here)."""
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        session.execute(insert(table), batch)
        if tick:
            tick(step, len(batch))
    report.add(str(table.__tablename__), len(rows))


def _insert_organisations(
    session: Session, rng: np.random.Generator, n: int, report: SeedReport
) -> list[int]:
    """Insert synthetic organisations and return their ids."""
    kinds = rng.choice(len(KINDS), size=n, p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    rows = [
        {
            "code": f"SYN{i:04d}",
            "name": f"Synthetic {KINDS[k].value.replace('_', ' ')} {i}",
            "kind": KINDS[k].value,
        }
        for i, k in enumerate(kinds)
    ]
    _bulk(session, Organisation, rows, report)
    ids: list[int] = list(
        session.execute(
            select(col(Organisation.id))
            .where(col(Organisation.code).like("SYN%"))
            .order_by(Organisation.code)
        )
        .scalars()
        .all()
    )
    return list(ids)


def _insert_datasets(
    session: Session, rng: np.random.Generator, org_ids: list[int], n: int, report: SeedReport
) -> list[int]:
    """Insert synthetic datasets spread over the readiness levels and return their ids."""
    access = [a.value for a in Access]
    freq = [f.value for f in UpdateFrequency]
    drl = [d.value for d in ReadinessLevel]
    now = utcnow()
    publishers = rng.integers(0, len(org_ids), size=n)
    rows = [
        {
            "code": f"syn-dataset-{i:06d}",
            "title": f"Synthetic {WORDS[i % len(WORDS)]} dataset {i}",
            "description": "",
            "publisher_id": org_ids[publishers[i]],
            "access": access[int(rng.integers(0, 4))],
            "licence": "OGL-UK-3.0",
            "update_frequency": freq[int(rng.integers(0, len(freq)))],
            "drl": drl[int(rng.choice(6, p=[0.05, 0.1, 0.25, 0.3, 0.2, 0.1]))],
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    _bulk(session, Dataset, rows, report)
    ids: list[int] = list(
        session.execute(
            select(col(Dataset.id)).where(col(Dataset.code).like("syn-dataset-%")).order_by(col(Dataset.code))
        )
        .scalars()
        .all()
    )
    return list(ids)


def _insert_projects(
    session: Session,
    rng: np.random.Generator,
    org_ids: list[int],
    n: int,
    report: SeedReport,
    tick: Progress,
) -> list[int]:
    """Insert synthetic projects and return their ids in slug order."""
    themes = [t.value for t in Theme]
    owners = rng.integers(0, len(org_ids), size=n)
    theme_idx = rng.integers(0, len(themes), size=n)
    status_idx = rng.choice(len(STATUSES), size=n, p=STATUS_P)
    cost = np.round(np.exp(rng.normal(12.0, 1.2, size=n)), -3).astype(int)
    effort = np.round(np.exp(rng.normal(2.5, 0.9, size=n)), 1)
    mandatory = rng.random(n) < 0.01
    start = rng.integers(0, 1500, size=n)
    words = rng.integers(0, len(WORDS), size=n)
    nouns = rng.integers(0, len(NOUNS), size=n)
    confidence = rng.integers(20, 100, size=n)
    reach = rng.integers(100, 500_000, size=n)
    criticality = rng.integers(1, 6, size=n)
    now = utcnow()
    base = date(2023, 1, 1)
    rows = []
    for i in range(n):
        begins = base + timedelta(days=int(start[i]))
        rows.append(
            {
                "slug": f"{SLUG_PREFIX}{i:06d}",
                "title": f"{WORDS[words[i]].capitalize()} {NOUNS[nouns[i]]} {i}",
                "description": "",
                "owner_id": org_ids[owners[i]],
                "theme": themes[theme_idx[i]],
                "status": STATUSES[status_idx[i]],
                "cost_gbp": int(cost[i]),
                "effort_pm": float(effort[i]),
                "start_date": begins,
                "end_date": begins + timedelta(days=int(30 * effort[i]) + 30),
                "personal_data": bool(i % 3 == 0),
                "dpia_status": "in_progress" if i % 3 == 0 else "not_needed",
                "mandatory": bool(mandatory[i]),
                "mandatory_justification": "Synthetic statutory duty" if mandatory[i] else "",
                "reach_people": int(reach[i]),
                "confidence_pct": int(confidence[i]),
                "time_criticality": int(criticality[i]),
                "priority_override": None,
                "override_justification": "",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    _bulk(session, Project, rows, report, tick, "projects")
    ids: list[int] = list(
        session.execute(
            select(col(Project.id)).where(col(Project.slug).like(f"{SLUG_PREFIX}%")).order_by(col(Project.slug))
        )
        .scalars()
        .all()
    )
    return list(ids)


def _insert_dependencies(
    session: Session,
    rng: np.random.Generator,
    project_ids: list[int],
    report: SeedReport,
    tick: Progress,
) -> None:
    """Insert ~1.2 dependencies per project, always on an earlier project (so acyclic)."""
    n = len(project_ids)
    count = rng.poisson(1.2, size=n)
    count[0] = 0
    edges: set[tuple[int, int]] = set()
    for i in np.nonzero(count)[0]:
        # Prerequisites sit mostly a short distance back, giving chains rather than stars.
        back = np.minimum(i, 1 + rng.geometric(0.002, size=int(count[i])))
        for j in set((i - back).tolist()):
            edges.add((project_ids[i], project_ids[j]))
    rows = [{"project_id": p, "depends_on_id": d, "note": ""} for p, d in sorted(edges)]
    _bulk(session, ProjectDependency, rows, report, tick, "dependencies")


def _insert_dataset_links(
    session: Session,
    rng: np.random.Generator,
    project_ids: list[int],
    dataset_ids: list[int],
    report: SeedReport,
    tick: Progress,
) -> None:
    """Insert ~1.3 dataset uses per project and a produced dataset for some."""
    fits = [f.value for f in FitForTask]
    agreements = [a.value for a in Agreement]
    rows = []
    weights = 1.0 / np.arange(1, len(dataset_ids) + 1) ** 0.8
    weights /= weights.sum()
    for i, project_id in enumerate(project_ids):
        k = int(rng.poisson(1.3))
        chosen = set(rng.choice(len(dataset_ids), size=k, p=weights).tolist()) if k else set()
        for d in chosen:
            rows.append(
                {
                    "project_id": project_id,
                    "dataset_id": dataset_ids[d],
                    "relation": "uses",
                    "required": bool(rng.random() < 0.85),
                    "fit_for_task": fits[int(rng.choice(4, p=[0.05, 0.25, 0.35, 0.35]))],
                    "agreement": agreements[int(rng.choice(5, p=[0.4, 0.1, 0.15, 0.3, 0.05]))],
                }
            )
        if i % 25 == 0:
            rows.append(
                {
                    "project_id": project_id,
                    "dataset_id": dataset_ids[int(rng.integers(0, len(dataset_ids)))],
                    "relation": "produces",
                    "required": True,
                    "fit_for_task": "fit",
                    "agreement": "not_needed",
                }
            )
    unique = {(r["project_id"], r["dataset_id"], r["relation"]): r for r in rows}
    _bulk(session, ProjectDataset, list(unique.values()), report, tick, "dataset links")


def _insert_partners(
    session: Session,
    rng: np.random.Generator,
    project_ids: list[int],
    org_ids: list[int],
    report: SeedReport,
    tick: Progress,
) -> None:
    """Insert ~0.5 partner organisations per project."""
    roles = ["partner", "data_provider", "funder"]
    owners = dict(
        session.execute(
            select(col(Project.id),
                   col(Project.owner_id)).where(col(Project.slug).like(f"{SLUG_PREFIX}%"))
        ).all()
    )
    rows = {}
    has = np.nonzero(rng.random(len(project_ids)) < 0.5)[0]
    orgs = rng.integers(0, len(org_ids), size=len(has))
    role = rng.integers(0, len(roles), size=len(has))
    for n, i in enumerate(has):
        key = (project_ids[i], org_ids[orgs[n]])
        if owners[key[0]] == key[1]:
            continue
        rows[key] = {"project_id": key[0], "organisation_id": key[1], "role": roles[role[n]]}
    _bulk(session, ProjectPartner, list(rows.values()), report, tick, "partners")


def _insert_assessments(
    session: Session,
    rng: np.random.Generator,
    project_ids: list[int],
    report: SeedReport,
    tick: Progress,
) -> None:
    """Insert one assessment per assessed criterion; 5% of projects are left partly assessed."""
    criteria: list[int] = list(
        session.execute(
            select(col(Criterion.id)).where(col(Criterion.source) == "assessed")
            .order_by(col(Criterion.position))
        )
        .scalars()
        .all()
    )
    n, k = len(project_ids), len(criteria)
    levels = rng.integers(1, 6, size=(n, k))
    missing = (rng.random((n, k)) < 0.05) & (rng.random((n, 1)) < 0.1)
    now = utcnow()
    rows = [
        {
            "project_id": project_ids[i],
            "criterion_id": criteria[j],
            "level": int(levels[i, j]),
            "rationale": "",
            "assessor_id": None,
            "assessed_at": now,
        }
        for i in range(n)
        for j in range(k)
        if not missing[i, j]
    ]
    _bulk(session, Assessment, rows, report, tick, "assessments")
