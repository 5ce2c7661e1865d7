"""Similar projects, the registration panel, collaboration opportunities and benefits."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from portfolio.db import Database
from portfolio.models import Organisation, Project, ProjectPartner
from portfolio.services import collaboration
from portfolio.services.common import current_revision
from portfolio.settings import Settings
from tests.factories import make_project
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
from web.app import create_app

LEWISHAM, SOUTHWARK, LAMBETH = "E09000023", "E09000028", "E09000022"


@pytest.fixture
def backend() -> str:
    """Most of these run on SQLite; the API's round trip runs on both below."""
    return "sqlite"


@pytest.fixture
def app(settings: Settings, london: Database) -> FastAPI:
    return create_app(settings)


def browser(app: FastAPI, db: Database, role: str, organisation: str | None = None) -> Browser:
    client = Browser(app, headers={"accept": "text/html"})
    client.__enter__()
    sign_in(client, db, role, organisation)
    return client


@pytest.fixture
def cdo(app: FastAPI, london: Database) -> Iterator[Browser]:
    client = browser(app, london, "cdo")
    yield client
    client.__exit__(None, None, None)


def api(app: FastAPI, db: Database, role: str, organisation: str | None = None) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token_for(db, role, organisation)}"
    return client


def test_similar_projects_of_a_project_are_in_other_organisations_and_say_why(
        app: FastAPI, london: Database) -> None:
    client = api(app, london, "researcher")
    body = client.get("/api/v1/projects/islington-fuel-poverty-targeting/similar").json()
    slugs = [s["slug"] for s in body["similar"]]
    assert slugs[0] == "haringey-fuel-poverty-targeting"
    first = body["similar"][0]
    assert first["why"].startswith("same theme; both use ")
    assert "fuel poverty" in first["why"]
    assert "Sub-regional fuel poverty estimates" in first["why"]
    assert all(s["organisation"] != "E09000019" for s in body["similar"])
    assert first["contact"] is None or "@" in first["contact"]["email"]


def test_a_project_with_nothing_to_compare_says_why_none(app: FastAPI, london: Database) -> None:
    client = api(app, london, "cdo")
    created = client.post("/api/v1/projects", json={
        "slug": "blank-idea", "title": "Zzyzx", "owner": LAMBETH, "theme": "economy"})
    assert created.status_code == 201, created.text
    body = client.get("/api/v1/projects/blank-idea/similar?fresh=true").json()
    assert body["similar"] == []
    assert body["none_reason"]
    assert client.get("/api/v1/projects/no-such-project/similar").status_code == 404


# Found on the London demo with public read on: the similar projects page told an anonymous
# reader to sign in to see the collaboration opportunities that /collaboration shows them.
def test_an_anonymous_reader_of_a_public_portfolio_is_linked_to_collaboration(
        settings: Settings, london: Database) -> None:
    public = create_app(settings.model_copy(update={"public_read": True}))
    with Browser(public, headers={"accept": "text/html"}) as anonymous:
        page = anonymous.get("/projects/bd-propensity-to-pay/similar")
        assert page.status_code == 200
        assert anonymous.get("/collaboration").status_code == 200
    lede = parse_html(page.text).find("p", class_="lede")
    assert lede is not None and "Sign in" not in lede.text()
    assert lede.find("a", href="/collaboration") is not None


def test_the_similar_page_keeps_the_capitals_of_why(cdo: Browser) -> None:
    # Found on the London demo: "why" went through `capitalize`, which lowercased the rest, so
    # "London EPCs cleaned and matched to UPRN" read "london epcs cleaned and matched to uprn".
    why = [s["why"] for s in cdo.get("/api/v1/projects/bd-propensity-to-pay/similar",
                                     headers={"accept": "application/json"}).json()["similar"]]
    assert [w for w in why if w[1:] != w[1:].lower()], "no reason with capitals to compare"
    rows = parse_html(cdo.get("/projects/bd-propensity-to-pay/similar").text).find(
        "tbody").find_all("tr")  # type: ignore[union-attr]
    assert [r.find_all("td")[4].text().strip() for r in rows] == [w[:1].upper() + w[1:]
                                                                 for w in why]


