"""The JSON API under /api/v1."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import Access, Decision, OrganisationKind, ProjectStatus, Theme
from portfolio.errors import Invalid
from portfolio.schemas import NumberOnly
from portfolio.services import datasets as dataset_service
from portfolio.services import filters as closed_lists
from portfolio.services import network, planning, workflow
from portfolio.services import organisations as organisation_service
from portfolio.services import overrides as override_service
from portfolio.services import profiles as profile_service
from portfolio.services import projects as project_service
from portfolio.services import ranking as ranking_service
from portfolio.services import reviews as review_service
from portfolio.services import scenarios as scenario_service
from web.api_contract import ERRORS
from web.api_models import (
    FILLED,
    FILLED_BLOCK,
    BacklogRow,
    DatasetPatchIn,
    DatasetUpdate,
    DependencyInput,
    IsoDate,
    OrganisationPublic,
    PlanPublic,
    ProjectCreate,
    ProjectPatched,
    ProjectPatchIn,
    ProjectPublic,
    ProjectSummary,
    ProjectUpdateIn,
    body_of,
)
from web.deps import app_database, current_actor, read_session, write_session
from web.routing import Router
from web.security import Policy, policy

router = Router(prefix="/api/v1", tags=["api"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
EDIT = Depends(policy(Policy.EDIT))
REGISTER = Depends(policy(Policy.REGISTER))
DATASETS = Depends(policy(Policy.DATASETS))
PROFILES = Depends(policy(Policy.PROFILES))
DECIDE = Depends(policy(Policy.DECIDE))
OVERRIDE = Depends(policy(Policy.OVERRIDE))

ReadSession = Annotated[Session, Depends(read_session)]
# scope="function": commit before the response is sent, so a 201 means the write landed.
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
CurrentActor = Annotated[Actor, Depends(current_actor)]


@router.get("/organisations", dependencies=[READ], response_model=list[OrganisationPublic])
def list_organisations(session: ReadSession, kind: OrganisationKind | None = None
                       ) -> list[dict[str, Any]]:
    """List organisations (code, name, kind)."""
    return organisation_service.list_organisations(session=session, kind=kind)


@router.get("/projects", dependencies=[READ], response_model=list[ProjectSummary])
def list_projects(
    session: ReadSession,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    status: ProjectStatus | None = None,
    theme: Theme | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    archived: bool | None = None,
) -> list[dict[str, Any]]:
    """List projects (slug, title, organisation code, status, archived and more)."""
    closed_lists.require_organisation(session, organisation)
    return project_service.list_projects(
        session=session, organisation=organisation, status=status, theme=theme, q=q,
        archived=archived)


@router.get("/projects/{slug}", dependencies=[READ], response_model=ProjectPublic)
def get_project(slug: str, session: ReadSession) -> dict[str, Any]:
    """Return one project with its partners, datasets, dependencies and assessments."""
    return project_service.get_project(session=session, slug=slug)


@router.post("/projects", status_code=201, dependencies=[REGISTER], response_model=ProjectSummary)
def create_project(
    body: ProjectCreate, session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Register a project."""
    return project_service.create_project(session=session, actor=actor, data=body_of(body))


