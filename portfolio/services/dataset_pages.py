"""What the dataset pages and the search-as-you-type pickers read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from portfolio.models import Dataset, Organisation, Project, ProjectDataset, SharingAgreement
from portfolio.services.agreements import agreement_word
from portfolio.services.common import containing, dataset_by_code
from portfolio.services.datasets import get_dataset, list_datasets

PICK_LIMIT = 10

# Data Readiness Levels after Lawrence (2017), worst to best, as docs/DESIGN.md words them.
READINESS_LEVELS: dict[str, dict[str, str]] = {
    "C4": {
        "band": "C",
        "band_name": "accessibility",
        "meaning": "Hearsay: someone says it exists.",
    },
    "C3": {
        "band": "C",
        "band_name": "accessibility",
        "meaning": "Known to exist, but not accessible.",
    },
    "C2": {
        "band": "C",
        "band_name": "accessibility",
        "meaning": "Accessible, but not structured for analysis.",
    },
    "C1": {"band": "C", "band_name": "accessibility", "meaning": "Loadable into analysis tools."},
    "B2": {
        "band": "B",
        "band_name": "validity",
        "meaning": "Some validity checks done (missing values, duplicates, linkage, anomalies).",
    },
    "B1": {
        "band": "B",
        "band_name": "validity",
        "meaning": "All validity checks done and documented.",
    },
}


def readiness_ladder(drl: str) -> list[dict[str, Any]]:
    """Return the readiness levels worst to best, marking the one a dataset has reached."""
    return [
        {"level": level, **about, "current": level == drl}
        for level, about in READINESS_LEVELS.items()
    ]


def dataset_projects(*, session: Session, code: str) -> list[dict[str, Any]]:
    """Return the projects that use or produce a dataset, with the link's fitness and agreement."""
    dataset = dataset_by_code(session, code)
    rows = session.execute(
        sa.select(
            col(Project.slug),
            col(Project.title),
            col(Project.status),
            col(Organisation.name),
            col(ProjectDataset.relation),
            col(ProjectDataset.required),
            col(ProjectDataset.fit_for_task),
            col(ProjectDataset.agreement),
            col(SharingAgreement.code),
            col(SharingAgreement.status),
            col(SharingAgreement.signed_on),
            col(SharingAgreement.expires_on),
        )
        .join(ProjectDataset, col(ProjectDataset.project_id) == col(Project.id))
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .outerjoin(SharingAgreement,
                   col(SharingAgreement.id) == col(ProjectDataset.sharing_agreement_id))
        .where(col(ProjectDataset.dataset_id) == dataset.id)
        .order_by(col(ProjectDataset.relation).desc(), col(Project.title))
    ).all()
    keys = (
        "slug",
        "title",
        "status",
        "organisation_name",
        "relation",
        "required",
        "fit_for_task",
        "agreement",
    )
    out = []
    for row in rows:
        found = dict(zip(keys, row[:8], strict=True))
        code, status, signed, expires = row[8:]
        found["agreement"] = agreement_word(found["agreement"], code, status, signed, expires)
        found["sharing_agreement"] = code
        out.append(found)
    return out


def dataset_page(*, session: Session, code: str) -> dict[str, Any]:
    """Return a dataset with its readiness explained and the projects linked to it."""
    # The publisher's id lets the page ask `can(...)` about this dataset.
    dataset = get_dataset(session=session, code=code) | {
        "publisher_id": dataset_by_code(session, code).publisher_id}
    return {
        "dataset": dataset,
        "readiness": READINESS_LEVELS[dataset["drl"]] | {"level": dataset["drl"]},
        "ladder": readiness_ladder(dataset["drl"]),
        "projects": dataset_projects(session=session, code=code),
    }


def datasets_page(
    *,
    session: Session,
    publisher: str | None = None,
    access: str | None = None,
    q: str | None = None,
    drl: str | None = None,
) -> dict[str, Any]:
    """Return the datasets that match the filters and the publishers to filter by."""
    publishers = session.exec(
        select(Organisation.code, Organisation.name)
        .where(col(Organisation.id).in_(select(col(Dataset.publisher_id)).distinct()))
        .order_by(Organisation.name)
    ).all()
    return {
        "datasets": list_datasets(session=session, publisher=publisher, access=access, q=q,
                                  drl=drl),
        "publishers": [{"code": c, "name": n} for c, n in publishers],
    }


def search_datasets(*, session: Session, q: str, limit: int = PICK_LIMIT) -> list[dict[str, Any]]:
    """Return a few datasets whose code or title contains the text, exact code first."""
    text = q.strip()
    if not text:
        return []
    rows = session.exec(
        select(Dataset.code, Dataset.title, Dataset.drl)
        .where(containing(col(Dataset.title), text) | containing(col(Dataset.code), text))
        .order_by(case((col(Dataset.code) == text, 0), else_=1), func.length(col(Dataset.title)))
        .limit(limit)
    ).all()
    return [{"value": c, "title": t, "detail": d} for c, t, d in rows]


def search_organisations(
    *, session: Session, q: str, limit: int = PICK_LIMIT
) -> list[dict[str, Any]]:
    """Return a few organisations whose code or name contains the text, exact code first."""
    text = q.strip()
    if not text:
        return []
    rows = session.exec(
        select(Organisation.code, Organisation.name, Organisation.kind)
        .where(containing(col(Organisation.name), text)
               | containing(col(Organisation.code), text))
        .order_by(case((col(Organisation.code) == text, 0), else_=1), col(Organisation.name))
        .limit(limit)
    ).all()
    return [{"value": c, "title": n, "detail": k} for c, n, k in rows]


def search_projects(*, session: Session, q: str, limit: int = PICK_LIMIT,
                    mandatory_only: bool = False) -> list[dict[str, Any]]:
    """Return a few projects whose slug or title contains the text, exact slug first."""
    text = q.strip()
    if not text:
        return []
    found = select(Project.slug, Project.title, Project.status).where(
        containing(col(Project.title), text) | containing(col(Project.slug), text))
    if mandatory_only:
        found = found.where(col(Project.mandatory).is_(True))
    rows = session.exec(
        found
        .order_by(case((col(Project.slug) == text, 0), else_=1), col(Project.title))
        .limit(limit)
    ).all()
    return [{"value": s, "title": t, "detail": st} for s, t, st in rows]