def test_the_registration_form_carries_the_similar_projects_panel(
        app: FastAPI, london: Database) -> None:
    client = browser(app, london, "lead", LEWISHAM)
    page = parse_html(client.get("/projects/new").text)
    panel = page.find("section", class_="similar-panel")
    assert panel is not None
    assert panel.attrs["hx-post"] == "/projects/new/similar"
    assert "#f-title" in panel.attrs["hx-include"] and "#f-description" in panel.attrs["hx-include"]
    assert "delay:" in panel.attrs["hx-trigger"]


def test_the_panel_lists_other_organisations_projects_as_the_lead_types(
        app: FastAPI, london: Database) -> None:
    client = browser(app, london, "lead", LEWISHAM)
    response = client.post("/projects/new/similar", headers={"HX-Request": "true"}, data={
        "title": "Damp and mould risk", "description": "Predict homes at risk of damp and mould",
        "theme": "housing", "owner": LEWISHAM})
    assert response.status_code == 200
    page = parse_html(response.text)
    titles = [a.text() for a in page.find_all("a") if a.attrs.get("href", "").startswith(
        "/projects/")]
    assert "Damp and mould early warning for council homes" in titles  # Southwark's
    assert "Damp and mould risk prediction" not in titles  # Lewisham's own
    assert "We will partner with" in response.text
    assert "Lewisham" not in response.text.split("We will partner with", 1)[1].split("<")[0]


@pytest.mark.parametrize("form", [
    {}, {"title": "", "description": ""}, {"title": "x" * 5000, "description": "damp " * 40_000},
    {"title": "Утепление домов", "description": "Чтобы найти дома"},
    {"title": "住宅の断熱", "description": "断熱改修の対象を決める", "theme": "not-a-theme",
     "owner": "NOPE"},
])
def test_the_panel_answers_odd_drafts_with_a_list_or_a_reason(app: FastAPI, london: Database,
                                                              form: dict) -> None:
    client = browser(app, london, "cdo")
    response = client.post("/projects/new/similar", headers={"HX-Request": "true"}, data=form)
    assert response.status_code == 200
    assert "<li>" in response.text or 'class="empty"' in response.text


def test_the_api_compares_a_draft_and_refuses_a_body_that_is_not_text(
        app: FastAPI, london: Database) -> None:
    # POST /api/v1/similar took an untyped object, so /docs could not say what to send.
    client = api(app, london, "lead", LEWISHAM)
    found = client.post("/api/v1/similar", json={
        "title": "Damp and mould risk", "description": "Predict homes at risk of damp and mould",
        "theme": "housing", "owner": LEWISHAM})
    assert found.status_code == 200
    titles = [s["title"] for s in found.json()["similar"]]
    assert "Damp and mould early warning for council homes" in titles
    assert "Damp and mould risk prediction" not in titles
    empty = client.post("/api/v1/similar", json={})
    assert empty.status_code == 200 and empty.json()["none_reason"].startswith("type a title")
    refused = client.post("/api/v1/similar", json={"title": ["not", "text"]})
    assert refused.status_code == 422 and "title" in refused.json()["errors"]
    schema = app.openapi()["paths"]["/api/v1/similar"]["post"]["requestBody"]
    assert "$ref" in schema["content"]["application/json"]["schema"]


def test_we_will_partner_asks_for_the_leads_organisation_to_partner(
        app: FastAPI, london: Database) -> None:
    client = browser(app, london, "lead", SOUTHWARK)
    response = client.post("/projects/lewisham-damp-mould-risk/join",
                           headers={"HX-Request": "true"}, data={"owner": SOUTHWARK})
    assert response.status_code == 200
    assert "Southwark has asked to partner in" in response.text
    assert "when a lead of Lewisham accepts" in response.text
    with london.read() as session:
        joined = session.execute(
            select(Organisation.code).join(ProjectPartner,
                                           ProjectPartner.organisation_id == Organisation.id)
            .join(Project, Project.id == ProjectPartner.project_id)
            .where(Project.slug == "lewisham-damp-mould-risk")).scalars().all()
    assert SOUTHWARK not in joined  # a partner only once Lewisham accepts (test_partner_consent)
    refused = client.post("/projects/lewisham-damp-mould-risk/join", data={"owner": LAMBETH},
                          follow_redirects=False)
    assert refused.status_code == 403


