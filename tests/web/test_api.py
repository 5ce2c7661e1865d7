"""The first JSON API and pages, through the test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.factories import depend, make_organisation, make_project
from tests.web.auth import Browser, sign_in, token_for
from web.app import create_app


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "one-view", title="One View household data")
        make_project(session, "debt-prevention", title="Debt <b>prevention</b>")
        depend(session, "debt-prevention", "one-view")
    with Browser(create_app(settings)) as test_client:
        sign_in(test_client, db)
        yield test_client


def test_healthz_says_the_process_is_alive_and_readyz_checks_the_database(
        client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.get("/readyz").json()["checks"]["database"] == "ok"


def test_organisations_api_lists_code_name_and_kind(client: TestClient) -> None:
    response = client.get("/api/v1/organisations")
    assert response.json() == [
        {"code": "E09000002", "name": "Barking and Dagenham", "kind": "borough"}
    ]


def test_projects_api_lists_slug_title_organisation_and_status(client: TestClient) -> None:
    rows = client.get("/api/v1/projects").json()
    assert [r["slug"] for r in rows] == ["debt-prevention", "one-view"]
    assert {"slug", "title", "organisation", "status"} <= set(rows[0])
    assert rows[1]["organisation"] == "E09000002"


def test_api_refuses_a_cycle_with_422_and_the_path(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects/one-view/dependencies", json={"depends_on": "debt-prevention"}
    )
    assert response.status_code == 422
    assert response.json()["cycle"] == ["one-view", "debt-prevention", "one-view"]


def test_api_answers_bad_project_input_with_field_errors(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={"slug": "x", "title": "X", "owner": "NOPE", "theme": "housing", "cost_gbp": -1},
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"cost_gbp"} or "owner" in response.json()["errors"]


def test_unknown_project_is_404_json_for_the_api(client: TestClient) -> None:
    response = client.get("/api/v1/projects/missing")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_home_page_lists_projects_with_titles_escaped(client: TestClient) -> None:
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "One View household data" in response.text
    assert "Debt &lt;b&gt;prevention&lt;/b&gt;" in response.text
    assert "/static/vendor/htmx.min.js?v=" in response.text


def test_home_search_answers_htmx_with_the_results_fragment_only(client: TestClient) -> None:
    response = client.get("/?q=one", headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert "One View household data" in response.text
    assert "Debt" not in response.text
    assert "HX-Request" in response.headers["vary"]


def test_project_page_shows_its_dependencies(client: TestClient) -> None:
    response = client.get("/projects/debt-prevention")
    assert response.status_code == 200
    assert "One View household data" in response.text


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/organisations?kind=borugh", "kind"),
    ("/api/v1/projects?status=in-progress", "status"),
    ("/api/v1/projects?theme=Housing", "theme"),
    ("/api/v1/datasets?access=public", "access"),
    ("/api/v1/backlog?status=bogus", "status"),
    ("/api/v1/backlog?theme=bogus", "theme"),
    ("/api/v1/graph?status=bogus", "status"),
    ("/api/v1/graph?theme=bogus", "theme"),
    ("/api/v1/agreements?status=in_force", "status"),
    ("/api/v1/backlog?view=candidate", "view"),  # it said "String should match pattern ..."
])
def test_a_filter_value_that_names_nothing_is_refused_naming_the_choices(
        client: TestClient, path: str, field: str) -> None:
    # A script-user review: a typo in a closed list's value answered 200 [] (no data, it
    # seemed) where it should say the value is not one of the list's.
    response = client.get(path)
    assert response.status_code == 422, (path, response.text)
    assert field in response.json()["errors"], response.json()
    assert "pattern" not in response.json()["errors"][field]  # the choices, in words


def test_similar_projects_of_an_empty_portfolio_answer_in_words_not_500(
        settings: Settings, db: Database) -> None:
    # A new deployment holds no project: building the similarity model of none raised
    # StopIteration in the term counter, and every similarity call answered 500.
    headers = {"Authorization": f"Bearer {token_for(db, 'cdo')}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        draft = client.post("/api/v1/similar", headers=headers,
                            json={"title": "Debt advice referrals", "description": "", "theme": "",
                                  "owner": ""})
        missing = client.get("/api/v1/projects/debt-advice/similar", headers=headers)
        together = client.get("/api/v1/collaboration", headers=headers)
    assert draft.status_code == 200, draft.text
    assert draft.json()["similar"] == []
    assert missing.status_code == 404, missing.text
    assert "debt-advice" in missing.json()["detail"]
    assert together.status_code == 200, together.text


def test_ranking_without_any_weight_profile_says_so_not_none(
        settings: Settings, db: Database) -> None:
    # With no profile named and none stored the refusal read "no weight profile None".
    headers = {"Authorization": f"Bearer {token_for(db, 'cdo')}"}
    with TestClient(create_app(settings)) as client:
        refused = client.get("/api/v1/backlog", headers=headers)
        named = client.get("/api/v1/backlog?profile=Balanced", headers=headers)
    assert refused.status_code == 404, refused.text
    assert "None" not in refused.json()["detail"]
    assert "no weight profile yet" in refused.json()["detail"]
    assert named.json()["detail"] == "no weight profile 'Balanced'"


def test_times_are_answered_in_utc_with_their_offset_on_every_database(
        settings: Settings, london: Database) -> None:
    # SQLite gives stored times back without a zone: a scenario's created_at came back from
    # POST as ...+00:00 and from GET without an offset, which a script reads as local time.
    from datetime import datetime
    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings)) as client:
        made = client.post("/api/v1/scenarios", headers=headers,
                           json={"name": "Winter", "budget": 500000, "capacity": 50}).json()
        read = client.get(f"/api/v1/scenarios/{made['id']}", headers=headers).json()
        client.post("/api/v1/projects/bd-debt-arrears-prevention/comments", headers=headers,
                    json={"body": "Checked the arrears data."})
        comment = client.get("/api/v1/projects/bd-debt-arrears-prevention/comments",
                             headers=headers).json()[0]
    assert read["created_at"] == made["created_at"]
    for moment in (read["created_at"], read["updated_at"], comment["created_at"]):
        assert datetime.fromisoformat(moment).utcoffset() is not None, moment


@pytest.mark.parametrize(("query", "field", "says"), [
    ("/api/v1/roadmap?budget=100000&discount_rate=1", "discount_rate", "below 1"),
    ("/api/v1/plan/frontier?capacity=10&max_budget=0", "max_budget", "more than 0"),
])
def test_a_strict_bound_is_said_as_strict(client: TestClient, query: str, field: str,
                                          says: str) -> None:
    # A rate must be below 1: the refusal read "Enter 1 or less (you entered 1)".
    refused = client.get(query)
    assert refused.status_code == 422, refused.text
    assert says in refused.json()["errors"][field], refused.text


@pytest.mark.parametrize(("method", "path", "body", "field", "says"), [
    ("PUT", "/api/v1/capacities",
     {"organisation": "E09000002", "quarter": "2027Q1", "person_months": 5}, "quarter",
     "2027 Q1"),
    ("DELETE", "/api/v1/capacities/E09000002/2027Q1", None, "quarter", "2027 Q1"),
    ("POST", "/api/v1/catalogue/harvest", {"url": "ftp://data.london.gov.uk"}, "url",
     "https://"),
    ("POST", "/api/v1/collaboration/dismiss", {"group": "one-view", "reason": "done"}, "group",
     "project ids"),
])
def test_a_patterned_field_is_refused_in_words_not_its_pattern(
        client: TestClient, method: str, path: str, body: dict | None, field: str,
        says: str) -> None:
    # These answered "String should match pattern '^\d{4}[ -]Q[1-4]$'."
    refused = client.request(method, path, json=body)
    assert refused.status_code == 422, refused.text
    message = refused.json()["errors"][field]
    assert says in message and "pattern" not in message, message


@pytest.mark.parametrize(("content", "content_type", "says"), [
    (b'{"slug": "debt-advice",', "application/json", "not valid JSON"),
    (b"", "application/json", "JSON object"),
    (b'["debt-advice"]', "application/json", "JSON object"),
    (b'{"slug": "debt-advice"}', "text/plain", "application/json"),
])
def test_a_body_that_is_no_json_object_is_refused_naming_the_body(
        client: TestClient, content: bytes, content_type: str, says: str) -> None:
    # Broken JSON was refused under the field "17" (a character position), and a missing or
    # non-object body under "input" with pydantic's words ("Field required").
    refused = client.post("/api/v1/projects", content=content,
                          headers={"Content-Type": content_type})
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["body"], refused.text
    assert says in refused.json()["errors"]["body"], refused.text


def test_a_rule_across_fields_still_names_its_fields(client: TestClient) -> None:
    # A whole-model rule is reported at the body too: it must not read as "send a JSON object".
    refused = client.post("/api/v1/projects", json={
        "slug": "debt-advice", "title": "Debt advice", "owner": "E09000002", "theme": "housing",
        "mandatory": True})
    assert refused.status_code == 422, refused.text
    assert "body" not in refused.json()["errors"], refused.text
