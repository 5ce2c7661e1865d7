"""Review decisions from the project page, the review queue and the project's history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import AuditEvent, Project, ReviewDecision
from portfolio.services import reviews, workflow
from portfolio.settings import Settings
from tests.factories import make_organisation, make_project
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import Element, parse_html
from web.app import create_app


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "one-view", title="One View household data", status="proposed")
        make_project(session, "debt-prevention", title="Debt prevention", status="proposed")
        make_project(session, "tree-planting", title="Tree planting", status="idea")
    with Browser(create_app(settings), headers={"accept": "text/html"}) as test_client:
        sign_in(test_client, db)
        yield test_client


EMPTY_TABLE = parse_html("<table></table>").find_all("table")[0]


def queue(client: TestClient) -> tuple[list[str], Element]:
    """Return the titles awaiting a decision, longest waiting first, and the decided table."""
    page = parse_html(client.get("/reviews").text)
    return titles(page, "awaiting-table"), (page.find(id="decided-table")
                                            or EMPTY_TABLE)


def titles(page: Element, table: str) -> list[str]:
    """Return the project titles listed in one of the queue's tables."""
    found = page.find(id=table)
    if found is None:
        return []
    return [row.find("a").text() for row in found.find("tbody").find_all("tr")]


def test_queue_lists_proposed_projects_oldest_first(client: TestClient) -> None:
    awaiting, decided = queue(client)
    assert awaiting == ["One View household data", "Debt prevention"]
    assert "No decisions recorded yet" in client.get("/reviews").text


def test_approving_moves_the_project_out_of_the_queue_with_its_rationale(
    client: TestClient, db: Database
) -> None:
    form = {"decision": "approve", "rationale": "Unblocks the debt work across the borough."}
    response = client.post("/projects/one-view/decision", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/projects/one-view#review")

    awaiting, decided = queue(client)
    assert awaiting == ["Debt prevention"]
    row = decided.find("tbody").find("tr")
    assert "One View household data" in row.text()
    assert "Approve" in row.text() and "Unblocks the debt work" in row.text()
    with db.read() as session:
        project = session.exec(select(Project).where(Project.slug == "one-view")).one()
        events = session.exec(
            select(AuditEvent.action).where(AuditEvent.entity_id == project.id)
        ).all()
    assert (project.status, project.version) == ("approved", 2)
    assert "decide" in events


def test_deferring_keeps_the_project_waiting_and_shows_why(client: TestClient) -> None:
    form = {"decision": "defer", "rationale": "Wait for the DPIA."}
    client.post("/projects/one-view/decision", data=form)
    awaiting, decided = queue(client)
    # Deferred, it waits again from the deferral: behind what has waited longer.
    assert awaiting == ["Debt prevention", "One View household data"]
    page = parse_html(client.get("/reviews").text)
    last = page.by_id("awaiting-table").find("tbody").find_all("tr")[-1]
    assert "Defer" in last.text() and "Wait for the DPIA." in last.text()


def test_needs_information_waits_for_the_lead_listed_once_then_returns_when_answered(
    client: TestClient, db: Database
) -> None:
    with db.write() as session:
        make_project(session, "heat-map", title="Heat map", status="approved")
    form = {"decision": "needs_information", "rationale": "Which boroughs share data?"}
    client.post("/projects/heat-map/decision", data=form)
    page = parse_html(client.get("/reviews").text)
    assert "Heat map" not in titles(page, "awaiting-table")
    assert titles(page, "asking-table") == ["Heat map"]
    assert "Heat map" not in titles(page, "decided-table")
    assert page.text().count("Which boroughs share data?") == 1
    with db.write() as session:
        reviews.answer_question(session=session, actor=SYSTEM, slug="heat-map",
                                answer="Barnet and Camden.")
    page = parse_html(client.get("/reviews").text)
    assert titles(page, "awaiting-table")[-1] == "Heat map"
    assert titles(page, "asking-table") == []


def test_a_decision_without_rationale_is_refused_by_the_field_and_writes_nothing(
    client: TestClient, db: Database
) -> None:
    response = client.post("/projects/one-view/decision", data={"decision": "reject"})
    assert response.status_code == 422
    page = parse_html(response.text)
    assert "reasons" in page.error_for("r-rationale")
    assert page.by_id("r-rationale").get("aria-invalid") == "true"
    assert page.by_id("r-decision-reject").get("checked") is not None
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(ReviewDecision)).one() == 0
        status = session.exec(select(Project.status).where(Project.slug == "one-view")).one()
    assert status == "proposed"