def damp_group(groups: list[dict]) -> dict:
    return next(g for g in groups
                if "southwark-damp-mould-prediction" in {p["slug"] for p in g["projects"]})


def test_collaboration_opportunities_group_alike_projects_with_a_lead_and_totals(
        app: FastAPI, london: Database) -> None:
    client = api(app, london, "researcher")
    body = client.get("/api/v1/collaboration").json()
    group = damp_group(body["groups"])
    slugs = {p["slug"] for p in group["projects"]}
    assert {"lewisham-damp-mould-risk", "southwark-damp-mould-prediction"} <= slugs
    assert len({p["organisation"] for p in group["projects"]}) == len(group["projects"])
    assert group["combined_cost_gbp"] == sum(p["cost_gbp"] for p in group["projects"])
    lead = group["suggested_lead"]
    assert lead["status"] == "in_progress"
    assert any(d["code"] == "london-epc-uprn-matched" for d in group["shared_datasets"])
    housing = client.get("/api/v1/collaboration", params={"theme": "transport"}).json()
    assert all("transport" in g["themes"] for g in housing["groups"])
    by_borough = client.get("/api/v1/collaboration", params={"organisation": SOUTHWARK}).json()
    assert by_borough["groups"]
    assert all(any(p["organisation"] == SOUTHWARK for p in g["projects"])
               for g in by_borough["groups"])


def test_projects_already_partners_are_not_suggested_to_collaborate(
        app: FastAPI, london: Database) -> None:
    client = api(app, london, "cdo")
    assert client.post("/api/v1/projects/newham-school-place-planning/join",
                       json={"organisation": "E09000008"}).status_code == 201
    groups = client.get("/api/v1/collaboration", params={"fresh": "true"}).json()["groups"]
    assert not any({"newham-school-place-planning", "croydon-school-place-planning"}
                   <= {p["slug"] for p in g["projects"]} for g in groups)


def test_a_dismissed_suggestion_stays_dismissed_with_its_reason(cdo: Browser, app: FastAPI,
                                                                london: Database) -> None:
    page = cdo.get("/collaboration")
    assert page.status_code == 200
    assert "Lewisham" in page.text
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    missing = cdo.post("/collaboration/dismiss", data={"group": group["key"], "reason": " "})
    assert missing.status_code == 422
    messages = [p.text().strip() for p in parse_html(missing.text).find_all(
        "p", class_="field-error") if p.text().strip()]
    assert len(messages) == 1
    assert messages[0].lower().startswith("error: say why these projects should not work together")
    done = cdo.post("/collaboration/dismiss", follow_redirects=False, data={
        "group": group["key"], "reason": "Already talking through the LOTI housing network"})
    assert done.status_code == 303
    assert done.headers["location"].split("//", 1)[-1].split("/", 1)[1].startswith(
        "collaboration?dismissed=1")  # back to the page, not to the API's JSON
    after = api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"]
    assert group["key"] not in {g["key"] for g in after}
    dismissed = api(app, london, "researcher").get("/api/v1/collaboration/dismissed").json()
    assert dismissed[0]["reason"] == "Already talking through the LOTI housing network"
    again = api(app, london, "cdo").post("/api/v1/collaboration/dismiss", json={
        "group": group["key"], "reason": "twice"})
    assert again.status_code == 409


def test_only_leads_of_an_involved_organisation_may_dismiss(app: FastAPI, london: Database) -> None:
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    outsider = api(app, london, "lead", "E09000001")
    refused = outsider.post("/api/v1/collaboration/dismiss",
                            json={"group": group["key"], "reason": "not ours"})
    assert refused.status_code == 403
    insider = api(app, london, "lead", SOUTHWARK)
    assert insider.post("/api/v1/collaboration/dismiss",
                        json={"group": group["key"], "reason": "ours"}).status_code == 201


GOOD = {"people_reached": 7200, "savings_gbp": 40000, "measured_on": "2024-09-30",
        "outcome": "7,200 households received support payments within three weeks.",
        "review": "Matching to council tax support worked; free school meals data came late."}


