"""Validated inputs and public shapes of the portfolio's entities."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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
from portfolio.text import refuse_controls, refuse_controls_multiline

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"

Slug = Annotated[str, Field(min_length=1, max_length=120, pattern=SLUG_PATTERN)]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=CODE_PATTERN)]
# Every text input refuses control characters (long text keeps tab and line breaks).
SingleLine = AfterValidator(refuse_controls)
Multiline = AfterValidator(refuse_controls_multiline)
# The same rules as patterns, for the API's schema only: the validators above give the message.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FILLED_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
BLOCK_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
FILLED_BLOCK_PATTERN = (r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*"
                        r"[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
                        r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")
Title = Annotated[str, Field(min_length=1, max_length=300,
                             json_schema_extra={"pattern": FILLED_LINE_PATTERN}), SingleLine]
LongText = Annotated[str, Field(max_length=20_000, json_schema_extra={"pattern": BLOCK_PATTERN}),
                     Multiline]
Name = Annotated[str, Field(min_length=1, max_length=200,
                            json_schema_extra={"pattern": FILLED_LINE_PATTERN}), SingleLine]


def refuse_flag(value: Any) -> Any:
    """Refuse true or false where a number is asked for."""
    if isinstance(value, bool):
        raise ValueError(f"Enter a number, such as 18 (you entered {str(value).lower()}).")
    return value


# Every number input refuses a JSON true or false (and a spreadsheet's TRUE), which pydantic's
# lax mode took as 1 or 0; digits a form posts as text still parse. It goes last in Annotated,
# after the bounds: put before them, it keeps pydantic from stating them in /openapi.json.
NumberOnly = BeforeValidator(refuse_flag)


class Input(BaseModel):
    """Base of service inputs: strip text, refuse unknown fields."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


def parse(model: type[Input], data: dict[str, Any]) -> Any:
    """Validate data against an input model, raising Invalid with a message per field.

    Rules across fields run even when a field is invalid, so every problem shows at once.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(every_problem(model, data, exc)) from None


def every_problem(model: type[Input], data: dict[str, Any],
                  exc: ValidationError) -> dict[str, str]:
    """Return a refusal's message per field, the model's rules across fields included."""
    errors = field_errors(exc)
    rules = getattr(model, "rules", None)
    if rules is not None:
        for name, message in rules(data).items():
            errors.setdefault(name, message)
    return errors


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Turn pydantic's errors into one message per field, written for people."""
    return messages_for(exc.errors())


def messages_for(found: Any) -> dict[str, str]:
    """Turn pydantic's error list into one message per field (also for request validation)."""
    errors: dict[str, str] = {}
    for error in found:
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not field:
            # Whole-model rules name their fields, one "field: message" per line.
            for line in message.splitlines():
                name, _, text = line.partition(": ") if ": " in line else ("input", "", line)
                # Their input is the whole form: do not echo it.
                errors.setdefault(name, text)
            continue
        errors.setdefault(field, plain_message(error, field))
    return errors


# Fields filled by picking from suggestions: what to do when the typed text is no name or code.
PICKED = {
    "depends_on": ("Pick a project from the suggestions, or type its short name: lowercase "
                   "letters, digits and hyphens, such as camden-residents-index."),
    "dataset": ("Pick a dataset from the suggestions, or type its code: lowercase letters, "
                "digits and hyphens, such as london-borough-profiles."),
    "organisation": ("Pick an organisation from the suggestions, or type its code, such as "
                     "E09000007 or GLA."),
    "owner": "Choose an organisation from the list.",
    "publisher": "Choose an organisation from the list.",
    # The API's own patterned fields: their refusal quoted the regular expression.
    "quarter": "Write the quarter as a year and Q1 to Q4, such as 2027 Q1 or 2027-Q1.",
    "url": "Give the portal's address, starting with http:// or https://.",
    "group": ("Give the suggestion's key as the collaboration list shows it: project ids "
              "separated by commas, such as 12,40."),
}


