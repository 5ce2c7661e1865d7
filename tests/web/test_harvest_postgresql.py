"""Two harvests at once on PostgreSQL: the second waits and matches what the first added.

A harvest chooses each new dataset's code among the datasets registered; another harvest's
additions, not yet committed, are not among them, so both chose the same codes and the second
met the code's unique constraint as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import Dataset
from portfolio.services import datasets
from portfolio.services.harvest import Limits, harvest_entries, read_catalogue
from tests.catalogue_server import replay_portal
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


@pytest.fixture
def catalogue() -> Iterator[str]:
    with replay_portal() as url:
        yield f"{url}/dcat/data.json"


def test_a_harvest_while_another_adds_the_same_datasets_adds_each_once(
        signed_in: SignedIn, london: Database, catalogue: str) -> None:
    cdo = signed_in("cdo")
    with httpx.Client() as client:
        entries = read_catalogue(catalogue, client=client, limits=Limits())
    def the_cdo_harvests() -> Any:
        return cdo.post("/api/v1/catalogue/harvest", json={
            "url": catalogue, "publisher": "GLA", "dry_run": False})

    # Another harvest of the same catalogue has added its datasets, not yet committed.
    def meanwhile(session: Session) -> None:
        first = harvest_entries(session, actor=SYSTEM, entries=entries, source=catalogue,
                                default_publisher="GLA", dry_run=False, confirmed=set(),
                                today=date.today())
        assert len(first.add) == len(entries)

    answer = sent_while_held(london, meanwhile, the_cdo_harvests)
    assert answer.status_code == 200, answer.text[:400]
    assert answer.json()["counts"]["add"] == 0, answer.json()["counts"]
    with london.read() as session:
        harvested = session.execute(select(func.count()).select_from(Dataset).where(
            Dataset.source_identifier.in_([e.identifier for e in entries]))).scalar_one()
    assert harvested == len(entries)


def test_a_harvest_while_a_dataset_is_registered_under_a_code_it_would_choose_asks_first(
        signed_in: SignedIn, london: Database, catalogue: str) -> None:
    cdo = signed_in("cdo")
    def the_cdo_harvests() -> Any:
        return cdo.post("/api/v1/catalogue/harvest", json={
            "url": catalogue, "publisher": "GLA", "dry_run": False})

    # A lead registers the portal's "Bus stop locations" by hand, not yet committed.
    def meanwhile(session: Session) -> None:
        datasets.create_dataset(session=session, actor=SYSTEM, data={
            "code": "bus-stop-locations", "title": "Bus stop locations", "publisher": "GLA",
            "access": "open"})

    answer = sent_while_held(london, meanwhile, the_cdo_harvests)
    assert answer.status_code == 200, answer.text[:400]
    assert [c["matches"] for c in answer.json()["confirm"]] == ["bus-stop-locations"]
    assert answer.json()["counts"]["add"] == 2


def test_an_edit_committed_while_a_harvest_plans_is_not_written_over(
        signed_in: SignedIn, london: Database, catalogue: str) -> None:
    # The harvest plans from what it read, then writes: a title corrected meanwhile, which the
    # harvest's plan did not even change, was put back. Now the harvest refuses as a whole.
    cdo = signed_in("cdo")
    with httpx.Client() as client:
        entry = read_catalogue(catalogue, client=client, limits=Limits())[0]
    with london.write() as session:  # the harvest recognises a registered dataset as entry's
        dataset = session.execute(select(Dataset).where(
            Dataset.code == "english-indices-of-deprivation-2019")).scalars().one()
        dataset.source_identifier, dataset.description = entry.identifier, "Before the portal"
        session.add(dataset)
    def the_cdo_harvests() -> Any:
        return cdo.post("/api/v1/catalogue/harvest", json={
            "url": catalogue, "publisher": "GLA", "dry_run": False})

    def meanwhile(session: Session) -> None:
        version = session.execute(select(Dataset.version).where(
            Dataset.code == "english-indices-of-deprivation-2019")).scalar_one()
        datasets.patch_dataset(session=session, actor=SYSTEM,
                               code="english-indices-of-deprivation-2019",
                               data={"version": version, "title": "Corrected meanwhile"})

    answer = sent_while_held(london, meanwhile, the_cdo_harvests)
    assert answer.status_code == 409, answer.text[:400]
    assert "english-indices-of-deprivation-2019" in answer.json()["detail"]
    with london.read() as session:
        row = session.execute(select(Dataset).where(
            Dataset.code == "english-indices-of-deprivation-2019")).scalars().one()
        added = session.execute(select(func.count()).select_from(Dataset).where(
            Dataset.source_identifier.is_not(None))).scalar_one()
    assert row.title == "Corrected meanwhile" and row.description == "Before the portal"
    assert added == 1  # nothing of the refused harvest was written
