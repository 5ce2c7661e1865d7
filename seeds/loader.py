"""Load the London demo portfolio and the shared criteria from the CSV files in seeds/."""

from __future__ import annotations

import calendar
import csv
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from portfolio.actors import SYSTEM
from portfolio.models import (
    Assessment,
    Criterion,
    CriterionLevel,
    Dataset,
    Organisation,
    ProfileRevision,
    ProfileWeight,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    User,
    WeightProfile,
    row_id,
)
from portfolio.services import datasets as dataset_service
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service
from portfolio.services.accounts import hash_password

SEEDS_DIR = Path(__file__).resolve().parent
LONDON_DIR = SEEDS_DIR / "london"
# The day the London demo's dates were written for: the first of its quarter (and of the
# 2025-26 financial year). Seeded in a later quarter, the dates of its current work move
# forward by the quarters since (`months_since_written`): the demo then stands to that quarter
# as it stood to this one, some work overdue and most on time, plans ahead. Delivered and
# rejected projects, benefits, signing days and lapsed agreements are history (real events
# among them) and keep their dates.
WRITTEN_FOR = date(2025, 4, 1)
FINISHED = frozenset({"delivered", "rejected"})


@dataclass
class SeedReport:
    """How many rows a seed added, per table."""

    added: dict[str, int] = field(default_factory=dict)
    credentials: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, table: str, n: int = 1) -> None:
        """Count rows added to a table."""
        self.added[table] = self.added.get(table, 0) + n

    @property
    def total(self) -> int:
        """Return the number of rows added in all."""
        return sum(self.added.values())


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Yield the rows of a seed CSV file with surrounding spaces stripped."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


def as_bool(text: str) -> bool:
    """Read a seed file's true/false cell."""
    return text.strip().lower() in {"true", "yes", "1", "y"}


def optional_int(text: str) -> int | None:
    """Read an optional integer cell."""
    return int(float(text)) if text else None


def load_reference(session: Session, report: SeedReport | None = None) -> SeedReport:
    """Load the default criteria, their rubric levels and the weight profiles if missing."""
    report = report or SeedReport()
    criteria = {c.key: c for c in session.exec(select(Criterion)).all()}
    for row in read_csv(SEEDS_DIR / "criteria.csv"):
        if row["key"] in criteria:
            continue
        criterion = Criterion(
            key=row["key"],
            dimension=row["dimension"],
            name=row["name"],
            description=row["description"],
            source=row["source"],
            min_level=int(row["min_level"]),
            max_level=int(row["max_level"]),
            default_weight=float(row["default_weight"]),
            position=int(row["position"]),
        )
        session.add(criterion)
        session.flush()
        criteria[criterion.key] = criterion
        report.add("criterion")
    existing_levels = set(session.exec(select(CriterionLevel.criterion_id, CriterionLevel.level)))
    for row in read_csv(SEEDS_DIR / "criterion_levels.csv"):
        criterion_id = row_id(criteria[row["criterion_key"]])
        if (criterion_id, int(row["level"])) in existing_levels:
            continue
        session.add(
            CriterionLevel(
                criterion_id=criterion_id, level=int(row["level"]), descriptor=row["descriptor"]
            )
        )
        report.add("criterion_level")
    session.flush()
    _load_profiles(session, report)
    return report


def _load_profiles(session: Session, report: SeedReport) -> None:
    """Load the named weight profiles and their first revision if missing."""
    profiles = {p.name: p for p in session.exec(select(WeightProfile)).all()}
    new: dict[str, WeightProfile] = {}
    for row in read_csv(SEEDS_DIR / "weight_profiles.csv"):
        if row["name"] in profiles:
            continue
        profile = WeightProfile(name=row["name"], description=row["description"])
        session.add(profile)
        session.flush()
        new[profile.name] = profile
        report.add("weight_profile")
    weights: dict[str, dict[str, dict[str, float]]] = {}
    for row in read_csv(SEEDS_DIR / "profile_weights.csv"):
        found = new.get(row["profile"])
        if found is None:
            continue
        profile = found
        weight = float(row["weight"])
        session.add(
            ProfileWeight(profile_id=row_id(profile), kind=row["kind"], key=row["key"],
                          weight=weight)
        )
        weights.setdefault(profile.name, {}).setdefault(row["kind"], {})[row["key"]] = weight
        report.add("profile_weight")
    for name, profile in new.items():
        session.add(
            ProfileRevision(profile_id=row_id(profile), version=1, weights=weights.get(name, {}))
        )
    session.flush()


def months_since_written(today: date) -> int:
    """Return how many months the demo's current dates move when seeded on a day."""
    # Three for each quarter from WRITTEN_FOR's to the day's, not by days: a date keeps its
    # place in the quarters the roadmap plans by (a project due this quarter stays due now).
    def quarter(day: date) -> int:
        return day.year * 4 + (day.month - 1) // 3

    return max(0, quarter(today) - quarter(WRITTEN_FOR)) * 3


