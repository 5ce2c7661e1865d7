"""The JSON API for scenarios: saved plan requests, solved at the current revision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.schemas import NumberOnly
from portfolio.services import scenarios as scenario_service
from web.api import AppDatabase
from web.api_contract import ERRORS
from web.api_models import IsoDate
from web.deps import current_actor, read_session, write_session
from web.routing import Router
from web.security import Policy, RowId, policy

router = Router(prefix="/api/v1", tags=["api"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
SCENARIOS = Depends(policy(Policy.SCENARIOS))
ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
CurrentActor = Annotated[Actor, Depends(current_actor)]


AT_LEAST_0: dict[str, Any] = {"minimum": 0}
# A name with something besides spaces, and no control character (the service's rule).
SCENARIO_NAME: dict[str, Any] = {"pattern": r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$"}


Kind = Literal["plan", "roadmap"]
Horizon = Annotated[int, Field(ge=1, le=40, description="A roadmap's quarters, from the current"),
                    NumberOnly]
Rate = Annotated[float, Field(ge=0, lt=1, description="A roadmap's yearly discount rate"),
                 NumberOnly]
# A budget or a capacity: at least 0, stated in the schema and checked by the service.
Amount = Annotated[float, NumberOnly]
Deadlines = Annotated[dict[str, IsoDate], Field(
    max_length=200, description="A roadmap's mandatory projects' latest starts: {slug: date}")]


class ScenarioIn(BaseModel):
    """A plan or roadmap request to save.

    A plan: a budget, a capacity (both for all time), a profile and forced sets. A roadmap
    (`kind: roadmap`): a budget per quarter, an optional overall capacity per quarter, a
    horizon, a discount rate and mandatory projects' deadlines besides.
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    name: str = Field(min_length=1, max_length=120, json_schema_extra=SCENARIO_NAME)
    description: str = Field(default="", max_length=2000)
    kind: Kind = "plan"
    profile: str | None = Field(default=None, max_length=120)
    # At least 0: stated here, checked by the service beside the other fields' rules.
    budget: Amount = Field(description="Budget in GBP (a roadmap: per quarter)",
                           json_schema_extra=AT_LEAST_0)
    capacity: Amount | None = Field(default=None, description=(
        "Capacity in person-months (a plan: required; a roadmap: per quarter, optional)"),
        json_schema_extra=AT_LEAST_0)
    horizon: Horizon | None = None
    discount_rate: Rate | None = None
    deadlines: Deadlines | None = None
    force_in: list[str] = Field(default_factory=list, max_length=200)
    force_out: list[str] = Field(default_factory=list, max_length=200)


class ScenarioUpdate(BaseModel):
    """Fields of a saved scenario to change, with the version it was read at."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    version: Annotated[int, Field(ge=1), NumberOnly] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=120,
                             json_schema_extra=SCENARIO_NAME)
    description: str | None = Field(default=None, max_length=2000)
    profile: str | None = Field(default=None, max_length=120)
    budget: Amount | None = Field(default=None, json_schema_extra=AT_LEAST_0)
    capacity: Amount | None = Field(default=None, json_schema_extra=AT_LEAST_0)
    kind: Kind | None = None
    horizon: Horizon | None = None
    discount_rate: Rate | None = None
    deadlines: Deadlines | None = None
    force_in: list[str] | None = Field(default=None, max_length=200)
    force_out: list[str] | None = Field(default=None, max_length=200)


@router.get("/scenarios", dependencies=[READ])
def list_scenarios(session: ReadSession) -> list[dict[str, Any]]:
    """List the saved scenarios."""
    return scenario_service.list_scenarios(session=session)


@router.post("/scenarios", status_code=201, dependencies=[SCENARIOS])
def create_scenario(body: ScenarioIn, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Save a plan or roadmap request under a name."""
    return scenario_service.create_scenario(session=session, actor=actor,
                                            data=body.model_dump(mode="json"))


@router.get("/scenarios/compare", dependencies=[READ])
def compare_scenarios(
    db: AppDatabase,
    scenario: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Query(
        min_length=2, max_length=3,
                                         description="Two or three ids")],
) -> dict[str, Any]:
    """Solve two or three scenarios and say what each adds and drops against the first."""
    return scenario_service.compare_scenarios(db, scenario_ids=scenario)


@router.get("/scenarios/{scenario_id}", dependencies=[READ])
def get_scenario(scenario_id: RowId, session: ReadSession) -> dict[str, Any]:
    """Return one saved scenario (the request)."""
    return scenario_service.get_scenario(session=session, scenario_id=scenario_id)


@router.put("/scenarios/{scenario_id}", dependencies=[SCENARIOS])
def update_scenario(scenario_id: RowId, body: ScenarioUpdate, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Change a saved scenario; a stale version answers 409."""
    return scenario_service.update_scenario(
        session=session, actor=actor, scenario_id=scenario_id,
        data=body.model_dump(mode="json", exclude_unset=True))


@router.delete("/scenarios/{scenario_id}", status_code=204, response_class=Response,
               dependencies=[SCENARIOS])
def delete_scenario(scenario_id: RowId, session: WriteSession, actor: CurrentActor,
                    version: Annotated[int | None, Query(
                        ge=1, le=2**62, description="the version read; a scenario changed "
                        "since is kept and answers 409")] = None) -> Response:
    """Delete a saved scenario; from a stale version, 409."""
    scenario_service.delete_scenario(session=session, actor=actor, scenario_id=scenario_id,
                                     version=version)
    return Response(status_code=204)


@router.get("/scenarios/{scenario_id}/plan", dependencies=[READ],
            response_model=dict[str, Any], responses={202: {
                "description": "Queued for a worker (with the job queue): ask again after "
                               "`Retry-After` seconds."}})
def solve_scenario(scenario_id: RowId, db: AppDatabase) -> Any:
    """Solve a saved scenario at the current revision: a plan (`plan`, with the left-out
    projects and why) or a roadmap (`roadmap`, the start quarter of each project)."""
    found = scenario_service.solution(db, scenario_id=scenario_id)
    if found.waiting:
        return JSONResponse({"status": "queued", "scenario": found.scenario,
                             "revision": found.revision, "job": found.job}, status_code=202,
                            headers={"Retry-After": str(scenario_service.SolveQueued.retry_after)})
    return found.result()