@pytest.mark.parametrize(("change", "field"), [
    ({"people_reached": -5}, "people_reached"),
    ({"savings_gbp": -1}, "savings_gbp"),
    ({"measured_on": "2023-01-01"}, "measured_on"),
    ({"measured_on": "2999-01-01"}, "measured_on"),
    ({"measured_on": "not a date"}, "measured_on"),
    ({"outcome": ""}, "outcome"),
])
def test_bad_benefits_are_refused_naming_the_field(app: FastAPI, london: Database, change: dict,
                                                   field: str) -> None:
    client = api(app, london, "lead", LAMBETH)
    response = client.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                          json=GOOD | change)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]


def test_benefits_are_recorded_only_for_delivered_projects_by_their_lead(
        app: FastAPI, london: Database) -> None:
    lewisham = api(app, london, "lead", LEWISHAM)
    other = lewisham.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                         json=GOOD)
    assert other.status_code == 403
    undelivered = lewisham.put("/api/v1/projects/lewisham-damp-mould-risk/benefits", json=GOOD)
    assert undelivered.status_code == 422
    assert "status" in undelivered.json()["errors"]


def test_recorded_benefits_show_beside_the_estimate_and_in_the_accuracy(
        app: FastAPI, london: Database) -> None:
    client = api(app, london, "lead", LAMBETH)
    with london.read() as session:
        before = current_revision(session)
    saved = client.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                       json=GOOD | {"version": 0})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["estimated_reach_people"] == 9000
    assert body["realised_reach_level"] == 2
    with london.read() as session:
        assert current_revision(session) == before  # realised figures are not ranked
    reader = api(app, london, "researcher")
    assert reader.get("/api/v1/projects/lambeth-household-support-targeting/benefits"
                      ).json()["outcome"] == GOOD["outcome"]
    accuracy = reader.get("/api/v1/benefits/accuracy").json()
    assert LAMBETH in [r["organisation"] for r in accuracy["by_organisation"]]
    assert {r["criterion"] for r in accuracy["by_criterion"]} <= {"reach", "savings"}
    assert client.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                      json=GOOD | {"version": 1}).status_code == 200
    stale = client.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                       json=GOOD | {"version": 1})
    assert stale.status_code == 409
    # Version 0: typed before any record existed.
    assert client.put("/api/v1/projects/lambeth-household-support-targeting/benefits",
                      json=GOOD | {"version": 0}).status_code == 409


def test_the_benefits_pages_show_the_review_to_everyone_and_the_form_to_the_lead(
        app: FastAPI, london: Database) -> None:
    lead = browser(app, london, "lead", LAMBETH)
    url = "/projects/lambeth-household-support-targeting/benefits"
    form = {k: str(v) for k, v in GOOD.items()} | {"version": "0"}
    refused = lead.post(url, data=form | {"people_reached": "-3"})
    assert refused.status_code == 422
    assert "cannot be negative" in refused.text.lower()
    assert lead.post(url, data=form, follow_redirects=False).status_code == 303
    researcher = browser(app, london, "researcher")
    page = researcher.get(url)
    assert GOOD["review"] in page.text
    assert "Save the results" not in page.text
    assert "Lambeth" in researcher.get("/benefits").text


def test_benefits_sent_after_the_project_left_delivered_keep_the_text_and_say_why(
        app: FastAPI, london: Database, cdo: Browser) -> None:
    # Review: the page drew the form only for a delivered project, so a refusal after the
    # CDO reopened it showed neither the reason nor the outcome and review typed.
    lead = browser(app, london, "lead", LAMBETH)
    url = "/projects/lambeth-household-support-targeting/benefits"
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                             lead.get(url).text))
    moved = cdo.post("/api/v1/projects/lambeth-household-support-targeting/status",
                     json={"status": "in_progress", "reason": "Phase 2 reopened"})
    assert moved.status_code == 200, moved.text
    typed = {k: str(v) for k, v in GOOD.items()}
    refused = lead.post(url, data=hidden | typed)
    assert refused.status_code == 422
    page = parse_html(refused.text)
    summary = page.find(class_="error-summary")
    assert summary is not None and "delivered" in summary.text()
    assert page.by_id("b-outcome").text() == GOOD["outcome"]
    assert page.by_id("b-review").text() == GOOD["review"]
    assert "Save the results" not in refused.text  # not offered again: it cannot be saved