def moved(text: str, months: int) -> str | None:
    """Return a seed file's date moved forward by whole months (an empty cell: none)."""
    # A month's last day stays its month's last day: 31 March, three months on, is 30 June.
    if not text:
        return None
    day = date.fromisoformat(text)
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if month_end else min(day.day, last)).isoformat()


def load_london(session: Session, *, today: date | None = None) -> SeedReport:
    """Load the London demo, current work dated relative to a day (today); again adds nothing."""
    months = months_since_written(today or date.today())
    report = load_reference(session)
    _load_organisations(session, report)
    _load_users(session, report)
    _load_datasets(session, report)
    _load_projects(session, report, months)
    _load_agreements(session, report, months)
    _load_links(session, report)
    _load_assessments(session, report)
    _load_benefits(session, report)
    return report


def _load_organisations(session: Session, report: SeedReport) -> None:
    """Create the organisations that are not there yet."""
    known = set(session.exec(select(Organisation.code)).all())
    for row in read_csv(LONDON_DIR / "organisations.csv"):
        if row["code"] not in known:
            organisation_service.create_organisation(session=session, actor=SYSTEM, data=row)
            report.add("organisation")


def _load_users(session: Session, report: SeedReport) -> None:
    """Create the demo accounts that are not there yet, each with a fresh random password."""
    known = set(session.exec(select(User.email)).all())
    orgs = dict(session.exec(select(Organisation.code, Organisation.id)).all())
    for row in read_csv(LONDON_DIR / "users.csv"):
        if row["email"] in known:
            continue
        # No built-in default password: each seeding draws new ones and reports them once.
        password = secrets.token_urlsafe(12)
        session.add(
            User(
                email=row["email"],
                name=row["name"],
                role=row["role"],
                organisation_id=orgs.get(row["organisation"]) if row["organisation"] else None,
                password_hash=hash_password(password),
            )
        )
        report.credentials.append((row["email"], row["role"], password))
        report.add("user_account")
    session.flush()


def _load_datasets(session: Session, report: SeedReport) -> None:
    """Create the datasets that are not there yet."""
    known = set(session.exec(select(Dataset.code)).all())
    for row in read_csv(LONDON_DIR / "datasets.csv"):
        if row["code"] not in known:
            dataset_service.create_dataset(session=session, actor=SYSTEM, data=row)
            report.add("dataset")


def _project_input(row: dict[str, str], months: int) -> dict[str, Any]:
    """Turn a projects.csv row into the project service's input, current work's dates moved."""
    if row["status"] in FINISHED:
        months = 0
    return {
        "slug": row["slug"],
        "title": row["title"],
        "description": row["description"],
        "owner": row["owner"],
        "theme": row["theme"],
        "status": row["status"],
        "cost_gbp": int(float(row["cost_gbp"] or 0)),
        "effort_pm": float(row["effort_pm"] or 0),
        "start_date": moved(row["start_date"], months),
        "end_date": moved(row["end_date"], months),
        "personal_data": as_bool(row["personal_data"]),
        "dpia_status": row["dpia_status"],
        "mandatory": as_bool(row["mandatory"]),
        "mandatory_justification": row["mandatory_justification"],
        "reach_people": optional_int(row["reach_people"]),
        "confidence_pct": optional_int(row["confidence_pct"]),
        "time_criticality": optional_int(row["time_criticality"]),
    }


def _load_projects(session: Session, report: SeedReport, months: int) -> None:
    """Create the projects that are not there yet, their dates moved by `months`."""
    known = set(session.exec(select(Project.slug)).all())
    for row in read_csv(LONDON_DIR / "projects.csv"):
        if row["slug"] not in known:
            project_service.create_project(session=session, actor=SYSTEM,
                                           data=_project_input(row, months))
            report.add("project")


def _load_agreements(session: Session, report: SeedReport, months: int) -> None:
    """Register the data-sharing agreements not there yet, signed ones' review and expiry moved."""
    # The day an agreement was signed is history; when it is reviewed and expires is ahead.
    from portfolio.models import SharingAgreement
    from portfolio.services.agreements import create_agreement

    known = set(session.exec(select(SharingAgreement.code)).all())
    for row in read_csv(LONDON_DIR / "agreements.csv"):
        if row["code"] in known:
            continue
        parties = [dict(zip(("organisation", "role"), p.split(":"), strict=True))
                   for p in row["parties"].split(";")]
        if row["status"] == "signed":
            row |= {k: moved(row[k], months) or "" for k in ("review_on", "expires_on")}
        create_agreement(session=session, actor=SYSTEM, data={
            **{k: row[k] for k in ("code", "title", "purpose", "lawful_basis",
                                   "special_category_condition", "dpia_reference", "signed_on",
                                   "review_on", "expires_on", "status", "document_url")},
            "parties": parties, "datasets": row["datasets"].split(";")})
        report.add("sharing_agreement")


