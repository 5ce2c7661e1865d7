"""Joining another organisation's project as a partner waits for the owning side's consent.

Found in review: "we will partner" (the page's button and `POST /api/v1/projects/{slug}/join`)
made any borough lead's organisation a partner at once, and a partner's lead assesses the
project, so any lead could add a second assessor's level to any project they had no part in.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
from web.app import create_app

PROJECT = "bd-one-view-phase-2"
OWNER, CAMDEN, BEXLEY = "E09000002", "E09000007", "E09000004"
REACH = {"criterion": "reach", "level": "1", "rationale": "Camden's view."}


def api(app: FastAPI, db: Database, role: str, organisation: str | None = None) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token_for(db, role, organisation)}"
    return client


def partners(client: TestClient) -> set[str]:
    return {p["organisation"] for p in client.get(f"/api/v1/projects/{PROJECT}").json()
            ["partners"]}


def test_a_lead_who_asks_to_join_may_not_assess_until_the_owner_accepts(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    camden = api(app, london, "lead", CAMDEN)
    asked = camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    assert asked.status_code == 201, asked.text
    refused = camden.post(f"/projects/{PROJECT}/assess", data=REACH, follow_redirects=False)
    assert refused.status_code == 403, refused.text
    assert asked.json()["status"] == "requested"
    assert CAMDEN not in partners(camden)
    waiting = camden.get(f"/api/v1/projects/{PROJECT}").json()["partner_requests"]
    assert [r["organisation"] for r in waiting] == [CAMDEN]
    # Only the owning side consents: not the lead who asked, nor a lead of a third borough.
    accept = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/accept"
    assert camden.post(accept).status_code == 403
    assert api(app, london, "lead", BEXLEY).post(accept).status_code == 403
    accepted = api(app, london, "lead", OWNER).post(accept)
    assert accepted.status_code == 200, accepted.text
    assert CAMDEN in partners(camden)
    assert camden.post(f"/projects/{PROJECT}/assess", data=REACH,
                       follow_redirects=False).status_code == 303


def test_the_owner_sees_a_request_on_the_edit_page_and_accepts_or_declines_it(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    with Browser(app) as camden, Browser(app) as bexley, Browser(app) as owner:
        sign_in(camden, london, "lead", CAMDEN)
        sign_in(bexley, london, "lead", BEXLEY)
        sign_in(owner, london, "lead", OWNER)
        answer = camden.post(f"/projects/{PROJECT}/join", headers={"HX-Request": "true"},
                             data={"organisation": CAMDEN})
        assert "asked to partner" in answer.text and "is now a partner" not in answer.text
        bexley.post(f"/projects/{PROJECT}/join", data={"organisation": BEXLEY})
        assert "Assess this project" not in camden.get(f"/projects/{PROJECT}").text
        assert camden.post(f"/projects/{PROJECT}/assess", data=REACH,
                           follow_redirects=False).status_code == 403
        assert "Camden" in camden.get(f"/projects/{PROJECT}").text  # waiting, said so
        section = parse_html(owner.get(f"/projects/{PROJECT}/edit").text).by_id("sec-partners")
        assert "Camden" in section.text() and "Bexley" in section.text()
        done = owner.post(f"/projects/{PROJECT}/partner-requests/accept",
                          data={"organisation": CAMDEN}, follow_redirects=False)
        assert done.status_code == 303, done.text
        owner.post(f"/projects/{PROJECT}/partner-requests/decline", data={"organisation": BEXLEY})
        assert "Assess this project" in camden.get(f"/projects/{PROJECT}").text
        assert bexley.post(f"/projects/{PROJECT}/assess", data=REACH,
                           follow_redirects=False).status_code == 403
        left = parse_html(owner.get(f"/projects/{PROJECT}/edit").text).by_id("sec-partners")
        assert "Bexley" not in left.text()


# The requester withdraws: found in review, a request once made could only wait for an answer.

def withdraw_forms(page: str) -> list[str]:
    """Return the labels of the withdraw buttons the project page offers."""
    return [button.text().strip() for button in parse_html(page).find_all("button")
            if "Withdraw" in button.text() and "request" in button.text()]


def test_the_lead_who_asked_withdraws_the_request_from_the_project_page(
        settings: Settings, london: Database) -> None:
    from sqlalchemy import select

    from portfolio.models import AuditEvent

    app = create_app(settings)
    with Browser(app) as camden, Browser(app) as bexley, Browser(app) as owner:
        sign_in(camden, london, "lead", CAMDEN)
        sign_in(bexley, london, "lead", BEXLEY)
        sign_in(owner, london, "lead", OWNER)
        camden.post(f"/projects/{PROJECT}/join", data={"organisation": CAMDEN})
        page = camden.get(f"/projects/{PROJECT}").text
        assert withdraw_forms(page) == ["Withdraw our request"]
        assert "pending" in parse_html(page).by_id("partner-requests").text()
        # Offered only to who may: not a third borough's lead, nor the owner's (who declines).
        assert withdraw_forms(bexley.get(f"/projects/{PROJECT}").text) == []
        assert withdraw_forms(owner.get(f"/projects/{PROJECT}").text) == []
        withdraw = f"/projects/{PROJECT}/partner-requests/withdraw"
        refused = bexley.post(withdraw, data={"organisation": CAMDEN}, follow_redirects=False)
        assert refused.status_code == 403
        assert "may not withdraw another organisation's request" in refused.text
        done = camden.post(withdraw, data={"organisation": CAMDEN}, follow_redirects=False)
        assert done.status_code == 303, done.text
        page = camden.get(f"/projects/{PROJECT}").text
        assert "request to partner is withdrawn" in page and withdraw_forms(page) == []
        assert "Camden" not in parse_html(owner.get(f"/projects/{PROJECT}/edit").text).by_id(
            "sec-partners").text()
        # Sent again (a second tab): said plainly, not a 500.
        again = camden.post(withdraw, data={"organisation": CAMDEN}, follow_redirects=False)
        assert again.status_code == 409
        assert "no request waiting" in again.text
    with london.read() as session:
        actions = session.execute(select(AuditEvent.action).where(
            AuditEvent.entity == "partner_request")).scalars().all()
    assert actions == ["request", "withdraw"]


def test_the_api_withdraws_a_request_for_the_asking_side_only(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    camden = api(app, london, "lead", CAMDEN)
    withdraw = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/withdraw"
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    for refused in (api(app, london, "lead", BEXLEY), api(app, london, "lead", OWNER)):
        answer = refused.post(withdraw)
        assert answer.status_code == 403
        assert answer.json()["detail"] == (
            "a lead may not withdraw another organisation's request to partner in a project; "
            "the CDO or an admin or a lead of the organisation that asked may")
    assert api(app, london, "researcher").post(withdraw).status_code == 403
    done = camden.post(withdraw)
    assert done.status_code == 204, done.text
    assert camden.get(f"/api/v1/projects/{PROJECT}").json()["partner_requests"] == []
    again = camden.post(withdraw)
    assert again.status_code == 409 and "no request waiting" in again.json()["detail"]
    # The CDO may withdraw for the asker; one accepted meanwhile is a partner, said so.
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    assert api(app, london, "cdo").post(withdraw).status_code == 204
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    api(app, london, "lead", OWNER).post(
        f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/accept")
    late = camden.post(withdraw)
    assert late.status_code == 409 and "accepted already" in late.json()["detail"]


# Telling: found in review, a request waited unseen until someone opened the edit page.

def told(app: FastAPI, client: TestClient, page: bool = True) -> str:
    """Return what a user's notifications say, once the app's background delivery is done."""
    app.state.database.background.wait()
    if page:
        return parse_html(client.get("/notifications").text).find("main").text()
    return " ".join(n["message"] for n in client.get("/api/v1/notifications").json())


def test_the_owners_leads_hear_of_a_request_and_the_lead_who_asked_hears_the_answer(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    with Browser(app) as camden, Browser(app) as bexley, Browser(app) as owner:
        sign_in(camden, london, "lead", CAMDEN)
        sign_in(bexley, london, "lead", BEXLEY)
        sign_in(owner, london, "lead", OWNER)
        camden.post(f"/projects/{PROJECT}/join", data={"organisation": CAMDEN})
        heard = told(app, owner)
        assert "Camden" in heard and "asks to partner" in heard
        assert "asks to partner" not in told(app, camden)  # not told of one's own request
        assert "asks to partner" not in told(app, bexley)  # nor a third borough's lead
        owner.post(f"/projects/{PROJECT}/partner-requests/accept", data={"organisation": CAMDEN})
        assert "accepted" in told(app, camden)
        assert "accepted" not in told(app, bexley)
    bexley_api, owner_api = api(app, london, "lead", BEXLEY), api(app, london, "lead", OWNER)
    bexley_api.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": BEXLEY})
    assert "Bexley" in told(app, owner_api, page=False)
    owner_api.delete(f"/api/v1/projects/{PROJECT}/partner-requests/{BEXLEY}")
    assert "declined" in told(app, bexley_api, page=False)


def test_each_lead_chooses_how_to_hear_of_partner_requests(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    owner = api(app, london, "lead", OWNER)
    chosen = owner.put("/api/v1/notifications/preferences", json={"channels": {
        "partner_request": "off", "partner_answer": "digest"}})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["channels"]["partner_request"] == "off"
    api(app, london, "lead", CAMDEN).post(f"/api/v1/projects/{PROJECT}/join",
                                          json={"organisation": CAMDEN})
    assert "asks to partner" not in told(app, owner, page=False)
    with Browser(app) as lead:
        sign_in(lead, london, "lead", OWNER)
        form = parse_html(lead.get("/account").text).by_id("notification-choices").parent
        assert "pref-partner_request" in [s.get("id") for s in form.find_all("select")]


# Found in review: answering a request gone meanwhile was a 422 naming the organisation, where
# withdrawing one gone meanwhile is a 409: the request changed under the answer, as an edit's.

def test_answering_a_request_withdrawn_or_answered_meanwhile_is_a_conflict_said_in_place(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    camden, owner = api(app, london, "lead", CAMDEN), api(app, london, "lead", OWNER)
    accept = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/accept"
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    camden.post(f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/withdraw")
    for late in (owner.post(accept),
                 owner.delete(f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}")):
        assert late.status_code == 409, late.text
        assert "no request waiting" in late.json()["detail"]
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    assert owner.post(accept).status_code == 200
    again = owner.post(accept)
    assert again.status_code == 409 and "accepted already" in again.json()["detail"]
    with Browser(app) as page:
        sign_in(page, london, "lead", OWNER)
        shown = page.post(f"/projects/{PROJECT}/partner-requests/decline",
                          data={"organisation": CAMDEN})
        assert shown.status_code == 409
        assert "accepted already" in parse_html(shown.text).find("main").text()
        # Nothing was typed: the Add form is not filled with the organisation, a click away
        # from making it a partner without its asking.
        assert not parse_html(shown.text).by_id("pa-organisation").get("value")


# Found in review: a withdrawal told nobody, and the owner's "asks to partner" notice then led
# to an edit page with no request on it.

def test_the_owners_leads_hear_that_a_request_was_withdrawn(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    camden, owner = api(app, london, "lead", CAMDEN), api(app, london, "lead", OWNER)
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    done = camden.post(f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/withdraw")
    assert done.status_code == 204, done.text
    app.state.database.background.wait()
    notices = owner.get("/api/v1/notifications").json()
    withdrawn = [n for n in notices if "withdrew its request" in n["message"]]
    assert len(withdrawn) == 1 and "Camden" in withdrawn[0]["message"]
    assert withdrawn[0]["link"] == f"/projects/{PROJECT}"  # not the edit page's Accept
    assert "withdrew" not in told(app, camden, page=False)  # not told of one's own withdrawal


# Found in review: once a request was answered or withdrawn, the owning side's "asks to
# partner" notice still said to accept or decline it and led to an edit page with nothing to
# answer.
def test_a_requests_notice_says_how_it_ended_and_leads_to_the_project_page(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    camden, owner = api(app, london, "lead", CAMDEN), api(app, london, "lead", OWNER)
    bexley = api(app, london, "lead", BEXLEY)
    db = app.state.database

    def asked(name: str) -> list[dict[str, str]]:
        db.background.wait()
        return [n for n in owner.get("/api/v1/notifications").json()
                if n["message"].startswith(f"{name} ask")]

    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    bexley.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": BEXLEY})
    waiting = asked("Camden")
    assert len(waiting) == 1 and "accept or decline" in waiting[0]["message"]
    assert waiting[0]["link"] == f"/projects/{PROJECT}/edit#partners"
    camden.post(f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/withdraw")
    [ended] = asked("Camden")
    assert ended["message"].endswith("the request was withdrawn"), ended["message"]
    assert ended["link"] == f"/projects/{PROJECT}"
    assert "accept or decline" in asked("Bexley")[0]["message"]  # another's is untouched
    # Asked again: the new notice waits for an answer, the old one stays withdrawn.
    camden.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    assert owner.post(f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/accept"
                      ).status_code == 200
    assert sorted(n["message"].rsplit(": ", 1)[1] for n in asked("Camden")) == [
        "the request was accepted", "the request was withdrawn"]
    assert owner.delete(f"/api/v1/projects/{PROJECT}/partner-requests/{BEXLEY}"
                        ).status_code == 204
    [declined] = asked("Bexley")
    assert declined["message"].endswith("the request was declined")
    assert declined["link"] == f"/projects/{PROJECT}"


# Found in review: a Remove refused because the organisation was no longer a partner (removed
# by a colleague meanwhile) filled the Add form with that organisation's code, one click from
# adding it back without its asking; a removed dependency's or dataset's form did the same.
def test_a_refused_remove_leaves_the_add_forms_empty(settings: Settings,
                                                     london: Database) -> None:
    app = create_app(settings)
    with Browser(app) as page:
        sign_in(page, london, "lead", OWNER)
        for path, data, section, field, said in (
                ("partners/remove", {"organisation": BEXLEY, "was_role": "data"},
                 "sec-partners", "pa-organisation", "is not a partner"),
                ("dependencies/remove", {"depends_on": "london-datastore-replatforming"},
                 "sec-dependencies", "dep-depends_on", "does not depend on"),
                ("datasets/remove", {"dataset": "english-indices-of-deprivation-2019",
                                     "relation": "uses"},
                 "sec-datasets", "ds-dataset", "does not use")):
            shown = page.post(f"/projects/{PROJECT}/{path}", data=data)
            assert shown.status_code == 422, (path, shown.text[:300])
            html = parse_html(shown.text)
            summary = html.by_id(section).find(class_="error-summary")
            assert summary is not None and said in summary.text(), path  # the refusal is said
            assert not html.by_id(field).get("value"), (path, html.by_id(field).get("value"))
        # The dataset form is back to its defaults, "required" ticked, not the row's values.
        assert parse_html(shown.text).by_id("ds-required").get("checked") is not None
    with Browser(app) as outsider:  # a lead of another organisation may not remove anything
        sign_in(outsider, london, "lead", BEXLEY)
        shown = outsider.post(f"/projects/{PROJECT}/partners/remove",
                              data={"organisation": CAMDEN, "was_role": "data"})
        assert shown.status_code == 403, shown.text[:300]
        # Refused in words, without the editor (whose controls are not theirs to use).
        assert "may not" in shown.text
        assert 'id="pa-organisation"' not in shown.text


PREREQUISITE = "london-datastore-replatforming"


# Found in review: a dependency removed and added again meanwhile, with a colleague's note,
# was removed by a Remove from the page read before: the form said only which project.
def test_a_remove_from_a_page_read_before_the_dependency_changed_is_refused(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    with Browser(app) as mine, Browser(app) as theirs:
        sign_in(mine, london, "lead", OWNER)
        sign_in(theirs, london, "lead", OWNER)
        assert theirs.post(f"/api/v1/projects/{PROJECT}/dependencies", json={
            "depends_on": "london-datastore-replatforming"}).status_code in {200, 201}
        page = parse_html(mine.get(f"/projects/{PROJECT}/edit").text)
        form = next(f for f in page.by_id("sec-dependencies").find_all("form")
                    if f.find("input", name="depends_on", value=PREREQUISITE) is not None)
        read = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
        assert read["was_note"] == ""
        # A colleague removes it and adds it again with a note that matters.
        assert theirs.post(f"/projects/{PROJECT}/dependencies/remove", data={
            "depends_on": "london-datastore-replatforming", "was_note": ""},
            follow_redirects=False).status_code == 303
        assert theirs.post(f"/api/v1/projects/{PROJECT}/dependencies", json={
            "depends_on": "london-datastore-replatforming",
            "note": "Critical path, agreed at the board"}).status_code in {200, 201}
        shown = mine.post(f"/projects/{PROJECT}/dependencies/remove",
                          data={k: v for k, v in read.items() if k != "csrf_token"})
        assert shown.status_code == 409, shown.text[:300]
        assert "Critical path, agreed at the board" in shown.text
    with london.read() as session:
        from portfolio.services import projects as project_service

        kept = project_service.get_project(session=session, slug=PROJECT)["depends_on"]
    assert [d["note"] for d in kept if d["slug"] == PREREQUISITE] == [
        "Critical path, agreed at the board"]


def test_a_multi_line_note_read_with_either_line_break_removes_its_dependency(
        settings: Settings, london: Database) -> None:
    # A form sends a note's line breaks as CRLF, htmx as the page holds them (LF): either is
    # the note read, not a change meanwhile.
    app = create_app(settings)
    with Browser(app) as lead:
        sign_in(lead, london, "lead", OWNER)
        assert lead.post(f"/api/v1/projects/{PROJECT}/dependencies", json={
            "depends_on": PREREQUISITE, "note": "Line one\nLine two"}).status_code in {200, 201}
        removed = lead.post(f"/projects/{PROJECT}/dependencies/remove", data={
            "depends_on": PREREQUISITE, "was_note": "Line one\r\nLine two"},
            follow_redirects=False)
        assert removed.status_code == 303, removed.text[:300]


# Found in review: no page offered a lead of another borough a way to ask to partner in an
# existing project (only the register form's similar-projects panel did), though the API did.
def test_the_project_page_offers_another_boroughs_lead_to_ask_to_partner(
        settings: Settings, london: Database) -> None:
    app = create_app(settings)
    with Browser(app) as camden, Browser(app) as owner, Browser(app) as researcher:
        sign_in(camden, london, "lead", CAMDEN)
        sign_in(owner, london, "lead", OWNER)
        sign_in(researcher, london, "researcher")

        def offered(client: Browser) -> bool:
            page = parse_html(client.get(f"/projects/{PROJECT}").text)
            return page.find("form", id="ask-to-partner") is not None

        assert offered(camden)
        assert not offered(owner) and not offered(researcher)
        asked = camden.post(f"/projects/{PROJECT}/join", data={}, follow_redirects=False)
        assert asked.status_code == 303, asked.text
        assert asked.headers["location"].endswith("#partner-requests")
        page = camden.get(f"/projects/{PROJECT}").text
        assert "Camden has asked to partner" in parse_html(page).by_id("flash").text()
        assert not offered(camden)  # asked already: its request waits, to withdraw
        assert withdraw_forms(page) == ["Withdraw our request"]


def test_answering_a_request_withdrawn_or_declined_meanwhile_says_which(
        settings: Settings, london: Database) -> None:
    # A role review: the 409 said "answered or withdrawn already, or never made", though the
    # README promises it says which (the audit trail knows).
    app = create_app(settings)
    camden, owner = api(app, london, "lead", CAMDEN), api(app, london, "lead", OWNER)
    accept = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/accept"
    declined = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}"
    withdraw = f"/api/v1/projects/{PROJECT}/partner-requests/{CAMDEN}/withdraw"
    assert camden.post(f"/api/v1/projects/{PROJECT}/join",
                       json={"organisation": CAMDEN}).status_code == 201
    assert camden.post(withdraw).status_code in (200, 204)
    late = owner.post(accept)
    assert late.status_code == 409 and "request was withdrawn" in late.json()["detail"], late.text
    assert camden.post(f"/api/v1/projects/{PROJECT}/join",
                       json={"organisation": CAMDEN}).status_code == 201
    assert owner.delete(declined).status_code == 204
    late = owner.post(accept)
    assert late.status_code == 409 and "request was declined" in late.json()["detail"], late.text


def test_withdrawing_for_no_organisation_from_the_page_answers_the_page(
        settings: Settings, london: Database) -> None:
    # A role review: the page's withdraw route, sent no organisation (or an unknown one),
    # answered JSON ("organisation: unknown organisation code ''") instead of the page.
    app = create_app(settings)
    with Browser(app, headers={"accept": "text/html"}) as camden:
        sign_in(camden, london, "lead", CAMDEN)
        for code in ("", "E09999999"):
            refused = camden.post(f"/projects/{PROJECT}/partner-requests/withdraw",
                                  data={"organisation": code}, follow_redirects=False)
            assert refused.status_code == 422, refused.text[:200]
            assert refused.headers["content-type"].startswith("text/html")
            error = parse_html(refused.text).by_id("partner-request-error").text()
            assert "organisation" in error.lower()


def test_a_researcher_asking_to_partner_is_told_who_may_ask(settings: Settings,
                                                            london: Database) -> None:
    # A role review: the refusal named "a lead of the owning organisation", but the one who
    # asks to partner is a lead of the organisation that joins.
    app = create_app(settings)
    researcher = api(app, london, "researcher", CAMDEN)
    refused = researcher.post(f"/api/v1/projects/{PROJECT}/join", json={"organisation": CAMDEN})
    assert refused.status_code == 403
    assert "a lead of the organisation that joins" in refused.json()["detail"], refused.text
    assert "owning" not in refused.json()["detail"]
