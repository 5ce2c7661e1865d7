"""The JSON API for harvesting the dataset catalogue from open-data portals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.services.harvest import Limits, harvest
from web.api_contract import ERRORS, ErrorOut
from web.deps import app_database
from web.routing import Router
from web.security import Policy, policy

router = Router(prefix="/api/v1", tags=["catalogue"], responses=ERRORS)
Harvester = Annotated[Actor, Depends(policy(Policy.CATALOGUE))]
AppDatabase = Annotated[Database, Depends(app_database)]


class HarvestIn(BaseModel):
    """A portal to harvest, the fallback publisher, and the title matches a person confirmed."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    url: str = Field(min_length=1, max_length=1000, pattern=r"^\s*https?://",
                     description="A CKAN portal or action address, or a DCAT data.json")
    publisher: str = Field(default="GLA", max_length=32,
                           description="Organisation code for publishers we do not know")
    dry_run: bool = Field(default=True, description="Only say what would change")
    confirm: list[str] = Field(default_factory=list, max_length=100_000,
                               description="Portal identifiers whose title match is confirmed")


class HarvestOut(BaseModel):
    """What the harvest added, updated, asks to confirm and left, and whether it wrote."""

    source: str
    written: bool
    counts: dict[str, int]
    add: list[dict[str, Any]]
    update: list[dict[str, Any]]
    confirm: list[dict[str, Any]]
    leave: list[dict[str, Any]]


@router.post("/catalogue/harvest", response_model=HarvestOut,
             responses={403: {"model": ErrorOut, "description": "Only the CDO and admins harvest"},
                        422: {"model": ErrorOut,
                              "description": "The portal could not be read; nothing written"}})
def harvest_catalogue(body: HarvestIn, actor: Harvester, db: AppDatabase) -> dict[str, Any]:
    """Harvest a portal's catalogue (a dry run unless dry_run is false), all or nothing."""
    plan = harvest(db, actor=actor, url=body.url.strip(), default_publisher=body.publisher,
                   dry_run=body.dry_run, confirmed=set(body.confirm),
                   limits=Limits.of(db.settings))
    return plan.summary()
