"""The London demo portfolio: real GSS codes, enough substance, idempotent."""

from __future__ import annotations

from sqlmodel import func, select

from portfolio.db import Database
from portfolio.models import (
    Assessment,
    Dataset,
    Organisation,
    Project,
    ProjectDependency,
    WeightProfile,
)
from seeds.loader import load_london

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
