"""Realised benefits: the bands, the accuracy, and the snapshot and Data Package that carry them."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import benefits, exports, snapshots
from portfolio.services import ranking as ranking_service
from portfolio.services.exports import ExportFormat
from scoring.benefits import accuracy, comparisons, reach_band, savings_band


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.parametrize(("people", "level"), [(0, 1), (999, 1), (1_000, 2), (9_999, 2),
                                               (10_000, 3), (100_000, 4), (1_000_000, 5)])
def test_reach_bands_follow_the_rubric(people: int, level: int) -> None:
    assert reach_band(people) == level


@pytest.mark.parametrize(("gbp", "level"), [(0, 1), (1, 2), (100_000, 2), (100_001, 3),
                                            (500_000, 3), (2_000_000, 4), (2_000_001, 5)])
def test_savings_bands_follow_the_rubric(gbp: int, level: int) -> None:
    assert savings_band(gbp) == level


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_bands_never_fall_as_the_figure_rises(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert reach_band(low) <= reach_band(high)
    assert savings_band(low) <= savings_band(high)


def test_accuracy_marks_an_optimistic_organisation() -> None:
    realised = pd.DataFrame({
        "project": ["a", "b", "c"], "organisation": ["X", "X", "Y"],
        "people_reached": [500.0, 50_000.0, 2_000.0], "savings_gbp": [0.0, None, 90_000.0],
        "estimated_reach_people": [20_000.0, 40_000.0, 1_000.0],
        "estimated_reach_level": [3.0, 3.0, 2.0], "estimated_savings_level": [3.0, None, 2.0],
    })
    table = accuracy(comparisons(realised), "organisation").set_index("group")
    assert table.loc["X", "mean_gap"] == pytest.approx((2 + 0 + 2) / 3)
    assert table.loc["X", "optimistic"] == pytest.approx(2 / 3)
    assert table.loc["X", "median_reach_ratio"] == pytest.approx((0.025 + 1.25) / 2)
    assert table.loc["Y", "mean_gap"] == 0


def test_a_snapshot_and_its_data_package_carry_the_realised_figures(london: Database) -> None:
    with london.write() as session:
        benefits.record_benefits(session=session, actor=SYSTEM,
                                 slug="lambeth-household-support-targeting", data={
            "people_reached": 7200, "savings_gbp": 40000, "measured_on": "2024-09-30",
            "outcome": "7,200 households supported", "review": "Worked well."})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranking_service, "DEFAULT_SAMPLES", 60)
        made = snapshots.create_snapshot(london, actor=SYSTEM, label="with benefits")
    with london.read() as session:
        content = snapshots.load_content(session=session, snapshot_id=made["id"])
    rows = {r["project"]: r for r in content.records("benefits")}
    row = rows["lambeth-household-support-targeting"]
    assert "bd-one-view" in rows  # and the seed's realised benefits
    assert row["people_reached"] == 7200 and row["realised_reach_level"] == 2
    assert row["estimated_reach_people"] == 9000
    accuracy_rows = content.records("estimate_accuracy")
    assert {(r["by"], r["group"]) for r in accuracy_rows} >= {("organisation", "E09000022"),
                                                              ("criterion", "reach")}
    out = io.BytesIO()
    exports.write_export(content, ExportFormat.datapackage, out)
    with zipfile.ZipFile(out) as archive:
        package = json.loads(archive.read("datapackage.json"))
        names = [r["name"] for r in package["resources"]]
        assert "benefits" in names and "estimate_accuracy" in names
        text = archive.read("data/benefits.csv").decode()
    assert "7,200 households supported" in text
