"""Validated inputs and public shapes of the portfolio's entities."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from portfolio.enums import (
    Access,
    Agreement,
    DpiaStatus,
    FitForTask,
    LinkRelation,
    OrganisationKind,
    PartnerRole,
    ProjectStatus,
    ReadinessLevel,
    Role,
    Theme,
    UpdateFrequency,
)
from portfolio.errors import Invalid

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"

Slug = Annotated[str, Field(min_length=1, max_length=120, pattern=SLUG_PATTERN)]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=CODE_PATTERN)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(max_length=20_000)]


class Input(BaseModel):
    """Base of service inputs: strip text, refuse unknown fields."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


def parse(model: type[Input], data: dict[str, Any]) -> Any:
    """Validate data against an input model, raising Invalid with a message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc)) from None


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Turn pydantic's errors into one readable message per field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not field:
            # Whole-model rules name their field as "field: message".
            field, _, message = (
                message.partition(": ") if ": " in message else ("input", "", message)
            )
            # Their input is the whole form: do not echo it.
            errors.setdefault(field, message)
            continue
        if error["type"] == "enum":
            allowed = error.get("ctx", {}).get("expected", "")
            message = f"{error.get('input')!r} is not one of {allowed}"
        elif error["type"] == "string_pattern_mismatch" and field in {"slug", "code"}:
            message = f"{error.get('input')!r} must be lowercase letters, digits and hyphens"
        elif "input" in error and error["type"] not in {"missing", "extra_forbidden"}:
            message = f"{message} (got {error['input']!r})"
        errors.setdefault(field, message)
    return errors


class OrganisationCreate(Input):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: OrganisationKind


class OrganisationUpdate(Input):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    kind: OrganisationKind | None = None


class ProjectFields(Input):
    """Fields a project shares between creation and update."""

    title: Title
    description: LongText = ""
    owner: Code
    theme: Theme
    status: ProjectStatus = ProjectStatus.IDEA
    cost_gbp: Annotated[int, Field(ge=0, le=10**12)] = 0
    effort_pm: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    start_date: date | None = None
    end_date: date | None = None
    personal_data: bool = False
    dpia_status: DpiaStatus = DpiaStatus.NOT_NEEDED
    mandatory: bool = False
    mandatory_justification: LongText = ""
    reach_people: Annotated[int, Field(ge=0, le=10**9)] | None = None
    confidence_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    time_criticality: Annotated[int, Field(ge=1, le=5)] | None = None

    @field_validator("effort_pm")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date: must not be before the start date")
        if self.mandatory and not self.mandatory_justification:
            raise ValueError(
                "mandatory_justification: a mandatory project needs its statutory justification"
            )
        return self


class ProjectCreate(ProjectFields):
    slug: Slug


class ProjectUpdate(ProjectFields):
    """A full edit of a project, made from the version the user read."""

    version: Annotated[int, Field(ge=1)]


class VersionInput(Input):
    """The version an edit was made from."""

    version: Annotated[int, Field(ge=1)]


class DatasetFields(Input):
    title: Title
    description: LongText = ""
    publisher: Code
    access: Access
    licence: Annotated[str, Field(max_length=120)] = ""
    update_frequency: UpdateFrequency = UpdateFrequency.ADHOC
    drl: ReadinessLevel = ReadinessLevel.C4


class DatasetCreate(DatasetFields):
    code: Slug


class DatasetUpdate(DatasetFields):
    version: Annotated[int, Field(ge=1)]


class DatasetLinkInput(Input):
    dataset: Slug
    relation: LinkRelation = LinkRelation.USES
    required: bool = True
    fit_for_task: FitForTask = FitForTask.UNKNOWN
    agreement: Agreement = Agreement.NONE


class PartnerInput(Input):
    organisation: Code
    role: PartnerRole = PartnerRole.PARTNER


class DependencyInput(Input):
    depends_on: Slug
    note: LongText = ""


class AssessmentInput(Input):
    criterion: Annotated[str, Field(min_length=1, max_length=64)]
    level: int
    rationale: LongText = ""


class UserCreate(Input):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    organisation: Code | None = None

    @model_validator(mode="after")
    def _lead_has_organisation(self) -> Self:
        if self.role == Role.LEAD and not self.organisation:
            raise ValueError("organisation: a lead must belong to an organisation")
        return self