def test_two_leads_recording_first_benefits_at_once_never_overwrite_each_other(
        app: FastAPI, london: Database) -> None:
    # Review: the form carried no version until a record existed, so the second first record
    # replaced the first without a word.
    url = "/projects/lambeth-household-support-targeting/benefits"
    first, second = (browser(app, london, "lead", LAMBETH) for _ in range(2))
    forms = [dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                             client.get(url).text)) for client in (first, second)]
    typed = {k: str(v) for k, v in GOOD.items()}
    assert first.post(url, data=forms[0] | typed, follow_redirects=False).status_code == 303
    late = second.post(url, data=forms[1] | typed | {"outcome": "B's outcome"})
    assert late.status_code == 409
    assert "recorded these benefits meanwhile" in late.text and "B&#39;s outcome" in late.text
    assert second.get(f"/api/v1{url}").json()["outcome"] == GOOD["outcome"]
    # Saving again from the refusal replaces the first knowingly.
    again = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', late.text))
    assert second.post(url, data=again | typed | {"outcome": "B's outcome"},
                       follow_redirects=False).status_code == 303


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=False)
def test_similar_and_collaboration_api_on_both_databases(app: FastAPI, london: Database) -> None:
    client = api(app, london, "researcher")
    assert client.get("/api/v1/projects/newham-school-place-planning/similar"
                      ).json()["similar"][0]["slug"] == "croydon-school-place-planning"
    assert client.get("/api/v1/collaboration").json()["groups"]


