"""The status workflow, merged edits, overrides and the review queue through pages and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import select

from portfolio.db import Database
from portfolio.models import Project
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
from tests.web.test_pages_projects import form_of
from web.app import create_app

LEAD_ORG = "E09000002"
PROPOSED = "bd-propensity-to-pay"  # Barking and Dagenham's, proposed in the London seed


@pytest.fixture
def backend() -> str:
    """These check the web layer over the services: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def app(settings: Settings, london: Database):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def lead(app, london: Database) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    with Browser(app, headers={"accept": "text/html"}) as client:
        sign_in(client, london, "lead", LEAD_ORG)
        yield client


@pytest.fixture
def cdo(app, london: Database) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    with Browser(app, headers={"accept": "text/html"}) as client:
        sign_in(client, london, "cdo")
        yield client


def api(app, london: Database, role: str) -> Browser:  # type: ignore[no-untyped-def]
    """Return an API client with a token of a role."""
    token = token_for(london, role, LEAD_ORG if role == "lead" else None)
    return Browser(app, headers={"Authorization": f"Bearer {token}"})


def project(db: Database, slug: str = PROPOSED) -> Project:
    with db.read() as session:
        return session.exec(select(Project).where(Project.slug == slug)).one()


def test_a_lead_cannot_approve_their_project_through_the_edit_page(
    lead: Browser, london: Database
) -> None:
    # Issue 12: the edit page let a lead set their own project to approved.
    page = parse_html(lead.get(f"/projects/{PROPOSED}/edit").text)
    offered = [o.get("value") for o in page.by_id("f-status").find_all("option")]
    assert offered == ["idea", "proposed"]
    form = form_of(page) | {"status": "approved", "title": "Propensity to pay, renamed"}
    response = lead.post(f"/projects/{PROPOSED}/edit", data=form)
    assert response.status_code == 403
    again = parse_html(response.text)
    assert "the CDO or an admin may" in again.error_for("f-status")
    assert again.by_id("f-title").get("value") == "Propensity to pay, renamed"
    assert (project(london).status, project(london).version) == ("proposed", 1)


def test_a_lead_cannot_approve_their_project_through_put(app, london: Database) -> None:  # type: ignore[no-untyped-def]
    with api(app, london, "lead") as client:
        current = client.get(f"/api/v1/projects/{PROPOSED}").json()
        body = {k: current[k] for k in ("title", "theme", "cost_gbp", "effort_pm",
                                        "personal_data", "dpia_status")}
        body |= {"owner": LEAD_ORG, "status": "approved", "version": current["version"]}
        response = client.put(f"/api/v1/projects/{PROPOSED}", json=body)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "a lead may not move a project from proposed to approved; the CDO or an admin may")
    assert project(london).status == "proposed"


def test_a_workflow_button_from_a_page_read_before_a_decision_says_it_changed(
    lead: Browser, cdo: Browser, london: Database
) -> None:
    # Review: the lead's Withdraw, sent after the CDO approved the project, was a bare 403
    # ("only the CDO may move it from approved") rather than "changed since you read it".
    page = parse_html(lead.get(f"/projects/{PROPOSED}").text)
    form = next(f for f in page.find_all("form")
                if (f.get("action") or "").endswith(f"/projects/{PROPOSED}/status"))
    sent = {i.get("name") or "": i.get("value") or "" for i in form.find_all("input")}
    sent |= {b.get("name") or "": b.get("value") or "" for b in form.find_all("button")
             if b.get("name")}
    assert sent.get("to") == "idea" and sent.get("version") == "1"
    assert cdo.post(f"/projects/{PROPOSED}/decision", follow_redirects=False, data={
        "decision": "approve", "rationale": "Go ahead.", "version": "1"}).status_code == 303
    refused = lead.post(f"/projects/{PROPOSED}/status", data=sent)
    assert refused.status_code == 409, refused.text[:300]
    summary = parse_html(refused.text).find(class_="error-summary")
    assert summary is not None and "changed" in summary.text()
    assert project(london).status == "approved"


