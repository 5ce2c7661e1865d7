"""Benefits realisation: what delivered projects achieved against what was estimated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, cast

import pandas as pd
from pydantic import Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.errors import Conflict, Invalid, NotFound
from portfolio.models import (
    Assessment,
    AuditEvent,
    BenefitRealisation,
    Criterion,
    Organisation,
    Project,
    User,
)
from portfolio.schemas import Day, Input, LongText, Multiline, NumberOnly, parse
from portfolio.services.common import as_record, project_by_slug, record
from portfolio.services.merge import values_at
from scoring import benefits as scoring

# The criteria whose estimated level a realised figure is compared with.
COMPARED = ("reach", "savings")
Version = Annotated[int, Field(ge=0), NumberOnly]


class BenefitInput(Input):
    """What a delivered project achieved, measured on a date, and the lead's review."""

    people_reached: Annotated[int, Field(le=100_000_000), NumberOnly] | None = None
    savings_gbp: Annotated[int, Field(le=10**12), NumberOnly] | None = None
    outcome: Annotated[str, Field(max_length=5_000), Multiline]
    review: LongText = ""
    measured_on: Day
    # The version the figures were typed from; 0: from none recorded yet.
    version: Version | None = None

    @field_validator("people_reached", "savings_gbp")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"cannot be negative (got {value}); enter 0 or more")
        return value

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome_given(cls, value: object) -> object:
        # A blank field comes as None from the page, "" or spaces from the API.
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("say in words what the project achieved")
        return value

    @field_validator("measured_on", mode="before")
    @classmethod
    def _date_given(cls, value: object) -> object:
        if value is None or value == "":
            raise ValueError("enter the date the results were measured, e.g. 2025-03-31")
        return value


# The fields a record or correction sets, as GET shows them (a 409's `changed` names these).
EDITABLE = ("people_reached", "savings_gbp", "outcome", "review", "measured_on")


def _estimated_levels(session: Session, project_id: int) -> dict[str, int | None]:
    """Return the latest assessed level of the compared criteria for a project."""
    on_criterion = col(Criterion.id) == col(Assessment.criterion_id)
    latest = (select(func.max(col(Assessment.id))).join(Criterion, on_criterion)
              .where(col(Assessment.project_id) == project_id, col(Criterion.key).in_(COMPARED))
              .group_by(col(Assessment.criterion_id)).scalar_subquery())
    found: dict[str, int | None] = dict(session.execute(
        select(col(Criterion.key), col(Assessment.level)).join(Criterion, on_criterion)
        .where(col(Assessment.id).in_(latest))).all())
    return {key: found.get(key) for key in COMPARED}


def _public(row: BenefitRealisation, project: Project, organisation: Organisation,
            recorded_by: str | None, corrected_by: str | None = None,
            corrected_at: datetime | None = None) -> dict[str, Any]:
    """Return a realisation as pages, exports and the API show it (people by name)."""
    return {
        "project": project.slug, "title": project.title, "organisation": organisation.code,
        "organisation_name": organisation.name,
        "people_reached": row.people_reached, "savings_gbp": row.savings_gbp,
        "outcome": row.outcome, "review": row.review,
        "measured_on": row.measured_on.isoformat(),
        "estimated_reach_people": row.estimated_reach_people,
        "estimated_reach_level": row.estimated_reach_level,
        "realised_reach_level": scoring.reach_band(row.people_reached),
        "estimated_savings_level": row.estimated_savings_level,
        "realised_savings_level": scoring.savings_band(row.savings_gbp),
        "recorded_by": recorded_by,
        "recorded_at": row.recorded_at.isoformat() if row.recorded_at else None,
        "corrected_by": corrected_by,
        "corrected_at": corrected_at.isoformat() if corrected_at else None,
        "version": row.version,
    }


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    """Return a value as one field reads it, or None when that field refuses it."""
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


_DAY = TypeAdapter(Day)
_VERSION = TypeAdapter(Version)