def decision_form(client: TestClient, slug: str) -> dict[str, str]:
    """Return the review form's hidden fields as the project page gives them."""
    page = parse_html(client.get(f"/projects/{slug}").text)
    form = next(f for f in page.find_all("form")
                if (f.get("action") or "").endswith(f"/projects/{slug}/decision"))
    return {i.get("name") or "": i.get("value") or ""
            for i in form.find_all("input") if i.get("type") == "hidden"}


def test_a_decision_on_a_page_read_before_another_decision_or_an_answer_is_refused(
    client: TestClient, db: Database
) -> None:
    # Review: a question or a deferral left the project's version as it was, so a second
    # reviewer's approval from a page read before it went through over the open question.
    # The form carries where the review stood (`read`); the version stays as it was.
    read = decision_form(client, "one-view")
    with db.write() as session:
        reviews.decide(session=session, actor=SYSTEM, slug="one-view",
                       decision="needs_information", rationale="Which boroughs share data?")
    form = read | {"decision": "approve", "rationale": "Good to go."}
    refused = client.post("/projects/one-view/decision", data=form)
    assert refused.status_code == 409
    page = parse_html(refused.text)
    assert "decision or an answer" in page.by_id("r-decision-error").text()
    assert page.by_id("r-rationale").text() == "Good to go."
    with db.read() as session:
        status = session.exec(select(Project.status).where(Project.slug == "one-view")).one()
        assert status == "proposed"
        assert reviews.open_question(session, session.exec(
            select(Project.id).where(Project.slug == "one-view")).one()) is not None
    # The lead's answer, given after the page was read, is not decided on unseen either.
    read = decision_form(client, "one-view")
    with db.write() as session:
        reviews.answer_question(session=session, actor=SYSTEM, slug="one-view",
                                answer="Barnet and Camden.")
    assert client.post("/projects/one-view/decision",
                       data=read | {"decision": "approve", "rationale": "Go"}).status_code == 409
    with db.read() as session:  # a decision or an answer changes none of its fields
        assert session.exec(select(Project.version).where(Project.slug == "one-view")).one() == 1
    again = decision_form(client, "one-view") | {"decision": "approve", "rationale": "Go"}
    assert client.post("/projects/one-view/decision", data=again,
                       follow_redirects=False).status_code == 303


def test_an_archived_project_offers_no_decision_and_a_sent_one_says_why(
    client: TestClient, db: Database
) -> None:
    # Review: the archived project's refusal was keyed to a field the form has not, so the
    # page said nothing but "Error:" in its title.
    with db.write() as session:
        make_project(session, "old-work", title="Old work", status="rejected")
    read = decision_form(client, "old-work")
    assert client.post("/projects/old-work/archive", data={"archived": "true"},
                       follow_redirects=False).status_code == 303
    page = parse_html(client.get("/projects/old-work").text)
    assert not any((f.get("action") or "").endswith("/decision") for f in page.find_all("form"))
    assert "archived" in page.by_id("review-archived").text()
    sent = client.post("/projects/old-work/decision",
                       data=read | {"decision": "approve", "rationale": "Funding found"})
    assert sent.status_code == 422
    shown = parse_html(sent.text)
    assert "archived" in shown.by_id("r-decision-error").text()
    assert shown.by_id("r-rationale").text() == "Funding found"
    assert not any(b.text().startswith("Record the decision") for b in shown.find_all("button"))
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(ReviewDecision)).one() == 0


def test_an_unknown_decision_is_refused_by_the_decision_field(client: TestClient) -> None:
    form = {"decision": "shelve", "rationale": "No."}
    response = client.post("/projects/one-view/decision", data=form)
    assert response.status_code == 422
    assert "Choose approve" in parse_html(response.text).by_id("r-decision-error").text()


def test_only_the_cdo_or_an_admin_may_decide(db: Database, client: TestClient) -> None:
    lead = Actor(id=None, role=Role.LEAD, organisation_id=1)
    with db.write() as session, pytest.raises(NotAllowed):
        reviews.decide(
            session=session, actor=lead, slug="one-view", decision="approve", rationale="Mine"
        )
    with db.write() as session, pytest.raises(Invalid) as refused:
        reviews.decide(session=session, actor=SYSTEM, slug="one-view", decision="x", rationale="")
    assert set(refused.value.errors) == {"decision", "rationale"}


