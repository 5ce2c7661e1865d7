"""The London demo portfolio: real GSS codes, enough substance, idempotent."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from portfolio.cli import app as cli_app
from portfolio.db import Database
from portfolio.models import (
    Assessment,
    Dataset,
    Organisation,
    Project,
    ProjectDependency,
    SharingAgreement,
    WeightProfile,
)
from portfolio.settings import Settings
from seeds.loader import (
    LONDON_DIR,
    WRITTEN_FOR,
    load_london,
    months_since_written,
    moved,
    read_csv,
)
from tests.web.auth import Browser, token_for
from web.app import create_app

BOROUGHS = {
    "E09000001": "City of London",
    "E09000002": "Barking and Dagenham",
    "E09000003": "Barnet",
    "E09000004": "Bexley",
    "E09000005": "Brent",
    "E09000006": "Bromley",
    "E09000007": "Camden",
    "E09000008": "Croydon",
    "E09000009": "Ealing",
    "E09000010": "Enfield",
    "E09000011": "Greenwich",
    "E09000012": "Hackney",
    "E09000013": "Hammersmith and Fulham",
    "E09000014": "Haringey",
    "E09000015": "Harrow",
    "E09000016": "Havering",
    "E09000017": "Hillingdon",
    "E09000018": "Hounslow",
    "E09000019": "Islington",
    "E09000020": "Kensington and Chelsea",
    "E09000021": "Kingston upon Thames",
    "E09000022": "Lambeth",
    "E09000023": "Lewisham",
    "E09000024": "Merton",
    "E09000025": "Newham",
    "E09000026": "Redbridge",
    "E09000027": "Richmond upon Thames",
    "E09000028": "Southwark",
    "E09000029": "Sutton",
    "E09000030": "Tower Hamlets",
    "E09000031": "Waltham Forest",
    "E09000032": "Wandsworth",
    "E09000033": "Westminster",
}


def counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (
                Organisation,
                Dataset,
                Project,
                ProjectDependency,
                Assessment,
                WeightProfile,
            )
        }


def test_london_boroughs_carry_their_ons_gss_codes(london: Database) -> None:
    with london.read() as session:
        rows = session.exec(
            select(Organisation.code, Organisation.name).where(Organisation.kind == "borough")
        ).all()
    assert dict(rows) == BOROUGHS


def test_london_seed_has_the_gla_its_group_and_partners(london: Database) -> None:
    with london.read() as session:
        kinds = dict(
            session.exec(select(Organisation.kind, func.count()).group_by(Organisation.kind)).all()
        )
    assert kinds["gla"] == 1
    assert kinds["gla_group"] >= 5
    assert {"nhs", "utility", "university", "partnership"} <= set(kinds)


def test_london_seed_is_substantial(london: Database) -> None:
    n = counts(london)
    assert n["dataset"] >= 40
    assert n["project"] >= 60
    assert n["project_dependency"] >= 20
    assert n["weight_profile"] >= 3
    assert n["assessment"] > 300


def test_seeding_london_twice_changes_nothing(london: Database) -> None:
    before = counts(london)
    with london.write() as session:
        report = load_london(session)
    assert report.total == 0
    assert counts(london) == before


def _seed_through_the_cli(settings: Settings, *args: str) -> None:
    result = CliRunner().invoke(cli_app, ["seed", "london", *args],
                                env={"PORTFOLIO_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output


def _written(status: str) -> dict[str, date]:
    """Return the end dates projects.csv gives the projects of a status."""
    return {row["slug"]: date.fromisoformat(row["end_date"])
            for row in read_csv(LONDON_DIR / "projects.csv")
            if row["status"] == status and row["end_date"]}


def test_the_demo_seeded_today_is_as_late_as_it_was_written_not_as_its_dates_have_gone(
    settings: Settings, db: Database,
) -> None:
    # Dates written as absolute days go stale: seeded later, every project in progress would
    # be past its end. Moved by the quarters since, the work overdue today is what was overdue
    # when the demo was written, and at most what ended within that quarter.
    _seed_through_the_cli(settings)
    token = token_for(db, "researcher")
    with Browser(create_app(settings)) as client:
        listed = client.get("/api/v1/projects", params={"status": "in_progress"},
                            headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
    overdue = {p["slug"] for p in listed.json() if p["overdue"]}
    ends = _written("in_progress")
    assert {slug for slug, end in ends.items() if end < WRITTEN_FOR} <= overdue
    assert overdue <= {slug for slug, end in ends.items()
                       if end < WRITTEN_FOR.replace(month=WRITTEN_FOR.month + 3)}
    assert len(overdue) < len(ends) / 2


def test_seeded_quarters_later_current_work_moves_and_history_keeps_its_dates(
    settings: Settings, db: Database,
) -> None:
    later = WRITTEN_FOR.replace(year=WRITTEN_FOR.year + 2)  # eight quarters on
    _seed_through_the_cli(settings, "--today", later.isoformat())
    with db.read() as session:
        dates = {slug: (start, end) for slug, start, end in session.execute(
            select(Project.slug, Project.start_date, Project.end_date)).all()}
        agreements = {code: (signed, review, expires) for code, signed, review, expires in
                      session.execute(select(SharingAgreement.code, SharingAgreement.signed_on,
                                             SharingAgreement.review_on,
                                             SharingAgreement.expires_on)).all()}
    # In progress, ending on the last day of March: the last day of March two years on.
    assert dates["high-streets-spend-footfall"] == (date(2024, 4, 1), date(2027, 3, 31))
    assert dates["lambeth-cool-spaces-planning"] == (date(2027, 5, 1), date(2027, 8, 29))
    assert dates["london-datastore-launch"] == (date(2009, 9, 1), date(2010, 1, 29))
    assert agreements["london-street-works-dsa"] == (
        date(2019, 6, 1), date(2028, 6, 1), date(2029, 1, 29))
    assert agreements["card-spend-footfall-licence"] == (
        date(2020, 9, 1), date(2023, 9, 1), date(2024, 8, 31))


def test_seeded_on_the_day_it_was_written_for_the_demo_keeps_its_dates(london: Database) -> None:
    with london.read() as session:
        ends = dict(session.execute(select(Project.slug, Project.end_date).where(
            Project.status == "in_progress")).all())
    assert {slug: end for slug, end in ends.items() if end} == _written("in_progress")


@pytest.mark.parametrize(("written", "months", "seeded"), [
    ("2025-03-31", 3, "2025-06-30"), ("2025-02-28", 3, "2025-05-31"),
    ("2025-01-30", 3, "2025-04-30"), ("2025-11-15", 3, "2026-02-15"), ("", 3, None),
])
def test_a_date_moves_by_whole_months_and_a_month_end_stays_one(
    written: str, months: int, seeded: str | None,
) -> None:
    assert moved(written, months) == seeded


@pytest.mark.parametrize(("today", "months"), [
    ("2025-04-01", 0), ("2025-06-30", 0), ("2025-07-01", 3), ("2026-12-06", 18),
    ("2027-01-05", 21), ("2024-01-01", 0),
])
def test_the_demo_moves_by_the_quarters_since_it_was_written(today: str,
                                                                   months: int) -> None:
    assert months_since_written(date.fromisoformat(today)) == months