def test_a_lead_submits_from_the_project_page_and_it_is_in_the_history(
    lead: Browser, london: Database
) -> None:
    moved = lead.post(f"/projects/{PROPOSED}/status", data={"to": "idea"},
                      follow_redirects=False)
    assert moved.status_code == 303
    page = parse_html(lead.get(moved.headers["location"]).text)
    assert "The project is now idea" in page.by_id("flash").text()
    buttons = [b.text() for b in page.find("div", class_="workflow").find_all("button")]
    assert buttons == ["Submit for review"]
    lead.post(f"/projects/{PROPOSED}/status", data={"to": "proposed"})
    history = parse_html(lead.get(f"/projects/{PROPOSED}").text).find("ol", class_="history")
    assert "Moved from idea to proposed" in history.text()
    assert project(london).status == "proposed"


def test_a_move_not_allowed_through_the_api_is_403_naming_who_may(app, london: Database) -> None:  # type: ignore[no-untyped-def]
    with api(app, london, "lead") as client:
        response = client.post(f"/api/v1/projects/{PROPOSED}/status",
                               json={"status": "delivered"})
        allowed = client.post(f"/api/v1/projects/{PROPOSED}/status", json={"status": "idea"})
    assert response.status_code == 403
    assert response.json()["detail"].endswith("the CDO or an admin may")
    assert allowed.status_code == 200 and allowed.json()["status"] == "idea"


def test_patch_changes_only_the_fields_sent_and_merges_a_stale_version(
    app, london: Database  # type: ignore[no-untyped-def]
) -> None:
    with api(app, london, "cdo") as cdo_api, api(app, london, "lead") as lead_api:
        first = cdo_api.patch(f"/api/v1/projects/{PROPOSED}",
                              json={"version": 1, "description": "CDO's words"})
        assert first.status_code == 200 and first.json()["version"] == 2
        merged = lead_api.patch(f"/api/v1/projects/{PROPOSED}",
                                json={"version": 1, "title": "Lead's title"})
        assert merged.status_code == 200
        assert (merged.json()["applied"], merged.json()["kept"]) == (["title"], ["description"])
        clash = lead_api.patch(f"/api/v1/projects/{PROPOSED}",
                               json={"version": 1, "description": "Lead's words"})
        assert clash.status_code == 409
        conflict = clash.json()["conflicts"]["description"]
        assert (conflict["theirs"], conflict["mine"]) == ("CDO's words", "Lead's words")
        assert conflict["base"] not in ("CDO's words", "Lead's words")
        stale_put = lead_api.put(f"/api/v1/projects/{PROPOSED}", json={
            "version": 1, "title": "X", "owner": LEAD_ORG, "theme": "housing"})
        assert stale_put.status_code == 409
        assert set(stale_put.json()["changed"]) == {"title", "description"}
        bad = lead_api.patch(f"/api/v1/projects/{PROPOSED}", json={"version": 3,
                                                                  "cost_gbp": -1})
        assert bad.status_code == 422 and "cost_gbp" in bad.json()["errors"]
    saved = project(london)
    assert (saved.title, saved.description, saved.version) == ("Lead's title", "CDO's words", 3)


def test_an_override_needs_a_justification_and_only_staff_set_it(
    app, london: Database, cdo: Browser  # type: ignore[no-untyped-def]
) -> None:
    with api(app, london, "cdo") as client:
        refused = client.put(f"/api/v1/projects/{PROPOSED}/override", json={"value": 90})
        assert refused.status_code == 422
        assert "justification" in refused.json()["errors"]
        done = client.put(f"/api/v1/projects/{PROPOSED}/override", json={
            "value": 90, "justification": "Council tax deadline.", "expires_on": "2099-01-01"})
        assert done.status_code == 422 and "expires_on" in done.json()["errors"]
        done = client.put(f"/api/v1/projects/{PROPOSED}/override", json={
            "value": 90, "justification": "Council tax deadline."})
        assert done.status_code == 200 and done.json()["in_force"]
        rows = client.get("/api/v1/backlog", params={"fresh": "true"}).json()
    row = next(r for r in rows if r["slug"] == PROPOSED)
    assert row["override"] and row["priority"] == 90
    with api(app, london, "lead") as client:
        forbidden = client.put(f"/api/v1/projects/{PROPOSED}/override", json={
            "value": 100, "justification": "Mine first."})
    assert forbidden.status_code == 403
    # What was refused is an override, not a review decision.
    assert forbidden.json()["detail"] == ("a lead may not override a project's priority; the CDO "
                                          "or an admin may")
    page = parse_html(cdo.get(f"/projects/{PROPOSED}").text)
    assert "override" in page.find("p", class_="override-note").text()
    assert "Council tax deadline." in page.find("p", class_="override-note").text()