@pytest.mark.parametrize("role", ["lead", "researcher"])
def test_the_queue_offers_deciding_only_to_those_who_may_decide(
        settings: Settings, db: Database, client: TestClient, role: str) -> None:
    # A lead or researcher was told "Open one to decide" and offered "Start with the first",
    # which led to a project page with no decision form and no word of why.
    with Browser(create_app(settings), headers={"accept": "text/html"}) as reader:
        sign_in(reader, db, role, "E09000002" if role == "lead" else None)
        page = reader.get("/reviews").text

    assert "Start with the first" not in page
    assert "Open one to decide" not in page
    assert "The CDO or an admin decides" in page
    assert "Start with the first" in client.get("/reviews").text  # the admin's queue


def test_project_page_shows_the_decision_and_the_status_change_in_its_history(
    client: TestClient,
) -> None:
    form = {"decision": "reject", "rationale": "Duplicates the London-wide work."}
    page = parse_html(client.post("/projects/debt-prevention/decision", data=form).text)
    review = page.find("section", class_="panel")
    assert "Reject" in review.text() and "Duplicates the London-wide work." in review.text()
    history = [item.text() for item in page.find("ol", class_="history").find_all("li")]
    assert any("Decision: Reject" in item for item in history)
    assert any("Moved from proposed to rejected by a review decision" in item
               for item in history)
    assert "Registered the project" in history[-1]


def test_an_edit_opened_before_a_decision_is_refused_naming_the_status(
    client: TestClient,
) -> None:
    page = parse_html(client.get("/projects/one-view/edit").text)
    version = page.find("input", name="version").get("value")
    client.post("/projects/one-view/decision", data={"decision": "approve", "rationale": "Go"})
    form = {
        "version": version,
        "title": "One View",
        "owner": "E09000002",
        "theme": "housing",
        "status": "proposed",
        "dpia_status": "not_needed",
    }
    response = client.post("/projects/one-view/edit", data=form)
    assert response.status_code == 409
    rows = parse_html(response.text).by_id("conflicts").find_all("tr")
    assert ["Status"] == [row.find("th").text() for row in rows[1:]]


def test_project_history_shows_the_changes_to_its_links(client: TestClient, db: Database) -> None:
    from portfolio.services import projects
    from tests.factories import make_dataset

    with db.write() as session:
        make_organisation(session, "E09000003", name="Barnet")
        make_dataset(session, "bd-council-tax", title="Council tax accounts")
        projects.add_dependency(session=session, actor=SYSTEM, slug="debt-prevention",
                                data={"depends_on": "one-view"})
        projects.link_dataset(session=session, actor=SYSTEM, slug="debt-prevention",
                              data={"dataset": "bd-council-tax"})
        projects.link_dataset(session=session, actor=SYSTEM, slug="debt-prevention",
                              data={"dataset": "bd-council-tax", "agreement": "signed"})
        projects.add_partner(session=session, actor=SYSTEM, slug="debt-prevention",
                             data={"organisation": "E09000003"})
        projects.remove_dependency(session=session, actor=SYSTEM, slug="debt-prevention",
                                   depends_on="one-view")
    page = parse_html(client.get("/projects/debt-prevention").text)
    history = [item.text() for item in page.find("ol", class_="history").find_all("li")]
    # Titles, not slugs or codes: people read the history.
    wanted = ["Removed the dependency on One View household data", "Added partner Barnet (partner)",
              "Changed the link to Council tax accounts",
              "Linked dataset Council tax accounts (uses)",
              "Added a dependency on One View household data"]
    found = [next((i for i, item in enumerate(history) if text in item), None) for text in wanted]
    assert None not in found and found == sorted(found), history  # all there, newest first
    changed = history[found[2]]
    assert "Data-sharing agreement" in changed and "Dataset" not in changed.split(".", 1)[1]
    # The other project's history is not touched by this one's links.
    other = parse_html(client.get("/projects/one-view").text)
    assert "dependency" not in other.find("ol", class_="history").text()


def _lead_with_a_question(client: TestClient, db: Database) -> Browser:
    """Ask one-view's lead a question (as the signed-in admin); return a lead's browser."""
    form = {"decision": "needs_information", "rationale": "Which boroughs share data?"}
    assert client.post("/projects/one-view/decision", data=form,
                       follow_redirects=False).status_code == 303
    lead = Browser(client.app, headers={"accept": "text/html"})
    lead.__enter__()
    sign_in(lead, db, "lead", "E09000002")
    return lead


