"""Snapshots and the Data Package carry the agreements register and each link's agreement."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import exports, snapshots
from portfolio.services import ranking as ranking_service
from portfolio.services.exports import ExportFormat


@pytest.fixture
def backend() -> str:
    """The tables' content is database-neutral: run it on SQLite."""
    return "sqlite"


def test_a_snapshot_and_its_data_package_carry_the_agreements(london: Database) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranking_service, "DEFAULT_SAMPLES", 60)
        made = snapshots.create_snapshot(london, actor=SYSTEM, label="with agreements")
    with london.read() as session:
        content = snapshots.load_content(session=session, snapshot_id=made["id"])
    rows = {r["code"]: r for r in content.records("agreements")}
    street = rows["london-street-works-dsa"]
    # Signed, expiring 2027-01-29 in the seed: its standing follows the day the snapshot is taken.
    assert street["standing"] == ("signed" if date.today() <= date(2027, 1, 29) else "expired")
    assert "TFL:controller" in street["parties"]
    assert rows["card-spend-footfall-licence"]["standing"] == "expired"
    links = [r for r in content.records("links")
             if r["project"] == "bd-one-view-phase-2" and r["dataset"] == "nel-gp-registrations"]
    assert links[0]["sharing_agreement"] == "one-view-nel-gp-registrations"
    assert links[0]["agreement"] == "drafting"
    out = io.BytesIO()
    exports.write_export(content, ExportFormat.datapackage, out)
    with zipfile.ZipFile(out) as archive:
        package = json.loads(archive.read("datapackage.json"))
        assert "agreements" in [r["name"] for r in package["resources"]]
        assert "London street works" in archive.read("data/agreements.csv").decode()