def _problems(project: Project, row: BenefitRealisation | None, data: dict[str, Any], *,
              require_version: bool) -> tuple[BenefitInput | None, dict[str, str]]:
    """Return the input read, and every problem with it: its fields' and the project's rules."""
    try:
        values, errors = parse(BenefitInput, data), {}
    except Invalid as exc:
        values, errors = None, dict(exc.errors)
    # The rules below read the fields that were valid, so one refused field hides no other.
    measured = values.measured_on if values else _valid(_DAY, data.get("measured_on"))
    version = values.version if values else _valid(_VERSION, data.get("version"))
    if project.status != "delivered":
        errors["status"] = (f"Only a delivered project records its benefits; this one is "
                            f"{project.status.replace('_', ' ')}.")
    delivered = project.end_date or project.start_date
    if "measured_on" in errors or measured is None:
        pass
    elif delivered is not None and measured < delivered:
        errors["measured_on"] = (f"The measurement date cannot be before delivery "
                                 f"({delivered.isoformat()}).")
    elif measured > date.today():
        errors["measured_on"] = "The measurement date cannot be in the future."
    at = row.version if row else 0
    if "version" in errors:
        pass
    elif version is None and require_version:
        errors["version"] = ("Send the version you read: the recorded benefits' `version`, or 0 "
                             "when none were recorded.")
    elif version is not None and version > at:
        errors["version"] = (f"These benefits are at version {at} and have never been at "
                             f"version {version}; read them again and send their version.")
    return values, errors


def record_benefits(*, session: Session, actor: Actor, slug: str, data: dict[str, Any],
                    require_version: bool = False) -> dict[str, Any]:
    """Record (or correct) what a delivered project achieved; the estimate is kept beside it."""
    # Locked to the commit: a save waiting on another's compares its version with that one's.
    try:
        project = project_by_slug(session, slug, for_update=True)
    except NotFound:
        # As every API body: one refused for its own fields is told so whatever path it names.
        parse(BenefitInput, data)
        raise
    # Whose it is first: one who may not record them is told so, whatever they sent.
    require(actor, Capability.RECORD_BENEFITS, project)
    row = session.execute(select(BenefitRealisation).where(
        col(BenefitRealisation.project_id) == project.id)).scalar()
    # Clients send the version they read; the seed loader records first results without one.
    values, errors = _problems(project, row, data, require_version=require_version)
    if errors or values is None:
        raise Invalid(errors)
    before = as_record(row, exclude=("recorded_at",)) if row else None
    if row is None:
        levels = _estimated_levels(session, int(project.id or 0))
        row = BenefitRealisation(
            project_id=int(project.id or 0), outcome=values.outcome, measured_on=values.measured_on,
            estimated_reach_people=project.reach_people,
            estimated_reach_level=levels["reach"], estimated_savings_level=levels["savings"],
            recorded_by_id=actor.id)
    elif values.version is not None and values.version != row.version:
        # A form opened before the first record (version 0) is stale as any other.
        raise Conflict(
            f"these benefits were recorded or corrected since you read them (now version "
            f"{row.version}, you read version {values.version}); nothing was saved: read them "
            f"again and send their version to replace them",
            current=_shown(session, project.id),
            changed=_changed_since(session, row, values.version))
    else:
        # The first recorder and time stay; the audit trail says who corrected it and when.
        row.version += 1
    row.people_reached = values.people_reached
    row.savings_gbp = values.savings_gbp
    row.outcome = values.outcome
    row.review = values.review
    row.measured_on = values.measured_on
    session.add(row)
    session.flush()
    record(session, actor, action="update" if before else "create", entity="benefits",
           entity_id=row.id, project_id=project.id, before=before,
           after=as_record(row, exclude=("recorded_at",)))
    session.flush()
    return _shown(session, project.id)


def _changed_since(session: Session, row: BenefitRealisation, version: int) -> dict[str, Any]:
    """Return the fields recorded or corrected after a version, with their values now."""
    now = as_record(row, exclude=("recorded_at",))
    if version == 0:
        return {k: now[k] for k in EDITABLE}
    was = values_at(session, entity="benefits", entity_id=row.id, version=version, current=now)
    return {k: now[k] for k in EDITABLE if was.get(k) != now[k]}


def _shown(session: Session, project_id: int | None) -> dict[str, Any]:
    """Return a project's realisation as GET shows it."""
    found = cast(Realised, session.execute(
        _query().where(col(Project.id) == project_id)).one())
    return _public(*found)


Realised = tuple[BenefitRealisation, Project, Organisation, str | None, str | None,
                 datetime | None]


