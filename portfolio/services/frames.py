"""Load the portfolio into the plain tables the pure scoring library takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from portfolio.errors import NotFound, Unrankable
from portfolio.models import (
    Assessment,
    Criterion,
    Dataset,
    Organisation,
    ProfileWeight,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    WeightProfile,
)
from scoring.criteria import Criterion as ScoringCriterion
from scoring.weights import InvalidWeights
from scoring.weights import WeightProfile as ScoringProfile


@dataclass(frozen=True)
class PortfolioFrames:
    """The whole portfolio as DataFrames, read in one consistent transaction."""

    projects: pd.DataFrame
    criteria: tuple[ScoringCriterion, ...]
    levels: pd.DataFrame
    links: pd.DataFrame
    dependencies: pd.DataFrame
    datasets: pd.DataFrame
    partners: pd.DataFrame
    organisations: pd.DataFrame


def _frame(session: Session, query, columns: list[str]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Run a column query and return its rows as a DataFrame."""
    # The driver's own tuples, fetched past SQLAlchemy's row objects (half the CPU of reading
    # 100,000 projects' assessments), then each column SQLAlchemy would convert (SQLite's
    # booleans, say) converted as it would, one column at a time.
    connection = session.connection()
    result = connection.execute(query)
    try:
        cursor = result.cursor
        processors = [column.type._cached_result_processor(connection.dialect, described[1])
                      for column, described in zip(query.selected_columns, cursor.description,
                                                   strict=True)]
        rows = cursor.fetchall()
    finally:
        result.close()
    frame = pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))
    for name, process in zip(columns, processors, strict=True):
        if process is not None and len(frame):
            frame[name] = [process(value) for value in frame[name].tolist()]
    return frame


PROJECT_COLUMNS = [
    "id", "slug", "title", "owner", "theme", "status", "cost_gbp", "effort_pm", "mandatory",
    "priority_override", "reach_people", "confidence_pct", "time_criticality",
]


def override_in_force():  # type: ignore[no-untyped-def]
    """Return a project's priority override while it is in force (none after its expiry day)."""
    return case((Project.override_expires_on < date.today(), None),
                else_=Project.priority_override)


def load_projects(session: Session) -> pd.DataFrame:
    """Return every project with its owner's code."""
    query = select(
        Project.id, Project.slug, Project.title, Organisation.code, Project.theme, Project.status,
        Project.cost_gbp, Project.effort_pm, Project.mandatory, override_in_force(),
        Project.reach_people, Project.confidence_pct, Project.time_criticality,
    ).join(Organisation, Organisation.id == Project.owner_id).order_by(Project.slug)
    frame = _frame(session, query, PROJECT_COLUMNS)
    for column in ("priority_override", "reach_people", "confidence_pct", "time_criticality"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["mandatory"] = frame["mandatory"].astype(bool)
    return frame


def load_criteria(session: Session) -> tuple[ScoringCriterion, ...]:
    """Return the criteria in their display order."""
    rows = session.execute(
        select(Criterion.key, Criterion.dimension, Criterion.min_level, Criterion.max_level,
               Criterion.source).order_by(Criterion.position, Criterion.key)
    ).all()
    return tuple(ScoringCriterion(key=k, dimension=d, min_level=lo, max_level=hi, source=s)
                 for k, d, lo, hi, s in rows)


def load_levels(session: Session) -> pd.DataFrame:
    """Return the latest assessed level per project and criterion, projects by criteria."""
    latest = (
        select(func.max(Assessment.id))
        .group_by(Assessment.project_id, Assessment.criterion_id)
        .scalar_subquery()
    )
    query = (
        select(Project.slug, Criterion.key, Assessment.level)
        .join(Project, Project.id == Assessment.project_id)
        .join(Criterion, Criterion.id == Assessment.criterion_id)
        .where(Assessment.id.in_(latest))
    )
    rows = _frame(session, query, ["slug", "criterion", "level"])
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot(index="slug", columns="criterion", values="level").astype(float)


def load_portfolio(session: Session) -> PortfolioFrames:
    """Read the whole portfolio into DataFrames."""
    links = _frame(
        session,
        select(Project.slug, Dataset.code, ProjectDataset.relation, ProjectDataset.required,
               ProjectDataset.fit_for_task, ProjectDataset.agreement, Dataset.drl)
        .join(Project, Project.id == ProjectDataset.project_id)
        .join(Dataset, Dataset.id == ProjectDataset.dataset_id),
        ["project", "dataset", "relation", "required", "fit_for_task", "agreement", "drl"],
    )
    links["required"] = links["required"].astype(bool)
    prerequisite = Project.__table__.alias("prerequisite")
    dependencies = _frame(
        session,
        select(Project.slug, prerequisite.c.slug)
        .join(ProjectDependency, ProjectDependency.project_id == Project.id)
        .join(prerequisite, prerequisite.c.id == ProjectDependency.depends_on_id),
        ["project", "depends_on"],
    )
    datasets = _frame(
        session,
        select(Dataset.code, Dataset.title, Organisation.code, Dataset.access, Dataset.drl)
        .join(Organisation, Organisation.id == Dataset.publisher_id),
        ["code", "title", "publisher", "access", "drl"],
    )
    partners = _frame(
        session,
        select(Project.slug, Organisation.code, ProjectPartner.role)
        .join(Project, Project.id == ProjectPartner.project_id)
        .join(Organisation, Organisation.id == ProjectPartner.organisation_id),
        ["project", "organisation", "role"],
    )
    organisations = _frame(
        session, select(Organisation.code, Organisation.name, Organisation.kind),
        ["code", "name", "kind"],
    )
    return PortfolioFrames(
        projects=load_projects(session), criteria=load_criteria(session),
        levels=load_levels(session), links=links, dependencies=dependencies, datasets=datasets,
        partners=partners, organisations=organisations,
    )


@dataclass(frozen=True)
class StoredProfile:
    """A weight profile as stored, with the weights the scoring library takes."""

    id: int
    name: str
    version: int
    description: str
    weights: ScoringProfile


def load_profile(session: Session, name: str | None) -> StoredProfile:
    """Return a profile by name (the first one when no name is given)."""
    query = select(WeightProfile)
    # With no name, the first profile still in use.
    query = (query.where(WeightProfile.name == name) if name else query.order_by(
        WeightProfile.retired_at.is_not(None), WeightProfile.id))  # type: ignore[union-attr]
    row = session.execute(query).scalars().first()
    if row is None:
        raise NotFound("weight profile", name)
    weights = session.execute(
        select(ProfileWeight.kind, ProfileWeight.key, ProfileWeight.weight)
        .where(ProfileWeight.profile_id == row.id)
    ).all()
    dimension = {k: w for kind, k, w in weights if kind == "dimension"}
    criterion = {k: w for kind, k, w in weights if kind == "criterion"}
    try:
        scoring = ScoringProfile(name=row.name, dimension_weights=dimension,
                                 criterion_weights=criterion)
    except InvalidWeights as exc:
        # Stored before weights were checked as they are now: one profile, not every page.
        raise Unrankable(f"the weight profile {row.name!r} cannot rank projects ({exc}); the "
                         "CDO or an administrator must set its weights again") from None
    return StoredProfile(id=row.id, name=row.name, version=row.version,
                         description=row.description, weights=scoring)