@router.put("/projects/{slug}", dependencies=[EDIT], response_model=ProjectSummary)
def update_project(
    slug: str, body: ProjectUpdateIn, session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Replace a project's fields; the body carries the version it was read at.

    A stale version is refused with 409 and the fields changed since (`changed`). A status
    change follows the workflow; the CDO or an admin gives `status_reason` for one outside it.
    """
    return project_service.update_project(session=session, actor=actor, slug=slug,
                                          data=body_of(body))


@router.patch("/projects/{slug}", dependencies=[EDIT], response_model=ProjectPatched)
def patch_project(
    slug: str, body: ProjectPatchIn, session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Change only the fields sent, with the `version` they were read at.

    From a stale version the edit is merged field by field: fields only you changed are
    applied (`applied`), fields only others changed keep their values (`kept`); fields you
    both changed differently answer 409 with `conflicts` (base, theirs, mine) and nothing is
    written.
    """
    return project_service.patch_project(session=session, actor=actor, slug=slug,
                                         data=body_of(body))


class MoveIn(BaseModel):
    """A status change along the workflow."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    status: ProjectStatus
    reason: str = Field(default="", max_length=2000)
    version: Annotated[int, Field(ge=1), NumberOnly] | None = None


@router.post("/projects/{slug}/status", dependencies=[EDIT])
def move_project(slug: str, body: MoveIn, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Move a project along the status workflow; a move not allowed is 403 naming who may."""
    return workflow.move(session=session, actor=actor, slug=slug, to=body.status,
                         reason=body.reason, version=body.version)


class DecisionIn(BaseModel):
    """A review decision with its rationale (for needs_information, the question)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    # One of the decisions: stated here, checked by the service with the rationale's rule.
    decision: str = Field(max_length=24, json_schema_extra={"enum": [d.value for d in Decision]})
    rationale: str = Field(max_length=20_000, json_schema_extra=FILLED, description=(
        "The reasons (for needs_information, the question)"))
    version: Annotated[int, Field(ge=1, le=2**62), NumberOnly] | None = Field(
        default=None, description=("The project's version the decision was made on; a project "
                                   "changed since is refused with 409 and `changed`"))


@router.post("/projects/{slug}/decisions", status_code=201, dependencies=[DECIDE])
def decide(slug: str, body: DecisionIn, session: WriteSession,
           actor: CurrentActor) -> dict[str, Any]:
    """Record a review decision (approve, reject, defer, needs_information) with its rationale."""
    return review_service.decide(session=session, actor=actor, slug=slug,
                                 decision=body.decision, rationale=body.rationale,
                                 version=body.version)


class AnswerIn(BaseModel):
    """A lead's answer to the reviewer's question."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    answer: str = Field(max_length=20_000, json_schema_extra=FILLED_BLOCK)


@router.post("/projects/{slug}/answer", dependencies=[EDIT])
def answer(slug: str, body: AnswerIn, session: WriteSession,
           actor: CurrentActor) -> dict[str, Any]:
    """Answer the open "needs information" question on a project."""
    return review_service.answer_question(session=session, actor=actor, slug=slug,
                                          answer=body.answer)


class OverrideRead(BaseModel):
    """A priority override as the client read it."""

    value: Annotated[float, NumberOnly]
    justification: str = Field(max_length=2000)
    expires_on: date | None = None


class OverrideIn(BaseModel):
    """A manual priority with its required justification and optional expiry."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    value: Annotated[float, Field(ge=0, le=100), NumberOnly] = Field(
        description="The priority to use, 0 to 100")
    justification: str = Field(max_length=2000, json_schema_extra=FILLED_BLOCK)
    expires_on: IsoDate | None = None
    was: OverrideRead | None = Field(default=None, description=(
        "The override as read (null: none was set); one changed since is refused with 409 and "
        "`current`. Left out, the override is replaced whatever it is"))


def override_read(was: OverrideRead | None) -> dict[str, Any]:
    """Return an override read in the form the service compares (blank: none was set)."""
    if was is None:
        return {"value": "", "justification": "", "expires_on": ""}
    return {"value": str(was.value), "justification": was.justification,
            "expires_on": was.expires_on.isoformat() if was.expires_on else ""}


@router.get("/projects/{slug}/override", dependencies=[READ])
def get_override(slug: str, session: ReadSession) -> dict[str, Any]:
    """Return a project's priority override, if any."""
    return override_service.get_override(session=session, slug=slug)


@router.put("/projects/{slug}/override", dependencies=[OVERRIDE])
def put_override(slug: str, body: OverrideIn, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Set a project's priority (0-100) by hand; a justification is required (422 without)."""
    was = override_read(body.was) if "was" in body.model_fields_set else None
    return override_service.set_override(session=session, actor=actor, slug=slug,
                                         data=body.model_dump(exclude={"was"}), was=was)


@router.delete("/projects/{slug}/override", dependencies=[OVERRIDE])
def delete_override(
    slug: str, session: WriteSession, actor: CurrentActor,
    was_value: Annotated[float | None, Query(description=(
        "The override's value as read; with its justification and expiry, an override "
        "changed since is kept and answers 409"))] = None,
    was_justification: Annotated[str, Query(max_length=2000)] = "",
    was_expires_on: date | None = None,
) -> dict[str, Any]:
    """Clear a project's priority override; from a stale reading, 409."""
    was = None if was_value is None else override_read(OverrideRead(
        value=was_value, justification=was_justification, expires_on=was_expires_on))
    return override_service.clear_override(session=session, actor=actor, slug=slug, was=was)


@router.post("/projects/{slug}/dependencies", status_code=201, dependencies=[EDIT])
def add_dependency(
    slug: str, body: DependencyInput, session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Record that a project depends on another (a cycle is refused with its path)."""
    return project_service.add_dependency(session=session, actor=actor, slug=slug,
                                          data=body_of(body))


@router.get("/datasets", dependencies=[READ])
def list_datasets(
    session: ReadSession, publisher: str | None = None, access: Access | None = None
) -> list[dict[str, Any]]:
    """List datasets with their readiness level and how many projects use them."""
    closed_lists.require_organisation(session, publisher, name="publisher")
    return dataset_service.list_datasets(session=session, publisher=publisher, access=access)


@router.get("/datasets/{code}", dependencies=[READ])
def get_dataset(code: str, session: ReadSession) -> dict[str, Any]:
    """Return one dataset."""
    return dataset_service.get_dataset(session=session, code=code)


@router.put("/datasets/{code}", dependencies=[DATASETS])
def update_dataset(code: str, body: DatasetUpdate, session: WriteSession,
                   actor: CurrentActor) -> dict[str, Any]:
    """Replace a dataset's fields from the `version` read; a stale one is 409 with `changed`."""
    return dataset_service.update_dataset(session=session, actor=actor, code=code,
                                          data=body_of(body))


@router.patch("/datasets/{code}", dependencies=[DATASETS])
def patch_dataset(code: str, body: DatasetPatchIn, session: WriteSession,
                  actor: CurrentActor) -> dict[str, Any]:
    """Change only the fields sent, merging a stale edit field by field as for projects."""
    return dataset_service.patch_dataset(session=session, actor=actor, code=code,
                                         data=body_of(body))


AppDatabase = Annotated[Database, Depends(app_database)]
# The kinds of node the portfolio graph holds (scoring.graph.build_graph).
NodeKind = Literal["project", "dataset", "organisation"]
ProfileName = Annotated[str | None, Query(max_length=120, description="Weight profile name")]


@router.get("/backlog", dependencies=[READ], response_model=list[BacklogRow])
def get_backlog(
    response: Response, db: AppDatabase, profile: ProfileName = None,
    view: Annotated[Literal["candidates", "committed", "all"], Query(description=(
        "candidates (idea, proposed, approved: what the CDO decides on), committed (in "
        "progress, paused) or all (both, in the whole dependency-aware order)"))] = "candidates",
    top: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    theme: Theme | None = None,
    status: ProjectStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    fresh: Annotated[bool, Query(description=(
        "Wait for the ranking of the current revision instead of reading the previous one "
        "while it is computed"))] = False,
) -> list[dict[str, Any]]:
    """Return the dependency-aware ranking with scores, robustness and explanations.

    `rank` is a project's place in its view; `rank_interval` and `p_top_k` describe that rank
    under uncertain weights; `order` is its place in the whole order across both views.

    While a re-ranking after edits runs, the previous ranking answers at once:
    X-Portfolio-Ranking-Behind says by how many revisions (0: current); ?fresh=true waits.
    """
    with db.read() as session:
        closed_lists.require_organisation(session, organisation)
    closed_lists.require_known(status=(closed_lists.statuses_in_view(view), status))
    run, rows = ranking_service.ranked_rows(
        db, profile=profile, view=view, top=top, organisation=organisation, theme=theme,
        status=status, q=q, wait_seconds=None if fresh else 0.0)
    response.headers["X-Portfolio-Revision"] = str(run.revision)
    response.headers["X-Portfolio-Ranking-Behind"] = str(run.behind)
    response.headers["X-Portfolio-Profile"] = quote(run.profile)
    return rows


@router.get("/plan", dependencies=[READ], response_model=PlanPublic)
def get_plan(
    db: AppDatabase,
    budget: Annotated[float, Query(ge=0, description="Budget in GBP")],
    capacity: Annotated[float, Query(ge=0, description="Capacity in person-months")],
    profile: ProfileName = None,
    force_in: Annotated[list[str], Query(max_length=120)] = [],  # noqa: B006
    force_out: Annotated[list[str], Query(max_length=120)] = [],  # noqa: B006
) -> dict[str, Any]:
    """Choose the projects that maximise value within a budget and a capacity, in waves.

    Also says why each candidate is left out (`left_out`) and, when infeasible, which projects
    every plan must take with their cost (`responsible`).
    """
    return scenario_service.explained_plan(db, budget=budget, capacity=capacity,
                                           profile=profile, force_in=force_in,
                                           force_out=force_out)


@router.get("/plan/frontier", dependencies=[READ])
def get_frontier(
    db: AppDatabase,
    capacity: Annotated[float, Query(description="Capacity in person-months")],
    max_budget: Annotated[float, Query(gt=0, le=1e12, description="Largest budget in GBP")],
    steps: Annotated[int, Query(ge=2, le=40)] = 10,
    profile: ProfileName = None,
) -> list[dict[str, Any]]:
    """Return the best value at evenly spaced budgets up to max_budget."""
    planning.finite_amount(max_budget, "max_budget", "the largest budget")
    # Divided first: a finite largest budget near the float limit cannot overflow.
    budgets = [max_budget / steps * (i + 1) for i in range(steps)]
    return planning.frontier(db, capacity=capacity, budgets=budgets, profile=profile)


@router.get("/plumbing", dependencies=[READ])
def get_plumbing(
    db: AppDatabase, profile: ProfileName = None,
    top: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[dict[str, Any]]:
    """Rank the data improvements and agreements that would raise portfolio value most."""
    return planning.plumbing(db, profile=profile, top=top)


@router.get("/graph", dependencies=[READ])
def get_graph(
    db: AppDatabase,
    kind: Annotated[list[NodeKind], Query(max_length=16)] = [],  # noqa: B006
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    theme: Theme | None = None,
    status: ProjectStatus | None = None,
) -> dict[str, Any]:
    """Return the portfolio graph as node-link JSON (cytoscape elements)."""
    with db.read() as session:
        closed_lists.require_organisation(session, organisation)
    return network.graph_json(db, kinds=kind, organisation=organisation, theme=theme,
                                     status=status)


@router.get("/graph.graphml", response_class=Response, dependencies=[READ])
def get_graphml(db: AppDatabase) -> Response:
    """Return the portfolio graph as GraphML."""
    return Response(network.graphml(db), media_type="application/graphml+xml",
                    headers={"Content-Disposition": 'attachment; filename="portfolio.graphml"'})


@router.get("/clusters", dependencies=[READ])
def get_clusters(db: AppDatabase) -> list[dict[str, Any]]:
    """Return groups of organisations that share projects or datasets."""
    return network.clusters(db)


@router.get("/profiles", dependencies=[READ])
def list_profiles(session: ReadSession) -> list[dict[str, Any]]:
    """List weight profiles with their weights and consistency."""
    return profile_service.list_profiles(session=session)


@router.get("/profiles/{name}", dependencies=[READ])
def get_profile(name: str, session: ReadSession) -> dict[str, Any]:
    """Return one weight profile."""
    return profile_service.get_profile(session=session, name=name)


@router.get("/profiles/{name}/history", dependencies=[READ])
def get_profile_history(name: str, session: ReadSession) -> list[dict[str, Any]]:
    """Return a weight profile's past versions."""
    return profile_service.profile_history(session=session, name=name)


# A weight and a pairwise judgement: their rules (sums, Saaty's scale) are the service's.
Weight = Annotated[float, NumberOnly]
Judgement = Annotated[float, NumberOnly]


class WeightsIn(BaseModel):
    """A profile's weights in the shape a GET returns them."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    dimension: dict[str, Weight]
    criterion: dict[str, Weight]


class ProfileWeightsIn(BaseModel):
    """New weights for a profile: direct, or with the AHP matrix they came from."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    weights: WeightsIn | None = Field(
        default=None, description="the weights as GET returns them; or give "
        "`dimension_weights` and `criterion_weights` instead")
    dimension_weights: dict[str, Weight] | None = None
    criterion_weights: dict[str, Weight] | None = None
    description: str | None = Field(default=None, max_length=2000)
    ahp_matrix: dict[str, Any] | None = Field(
        default=None, description="AHP judgements by group (`dimensions`, `impact`, "
        "`feasibility`, `readiness`), each `{labels, matrix}` or `{labels, assessors: [{name, "
        "matrix}]}`; the weights of a group with a matrix come from it, and the profile "
        "records method `ahp`, the matrices and the consistency ratio")
    version: Annotated[int, Field(ge=1), NumberOnly] | None = Field(
        default=None, description="the version these weights were set from; a profile "
        "changed since is refused with 409")


@router.put("/profiles/{name}", dependencies=[PROFILES])
def put_profile(name: str, body: ProfileWeightsIn, session: WriteSession,
                actor: CurrentActor) -> dict[str, Any]:
    """Replace a profile's weights; the old ones stay in its history."""
    dimension_weights, criterion_weights = _weights_sent(body)
    return profile_service.set_weights(
        session=session, actor=actor, name=name, dimension_weights=dimension_weights,
        criterion_weights=criterion_weights, description=body.description,
        ahp_matrix=body.ahp_matrix, version=body.version)


def _weights_sent(body: ProfileWeightsIn) -> tuple[dict[str, float], dict[str, float]]:
    """Return the (dimension, criterion) weights of a body that gives them one way, once."""
    split = (body.dimension_weights, body.criterion_weights)
    if body.weights is not None:
        if split != (None, None):
            raise Invalid({"weights": "give the weights once: as weights (the shape a GET "
                                      "returns) or as dimension_weights and criterion_weights"})
        return body.weights.dimension, body.weights.criterion
    if split[0] is None or split[1] is None:
        raise Invalid({"weights": "give the weights: as weights {dimension, criterion}, or as "
                                  "dimension_weights and criterion_weights"})
    return split[0], split[1]


class AssessorIn(BaseModel):
    """One assessor's pairwise comparison matrix."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    name: str = Field(default="", max_length=120)
    matrix: list[list[Judgement]] = Field(min_length=1, max_length=10)


class AHPIn(BaseModel):
    """Pairwise comparisons (Saaty's 1/9..9) with their labels: one matrix, or assessors'."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    labels: list[str] = Field(min_length=1, max_length=10, description=(
        "One name per row of the matrix, each different: the weights are answered by them"))
    matrix: list[list[Judgement]] | None = Field(default=None, min_length=1, max_length=10)
    assessors: list[AssessorIn] | None = Field(default=None, min_length=1, max_length=20)


@router.post("/ahp", dependencies=[READ])
def post_ahp(body: AHPIn) -> dict[str, Any]:
    """Derive weights from pairwise comparisons, with the consistency ratio.

    With `assessors`, their matrices are combined by the element-wise geometric mean and
    each assessor's weights and CR are returned beside the group's.
    """
    assessors = [a.model_dump() for a in body.assessors] if body.assessors else None
    return profile_service.ahp_derive(body.labels, body.matrix, assessors)
