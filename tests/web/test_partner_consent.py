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