def test_an_answer_with_a_control_character_is_refused_beside_the_field(
    client: TestClient, db: Database
) -> None:
    lead = _lead_with_a_question(client, db)
    response = lead.post("/projects/one-view/answer", data={"answer": "Barnet\x02 and Camden"})
    assert response.status_code == 422
    page = parse_html(response.text)
    assert "control characters" in page.error_for("q-answer")
    assert page.find("div", class_="error-summary") is not None
    assert "Barnet" in page.by_id("q-answer").text()  # what was typed is kept
    with db.read() as session:
        assert session.exec(select(ReviewDecision.answer)).all() == [None]


def test_answering_a_question_another_lead_answered_says_so(
    client: TestClient, db: Database
) -> None:
    lead = _lead_with_a_question(client, db)
    page = lead.get("/projects/one-view").text
    assert 'action="/projects/one-view/answer"' in page
    with db.write() as session:  # a colleague of the same borough answers first
        reviews.answer_question(session=session, actor=SYSTEM, slug="one-view",
                                answer="Barnet and Camden.")
    response = lead.post("/projects/one-view/answer", data={"answer": "Only Barnet."})
    assert response.status_code == 422
    summary = parse_html(response.text).find("div", class_="error-summary")
    assert summary is not None and "answered meanwhile" in summary.text()
    assert "Only Barnet." in response.text  # kept, to post as a comment


# Found in review: the summary's link to the decision led to a plain div, so following it by
# keyboard left focus on the page; it leads to the choices' fieldset, which takes focus.
def test_the_summary_link_to_a_refused_decision_leads_to_its_choices(
        client: TestClient) -> None:
    page = parse_html(client.post("/projects/one-view/decision",
                                  data={"decision": "shelve", "rationale": "No."}).text)
    link = next(a for a in page.find(class_="error-summary").find_all("a")
                if "Decision" in a.text())
    target = page.by_id(link.get("href").lstrip("#"))
    assert target.tag == "fieldset" and target.get("tabindex") == "-1"


# Found in review: the Projects page told a researcher of an organisation that "the reviewer
# needs information from you" though only a lead of it may answer; a lead still sees it.
def test_only_those_who_may_answer_are_told_a_question_waits_for_them(
        settings: Settings, client: TestClient, db: Database) -> None:
    client.post("/projects/one-view/decision",
                data={"decision": "needs_information", "rationale": "Which boroughs?"})
    for role, told in (("researcher", False), ("lead", True)):
        with Browser(create_app(settings), headers={"accept": "text/html"}) as reader:
            sign_in(reader, db, role, "E09000002")
            home = reader.get("/").text
        assert ("The reviewer needs information from you" in home) is told, role


def test_a_question_waits_while_its_project_is_withdrawn_to_an_idea(
    client: TestClient, db: Database
) -> None:
    # A role review: after the lead withdrew the project to an idea, its page still offered
    # the answer form, and an answer was confirmed "back in the review queue", which it was
    # not: a withdrawn project leaves the queue.
    with db.write() as session:
        make_project(session, "heat-map", title="Heat map", status="proposed")
    client.post("/projects/heat-map/decision",
                data={"decision": "needs_information", "rationale": "Which boroughs?"})
    with db.write() as session:
        workflow.move(session=session, actor=SYSTEM, slug="heat-map", to="idea")
    page = parse_html(client.get("/projects/heat-map").text)
    assert page.find(id="question") is None and page.find(id="answer") is None
    refused = client.post("/projects/heat-map/answer", data={"answer": "Barnet and Camden."})
    assert refused.status_code == 422
    assert "submitted for review again" in refused.text
    assert "Barnet and Camden." in refused.text  # what was typed is kept
    with db.read() as session:
        heat_map = session.exec(select(Project).where(Project.slug == "heat-map")).one()
        assert reviews.open_question(session, heat_map.id) is None
    with db.write() as session:  # submitted again: the question is the lead's again
        workflow.move(session=session, actor=SYSTEM, slug="heat-map", to="proposed")
    assert parse_html(client.get("/projects/heat-map").text).by_id("question") is not None


def test_an_answer_on_an_idea_never_questioned_says_there_is_no_question(
    client: TestClient,
) -> None:
    # A review of the change above: it told an idea no reviewer had asked anything of that
    # "the reviewer's question waits".
    refused = client.post("/projects/tree-planting/answer", data={"answer": "Some words."})
    assert refused.status_code == 422
    assert "no open question" in refused.text and "waits until" not in refused.text