def _figure(value: Any) -> str:
    """Write a limit as people write it: thousands separated, no needless decimals."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def plain_message(error: Any, field: str) -> str:
    """Say what is wrong with one field's value in plain English."""
    kind, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    found = (_field_message(kind, ctx, given, field) or _number_message(kind, ctx, given)
             or _type_message(kind, given))
    if found is not None:
        return found
    if "Expected UploadFile" in error["msg"]:
        # Text where a file belongs: curl's -F file=name.csv, without the @ that sends it.
        return ("Send the file itself as a multipart upload, not its name (with curl: "
                "-F file=@projects.csv, the @ included).")
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _field_message(kind: str, ctx: dict[str, Any], given: Any, field: str) -> str | None:
    """Say what is wrong with a required, chosen or patterned value, if that is the error."""
    if field == "level" and (kind in {"missing", "int_parsing"} or given in ("", None)):
        return "Choose the level whose description fits."
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "This is required: fill it in."
    if kind == "string_pattern_mismatch" and field in PICKED:
        return PICKED[field]
    if kind == "enum":
        # The values as a file or the API must spell them.
        allowed = ctx.get("expected", "").replace("'", "")
        return f"{given!r} is not one of the choices: {allowed}."
    if kind == "string_pattern_mismatch" and field in {"slug", "code"}:
        return ("Use only lowercase letters, digits and single hyphens, such as "
                "camden-residents-index.")
    if kind in {"string_pattern_mismatch", "string_too_short"} and field == "email":
        return "Enter an email address, such as name@example.london."
    if kind == "string_too_short":
        return f"Enter at least {ctx.get('min_length', 1):,} characters."
    if kind == "string_too_long":
        return f"Keep this under {ctx.get('max_length', 0):,} characters."
    return None


def _number_message(kind: str, ctx: dict[str, Any], given: Any) -> str | None:
    """Say what is wrong with a number, if that is the error."""
    if str(given).strip().lower().lstrip("+-") in {"nan", "inf", "infinity"}:
        return "Enter a number, such as 18 or 2.5."
    # A strict bound excludes itself: "Enter 1 or less (you entered 1)" contradicted itself.
    if kind == "greater_than_equal":
        return f"Enter {_figure(ctx.get('ge'))} or more (you entered {given})."
    if kind == "greater_than":
        return f"Enter a number more than {_figure(ctx.get('gt'))} (you entered {given})."
    if kind == "less_than_equal":
        return f"Enter {_figure(ctx.get('le'))} or less (you entered {given})."
    if kind == "less_than":
        return f"Enter a number below {_figure(ctx.get('lt'))} (you entered {given})."
    if kind in {"int_parsing", "int_from_float"}:
        return f"Enter a whole number, such as 250000 (you entered {given!r})."
    if kind in {"float_parsing", "finite_number"}:
        return f"Enter a number, such as 18 or 2.5 (you entered {given!r})."
    return None


def _type_message(kind: str, given: Any) -> str | None:
    """Say what is wrong with a date, a yes/no or an unknown field, if that is the error."""
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"Enter a date as year-month-day, such as 2026-04-01 (you entered {given!r})."
    if kind.startswith("bool"):
        return f"Answer yes or no (you entered {given!r})."
    if kind == "extra_forbidden":
        return "This field is not one the form or the API knows."
    return None


# The largest id a record is named by: any larger one names none, and past the bigint range
# the database driver refuses it.
ROW_ID_MAX = 2**62


# YYYY-MM-DD, and the midnight a spreadsheet or a client may add to it ("2026-04-01 00:00").
YEAR_MONTH_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?")


def year_month_day(value: Any) -> Any:
    """Read a date only as year-month-day: pydantic also took a number as seconds since 1970."""
    if isinstance(value, date) or value is None:
        return value
    found = YEAR_MONTH_DAY.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is not None:
        try:
            return date.fromisoformat(found.group(1))
        except ValueError:
            pass  # a day the calendar has not (2026-02-30)
    raise ValueError(f"Enter a date as year-month-day, such as 2026-04-01 (you entered "
                     f"{value!r}).")


# A date input: YYYY-MM-DD text (or a spreadsheet's date cell), never a number.
Day = Annotated[date, BeforeValidator(year_month_day)]


# Dates a project may have: anything outside is a typing slip (1800-01-01, 9999-12-31).
EARLIEST = date(2000, 1, 1)
LATEST = date(2075, 12, 31)


def in_date_window(value: date | None) -> date | None:
    """Refuse a date outside EARLIEST..LATEST: a typing slip (1800, 9999), not a plan."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValueError(f"Enter a date between {EARLIEST.year} and {LATEST.year} "
                         f"(you entered {value.isoformat()}).")
    return value


def _flag(value: Any) -> bool:
    """Read a yes/no input as a person means it."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"true", "on", "yes", "1"}


