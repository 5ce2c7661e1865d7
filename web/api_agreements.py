"""The JSON API of the agreements register."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import (
    Agreement,
    AgreementStanding,
    AgreementStatus,
    FitForTask,
    LawfulBasis,
    LinkRelation,
    SpecialCategoryCondition,
)
from portfolio.errors import Invalid
from portfolio.schemas import LINE_PATTERN, LongText, NumberOnly, Slug, Title
from portfolio.services import agreement_pages
from portfolio.services import agreements as agreement_service
from portfolio.services import filters as closed_lists
from portfolio.services import projects as project_service
from portfolio.services.agreements import MAX_DATASETS, MAX_PARTIES, PartyInput
from web.api_contract import ERRORS
from web.api_models import IsoDate, Public, body_of
from web.deps import app_database, current_actor, write_session
from web.routing import Router
from web.security import Policy, policy

router = Router(prefix="/api/v1", tags=["agreements"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
AGREEMENTS = Depends(policy(Policy.AGREEMENTS))
AppDatabase = Annotated[Database, Depends(app_database)]
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


class AgreementFields(BaseModel):
    """An agreement's fields as the API takes them; the service checks the rules across them."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: Title
    purpose: LongText = ""
    parties: list[PartyInput] = Field(default_factory=list, max_length=MAX_PARTIES)
    datasets: list[Annotated[str, Field(max_length=120)]] = Field(
        default_factory=list, max_length=MAX_DATASETS, description="Dataset codes it covers")
    lawful_basis: LawfulBasis | None = None
    special_category_condition: SpecialCategoryCondition | None = None
    dpia_reference: str = Field(default="", max_length=200,
                                json_schema_extra={"pattern": LINE_PATTERN})
    signed_on: IsoDate | None = None
    review_on: IsoDate | None = None
    expires_on: IsoDate | None = None
    status: AgreementStatus = AgreementStatus.DRAFTING
    document_url: str = Field(default="", max_length=1000,
                              json_schema_extra={"pattern": LINE_PATTERN},
                              description="The signed document's web address (https://...)")


class AgreementIn(AgreementFields):
    """A new agreement, with the code it is known by."""

    code: Slug


class AgreementUpdateIn(AgreementFields):
    """Every field of an agreement, with the version they were read at."""

    version: Annotated[int, Field(ge=1), NumberOnly]
    # Sent back as read; the path names the agreement, so a code here changes nothing.
    code: str | None = Field(default=None, max_length=120,
                             description="Ignored: the path names the agreement")


class AgreementSaved(Public):
    """An agreement as stored: its code and the version to send with the next edit."""

    code: str
    version: int


class AgreementUpdated(AgreementSaved):
    """An agreement after an edit: a change to its terms clears the parties' signatures."""

    status: AgreementStatus
    signatures_cleared: bool = Field(description=(
        "The terms changed, so the signatures are cleared and the agreement is drafting: every "
        "party signs the new terms again (a lead's edit of a signed agreement's terms is "
        "recorded so)"))


class LinkRead(BaseModel):
    """A project's link to a dataset as the client read it."""

    model_config = ConfigDict(extra="forbid")

    required: bool
    fit_for_task: FitForTask
    agreement: Agreement = Field(description="The link's own word (`none` when it rests on a "
                                             "record)")
    sharing_agreement: str | None


