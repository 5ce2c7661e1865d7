"""The JSON API of the agreements register."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.services import agreement_pages
from portfolio.services import agreements as agreement_service
from portfolio.services import projects as project_service
from web.deps import current_actor, get_database, write_session
from web.security import Policy, policy

router = APIRouter(prefix="/api/v1", tags=["agreements"])

READ = Depends(policy(Policy.READ))
AGREEMENTS = Depends(policy(Policy.AGREEMENTS))
AppDatabase = Annotated[Database, Depends(get_database)]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
CurrentActor = Annotated[Actor, Depends(current_actor)]

AGREEMENT_EXAMPLE = {
    "code": "nel-housing-dsa", "title": "North east London housing data-sharing agreement",
    "purpose": "Identify households at risk of homelessness across three boroughs.",
    "parties": [{"organisation": "E09000002", "role": "controller"},
                {"organisation": "LOTI", "role": "processor"}],
    "datasets": ["bd-council-tax"], "lawful_basis": "public_task",
    "special_category_condition": None, "dpia_reference": "DPIA-2026-014",
    "signed_on": "2026-04-01", "review_on": "2027-04-01", "expires_on": "2028-03-31",
    "status": "signed", "document_url": "https://example.london/dsa.pdf",
}


@router.get("/agreements", dependencies=[READ])
def list_agreements(
    db: AppDatabase,
    party: Annotated[str | None, Query(max_length=32, description="Organisation code")] = None,
    status: Annotated[str | None, Query(
        max_length=16, description="Standing today: drafting, signed, expired")] = None,
    expiring_within: Annotated[int | None, Query(
        ge=0, le=3660, description="Only agreements in force expiring within this many days"
    )] = None,
) -> list[dict[str, Any]]:
    """List agreements with parties, datasets, relying projects and the value resting on each."""
    return agreement_pages.agreements_page(db, party=party, status=status,
                                           expiring_within=expiring_within)["agreements"]


@router.get("/agreements/as-of", dependencies=[READ])
def agreements_as_of(
    db: AppDatabase,
    on: Annotated[date, Query(alias="date", description="The day to look at, YYYY-MM-DD")],
) -> dict[str, Any]:
    """Say what breaks if nothing is renewed by a day: agreements lapsed, projects' scores."""
    return agreement_pages.what_breaks(db, as_of=on)


@router.get("/agreements/{code}", dependencies=[READ])
def get_agreement(code: str, db: AppDatabase) -> dict[str, Any]:
    """Return an agreement with its parties, datasets, the links resting on it and their value."""
    return agreement_pages.agreement_page(db, code=code)


@router.post("/agreements", dependencies=[AGREEMENTS], status_code=201)
def create_agreement(
    session: WriteSession, actor: CurrentActor,
    body: Annotated[dict[str, Any], Body(examples=[AGREEMENT_EXAMPLE])],
) -> dict[str, Any]:
    """Register an agreement (the CDO, an admin, or a lead whose organisation is party)."""
    return agreement_service.create_agreement(session=session, actor=actor, data=body)


@router.put("/agreements/{code}", dependencies=[AGREEMENTS])
def update_agreement(
    code: str, session: WriteSession, actor: CurrentActor,
    body: Annotated[dict[str, Any], Body(examples=[AGREEMENT_EXAMPLE | {"version": 1}])],
) -> dict[str, Any]:
    """Replace an agreement's fields from the `version` read (a stale one answers 409)."""
    return agreement_service.update_agreement(session=session, actor=actor, code=code,
                                              data=body)


EDIT = Depends(policy(Policy.EDIT))


@router.put("/projects/{slug}/datasets/{dataset}", dependencies=[EDIT])
def link_dataset(
    slug: str, dataset: str, session: WriteSession, actor: CurrentActor,
    body: Annotated[dict[str, Any], Body(examples=[{
        "relation": "uses", "required": True, "fit_for_task": "partial",
        "sharing_agreement": "london-street-works-dsa"}])],
) -> dict[str, Any]:
    """Record or change a project's use of a dataset: fitness, and the agreement it rests on.

    `sharing_agreement` names the agreement record (it must cover the dataset); without one,
    `agreement` says `not_needed` or `none` (no agreement yet).
    """
    return project_service.link_dataset(session=session, actor=actor, slug=slug,
                                        data={**body, "dataset": dataset})