def _day(value: Any) -> date | None:
    """Read a date input, or None when it is not one."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()) if value else None
    except ValueError:
        return None


def project_rules(values: Any) -> dict[str, str]:
    """Return the problems across a project's fields (dates, obligations, personal data).

    Run on the raw input as well as on valid fields, so every check speaks on every submit.
    """
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name, None)
    problems: dict[str, str] = {}
    start, end = _day(get("start_date")), _day(get("end_date"))
    if start and end and end < start:
        problems["end_date"] = "The end date must not be before the start date."
    if _flag(get("mandatory")) and not str(get("mandatory_justification") or "").strip():
        problems["mandatory_justification"] = (
            "A mandatory project needs its statutory justification: name the duty.")
    dpia = get("dpia_status")
    dpia = getattr(dpia, "value", dpia) or DpiaStatus.NOT_NEEDED.value
    if _flag(get("personal_data")) and dpia == DpiaStatus.NOT_NEEDED.value:
        problems["dpia_status"] = ("A project that involves personal data needs a DPIA: choose "
                                   "not started, in progress or approved.")
    return problems


class OrganisationCreate(Input):
    code: Code
    name: Name
    kind: OrganisationKind


class ProjectFields(Input):
    """Fields a project shares between creation and update."""

    title: Title
    description: LongText = ""
    owner: Code
    theme: Theme
    status: ProjectStatus = ProjectStatus.IDEA
    cost_gbp: Annotated[int, Field(ge=0, le=10**12), NumberOnly] = 0
    effort_pm: Annotated[float, Field(ge=0, le=100_000), NumberOnly] = 0.0
    start_date: Day | None = None
    end_date: Day | None = None
    personal_data: bool = False
    dpia_status: DpiaStatus = DpiaStatus.NOT_NEEDED
    mandatory: bool = False
    mandatory_justification: LongText = ""
    reach_people: Annotated[int, Field(ge=0, le=10**9), NumberOnly] | None = None
    confidence_pct: Annotated[int, Field(ge=0, le=100), NumberOnly] | None = None
    time_criticality: Annotated[int, Field(ge=1, le=5), NumberOnly] | None = None

    @field_validator("effort_pm")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("Enter a number, such as 18 or 2.5.")
        return value

    rules = staticmethod(project_rules)

    @field_validator("start_date", "end_date")
    @classmethod
    def _sensible(cls, value: date | None) -> date | None:
        return in_date_window(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = project_rules(self)
        if problems:
            raise ValueError("\n".join(f"{name}: {text}" for name, text in problems.items()))
        return self


class ProjectCreate(ProjectFields):
    slug: Slug


class ProjectUpdate(ProjectFields):
    """A full edit of a project, made from the version the user read."""

    version: Annotated[int, Field(ge=1), NumberOnly]


class VersionInput(Input):
    """The version an edit was made from."""

    version: Annotated[int, Field(ge=1), NumberOnly]


class DatasetFields(Input):
    title: Title
    description: LongText = ""
    publisher: Code
    access: Access
    licence: Annotated[str, Field(max_length=120, json_schema_extra={"pattern": LINE_PATTERN}),
                       SingleLine] = ""
    update_frequency: UpdateFrequency = UpdateFrequency.ADHOC
    drl: ReadinessLevel = ReadinessLevel.C4
    # Where it is published; None (not sent) keeps what is stored.
    url: Annotated[str, Field(max_length=1000), SingleLine] | None = None

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError("Give the web address where it is published, starting https://")
        return value


class DatasetCreate(DatasetFields):
    code: Slug


class DatasetUpdate(DatasetFields):
    version: Annotated[int, Field(ge=1), NumberOnly]


class DatasetLinkInput(Input):
    dataset: Slug
    relation: LinkRelation = LinkRelation.USES
    required: bool = True
    fit_for_task: FitForTask = FitForTask.UNKNOWN
    agreement: Agreement = Agreement.NONE
    # The agreement record the link rests on (its code); its standing then sets the factor.
    sharing_agreement: Annotated[str, Field(max_length=120)] | None = None


class PartnerInput(Input):
    organisation: Code
    role: PartnerRole = PartnerRole.PARTNER


class DependencyInput(Input):
    depends_on: Slug
    note: LongText = ""


class AssessmentInput(Input):
    criterion: Annotated[str, Field(min_length=1, max_length=64), SingleLine]
    level: Annotated[int, NumberOnly]
    rationale: LongText = ""


# An email address anywhere in a text (a name must not carry one).
EMAIL_IN_TEXT = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class UserCreate(Input):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"),
                     SingleLine]
    name: Name
    role: Role
    organisation: Code | None = None

    @field_validator("name")
    @classmethod
    def _not_an_address(cls, name: str) -> str:
        # A name is shown where the address is not (public read): it must not be one.
        if EMAIL_IN_TEXT.search(name):
            raise ValueError("Give the person's name, not an email address: the name is shown "
                             "to readers who may not see addresses.")
        return name

    @model_validator(mode="after")
    def _lead_has_organisation(self) -> Self:
        if self.role == Role.LEAD and not self.organisation:
            raise ValueError("organisation: A lead must belong to an organisation: choose one.")
        return self
