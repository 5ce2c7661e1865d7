"""A project's information governance path: stages, what is missing, who records them."""

from __future__ import annotations

import pytest

from portfolio.db import Database
from portfolio.services import ig
from tests.web.auth import Browser
from tests.web.conftest import SignedIn

PERSONAL = "bd-one-view-phase-2"  # Barking and Dagenham's; personal data, agreements drafting


@pytest.fixture
def backend() -> str:
    """The IG path is database-neutral: run it on SQLite."""
    return "sqlite"


@pytest.fixture
def clients(signed_in: SignedIn) -> dict[str, Browser]:
    return {"lead": signed_in("lead", "E09000002"), "other": signed_in("lead", "E09000007")}

def test_the_path_lists_the_four_stages_and_names_what_is_missing(london: Database) -> None:
    with london.read() as session:
        path = ig.ig_path(session=session, slug=PERSONAL)
    assert [s["stage"] for s in path["stages"]] == [
        "dpia_screening", "dpia", "sharing_agreements", "privacy_notice"]
    agreements = path["stages"][2]
    assert agreements["status"] == "in_progress" and agreements["missing"]
    assert {m["agreement"] for m in agreements["missing_agreements"]} == {
        "one-view-nel-gp-registrations", "ukpn-priority-services-register-boroughs"}
    assert "Privacy notice" in path["missing"]


def test_the_owning_lead_records_a_stage_and_the_page_shows_it(
        clients: dict[str, Browser]) -> None:
    done = clients["lead"].put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
                               json={"status": "done", "dated_on": "2026-10-01",
                                     "note": "Published on the council's site."})
    assert done.status_code == 200, done.text
    got = clients["lead"].get(f"/api/v1/projects/{PERSONAL}/ig").json()
    assert "Privacy notice" not in got["missing"]
    page = clients["lead"].get(f"/projects/{PERSONAL}")
    assert "Information governance" in page.text and "Published on the council" in page.text
    assert "Record a stage" in page.text
    assert "Recorded privacy notice: done" in page.text  # in the project's history
    assert "Record a stage" not in clients["other"].get(f"/projects/{PERSONAL}").text
    refused = clients["other"].put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
                                   json={"status": "done"})
    assert refused.status_code == 403


def test_the_agreements_stage_is_not_recorded_by_hand(clients: dict[str, Browser]) -> None:
    answer = clients["lead"].put(f"/api/v1/projects/{PERSONAL}/ig/sharing_agreements",
                                 json={"status": "done"})
    assert answer.status_code == 422 and "stage" in answer.json()["errors"]
