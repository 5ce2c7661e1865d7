"""A delivered project's benefits page: recording and correcting what it achieved."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

BARKING = "E09000002"
URL = "/projects/bd-social-progress-index/benefits"
TYPED = {"people_reached": "5000", "savings_gbp": "120000", "measured_on": "2018-03-31",
         "outcome": "A's measured outcome", "review": "A's review"}


@pytest.fixture
def backend() -> str:
    """Run on SQLite: the page's behaviour, not the database (the API's runs on both)."""
    return "sqlite"


def hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def test_a_first_record_made_meanwhile_is_shown_beside_the_figures_typed_and_kept(
        signed_in: SignedIn) -> None:
    # Review: a form opened before any record had no version, so a second lead's first record
    # replaced the first without a word.
    first, second = (signed_in("lead", BARKING, html=True) for _ in range(2))
    forms = [hidden(client.get(URL).text) for client in (first, second)]
    assert forms[1]["version"] == "0"
    assert first.post(URL, data=forms[0] | TYPED, follow_redirects=False).status_code == 303
    theirs = {"people_reached": "10", "savings_gbp": "", "measured_on": "2018-04-30",
              "outcome": "B's outcome", "review": ""}
    late = second.post(URL, data=forms[1] | theirs)
    assert late.status_code == 409
    page = parse_html(late.text)
    recorded = page.find("dl", **{"class": "facts"}).text()
    assert "5,000" in recorded and "A's measured outcome" in recorded
    assert page.by_id("b-outcome").text() == "B's outcome"
    assert "recorded these benefits meanwhile" in late.text
    assert second.get(f"/api/v1{URL}").json()["outcome"] == "A's measured outcome"


@pytest.mark.parametrize(("typed", "field", "said"), [
    ({"outcome": "   "}, "b-outcome", "Say in words what the project achieved."),
    ({"outcome": ""}, "b-outcome", "Say in words what the project achieved."),
    ({"outcome": "Fewer\x03 evictions"}, "b-outcome", "Must not contain control characters"),
    ({"review": "Worked\x1b well"}, "b-review", "Must not contain control characters"),
])
def test_a_blank_outcome_or_a_control_character_is_refused_in_plain_words(
        signed_in: SignedIn, typed: dict[str, str], field: str, said: str) -> None:
    lead = signed_in("lead", BARKING, html=True)
    response = lead.post(URL, data=hidden(lead.get(URL).text) | TYPED | typed)
    assert response.status_code == 422
    page = parse_html(response.text)
    assert said in page.error_for(field)
    assert page.find("div", **{"class": "error-summary"}) is not None
    assert page.by_id("b-people_reached").get("value") == "5000"  # what was typed is kept
    assert lead.get(f"/api/v1{URL}").status_code == 404  # nothing recorded


def test_a_project_not_delivered_is_not_said_to_be_delivered_on_its_planned_end(
        signed_in: SignedIn) -> None:
    # A proposed project's page read "Proposed · delivered 2026-01-30": its planned end date.
    reader = signed_in("researcher", html=True)

    page = reader.get("/projects/newham-fly-tipping-hotspots/benefits").text
    meta = parse_html(page).find("p", **{"class": "meta"}).text()

    assert "delivered" not in meta.lower().replace("proposed", "")
    assert "planned to end 2026-01-30" in meta


def test_the_accuracy_tables_give_every_level_and_ratio_to_the_same_places(
        signed_in: SignedIn) -> None:
    # A column read 3.167, 3.5 and 4.0 under one another (and a ratio 0.818 beside 1.0).
    page = parse_html(signed_in("researcher", html=True).get("/benefits").text)

    for table in page.find_all("table")[:2]:
        for row in table.find("tbody").find_all("tr"):
            cells = [cell.text() for cell in row.find_all("td")]
            figures = cells[2:4] + ([cells[6]] if len(cells) == 7 else [])
            for figure in figures:
                assert figure == "not known" or re.fullmatch(r"\d+\.\d\d", figure), cells
