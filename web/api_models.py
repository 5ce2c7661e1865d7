"""Typed request bodies of the JSON API, built on the services' input models (portfolio.schemas).

The services validate again (the pages call them with form data), so these models only give
the API its contract: /openapi.json and /docs show every field, and a generated client types it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from portfolio.enums import (
    Access,
    DpiaStatus,
    ProjectStatus,
    ReadinessLevel,
    Theme,
    UpdateFrequency,
)
from portfolio.schemas import (
    BLOCK_PATTERN,
    FILLED_BLOCK_PATTERN,
    LINE_PATTERN,
    Code,
    DatasetUpdate,
    Day,
    DependencyInput,
    LongText,
    NumberOnly,
    ProjectCreate,
    ProjectUpdate,
    Title,
)

# Text that must hold more than spaces: stated in the schema, checked (with its message) by the
# service.
FILLED: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}
# The same for long text, which also refuses control characters other than tab and line breaks.
FILLED_BLOCK: dict[str, Any] = {"minLength": 1, "pattern": FILLED_BLOCK_PATTERN}
StatusReason = Annotated[str, Field(max_length=2000, description=(
    "Why the status moves outside the usual workflow (the CDO or an admin only)"))]

__all__ = ["FILLED", "FILLED_BLOCK", "BenefitIn", "DismissIn", "DatasetPatchIn", "DatasetUpdate",
           "DependencyInput",
           "ProjectCreate", "ProjectPatchIn", "ProjectUpdateIn", "IsoDate", "body_of"]


class ProjectUpdateIn(ProjectUpdate):
    """Every field of a project, with the version they were read at."""

    status_reason: StatusReason = ""


# A field left out of a patch keeps its saved value (None here, never sent to the service).
KEEP: Any = None


class ProjectPatchIn(BaseModel):
    """Some of a project's fields, with the version they were read at."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    version: Annotated[int, Field(ge=1), NumberOnly]
    status_reason: StatusReason = ""
    # A field left out keeps its saved value; the types are those of ProjectCreate.
    title: Title = KEEP
    description: LongText = KEEP
    owner: Code = KEEP
    theme: Theme = KEEP
    status: ProjectStatus = KEEP
    cost_gbp: Annotated[int, Field(ge=0, le=10**12), NumberOnly] = KEEP
    effort_pm: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False), NumberOnly] = KEEP
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    personal_data: bool = KEEP
    dpia_status: DpiaStatus = KEEP
    mandatory: bool = KEEP
    mandatory_justification: LongText = KEEP
    reach_people: Annotated[int, Field(ge=0, le=10**9), NumberOnly] | None = None
    confidence_pct: Annotated[int, Field(ge=0, le=100), NumberOnly] | None = None
    time_criticality: Annotated[int, Field(ge=1, le=5), NumberOnly] | None = None


class DatasetPatchIn(BaseModel):
    """Some of a dataset's fields, with the version they were read at."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    version: Annotated[int, Field(ge=1), NumberOnly]
    title: Title = KEEP
    description: LongText = KEEP
    publisher: Code = KEEP
    access: Access = KEEP
    licence: Annotated[str, Field(max_length=120, json_schema_extra={
        "pattern": LINE_PATTERN})] = KEEP
    update_frequency: UpdateFrequency = KEEP
    drl: ReadinessLevel = KEEP


class DismissIn(BaseModel):
    """A suggestion to set aside (its `key`) and why, for others to read."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(max_length=2000, pattern=r"^\d{1,18}(,\d{1,18})*$",
                       description="The suggestion's key: project ids, comma-separated")
    reason: str = Field(max_length=2000, json_schema_extra=FILLED_BLOCK)


class BenefitIn(BaseModel):
    """What a delivered project achieved, measured on a date, and the lead's review."""

    model_config = ConfigDict(extra="forbid")

    people_reached: Annotated[int, Field(ge=0, le=100_000_000), NumberOnly] | None = None
    savings_gbp: Annotated[int, Field(ge=0, le=10**12), NumberOnly] | None = None
    outcome: str = Field(max_length=5_000, json_schema_extra=FILLED_BLOCK)
    review: str = Field(default="", max_length=20_000, json_schema_extra={"pattern": BLOCK_PATTERN})
    measured_on: IsoDate
    version: Annotated[int, Field(ge=0, description=(
        "the version read; 0: none recorded yet (a record made since is refused with 409)"
    )), NumberOnly]


# A date in a body: YYYY-MM-DD, never a number of seconds (portfolio.schemas.Day).
IsoDate = Day


def body_of(model: BaseModel) -> dict[str, Any]:
    """Return the fields a request sent, as the plain values the services read."""
    return model.model_dump(mode="json", exclude_unset=True)


# ---------------------------------------------------------------------------------------------
# Public shapes of what the API answers. Each names the fields a client may rely on; answers
# may carry more (extra="allow"), documented in the operation's description.


class Public(BaseModel):
    """Base of answers: the named fields, and whatever else the service adds."""

    model_config = ConfigDict(extra="allow")


class OrganisationPublic(Public):
    code: str
    name: str
    kind: str


OVERDUE = "In progress after its planned end date, as of today (docs/DESIGN.md, Overdue work)"


class ProjectSummary(Public):
    """A project without its links, as lists and edits answer it."""

    slug: str
    title: str
    organisation: str
    status: ProjectStatus
    theme: Theme
    cost_gbp: int
    effort_pm: float
    mandatory: bool
    version: int
    archived: bool = Field(False, description="Archived: out of the pages' lists and the "
                                              "ranking, still reachable at its address")
    overdue: bool = Field(False, description=OVERDUE)


class ProjectPublic(ProjectSummary):
    """A project with its partners, datasets, dependencies and assessments."""

    description: str
    organisation_name: str | None = None
    partners: list[dict[str, Any]] = []
    partner_requests: list[dict[str, Any]] = Field(
        [], description="Organisations asking to partner, not partners until the owning side "
                        "accepts")
    datasets: list[dict[str, Any]] = []
    override_by: str | None = Field(None, description=(
        "Who set the priority override, by name (System when no person did); null for none"))


class ProjectPatched(ProjectSummary):
    """A project after a patch: the fields applied and the others' changes kept."""

    applied: list[str]
    kept: list[str]


class BacklogRow(Public):
    """A project's place in the ranking, with its scores and robustness."""

    rank: int
    view: str
    order: int
    slug: str
    title: str
    organisation: str
    status: ProjectStatus
    score: float | None
    score_status: str
    dimensions: dict[str, float | None]
    priority: float | None
    mandatory: bool
    p_top_k: float | None = None
    rank_interval: list[int] | None = None
    blocked_by: list[str] = []
    unblocks: list[str] = []
    overdue: bool = Field(False, description=OVERDUE)


class PlanPublic(Public):
    """A plan: what is chosen, in which waves, and why the rest is left out."""

    profile: str
    revision: int
    status: str
    selected: list[str]
    waves: list[list[str]]
    budget_used: float | None = None
    capacity_used: float | None = None
    gap: float | None = None
    infeasible_reason: str | None = None
    message: str | None = None