def test_while_the_model_rebuilds_after_a_write_callers_get_the_previous_one(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    first = collaboration.similarity_index(london)
    release = threading.Event()
    build = collaboration._read_index

    def held(session, revision):  # type: ignore[no-untyped-def]
        release.wait(60)
        return build(session, revision)

    monkeypatch.setattr(collaboration, "_read_index", held)
    monkeypatch.setattr(london.settings, "ranking_wait_seconds", 0.0)
    with london.write() as session:
        make_project(session, "another-retrofit-plan", owner=LAMBETH, title="Retrofit plan")
    try:
        assert collaboration.similarity_index(london) is first
    finally:
        release.set()
    fresh = collaboration.similarity_index(london, fresh=True)
    assert fresh.revision > first.revision
    assert "another-retrofit-plan" in fresh.by_slug


def test_paging_through_the_backlog_keeps_the_similarity_model(
        app: FastAPI, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page a worker shows is kept; hundreds of them must not push out a 6 s model."""
    client = api(app, london, "researcher")
    similar = "/api/v1/projects/islington-fuel-poverty-targeting/similar"
    assert client.get(similar).status_code == 200
    builds: list[int] = []
    build = collaboration._read_index

    def counted(session, revision):  # type: ignore[no-untyped-def]
        builds.append(revision)
        return build(session, revision)

    monkeypatch.setattr(collaboration, "_read_index", counted)
    reader = browser(app, london, "researcher")
    try:
        for after in range(1, app.state.database.memo.entries + 10):
            assert reader.get(f"/backlog?after={after}").status_code == 200
    finally:
        reader.__exit__(None, None, None)
    assert client.get(similar).status_code == 200
    assert builds == []


def test_paging_through_the_backlog_keeps_what_other_pages_derived(
        app: FastAPI, london: Database) -> None:
    """Shown pages are many and cheap to make again: they must not push out other results."""
    memo = app.state.database.memo
    reader = browser(app, london, "researcher")
    try:
        for path in ("/dashboard", "/graph?view=datasets", "/plan", "/backlog"):
            assert reader.get(path).status_code == 200, path
        derived = set(memo._values)
        assert derived
        for after in range(1, memo.entries + 10):
            assert reader.get(f"/backlog?after={after}").status_code == 200
    finally:
        reader.__exit__(None, None, None)
    assert derived <= set(memo._values), derived - set(memo._values)


def same_index(a: collaboration.SimilarityIndex, b: collaboration.SimilarityIndex) -> None:
    """Assert two similarity models of a revision hold the same neighbours, groups and text."""
    assert a.revision == b.revision and a.by_slug == b.by_slug and a.groups == b.groups
    assert a.datasets == b.datasets and a.contacts == b.contacts
    pd.testing.assert_frame_equal(a.model.neighbours, b.model.neighbours)
    assert (a.model.text != b.model.text).nnz == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=False)
def test_a_large_portfolio_s_model_is_built_in_a_child_process(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child opens the database itself; the worker keeps the same model it would build."""
    here = collaboration._index_here(london)

    def not_here(db):  # type: ignore[no-untyped-def]
        raise AssertionError("built in the web worker, not in a child process")

    monkeypatch.setattr(london.settings, "similarity_process_from", len(here.by_slug))
    monkeypatch.setattr(collaboration, "_index_here", not_here)  # the child's is its own
    apart = collaboration.similarity_index(london)
    same_index(apart, here)
    assert apart is collaboration.similarity_index(london)  # kept, as one built here is


def test_a_smaller_portfolio_s_model_is_built_here_and_a_failed_child_falls_back(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Settings] = []

    def broken(settings):  # type: ignore[no-untyped-def]
        asked.append(settings)
        raise BrokenProcessPool("the child was killed")

    monkeypatch.setattr(collaboration, "_index_apart", broken)
    count = len(collaboration._index_here(london).by_slug)
    monkeypatch.setattr(london.settings, "similarity_process_from", count + 1)
    assert not collaboration._build_apart(london)
    monkeypatch.setattr(london.settings, "similarity_process_from", count)
    assert collaboration._build_apart(london)
    assert collaboration.similarity_index(london).by_slug  # built here after all
    assert asked == [london.settings]
    monkeypatch.setattr(london.settings, "similarity_process_from", -1)
    assert not collaboration._build_apart(london)


def test_an_in_memory_database_never_builds_its_model_apart() -> None:
    db = Database(Settings(database_url="sqlite:///:memory:", environment="test",
                           similarity_process_from=0))
    try:
        assert not collaboration._build_apart(db)
    finally:
        db.dispose()


def test_a_suggestion_dismissed_meanwhile_is_refused_with_a_summary_at_the_top(
        cdo: Browser, app: FastAPI, london: Database) -> None:
    # Its form is gone from the page (the group is no longer suggested): the refusal was
    # written by a field no longer shown, so the page said nothing.
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    assert api(app, london, "admin").post("/api/v1/collaboration/dismiss", json={
        "group": group["key"], "reason": "Talking already"}).status_code in {200, 201}
    late = cdo.post("/collaboration/dismiss", data={"group": group["key"],
                                                   "reason": "Already talking"})
    assert late.status_code == 409
    summary = parse_html(late.text).find(class_="error-summary")
    assert summary is not None and summary.get("tabindex") == "-1"
    assert "dismissed" in summary.text().lower()


def test_a_dismissal_goes_back_to_the_filters_the_page_could_have_had(
        cdo: Browser, app: FastAPI, london: Database) -> None:
    # A theme no page sends (300,000 characters) went into the redirect's address.
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    done = cdo.post("/collaboration/dismiss", follow_redirects=False, data={
        "group": group["key"], "reason": "Talking already", "theme": "x" * 300_000,
        "organisation": "E09000028"})
    assert done.status_code == 303
    assert done.headers["location"].endswith("/collaboration?dismissed=1&organisation=E09000028")


def test_a_refused_dismissal_says_why_in_a_summary_and_keeps_the_reason(
        app: FastAPI, london: Database) -> None:
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    lead = browser(app, london, "lead", SOUTHWARK)
    refused = lead.post("/collaboration/dismiss",
                        data={"group": group["key"], "reason": "Already\x01 talking"})
    assert refused.status_code == 422
    page = parse_html(refused.text)
    textarea = next(t for t in page.find_all("textarea") if "Already" in t.text())
    assert "control characters" in page.error_for(textarea.get("id") or "")
    summary = page.find("div", **{"class": "error-summary"})
    assert summary is not None and summary.find("a", href=f"#{textarea.get('id')}") is not None
    assert api(app, london, "researcher").get("/api/v1/collaboration/dismissed").json() == []


def test_dismissing_a_suggestion_someone_dismissed_meanwhile_says_so(
        app: FastAPI, london: Database) -> None:
    group = damp_group(api(app, london, "cdo").get("/api/v1/collaboration").json()["groups"])
    first, second = (browser(app, london, "lead", SOUTHWARK) for _ in range(2))
    form = {"group": group["key"], "reason": "Already talking"}
    assert first.post("/collaboration/dismiss", data=form,
                      follow_redirects=False).status_code == 303
    late = second.post("/collaboration/dismiss", data=form | {"reason": "Mine too"})
    assert late.status_code == 409  # the group is no longer listed, so no form holds the message
    summary = parse_html(late.text).find("div", **{"class": "error-summary"})
    assert summary is not None and "already been dismissed" in summary.text()


def test_the_api_names_the_themes_when_given_another(app: FastAPI, london: Database) -> None:
    # A closed list's filter names its choices (422) rather than answering an empty list.
    reader = api(app, london, "researcher")
    refused = reader.get("/api/v1/collaboration", params={"theme": "hosuing"})
    assert refused.status_code == 422
    assert "housing" in refused.json()["errors"]["theme"]
    housing = reader.get("/api/v1/collaboration", params={"theme": "housing"}).json()["groups"]
    assert housing and all(any(p["theme"] == "housing" for p in g["projects"]) for g in housing)


def test_we_will_partner_before_an_owner_is_chosen_asks_for_the_owner(
        app: FastAPI, london: Database) -> None:
    # A role review: the CDO's register form, its owner still unchosen, offered "We will
    # partner"; pressing it made the CDO's own organisation (the GLA) a partner at once.
    client = browser(app, london, "cdo")
    response = client.post("/projects/lewisham-damp-mould-risk/join",
                           headers={"HX-Request": "true"}, data={"owner": ""})
    assert response.status_code == 200
    assert "choose the organisation that will own" in response.text.lower()
    with london.read() as session:
        gla = session.execute(
            select(ProjectPartner).join(Organisation,
                                        Organisation.id == ProjectPartner.organisation_id)
            .join(Project, Project.id == ProjectPartner.project_id)
            .where(Project.slug == "lewisham-damp-mould-risk", Organisation.code == "GLA")
        ).first()
    assert gla is None


def test_we_will_partner_where_the_organisation_already_partners_says_so(
        app: FastAPI, london: Database) -> None:
    # A role review: the register panel offered "We will partner" on a project the lead's
    # organisation already partners in, and pressing it said it "is now a partner".
    with london.read() as session:
        slug, code = session.execute(
            select(Project.slug, Organisation.code)
            .join(ProjectPartner, ProjectPartner.project_id == Project.id)
            .join(Organisation, Organisation.id == ProjectPartner.organisation_id)
            .where(ProjectPartner.role == "partner")).first()
        title = session.execute(select(Project.title).where(Project.slug == slug)).scalar_one()
    client = browser(app, london, "lead", code)
    joined = client.post(f"/projects/{slug}/join", headers={"HX-Request": "true"},
                         data={"owner": code})
    assert "is already a partner" in joined.text and "is now a partner" not in joined.text
    panel = client.post("/projects/new/similar", headers={"HX-Request": "true"},
                        data={"title": title, "owner": code})
    assert panel.status_code == 200
    items = [li for li in parse_html(panel.text).find_all("li") if slug in li.text()
             or any(a.get("href", "").endswith(slug) for a in li.find_all("a"))]
    assert items, panel.text[:500]
    assert "Already a partner" in items[0].text()
    assert items[0].find("button") is None


def test_another_organisations_empty_benefits_form_is_refused_as_not_theirs(
        app: FastAPI, london: Database) -> None:
    # A role review: a lead of another organisation sending the benefits form empty was
    # answered with the form's validation (422), sent data with 403: whose it is comes first.
    client = browser(app, london, "lead", LEWISHAM)
    refused = client.post("/projects/lambeth-household-support-targeting/benefits", data={},
                          follow_redirects=False)
    assert refused.status_code == 403, refused.text[:300]
