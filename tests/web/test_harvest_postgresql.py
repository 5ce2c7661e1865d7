"""Two harvests at once on PostgreSQL: the second waits and matches what the first added.

A harvest chooses each new dataset's code among the datasets registered; another harvest's
additions, not yet committed, are not among them, so both chose the same codes and the second
met the code's unique constraint as a 500.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import Dataset
from portfolio.services import datasets
from portfolio.services.harvest import Limits, harvest_entries, read_catalogue
from tests.catalogue_server import replay_portal
from tests.racing import waiting_for_a_lock
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
    outcome: dict[str, Any] = {}

    def the_cdo_harvests() -> None:
        try:
            response = cdo.post("/api/v1/catalogue/harvest", json={
                "url": catalogue, "publisher": "GLA", "dry_run": False})
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["text"] = 500, repr(exc)
            return
        outcome["status"], outcome["text"] = response.status_code, response.text
        outcome["body"] = response.json()

    # Another harvest of the same catalogue has added its datasets, not yet committed.
    with london.write() as session:
        first = harvest_entries(session, actor=SYSTEM, entries=entries, source=catalogue,
                                default_publisher="GLA", dry_run=False, confirmed=set(),
                                today=date.today())
        assert len(first.add) == len(entries)
        other = threading.Thread(target=the_cdo_harvests)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 200, outcome["text"][:400]
    assert outcome["body"]["counts"]["add"] == 0, outcome["body"]["counts"]
    with london.read() as session:
        harvested = session.execute(select(func.count()).select_from(Dataset).where(
            Dataset.source_identifier.in_([e.identifier for e in entries]))).scalar_one()
    assert harvested == len(entries)


def test_a_harvest_while_a_dataset_is_registered_under_a_code_it_would_choose_asks_first(
        signed_in: SignedIn, london: Database, catalogue: str) -> None:
    cdo = signed_in("cdo")
    outcome: dict[str, Any] = {}

    def the_cdo_harvests() -> None:
        try:
            response = cdo.post("/api/v1/catalogue/harvest", json={
                "url": catalogue, "publisher": "GLA", "dry_run": False})
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["text"] = 500, repr(exc)
            return
        outcome["status"], outcome["text"] = response.status_code, response.text
        outcome["body"] = response.json()

    # A lead registers the portal's "Bus stop locations" by hand, not yet committed.
    with london.write() as session:
        datasets.create_dataset(session=session, actor=SYSTEM, data={
            "code": "bus-stop-locations", "title": "Bus stop locations", "publisher": "GLA",
            "access": "open"})
        other = threading.Thread(target=the_cdo_harvests)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 200, outcome["text"][:400]
    assert [c["matches"] for c in outcome["body"]["confirm"]] == ["bus-stop-locations"]
    assert outcome["body"]["counts"]["add"] == 2
