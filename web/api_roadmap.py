"""The JSON API for the roadmap and the capacity of each organisation per quarter."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.schemas import NumberOnly, year_month_day
from portfolio.services import roadmap as roadmap_service
from web.api_contract import ERRORS
from web.api_models import IsoDate
from web.deps import app_database, current_actor, read_session, write_session
from web.routing import Router
from web.security import Policy, policy

router = Router(prefix="/api/v1", tags=["roadmap"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
CAPACITY = Depends(policy(Policy.CAPACITY))
AppDatabase = Annotated[Database, Depends(app_database)]
ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
CurrentActor = Annotated[Actor, Depends(current_actor)]
# A quarter as people write it: 2027 Q1 (or 2027-Q1).
QUARTER = r"^\d{4}[ -]Q[1-4]$"


def parse_deadlines(items: list[str]) -> dict[str, date]:
    """Read deadlines written SLUG:YYYY-MM-DD (or SLUG=YYYY-MM-DD)."""
    out: dict[str, date] = {}
    for item in items:
        slug, sep, when = item.replace("=", ":", 1).partition(":")
        try:
            if not sep:
                raise ValueError
            out[slug.strip()] = year_month_day(when)
        except ValueError:
            raise Invalid({"deadline": f"{item!r}: write a deadline as SLUG:YYYY-MM-DD"}) from None
    return out


@router.get("/roadmap", dependencies=[READ])
def get_roadmap(
    db: AppDatabase,
    budget: Annotated[float, Query(ge=0, description="Budget in GBP for each quarter")],
    horizon: Annotated[int, Query(ge=1, le=roadmap_service.MAX_HORIZON, description=(
        "Quarters to plan, 1 to 40, from the current one"))] = roadmap_service.DEFAULT_HORIZON,
    capacity: Annotated[float | None, Query(ge=0,
        description="Person-months a quarter for all organisations together (optional; each "
                    "organisation's stated capacity always applies)")] = None,
    profile: Annotated[str | None, Query(max_length=120, description="Weight profile name")
                       ] = None,
    discount_rate: Annotated[float, Query(ge=0, lt=1,
        description="Yearly rate by which a later start counts for less")
    ] = roadmap_service.DEFAULT_DISCOUNT_RATE,
    deadline: Annotated[list[str], Query(
        max_length=200, description="SLUG:YYYY-MM-DD, a mandatory project's latest start "
                                    "(repeatable)")] = [],  # noqa: B006
    force_in: Annotated[list[str], Query(
        max_length=200, description="A project the roadmap must start within the horizon, "
                                    "with its prerequisites (repeatable)")] = [],  # noqa: B006
    force_out: Annotated[list[str], Query(
        max_length=200, description="A project the roadmap must not start, nor what waits "
                                    "on it (repeatable)")] = [],  # noqa: B006
    today: Annotated[IsoDate | None, Query(description="Plan as on this date (default today)")
                     ] = None,
) -> dict[str, Any]:
    """Choose which candidates start in which quarter within each quarter's budget and capacity."""
    return roadmap_service.roadmap(
        db, budget=budget, horizon=horizon, capacity=capacity, profile=profile,
        discount_rate=discount_rate, deadlines=parse_deadlines(deadline), today=today,
        wall_clock_seconds=db.settings.plan_wall_clock_seconds,
        force_in=tuple(s.strip() for s in force_in if s.strip()),
        force_out=tuple(s.strip() for s in force_out if s.strip()))


class CapacityIn(BaseModel):
    """An organisation's capacity in person-months a quarter, from a quarter on."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    organisation: str = Field(min_length=1, max_length=32, description="Organisation code")
    quarter: str = Field(max_length=20, pattern=QUARTER, description=(
        "First quarter it holds for, e.g. 2027 Q1"))
    person_months: Annotated[float, Field(ge=0, le=1_000_000), NumberOnly] = Field(description=(
        "Person-months a quarter, at least 0"))
    was_person_months: Annotated[float, Field(ge=0), NumberOnly] | None = Field(
        default=None, description=(
        "The person-months read for this organisation and quarter (null: none was stated); "
        "one stated otherwise since is refused with 409 and `current`. Left out, the "
        "capacity is replaced whatever it is"))


class CapacityOut(BaseModel):
    """A stated capacity."""

    organisation: str
    organisation_name: str
    quarter: str
    quarter_start: str
    person_months: float


@router.get("/capacities", dependencies=[READ], response_model=list[CapacityOut])
def list_capacities(session: ReadSession) -> list[dict[str, Any]]:
    """List the capacities stated per organisation, each holding until the next one."""
    return roadmap_service.capacities(session=session)


@router.put("/capacities", dependencies=[CAPACITY], response_model=CapacityOut)
def put_capacity(body: CapacityIn, session: WriteSession, actor: CurrentActor) -> dict[str, Any]:
    """State an organisation's capacity from a quarter on (the CDO or an admin)."""
    read = None
    if "was_person_months" in body.model_fields_set:
        start = roadmap_service.parse_quarter(body.quarter).isoformat()
        was = body.was_person_months
        read = {} if was is None else {(body.organisation, start): was}
    return roadmap_service.set_capacity(session=session, actor=actor,
                                        organisation=body.organisation, quarter=body.quarter,
                                        person_months=body.person_months, read=read)


@router.delete("/capacities/{organisation}/{quarter}", dependencies=[CAPACITY],
               status_code=204)
def delete_capacity(organisation: Annotated[str, Path(max_length=32)],
                    quarter: Annotated[str, Path(max_length=20, pattern=QUARTER)],
                    session: WriteSession, actor: CurrentActor,
                    was_person_months: Annotated[float | None, Query(ge=0, description=(
                        "The person-months read; a capacity restated since is kept and "
                        "answers 409"))] = None) -> Response:
    """Remove a stated capacity (the CDO or an admin); from a stale reading, 409."""
    roadmap_service.remove_capacity(session=session, actor=actor, organisation=organisation,
                                    quarter=quarter, was=was_person_months)
    return Response(status_code=204)
