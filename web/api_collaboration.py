"""The JSON API for similar projects, collaboration opportunities and realised benefits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from portfolio.actors import Actor
from portfolio.enums import Theme
from portfolio.errors import NotFound
from portfolio.services import benefits as benefit_service
from portfolio.services import collaboration as collaboration_service
from portfolio.services import filters as closed_lists
from web.api import AppDatabase, CurrentActor, ReadSession, WriteSession
from web.api_contract import ERRORS
from web.api_models import BenefitIn, DismissIn, body_of
from web.routing import Router
from web.security import Policy, policy

router = Router(prefix="/api/v1", tags=["collaboration and benefits"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
# The signed-in user, or None for an anonymous reader when public read lets them in.
Reader = Annotated[Actor | None, READ]
EDIT = Depends(policy(Policy.EDIT))
BENEFITS = Depends(policy(Policy.BENEFITS))
DISMISS = Depends(policy(Policy.DISMISS))
JOIN = Depends(policy(Policy.JOIN))
Top = Annotated[int, Query(ge=1, le=50, description="How many similar projects")]
Filter = Annotated[str | None, Query(max_length=32)]
Code = Annotated[str, Path(max_length=32, description="The asking organisation's code")]
Fresh = Annotated[bool, Query(description="Wait for the current revision's similarities "
                                          "rather than answer with the previous ones")]


@router.get("/projects/{slug}/similar")
def similar_projects(slug: str, db: AppDatabase, actor: Annotated[Actor | None, READ],
                     top: Top = 10, fresh: Fresh = False) -> dict[str, Any]:
    """Return the projects in other organisations most like this one, with why.

    `similar` rows carry `score` (0-1), `why` in words, `shared_datasets`, `shared_terms`,
    `same_theme` and a `contact` (a lead's name, and email for signed-in readers only);
    `none_reason` says why the list is empty.
    """
    return collaboration_service.similar_projects(db, actor=actor, slug=slug, top=top,
                                                  fresh=fresh)


class DraftIn(BaseModel):
    """A project being registered, as far as it is typed: any text, cut to what is compared."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    title: str = ""
    description: str = ""
    theme: str = ""
    owner: str = ""


@router.post("/similar")
def similar_to_draft(body: DraftIn, db: AppDatabase, actor: Annotated[Actor, EDIT],
                     top: Top = 5) -> dict[str, Any]:
    """Return existing projects like a project not yet registered, as the registration
    form's panel shows them (an unknown theme or owner is left out of the comparison)."""
    return collaboration_service.similar_to_draft(db, actor=actor, data=body.model_dump(),
                                                  top=top)


@router.get("/collaboration", dependencies=[READ])
def collaboration(db: AppDatabase, actor: Reader, theme: Theme | None = None,
                  organisation: Filter = None, fresh: Fresh = False) -> dict[str, Any]:
    """Return groups of alike projects in different organisations that are not yet partners,
    with shared datasets, combined value and cost and a suggested lead; `key` names a group
    for dismissal."""
    with db.read() as session:
        closed_lists.require_organisation(session, organisation)
    return collaboration_service.opportunities(db, theme=theme, organisation=organisation,
                                               actor=actor, fresh=fresh)


@router.post("/collaboration/dismiss", status_code=201, dependencies=[DISMISS])
def dismiss(body: DismissIn, session: WriteSession,
            actor: CurrentActor) -> dict[str, Any]:
    """Set a suggestion aside ({group: key, reason}); it does not return."""
    return collaboration_service.dismiss(session=session, actor=actor, data=body_of(body))


@router.get("/collaboration/dismissed", dependencies=[READ])
def dismissed(session: ReadSession) -> list[dict[str, Any]]:
    """Return the suggestions set aside, newest first, with who and why."""
    return collaboration_service.dismissed(session=session)


@router.post("/projects/{slug}/join", status_code=201, dependencies=[JOIN])
def join_project(slug: str, body: collaboration_service.JoinInput, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Ask for an organisation ({organisation: code}) to partner in another's project.

    `status` is `requested` until the owning side accepts (`.../partner-requests/{code}/accept`);
    it is `partner` at once when the caller may edit the project (its lead, the CDO, an admin).
    """
    return collaboration_service.join_project(session=session, actor=actor, slug=slug,
                                              data=body_of(body))


@router.post("/projects/{slug}/partner-requests/{organisation}/accept", dependencies=[EDIT])
def accept_partner_request(slug: str, organisation: Code, session: WriteSession,
                           actor: CurrentActor) -> dict[str, Any]:
    """Accept an organisation's request to partner (who may edit the project; 409 once gone)."""
    return collaboration_service.accept_partner_request(
        session=session, actor=actor, slug=slug, organisation=organisation)


@router.delete("/projects/{slug}/partner-requests/{organisation}", status_code=204,
               response_class=Response, dependencies=[EDIT])
def decline_partner_request(slug: str, organisation: Code, session: WriteSession,
                            actor: CurrentActor) -> Response:
    """Decline an organisation's request to partner (who may edit the project; 409 once gone)."""
    collaboration_service.decline_partner_request(session=session, actor=actor, slug=slug,
                                                  organisation=organisation)
    return Response(status_code=204)


@router.post("/projects/{slug}/partner-requests/{organisation}/withdraw", status_code=204,
             response_class=Response, dependencies=[JOIN])
def withdraw_partner_request(slug: str, organisation: Code, session: WriteSession,
                             actor: CurrentActor) -> Response:
    """Withdraw the asking side's waiting request to partner (409 once answered or withdrawn)."""
    collaboration_service.withdraw_partner_request(session=session, actor=actor, slug=slug,
                                                   organisation=organisation)
    return Response(status_code=204)


@router.get("/benefits", dependencies=[READ])
def list_benefits(session: ReadSession, organisation: Filter = None) -> list[dict[str, Any]]:
    """Return every delivered project's realised benefits beside its estimate."""
    closed_lists.require_organisation(session, organisation)
    return benefit_service.list_benefits(session=session, organisation=organisation)


@router.get("/benefits/accuracy", dependencies=[READ])
def estimate_accuracy(session: ReadSession) -> dict[str, Any]:
    """Return estimate accuracy by organisation and by criterion (estimated vs realised level)."""
    return benefit_service.estimate_accuracy(session=session)


@router.get("/projects/{slug}/benefits", dependencies=[READ])
def get_benefits(slug: str, session: ReadSession) -> dict[str, Any]:
    """Return a project's realised benefits (404 when none are recorded)."""
    found = benefit_service.get_benefits(session=session, slug=slug)
    if found is None:
        raise NotFound("benefits recorded for project", slug)
    return found


class BenefitSent(BaseModel):
    """A benefits record as sent: documented as BenefitIn, checked whole by the service.

    FastAPI refused a body's fields before the service could check the date against delivery,
    so a client learnt of its problems in two rounds; the service's own model says them all.
    """

    model_config = ConfigDict(extra="allow",
                              json_schema_extra=lambda schema: _documented_as(schema, BenefitIn))

    people_reached: Any = None
    savings_gbp: Any = None
    outcome: Any = None
    review: Any = None
    measured_on: Any = None
    version: Any = None


def _documented_as(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Replace a body's schema with the model's that states what the service accepts."""
    schema.clear()
    schema.update(model.model_json_schema())


@router.put("/projects/{slug}/benefits", dependencies=[BENEFITS])
def record_benefits(slug: str, body: BenefitSent, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Record or correct a delivered project's benefits: people_reached, savings_gbp, outcome,
    measured_on (on or after delivery), review, and the `version` read (0 for none yet)."""
    return benefit_service.record_benefits(session=session, actor=actor, slug=slug,
                                           data=body_of(body), require_version=True)