def _rest_links_on_agreements(session: Session, report: SeedReport) -> None:
    """Point the links named in agreement_links.csv at their agreement record, once."""
    from portfolio.models import SharingAgreement

    rows = session.exec(
        select(col(Project.slug), col(Dataset.code), col(ProjectDataset.relation),  # type: ignore[call-overload]  # six columns: sqlmodel types four
               col(ProjectDataset.required), col(ProjectDataset.fit_for_task),
               col(SharingAgreement.code))
        .join(Project, Project.id == ProjectDataset.project_id)
        .join(Dataset, Dataset.id == ProjectDataset.dataset_id)
        .outerjoin(SharingAgreement, SharingAgreement.id == ProjectDataset.sharing_agreement_id)
    ).all()
    links = {(p, d, r): (req, fit, code) for p, d, r, req, fit, code in rows}
    for row in read_csv(LONDON_DIR / "agreement_links.csv"):
        required, fit, code = links[(row["project"], row["dataset"], row["relation"])]
        if code == row["sharing_agreement"]:
            continue
        project_service.link_dataset(session=session, actor=SYSTEM, slug=row["project"], data={
            "dataset": row["dataset"], "relation": row["relation"], "required": required,
            "fit_for_task": fit, "sharing_agreement": row["sharing_agreement"]})
        report.add("agreement_link")


def _load_links(session: Session, report: SeedReport) -> None:
    """Create the partners, dataset links and dependencies that are not there yet."""
    projects = dict(session.exec(select(Project.slug, Project.id)).all())
    orgs = dict(session.exec(select(Organisation.code, Organisation.id)).all())
    datasets = dict(session.exec(select(Dataset.code, Dataset.id)).all())
    partners = set(session.exec(select(ProjectPartner.project_id, ProjectPartner.organisation_id)))
    for row in read_csv(LONDON_DIR / "project_partners.csv"):
        if (projects[row["project"]], orgs[row["organisation"]]) in partners:
            continue
        project_service.add_partner(
            session=session,
            actor=SYSTEM,
            slug=row["project"],
            data={"organisation": row["organisation"], "role": row["role"]},
        )
        report.add("project_partner")
    links = set(
        session.exec(
            select(ProjectDataset.project_id, ProjectDataset.dataset_id, ProjectDataset.relation)
        )
    )
    for row in read_csv(LONDON_DIR / "project_datasets.csv"):
        if (projects[row["project"]], datasets[row["dataset"]], row["relation"]) in links:
            continue
        project_service.link_dataset(
            session=session,
            actor=SYSTEM,
            slug=row["project"],
            data={
                "dataset": row["dataset"],
                "relation": row["relation"],
                "required": as_bool(row["required"]),
                "fit_for_task": row["fit_for_task"],
                "agreement": row["agreement"],
            },
        )
        report.add("project_dataset")
    _rest_links_on_agreements(session, report)
    deps = set(session.exec(select(ProjectDependency.project_id, ProjectDependency.depends_on_id)))
    for row in read_csv(LONDON_DIR / "dependencies.csv"):
        if (projects[row["project"]], projects[row["depends_on"]]) in deps:
            continue
        project_service.add_dependency(
            session=session,
            actor=SYSTEM,
            slug=row["project"],
            data={"depends_on": row["depends_on"], "note": row["note"]},
        )
        report.add("project_dependency")


def _load_assessments(session: Session, report: SeedReport) -> None:
    """Append the seed assessments of criteria a project has not been assessed on yet."""
    done = set(session.exec(select(Assessment.project_id, Assessment.criterion_id)))
    projects = {slug: pid for slug, pid in session.exec(select(Project.slug, Project.id)) if pid}
    criteria = {key: cid for key, cid in session.exec(select(Criterion.key, Criterion.id)) if cid}
    assessors = dict(session.exec(select(User.email, User.id)).all())
    for row in read_csv(LONDON_DIR / "assessments.csv"):
        project_id, criterion_id = projects[row["project"]], criteria[row["criterion"]]
        if (project_id, criterion_id) in done:
            continue
        session.add(
            Assessment(
                project_id=project_id,
                criterion_id=criterion_id,
                level=int(row["level"]),
                rationale=row["rationale"],
                assessor_id=assessors.get(row["assessor"]),
            )
        )
        done.add((project_id, criterion_id))
        report.add("assessment")
    session.flush()


def _load_benefits(session: Session, report: SeedReport) -> None:
    """Record the realised benefits of delivered seed projects that have none yet."""
    from portfolio.models import BenefitRealisation
    from portfolio.services.benefits import record_benefits

    done = set(session.exec(select(Project.slug).join(
        BenefitRealisation, col(BenefitRealisation.project_id) == col(Project.id))).all())
    for row in read_csv(LONDON_DIR / "benefits.csv"):
        if row["project"] in done:
            continue
        record_benefits(session=session, actor=SYSTEM, slug=row["project"], data={
            "people_reached": optional_int(row["people_reached"]),
            "savings_gbp": optional_int(row["savings_gbp"]),
            "measured_on": row["measured_on"], "outcome": row["outcome"],
            "review": row["review"]})
        report.add("benefit_realisation")