def test_an_override_justification_with_a_control_character_is_refused_in_words(
    app, london: Database  # type: ignore[no-untyped-def]
) -> None:
    # A script-user review: the justification took U+0007 on SQLite, as no other text does.
    with api(app, london, "cdo") as client:
        refused = client.put(f"/api/v1/projects/{PROPOSED}/override", json={
            "value": 90, "justification": "Council tax\u0007 deadline."})
        assert refused.status_code == 422, refused.text
        assert "control characters" in refused.json()["errors"]["justification"]
        kept = client.put(f"/api/v1/projects/{PROPOSED}/override", json={
            "value": 90, "justification": "Council tax deadline.\nSee the board paper."})
        assert kept.status_code == 200, kept.text


def test_an_override_set_from_the_project_page_without_justification_says_so(
    cdo: Browser, london: Database
) -> None:
    response = cdo.post(f"/projects/{PROPOSED}/override", data={"value": "80"})
    assert response.status_code == 422
    page = parse_html(response.text)
    assert "Say why" in page.error_for("o-justification")
    assert page.by_id("o-value").get("value") == "80"
    assert project(london).priority_override is None
    cdo.post(f"/projects/{PROPOSED}/override", data={"value": "80", "justification": "Statute."})
    assert project(london).priority_override == 80


def test_needs_information_reaches_the_leads_home_page_and_their_answer_returns_it(
    lead: Browser, cdo: Browser
) -> None:
    cdo.post(f"/projects/{PROPOSED}/decision", data={
        "decision": "needs_information", "rationale": "Which datasets does it use?"})
    home = parse_html(lead.get("/").text)
    panel = home.find("section", class_="question")
    assert "Which datasets does it use?" in panel.text()
    page = parse_html(lead.get(f"/projects/{PROPOSED}").text)
    assert "Which datasets does it use?" in page.by_id("question").text()
    queue = parse_html(cdo.get("/reviews").text)
    assert "Propensity" not in queue.by_id("awaiting-table").text()
    assert "Propensity" in queue.by_id("asking-table").text()

    empty = lead.post(f"/projects/{PROPOSED}/answer", data={"answer": " "})
    assert empty.status_code == 422
    assert "Write your answer" in parse_html(empty.text).error_for("q-answer")
    lead.post(f"/projects/{PROPOSED}/answer", data={"answer": "Council tax accounts."})
    assert parse_html(lead.get("/").text).find("section", class_="question") is None
    queue = parse_html(cdo.get("/reviews").text)
    assert "Council tax accounts." in queue.by_id("awaiting-table").text()


def test_the_queue_shows_score_rank_cost_mandatory_and_days_waiting(cdo: Browser) -> None:
    page = parse_html(cdo.get("/reviews").text)
    table = page.by_id("awaiting-table")
    headers = [th.text() for th in table.find("thead").find_all("th")]
    assert headers[:7] == ["Project", "Organisation", "Score", "Rank", "Cost", "Mandatory",
                           "Days waiting"]
    first = table.find("tbody").find("tr").find_all("td")
    assert first[4].text().startswith("£") and first[5].text() in ("Yes", "No")
    assert first[6].text().isdigit()