def _query() -> Any:
    """Return the select of every realisation with its project, owner, recorder and corrector."""
    recorder, corrector = aliased(User), aliased(User)
    last = (select(col(AuditEvent.entity_id).label("entity_id"),
                   func.max(col(AuditEvent.id)).label("id"))
            .where(col(AuditEvent.entity) == "benefits", col(AuditEvent.action) == "update")
            .group_by(col(AuditEvent.entity_id)).subquery())
    return (select(BenefitRealisation, Project, Organisation, col(recorder.name),
                   col(corrector.name), col(AuditEvent.at))
            .join(Project, col(Project.id) == col(BenefitRealisation.project_id))
            .join(Organisation, col(Organisation.id) == col(Project.owner_id))
            .outerjoin(recorder, col(recorder.id) == col(BenefitRealisation.recorded_by_id))
            .outerjoin(last, last.c.entity_id == col(BenefitRealisation.id))
            .outerjoin(AuditEvent, col(AuditEvent.id) == last.c.id)
            .outerjoin(corrector, col(corrector.id) == col(AuditEvent.actor_id)))


def get_benefits(*, session: Session, slug: str) -> dict[str, Any] | None:
    """Return a project's realised benefits, or None when none are recorded."""
    project = project_by_slug(session, slug)
    found = cast(Realised | None,
                 session.execute(_query().where(col(Project.id) == project.id)).first())
    return _public(*found) if found else None


def list_benefits(*, session: Session, organisation: str | None = None) -> list[dict[str, Any]]:
    """Return every recorded realisation, by organisation and project."""
    query = _query().order_by(col(Organisation.name), col(Project.slug))
    if organisation:
        query = query.where(col(Organisation.code) == organisation)
    rows = cast(list[Realised], session.execute(query).all())
    return [_public(*row) for row in rows]


def realised_frame(session: Session) -> pd.DataFrame:
    """Return the realised figures beside their estimates, one row per project."""
    rows = list_benefits(session=session)
    columns = ["project", "organisation", "organisation_name", "people_reached", "savings_gbp",
               "estimated_reach_people", "estimated_reach_level", "estimated_savings_level"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    for column in columns[3:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def estimate_accuracy(*, session: Session) -> dict[str, Any]:
    """Return estimate accuracy by organisation and by criterion (estimated vs realised level)."""
    frame = realised_frame(session)
    table = scoring.comparisons(frame)
    names = dict(zip(frame["organisation"], frame["organisation_name"], strict=True))
    by_organisation = scoring.accuracy(table, "organisation")
    by_organisation.insert(1, "organisation_name", by_organisation["group"].map(names))
    by_criterion = scoring.accuracy(table, "criterion")
    return {
        "projects": len(frame),
        "by_organisation": _records(by_organisation.rename(columns={"group": "organisation"})),
        "by_criterion": _records(by_criterion.rename(columns={"group": "criterion"})),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a frame's rows as JSON-ready dicts (NaN as None, shares rounded)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and pd.isna(v)
                        else round(v, 3) if isinstance(v, float) else v)
                    for k, v in row.items()})
    return out


BENEFIT_COLUMNS = ("project", "people_reached", "savings_gbp", "outcome", "review",
                   "measured_on", "estimated_reach_people", "estimated_reach_level",
                   "realised_reach_level", "estimated_savings_level", "realised_savings_level")
ACCURACY_COLUMNS = ("projects", "mean_estimated_level", "mean_realised_level", "mean_gap",
                    "optimistic", "exact", "pessimistic", "median_reach_ratio")


def snapshot_tables(session: Session) -> list[tuple[str, list[list[Any]]]]:
    """Return the snapshot's benefits and estimate_accuracy rows, in primary-key order."""
    realised = sorted(list_benefits(session=session), key=lambda r: r["project"])
    accuracy = estimate_accuracy(session=session)
    rows = [[by, row[by], *(row[c] for c in ACCURACY_COLUMNS)]
            for by in ("criterion", "organisation")
            for row in sorted(accuracy[f"by_{by}"], key=lambda r: r[by])]
    return [("benefits", [[r[c] for c in BENEFIT_COLUMNS] for r in realised]),
            ("estimate_accuracy", rows)]
