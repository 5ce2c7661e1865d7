"""The dataset catalogue, editable: register, assess readiness with evidence, what depends on it."""

from __future__ import annotations

import pytest

from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html


@pytest.fixture
def backend() -> str:
    """The catalogue's web layer is database-neutral: run it on SQLite."""
    return "sqlite"


@pytest.fixture
def clients(signed_in: SignedIn) -> dict[str, Browser]:
    return {"lead": signed_in("lead", "E09000002"), "researcher": signed_in("researcher")}

def test_a_lead_registers_a_dataset_as_their_organisation(clients: dict[str, Browser]) -> None:
    form = {"csrf_token": clients["lead"].csrf, "code": "bd-housing-repairs",
            "title": "Housing repairs requests", "publisher": "E09000002", "access": "restricted",
            "update_frequency": "daily", "drl": "C2", "url": "ftp://nowhere"}
    refused = clients["lead"].post("/catalogue/register", data=form)
    assert refused.status_code == 422
    page = parse_html(refused.text)
    assert "https://" in page.error_for("f-url")
    assert page.by_id("f-title").get("value") == "Housing repairs requests"
    done = clients["lead"].post("/catalogue/register",
                                data=form | {"url": "https://example.london/repairs"},
                                follow_redirects=False)
    assert done.status_code == 303
    got = clients["lead"].get("/api/v1/datasets/bd-housing-repairs").json()
    assert got["url"] == "https://example.london/repairs" and got["drl"] == "C2"
    other = clients["lead"].post("/api/v1/datasets", json={
        "code": "camden-x", "title": "X", "publisher": "E09000007", "access": "open"})
    assert other.status_code == 403


def test_a_readiness_level_is_kept_with_its_evidence_and_assessor(
        clients: dict[str, Browser]) -> None:
    code = "bd-adult-social-care-records"
    missing = clients["lead"].post(f"/api/v1/datasets/{code}/readiness",
                                   json={"drl": "B2", "evidence": ""})
    assert missing.status_code == 422 and "evidence" in missing.json()["errors"]
    done = clients["lead"].post(f"/datasets/{code}/readiness", data={
        "csrf_token": clients["lead"].csrf, "drl": "B2",
        "evidence": "Duplicates removed; missing values profiled."}, follow_redirects=False)
    assert done.status_code == 303
    history = clients["lead"].get(f"/api/v1/datasets/{code}/readiness").json()
    assert history[0]["drl"] == "B2" and history[0]["assessor"].startswith("Test lead")
    assert clients["lead"].get(f"/api/v1/datasets/{code}").json()["drl"] == "B2"
    page = clients["researcher"].get(f"/datasets/{code}")
    assert "Duplicates removed" in page.text and "Record the level" not in page.text
    refused = clients["researcher"].post(f"/api/v1/datasets/{code}/readiness",
                                         json={"drl": "B1", "evidence": "x"})
    assert refused.status_code == 403


def test_a_level_recorded_meanwhile_is_not_overwritten_and_the_typed_level_is_kept(
        signed_in: SignedIn) -> None:
    alice, bob = signed_in("cdo", html=True), signed_in("cdo")
    code = "lsoa-2021-boundaries"
    page = parse_html(alice.get(f"/datasets/{code}").text)
    version = page.find("form", class_="readiness-form").find(  # type: ignore[union-attr]
        "input", name="version").get("value")  # type: ignore[union-attr]
    assert version == str(bob.get(f"/api/v1/datasets/{code}").json()["version"])
    bobs = bob.post(f"/api/v1/datasets/{code}/readiness", json={
        "drl": "C1", "evidence": "Found a duplicate-key fault; loadable only.",
        "version": int(version)})
    assert bobs.status_code == 200, bobs.text
    form = {"csrf_token": alice.csrf, "version": version, "drl": "C2",
            "evidence": "I could download it."}
    stale = alice.post(f"/datasets/{code}/readiness", data=form, follow_redirects=False)
    assert stale.status_code == 409
    assert bob.get(f"/api/v1/datasets/{code}").json()["drl"] == "C1"
    page = parse_html(stale.text)
    assert page.by_id("rd-drl").find("option", selected="").get("value") == "C2"  # type: ignore[union-attr]
    assert page.by_id("rd-evidence").text() == "I could download it."
    assert "now C1" in page.error_for("rd-drl") and "duplicate-key fault" in stale.text
    # Saving the form shown again is her choice made knowing his level.
    again = page.find("form", class_="readiness-form").find(  # type: ignore[union-attr]
        "input", name="version").get("value")  # type: ignore[union-attr]
    done = alice.post(f"/datasets/{code}/readiness", data=form | {"version": again},
                      follow_redirects=False)
    assert done.status_code == 303
    assert bob.get(f"/api/v1/datasets/{code}").json()["drl"] == "C2"


def test_the_list_filters_by_readiness_and_shows_the_value_waiting(
        clients: dict[str, Browser]) -> None:
    page = clients["researcher"].get("/datasets", params={"drl": "B1"})
    assert page.status_code == 200
    assert "Their value (points)" in page.text
    assert "Children's social care case records" not in page.text  # not B1