def test_deciding_from_the_queue_moves_to_the_next_project(cdo: Browser) -> None:
    page = parse_html(cdo.get("/reviews").text)
    rows = page.by_id("awaiting-table").find("tbody").find_all("tr")
    first, second = (r.find("a").get("href").split("?")[0] for r in rows[:2])
    opened = parse_html(cdo.get(f"{first}?queue=1").text)
    assert opened.find("input", name="queue") is not None
    response = cdo.post(f"{first}/decision", data={
        "decision": "defer", "rationale": "Next year.", "queue": "1"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].split("?")[0].endswith(second)
    landed = parse_html(cdo.get(response.headers["location"]).text)
    assert "Decision recorded: defer" in landed.by_id("flash").text()


def test_a_form_action_opened_by_get_goes_back_to_its_page(cdo: Browser) -> None:
    # Issue 14: a reload after a refused form hit a POST-only URL and answered 405.
    for action in ("decision", "status", "answer", "override"):
        response = cdo.get(f"/projects/{PROPOSED}/{action}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"/projects/{PROPOSED}")
    for action in ("dependencies", "dependencies/remove", "datasets", "datasets/remove",
                   "partners", "partners/remove", "assessments"):
        response = cdo.get(f"/projects/{PROPOSED}/{action}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"/projects/{PROPOSED}/edit")


def test_an_error_page_knows_who_is_signed_in(cdo: Browser) -> None:
    response = cdo.request("DELETE", f"/projects/{PROPOSED}")
    assert response.status_code == 405
    header = parse_html(response.text).find("div", class_="who")
    assert "Sign in" not in header.text() and "Sign out" in header.text()


def test_a_section_saved_through_htmx_answers_with_its_confirmation_and_errors(
    lead: Browser,
) -> None:
    htmx = {"HX-Request": "true"}
    saved = lead.post(f"/projects/{PROPOSED}/partners", headers=htmx,
                      data={"organisation": "E09000007", "role": "partner"})
    assert saved.status_code == 200
    section = parse_html(saved.text).by_id("sec-partners")
    assert section.find("p", role="status").text() == "The partner is saved."
    assert section.get("data-fresh") is not None
    refused = lead.post(f"/projects/{PROPOSED}/partners", headers=htmx,
                        data={"organisation": "NOPE", "role": "partner"})
    # htmx swaps only successful answers: the refusal comes as a page with the message.
    assert refused.status_code == 200
    assert "unknown organisation" in parse_html(refused.text).error_for("pa-organisation")


def test_days_waiting_count_from_the_submission_not_the_registration(
    lead: Browser, cdo: Browser, london: Database
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    with london.write() as session:
        session.execute(update(Project).where(Project.slug == PROPOSED).values(
            created_at=datetime.now(UTC) - timedelta(days=400)))
    before = parse_html(cdo.get("/reviews").text).by_id("awaiting-table")
    row = next(r for r in before.find("tbody").find_all("tr") if "Propensity" in r.text())
    assert row.find_all("td")[6].text() == "400"
    lead.post(f"/projects/{PROPOSED}/status", data={"to": "idea"})
    lead.post(f"/projects/{PROPOSED}/status", data={"to": "proposed"})
    after = parse_html(cdo.get("/reviews").text).by_id("awaiting-table")
    row = next(r for r in after.find("tbody").find_all("tr") if "Propensity" in r.text())
    assert row.find_all("td")[6].text() == "0"
    # Longest waiting first: the project just submitted again goes to the back.
    assert "Propensity" in after.find("tbody").find_all("tr")[-1].text()


def test_a_move_from_a_page_the_project_has_changed_since_says_so_on_the_project_page(
    app, lead: Browser, london: Database  # type: ignore[no-untyped-def]
) -> None:
    # Its button carries the version the page showed; an edit since made it stale. It was a
    # bare "Something is wrong" page leading back to the list of projects.
    page = parse_html(lead.get(f"/projects/{PROPOSED}").text)
    version = page.find("div", class_="workflow").find("input", name="version").get("value")
    with api(app, london, "lead") as script:
        assert script.patch(f"/api/v1/projects/{PROPOSED}", json={
            "version": int(version or 0), "title": "Propensity to pay, renamed"}).status_code == 200
    stale = lead.post(f"/projects/{PROPOSED}/status",
                      data={"to": "idea", "version": version}, follow_redirects=False)
    assert stale.status_code == 409
    again = parse_html(stale.text)
    summary = again.find(class_="error-summary")
    assert summary is not None and summary.get("tabindex") == "-1"
    assert "changed while you were looking at it" in summary.text()
    assert "Propensity to pay, renamed" in again.find("h1").text()  # the project as it is now
    assert again.find("div", class_="workflow").find("input", name="version").get(
        "value") == str(int(version or 0) + 1)
    assert project(london).status == "proposed"


APPROVED = "bd-community-solutions-demand"  # Barking and Dagenham's, approved in the London seed


def before_its_dpia(london: Database) -> None:
    """Make the approved project one that processes personal data, its DPIA not started."""
    with london.write() as session:
        row = session.exec(select(Project).where(Project.slug == APPROVED)).one()
        row.personal_data, row.dpia_status = True, "not_started"
        session.add(row)


def test_a_lead_is_not_offered_to_start_work_before_its_dpia_and_is_told_why(
    lead: Browser, london: Database
) -> None:
    # The button ended on a bare error page ("Dpia_status: ..."), away from the project.
    before_its_dpia(london)
    page = parse_html(lead.get(f"/projects/{APPROVED}").text)
    workflow = page.find("div", class_="workflow")
    assert workflow is not None
    assert "Start the work" not in [b.text() for b in workflow.find_all("button")]
    assert "DPIA" in workflow.text() and "in progress or approved" in workflow.text()


def test_the_cdo_starts_work_before_its_dpia_with_a_reason_on_the_project_page(
    cdo: Browser, london: Database
) -> None:
    before_its_dpia(london)
    page = parse_html(cdo.get(f"/projects/{APPROVED}").text)
    start = next(f for f in page.find_all("form")
                 if any(b.text() == "Start the work" for b in f.find_all("button")))
    assert start.find("textarea", name="status_reason") is not None
    version = str(project(london, APPROVED).version)
    refused = cdo.post(f"/projects/{APPROVED}/status",
                       data={"to": "in_progress", "version": version, "status_reason": " "})
    assert refused.status_code == 422
    html = parse_html(refused.text)
    summary = html.find("div", class_="error-summary")
    assert summary is not None and "say why" in summary.text()
    assert summary.find("a", href="#w-status_reason") is not None
    assert html.find(id="w-status_reason") is not None
    started = cdo.post(f"/projects/{APPROVED}/status", follow_redirects=False, data={
        "to": "in_progress", "version": version,
        "status_reason": "The DPIA is booked; the forecast is needed for the budget."})
    assert started.status_code == 303
    assert project(london, APPROVED).status == "in_progress"


def test_the_queues_rank_is_the_rank_the_backlog_and_project_page_show(
    app, london: Database, cdo: Browser  # type: ignore[no-untyped-def]
) -> None:
    # The queue showed the place in the whole order (68) where the backlog, the API and the
    # project page show the place among the candidates (39).
    with api(app, london, "cdo") as client:
        rows = client.get("/api/v1/backlog", params={"view": "all", "top": 500,
                                                     "fresh": "true"}).json()
    ranks = {r["slug"]: r["rank"] for r in rows}
    table = parse_html(cdo.get("/reviews").text).by_id("awaiting-table")
    shown = {}
    for row in table.find("tbody").find_all("tr"):
        link = row.find("a")
        assert link is not None
        slug = (link.get("href") or "").split("/projects/", 1)[1].split("?", 1)[0]
        shown[slug] = row.find_all("td")[3].text()
    assert len(shown) > 5
    assert {slug: str(ranks[slug]) for slug in shown if slug in ranks} == {
        slug: rank for slug, rank in shown.items() if slug in ranks}


def override_form(page_text: str) -> dict[str, str]:
    """Return the priority override form on a project page as a browser would send it."""
    form = parse_html(page_text).by_id("override").find("form")
    sent = {c.get("name") or "": c.get("value") or "" for c in form.find_all("input")}
    return sent | {c.get("name") or "": c.text() for c in form.find_all("textarea")}


@pytest.mark.parametrize("clear", [False, True], ids=["set", "clear"])
def test_an_override_changed_meanwhile_is_not_overwritten_and_what_was_typed_is_kept(
    app, cdo: Browser, london: Database, clear: bool  # type: ignore[no-untyped-def]
) -> None:
    cdo.post(f"/projects/{PROPOSED}/override", data={"value": "60", "justification": "Ours."})
    opened = override_form(cdo.get(f"/projects/{PROPOSED}").text)
    with Browser(app, headers={"accept": "text/html"}) as bob:
        sign_in(bob, london, "cdo")
        assert bob.post(f"/projects/{PROPOSED}/override", data=override_form(
            bob.get(f"/projects/{PROPOSED}").text) | {"value": "90", "justification": "Statute."},
            follow_redirects=False).status_code == 303
    typed = {"clear": "1"} if clear else {"value": "75", "justification": "Mine, typed."}
    answer = cdo.post(f"/projects/{PROPOSED}/override", data=opened | typed)
    assert answer.status_code == 409
    assert project(london).priority_override == 90  # Bob's stands
    page = parse_html(answer.text)
    assert "90" in page.by_id("override").text() and "Statute." in page.by_id("override").text()
    if not clear:
        assert page.by_id("o-value").get("value") == "75"
        assert page.by_id("o-justification").text() == "Mine, typed."
    # The form now starts from Bob's override: sending it again is a choice made knowing it.
    again = cdo.post(f"/projects/{PROPOSED}/override", data=override_form(answer.text) | typed,
                     follow_redirects=False)
    assert again.status_code == 303
    assert project(london).priority_override == (None if clear else 75)


def decision_form(page_text: str) -> dict[str, str]:
    """Return the hidden fields of the decision form on a project page."""
    form = next(f for f in parse_html(page_text).find_all("form")
                if (f.get("action") or "").endswith("/decision"))
    return {c.get("name") or "": c.get("value") or "" for c in form.find_all("input")
            if c.get("type") == "hidden"}


def test_a_decision_on_a_project_changed_since_the_page_showed_it_is_refused_and_kept(
    app, cdo: Browser, london: Database  # type: ignore[no-untyped-def]
) -> None:
    opened = decision_form(cdo.get(f"/projects/{PROPOSED}").text)
    with api(app, london, "lead") as lead:
        now = lead.get(f"/api/v1/projects/{PROPOSED}").json()
        assert lead.patch(f"/api/v1/projects/{PROPOSED}", json={
            "version": now["version"], "cost_gbp": 4_900_000}).status_code == 200
    typed = {"decision": "approve", "rationale": "Cheap, and the data is ready."}
    answer = cdo.post(f"/projects/{PROPOSED}/decision", data=opened | typed)
    assert answer.status_code == 409
    assert project(london).status == "proposed"  # not approved on what the CDO never saw
    page = parse_html(answer.text)
    assert page.by_id("r-rationale").text() == typed["rationale"]
    assert "cost" in page.by_id("r-decision-error").text().lower()
    # The form now carries the version shown: deciding again is a choice made knowing it.
    again = cdo.post(f"/projects/{PROPOSED}/decision", data=decision_form(answer.text) | typed,
                     follow_redirects=False)
    assert again.status_code == 303
    assert project(london).status == "approved"


def test_the_api_refuses_an_override_set_or_cleared_from_a_stale_reading(
    app, london: Database  # type: ignore[no-untyped-def]
) -> None:
    # Review: the page sent the override it started from, the API could not: a second CDO's
    # PUT replaced the first one's judgement, and a DELETE cleared one it had never seen.
    url = f"/api/v1/projects/{PROPOSED}/override"
    with api(app, london, "cdo") as client:
        first = {"value": 90, "justification": "Council tax deadline."}
        assert client.put(url, json=first | {"was": None}).status_code == 200
        stale = client.put(url, json={"value": 40, "justification": "Not urgent.", "was": None})
        assert stale.status_code == 409 and stale.json()["current"]["value"] == 90
        cleared = client.delete(url, params={"was_value": 80, "was_justification": "Other."})
        assert cleared.status_code == 409
        assert client.get(url).json()["value"] == 90
        read = first | {"expires_on": None}
        assert client.put(url, json={"value": 40, "justification": "Not urgent.",
                                     "was": read}).status_code == 200
        assert client.delete(url, params={"was_value": 40, "was_justification": "Not urgent."}
                             ).status_code == 200
        assert client.get(url).json()["value"] is None


def test_a_status_reason_holding_control_characters_is_refused_as_every_text_is(
        app, london: Database) -> None:  # type: ignore[no-untyped-def]
    # An import review: a reason with a bell and an escape sequence was stored in the audit
    # trail and shown raw on the project page, through the import and the API alike.
    with api(app, london, "cdo") as client:
        refused = client.post(f"/api/v1/projects/{PROPOSED}/status",
                              json={"status": "delivered", "reason": "bad\x07bell\x1b[31m"})
        assert refused.status_code == 422, refused.text
        assert "control characters" in refused.json()["errors"]["status_reason"]
        patched = client.patch(f"/api/v1/projects/{PROPOSED}", json={
            "status": "paused", "status_reason": "held\x1b[0m", "version": 1})
        assert patched.status_code == 422, patched.text
        assert "status_reason" in patched.json()["errors"]
    assert project(london).status == "proposed"


def test_a_date_sent_as_a_number_of_seconds_is_refused(app, london: Database) -> None:  # type: ignore[no-untyped-def]
    # An import review: 1735689600 was taken as 2025-01-01 (seconds since 1970), through the
    # import and the API; a date is year-month-day.
    with api(app, london, "cdo") as client:
        for typed in (1735689600, "1735689600"):
            response = client.patch(f"/api/v1/projects/{PROPOSED}",
                                    json={"start_date": typed, "version": 1})
            assert response.status_code == 422, response.text
            assert "year-month-day" in response.json()["errors"]["start_date"]
    assert project(london).start_date != date(2025, 1, 1)
