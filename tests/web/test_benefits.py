"""A delivered project's benefits page: recording and correcting what it achieved."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import benefits
from portfolio.services.common import project_by_slug
from portfolio.settings import Settings
from tests.web.auth import token_for
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from web.app import create_app

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
            for figure in [*cells[1:3], cells[7]]:
                assert figure in ("not known", "does not apply") or re.fullmatch(
                    r"\d+\.\d\d", figure), cells


API = f"/api/v1{URL}"
SENT = {"people_reached": 5000, "savings_gbp": 120000, "measured_on": "2018-03-31",
        "outcome": "A's measured outcome", "review": "A's review"}
ApiClient = Callable[..., TestClient]


@pytest.fixture
def api(settings: Settings, london: Database) -> Iterator[ApiClient]:
    """Return a maker of API clients, each with a token of a role; all closed after."""
    app = create_app(settings)
    made: list[TestClient] = []

    def client(role: str, organisation: str | None = None) -> TestClient:
        made.append(TestClient(app).__enter__())
        made[-1].headers["Authorization"] = f"Bearer {token_for(london, role, organisation)}"
        return made[-1]

    yield client
    for client_made in made:
        client_made.__exit__(None, None, None)


def test_an_api_record_without_the_version_read_is_refused_naming_version(
        api: ApiClient) -> None:
    # A script leaving the version out replaced a correction without a word (figures null).
    lead = api("lead", BARKING)
    assert lead.put(API, json=SENT | {"version": 0}).status_code == 200
    refused = lead.put(API, json={"outcome": "Script's outcome", "measured_on": "2018-04-30"})
    assert refused.status_code == 422, refused.text
    assert "version" in refused.json()["errors"]
    kept = lead.get(API).json()
    assert kept["people_reached"] == 5000 and kept["review"] == "A's review"


@pytest.mark.parametrize("recorded_before", [False, True], ids=["none yet", "recorded"])
def test_a_version_the_benefits_never_had_is_refused_naming_version(
        api: ApiClient, recorded_before: bool) -> None:
    lead = api("lead", BARKING)
    if recorded_before:
        assert lead.put(API, json=SENT | {"version": 0}).status_code == 200
    refused = lead.put(API, json=SENT | {"version": 99})
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["version"]


def test_a_stale_api_correction_answers_what_changed_and_the_record_as_get_shows_it(
        api: ApiClient) -> None:
    # The 409 said "their figures are shown above ... kept in the form" with `changed` {}
    # and `current` only {"version": 2}.
    lead, cdo = api("lead", BARKING), api("cdo")
    assert lead.put(API, json=SENT | {"version": 0}).status_code == 200
    assert cdo.put(API, json=SENT | {"version": 1, "people_reached": 4800,
                                     "outcome": "The CDO's outcome"}).status_code == 200
    stale = lead.put(API, json=SENT | {"version": 1, "review": "A's second thoughts"})
    assert stale.status_code == 409, stale.text
    body = stale.json()
    assert body["changed"] == {"people_reached": 4800, "outcome": "The CDO's outcome"}
    assert body["current"] == lead.get(API).json()
    assert "form" not in body["detail"] and "above" not in body["detail"]


def test_a_correction_keeps_who_first_recorded_and_when_and_names_who_corrected_and_when(
        api: ApiClient, signed_in: SignedIn) -> None:
    # A correction made at 00:48 read "Recorded by Portfolio Administrator, 00:47": the
    # corrector with the first recording's time.
    cdo, admin = api("cdo"), api("admin")
    first = cdo.put(API, json=SENT | {"version": 0}).json()
    assert admin.put(API, json=SENT | {"version": 1, "outcome": "Corrected"}).status_code == 200
    shown = admin.get(API).json()
    assert (shown["recorded_by"], shown["recorded_at"]) == ("Test cdo", first["recorded_at"])
    assert shown["corrected_by"] == "Test admin"
    assert shown["corrected_at"] > shown["recorded_at"]
    page = parse_html(signed_in("researcher", html=True).get(URL).text)
    recorded = page.find("dl", **{"class": "facts"}).text()
    assert "Recorded by Test cdo," in recorded
    assert "corrected by Test admin on" in recorded


def test_the_record_answers_its_recorder_by_name_as_get_does(api: ApiClient) -> None:
    # The PUT answered the recorder's email and GET their name.
    lead = api("lead", BARKING)
    saved = lead.put(API, json=SENT | {"version": 0}).json()
    assert saved["recorded_by"] == "Test lead" == lead.get(API).json()["recorded_by"]
    listed = {b["project"]: b for b in lead.get("/api/v1/benefits").json()}
    assert listed["bd-social-progress-index"]["recorded_by"] == "Test lead"
    assert "@" not in str(saved)


EVERY_PROBLEM = {"people_reached": "-1", "savings_gbp": "abc", "outcome": "",
                 "measured_on": "2017-01-01"}


def test_every_problem_with_the_benefits_form_is_said_at_once_beside_its_field(
        signed_in: SignedIn) -> None:
    # The date before delivery was said only once the other three were put right.
    lead = signed_in("lead", BARKING, html=True)
    refused = lead.post(URL, data=hidden(lead.get(URL).text) | TYPED | EVERY_PROBLEM)
    assert refused.status_code == 422
    page = parse_html(refused.text)
    for name in EVERY_PROBLEM:
        assert page.error_for(f"b-{name}"), name
    assert "before delivery" in page.error_for("b-measured_on")
    summary = page.find("div", **{"class": "error-summary"}).text()
    assert "Savings a year (GBP):" in summary and "Savings gbp" not in summary
    assert page.label_for("b-savings_gbp").startswith("Savings a year (GBP)")


def test_every_problem_with_benefits_sent_to_the_api_is_named_at_once(api: ApiClient) -> None:
    refused = api("lead", BARKING).put(API, json={
        "people_reached": -1, "savings_gbp": "abc", "outcome": "", "measured_on": "2017-01-01",
        "version": 0})
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == set(EVERY_PROBLEM)


def test_a_two_tab_conflict_is_said_for_the_form_not_under_its_outcome(
        signed_in: SignedIn) -> None:
    # It read "Outcome: someone recorded these benefits meanwhile" under the Outcome box.
    lead = signed_in("lead", BARKING, html=True)
    form = hidden(lead.get(URL).text)
    assert lead.post(URL, data=form | TYPED, follow_redirects=False).status_code == 303
    late = lead.post(URL, data=form | TYPED | {"outcome": "The second tab's"})
    assert late.status_code == 409
    page = parse_html(late.text)
    summary = page.find("div", **{"class": "error-summary"}).text()
    assert "recorded these benefits meanwhile" in summary and "Outcome:" not in summary
    assert page.by_id("b-outcome").get("aria-invalid") is None


def test_a_result_without_a_reach_estimate_is_said_in_words(
        signed_in: SignedIn, london: Database) -> None:
    # It read "500 (estimated not estimated; reach level 1 against 4)".
    with london.write() as session:
        project = project_by_slug(session, "bd-social-progress-index")
        project.reach_people = None
        session.add(project)
        benefits.record_benefits(session=session, actor=SYSTEM, slug=project.slug,
                                 data=SENT | {"people_reached": 500})
    page = parse_html(signed_in("researcher", html=True).get(URL).text)
    reached = page.find("dl", **{"class": "facts"}).find("dd").text()
    assert "not estimated" not in reached and "against 4" not in reached
    assert reached.startswith("500 (no estimate of people reached;"), reached


def test_both_accuracy_tables_show_every_share_and_the_median_reach_ratio(
        signed_in: SignedIn) -> None:
    # By organisation showed only the optimistic share; by criterion had no median ratio.
    page = parse_html(signed_in("researcher", html=True).get("/benefits").text)
    wanted = ["Projects", "Mean estimated level", "Mean realised level", "Mean gap",
              "Optimistic", "Exact", "Pessimistic", "Median people reached, realised / estimated"]
    for table in page.find_all("table")[:2]:
        assert table.find("caption") is not None
        headers = [th.text() for th in table.find("thead").find_all("th")]
        assert headers[1:] == wanted, headers
        assert all(th.get("scope") == "col" for th in table.find("thead").find_all("th"))
        for row in table.find("tbody").find_all("tr"):
            assert row.find("th", scope="row") is not None
            assert len(row.find_all("td")) == len(wanted)