class DatasetLinkIn(BaseModel):
    """How a project uses (or produces) a dataset, and the agreement the use rests on."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    relation: LinkRelation = LinkRelation.USES
    required: bool = True
    fit_for_task: FitForTask = FitForTask.UNKNOWN
    agreement: Agreement = Field(default=Agreement.NONE, description=(
        "Without `sharing_agreement`: `not_needed` or `none`. `drafting`, `signed` and "
        "`expired` come from an agreement record (422 otherwise), save a word a bulk load "
        "wrote on the link, sent back unchanged"))
    sharing_agreement: Annotated[str, Field(max_length=120)] | None = None
    was: LinkRead | None = Field(default=None, description=(
        "The link as read for this relation (null: not linked); one changed since is refused "
        "with 409 and `current`. Left out, the link is written whatever it is"))


@router.get("/agreements", dependencies=[READ])
def list_agreements(
    db: AppDatabase,
    party: Annotated[str | None, Query(max_length=32, description="Organisation code")] = None,
    status: Annotated[AgreementStanding | None, Query(
        description="Standing today: drafting, signed or expired (a terminated agreement "
                    "stands as expired)")] = None,
    expiring_within: Annotated[int | None, Query(
        ge=0, le=3660, description="Only agreements in force expiring within this many days"
    )] = None,
) -> list[dict[str, Any]]:
    """List agreements with parties, datasets, relying projects and the value resting on each."""
    with db.read() as session:
        closed_lists.require_organisation(session, party, name="party")
    return agreement_pages.agreements_page(db, party=party, status=status,
                                           expiring_within=expiring_within)["agreements"]


@router.get("/agreements/as-of", dependencies=[READ])
def agreements_as_of(
    db: AppDatabase,
    on: Annotated[date, Query(alias="date", description="The day to look at, YYYY-MM-DD")],
) -> dict[str, Any]:
    """Say what breaks if nothing is renewed by a day: agreements lapsed, projects' scores."""
    try:
        return agreement_pages.what_breaks(db, as_of=on)
    except Invalid as exc:  # named for the parameter the client sent
        raise Invalid({"date" if k == "as_of" else k: v for k, v in exc.errors.items()}) from None


@router.get("/agreements/{code}", dependencies=[READ])
def get_agreement(code: str, db: AppDatabase) -> dict[str, Any]:
    """Return an agreement with its parties, datasets, the links resting on it and their value."""
    return agreement_pages.agreement_page(db, code=code)


@router.post("/agreements", dependencies=[AGREEMENTS], status_code=201,
             response_model=AgreementSaved)
def create_agreement(
    session: WriteSession, actor: CurrentActor,
    body: Annotated[AgreementIn, Body(examples=[AGREEMENT_EXAMPLE])],
) -> dict[str, Any]:
    """Register an agreement (the CDO, an admin, or a lead whose organisation is party)."""
    return agreement_service.create_agreement(session=session, actor=actor, data=body_of(body))


@router.put("/agreements/{code}", dependencies=[AGREEMENTS], response_model=AgreementUpdated)
def update_agreement(
    code: str, session: WriteSession, actor: CurrentActor,
    body: Annotated[AgreementUpdateIn, Body(examples=[
        {k: v for k, v in AGREEMENT_EXAMPLE.items() if k != "code"} | {"version": 1}])],
) -> dict[str, Any]:
    """Replace an agreement's fields from the `version` read (stale: 409); new terms are signed
    again by every party, so a lead's change to a signed agreement's terms records it drafting."""
    return agreement_service.update_agreement(session=session, actor=actor, code=code,
                                              data=body_of(body))


class SignIn(BaseModel):
    """The version of the agreement whose terms the caller's organisation signs."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(ge=1, le=2**62), NumberOnly]


class AgreementSigned(AgreementSaved):
    """An agreement after a party signed: `signed` once every party has, else `drafting`."""

    status: AgreementStatus


@router.post("/agreements/{code}/sign", dependencies=[AGREEMENTS],
             response_model=AgreementSigned)
def sign_agreement(code: str, body: SignIn, session: WriteSession,
                   actor: CurrentActor) -> dict[str, Any]:
    """Sign the agreement for the caller's own organisation, a party to it, from the `version`
    read (a stale one answers 409); the last party's signature makes it `signed`."""
    return agreement_service.sign_agreement(session=session, actor=actor, code=code,
                                            data=body_of(body))


EDIT = Depends(policy(Policy.EDIT))


@router.put("/projects/{slug}/datasets/{dataset}", dependencies=[EDIT])
def link_dataset(
    slug: str, dataset: str, session: WriteSession, actor: CurrentActor,
    body: Annotated[DatasetLinkIn, Body(examples=[{
        "relation": "uses", "required": True, "fit_for_task": "partial",
        "sharing_agreement": "london-street-works-dsa"}])],
) -> dict[str, Any]:
    """Record or change a project's use of a dataset: fitness, and the agreement it rests on.

    `sharing_agreement` names the agreement record (it must cover the dataset); without one,
    `agreement` says `not_needed` or `none` (no agreement yet).
    """
    data = {**body_of(body), "dataset": dataset}
    read = None
    if "was" in body.model_fields_set:
        data.pop("was", None)
        was = body.was
        key = project_service.link_key(dataset, body.relation.value)
        read = {} if was is None else {key: was.model_dump(mode="json")}
    return project_service.link_dataset(session=session, actor=actor, slug=slug, data=data,
                                        read=read)
