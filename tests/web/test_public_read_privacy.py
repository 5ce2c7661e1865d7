"""With public read on, anonymous visitors read the portfolio but never its users' emails."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import User
from portfolio.services.exports import FORMATS
from portfolio.settings import Settings
from tests import documents
from tests.web.auth import Browser, page_csrf, sign_in, token_for
from tests.web.pages_html import parse_html
from tests.web.test_permissions import FRAMEWORK_PUBLIC, HEAVY, SAMPLES, routes
from web.app import create_app

COMMITTED = "london-datastore-replatforming"  # GLA, in progress
PROPOSED = "bd-propensity-to-pay"  # Barking and Dagenham, proposed
DELIVERED = "lambeth-household-support-targeting"  # Lambeth, delivered
AGREEMENT = "london-street-works-dsa"  # GLA a party
DATASET = "thames-water-capital-works"
# Meant for the public: shown to anonymous visitors, and no user's address.
PUBLIC_CONTACT = "datastore@london.gov.uk"


@pytest.fixture
def backend() -> str:
    """SQLite: this checks what the web layer shows, not the database."""
    return "sqlite"


@pytest.fixture
def app(settings: Settings, london: Database) -> FastAPI:
    return create_app(settings.model_copy(update={"public_read": True}))


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()


def bearer(db: Database, role: str, organisation: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(db, role, organisation)}"}


@pytest.fixture
def samples(app: FastAPI, london: Database) -> Iterator[dict[str, str]]:
    """Put users' emails into play: an owner, progress, comments, documents, benefits, more."""
    gla, lambeth = bearer(london, "lead", "GLA"), bearer(london, "lead", "E09000022")
    bd = bearer(london, "lead", "E09000002")
    cdo, researcher = bearer(london, "cdo"), bearer(london, "researcher")
    with TestClient(app) as c:
        first = ok(c.post("/api/v1/snapshots", headers=researcher, json={"label": "Before"}),
                   201)
        with Browser(app) as assessor:  # an assessment by a named user, in the comparison
            sign_in(assessor, london, "cdo")
            assert assessor.post(f"/projects/{PROPOSED}/assessments", data={
                "criterion": "reach", "level": "4", "rationale": "Borough-wide."},
                follow_redirects=False).status_code in (200, 303)
        ok(c.put(f"/api/v1/projects/{COMMITTED}/stewardship", headers=gla, json={
            "owner_email": _newest_lead_of(london, "GLA"), "public_contact": PUBLIC_CONTACT}))
        ok(c.post(f"/api/v1/projects/{COMMITTED}/progress", headers=gla,
                  json={"rag": "amber", "summary": "Supplier late."}), 201)
        handle = "@" + _newest_lead_of(london, "GLA").split("@")[0]
        ok(c.post(f"/api/v1/projects/{COMMITTED}/comments", headers=researcher,
                  json={"body": f"{handle} is the catalogue API on track?"}), 201)
        ok(c.put(f"/api/v1/projects/{COMMITTED}/watch", headers=researcher,
                 json={"watching": True}))
        attached = ok(c.post(f"/api/v1/attachments/project/{COMMITTED}", headers=gla,
                             data={"kind": "business_case"},
                             files={"file": ("Business case.pdf", documents.PDF,
                                             "application/pdf")}), 201)
        ok(c.post(f"/api/v1/attachments/agreement/{AGREEMENT}", headers=gla,
                  data={"kind": "agreement"},
                  files={"file": ("Signed.pdf", documents.PDF + b"%2", "application/pdf")}),
           201)
        ok(c.put(f"/api/v1/projects/{DELIVERED}/benefits", headers=lambeth, json={
            "people_reached": 7200, "savings_gbp": 40000, "measured_on": "2024-09-30",
            "outcome": "7,200 households received support payments within three weeks.",
            "review": "Matching worked.", "version": 0}))
        ok(c.put(f"/api/v1/projects/{PROPOSED}/override", headers=cdo,
                 json={"value": 90, "justification": "Council tax deadline."}))
        ok(c.put(f"/api/v1/projects/{PROPOSED}/ig/privacy_notice", headers=bd,
                 json={"status": "done", "dated_on": "2026-10-01", "note": "Published."}))
        profile = ok(c.get("/api/v1/profiles/CDO default", headers=cdo))
        ok(c.put("/api/v1/profiles/CDO default", headers=cdo, json={
            "dimension_weights": {"impact": 2, "feasibility": 1, "readiness": 1},
            "criterion_weights": profile["weights"]["criterion"],
            "version": profile["version"]}))
        groups = ok(c.get("/api/v1/collaboration", headers=cdo))["groups"]
        ok(c.post("/api/v1/collaboration/dismiss", headers=cdo,
                  json={"group": groups[0]["key"], "reason": "Already talking"}), 201)
        scenario = ok(c.post("/api/v1/scenarios", headers=cdo, json={
            "name": "Lean", "kind": "roadmap", "profile": "CDO default", "budget": 2_000_000,
            "horizon": 8, "discount_rate": 0.035}), 201)
        second = ok(c.post("/api/v1/snapshots", headers=cdo, json={"label": "After"}), 201)
        app.state.database.background.wait()
    yield {"slug": COMMITTED, "attachment_id": str(attached["id"]),
           "snapshot_id": str(second["id"]), "old_id": str(first["id"]),
           "new_id": str(second["id"]), "scenario_id": str(scenario["id"])}


def _newest_lead_of(db: Database, organisation: str) -> str:
    from portfolio.models import Organisation
    with db.read() as session:
        return session.execute(
            select(User.email).join(Organisation, Organisation.id == User.organisation_id)
            .where(Organisation.code == organisation, User.role == "lead")
            .order_by(User.id.desc())).scalars().first()


SLUGS = [COMMITTED, PROPOSED, DELIVERED]


def urls(samples: dict[str, str]) -> Iterator[str]:
    """Every GET route, its path filled with the samples' slugs, codes and ids."""
    for route in routes():
        if route.path in FRAMEWORK_PUBLIC | HEAVY or "GET" not in route.methods:
            continue
        agreement = "agreement" in route.path
        names = set(re.findall(r"\{(\w+)", route.path))
        for slug in SLUGS if "slug" in names else [COMMITTED]:
            for fmt in FORMATS if names & {"fmt"} else ["csv"]:
                values = SAMPLES | samples | {"slug": slug, "fmt": fmt}
                values["code"] = AGREEMENT if agreement else DATASET
                yield re.sub(r"\{(\w+)(?::\w+)?\}", lambda m, v=values: v.get(m.group(1), "x"),
                             route.path)
    old, new = samples["old_id"], samples["new_id"]
    yield f"/snapshots/compare?a={old}&b={new}"
    yield f"/snapshots/compare.csv?a={old}&b={new}"
    yield "/api/v1/agreements/as-of?date=2026-01-01"
    for fmt in FORMATS:
        yield f"/api/v1/export?format={fmt}"
        yield f"/api/v1/snapshots/{samples['snapshot_id']}/export?format={fmt}"


def readable(body: bytes) -> str:
    """Return a response's text, a zip's (xlsx, data package) members' text included."""
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as packed:
            return "\n".join(packed.read(n).decode("utf-8", "replace") for n in packed.namelist())
    return body.decode("utf-8", "replace")


def test_with_public_read_no_page_or_api_answer_shows_an_anonymous_visitor_a_users_email(
    app: FastAPI, london: Database, samples: dict[str, str],
) -> None:
    # Review: with PORTFOLIO_PUBLIC_READ=true the attachments list gave anonymous visitors the
    # uploaders' email addresses, the progress answer the owner's, and more; the public sees
    # people's names and a project's public contact, never an account's address.
    with london.read() as session:
        emails = set(session.execute(select(User.email)).scalars())
    assert len(emails) > 7
    leaks: dict[str, set[str]] = {}
    crawled = 0
    with Browser(app, raise_server_exceptions=False) as anonymous:
        anonymous.csrf = page_csrf(anonymous)
        for url in urls(samples):
            response = anonymous.get(url, follow_redirects=False)
            if response.status_code == 200:
                crawled += 1
            body = readable(response.content).lower()
            found = {e for e in emails if e.lower() in body}
            if found:
                leaks[url] = found
        progress = anonymous.get(f"/api/v1/projects/{COMMITTED}/progress").json()
        page = anonymous.get(f"/projects/{COMMITTED}").text
    assert crawled > 80
    assert not leaks, "\n".join(f"{url}: {sorted(found)}" for url, found in sorted(leaks.items()))
    # What the public may see stays: the owner's name and the public contact.
    assert progress["public_contact"] == PUBLIC_CONTACT and progress["owner"]["name"]
    assert PUBLIC_CONTACT in page and "Test lead" in page


def test_signed_in_readers_still_see_the_addresses_and_anonymous_downloads_are_refused(
    app: FastAPI, london: Database, samples: dict[str, str],
) -> None:
    owner = _newest_lead_of(london, "GLA")
    snapshot = samples["snapshot_id"]
    with Browser(app) as researcher, Browser(app) as anonymous:
        sign_in(researcher, london, "researcher")
        progress = researcher.get(f"/api/v1/projects/{COMMITTED}/progress").json()
        documents = researcher.get(f"/api/v1/attachments/project/{COMMITTED}").json()
        similar = researcher.get(f"/api/v1/projects/{DELIVERED}/similar").json()["similar"]
        listed = researcher.get("/api/v1/snapshots").json()
        download = researcher.get(f"/api/v1/snapshots/{snapshot}/export?format=json")
        page = researcher.get(f"/projects/{DELIVERED}/similar").text
        refused = anonymous.get(f"/api/v1/snapshots/{snapshot}/export?format=json")
        anonymous_similar = anonymous.get(f"/projects/{DELIVERED}/similar").text
    assert progress["owner"]["email"] == owner
    assert documents[0]["uploaded_by"] == owner and documents[0]["uploaded_by_name"]
    assert any(s["contact"] and s["contact"]["email"] for s in similar)
    assert listed[0]["author"].startswith("cdo-") and listed[0]["author_name"] == "Test cdo"
    assert download.status_code == 200 and owner in download.text
    assert 'href="mailto:' in page
    # The public sees a lead's name without a mailto link, and is told to sign in to download.
    assert refused.status_code == 403 and "sign in" in refused.json()["detail"]
    assert "mailto:" not in anonymous_similar and "contact" in anonymous_similar.lower()


def test_an_anonymous_visitor_is_offered_no_download_they_would_be_refused(
    app: FastAPI, london: Database,
) -> None:
    # A page offers only what its user may do: snapshot and live downloads need signing in.
    with TestClient(app) as client:
        made = ok(client.post("/api/v1/snapshots", headers=bearer(london, "researcher"),
                              json={"label": "Published"}), 201)
        ok(client.post(f"/api/v1/attachments/project/{COMMITTED}",
                       headers=bearer(london, "lead", "GLA"), data={"kind": "business_case"},
                       files={"file": ("Business case.pdf", documents.PDF, "application/pdf")}),
           201)
    paths = (f"/snapshots/{made['id']}", "/snapshots", f"/projects/{COMMITTED}",
             f"/attachments/project/{COMMITTED}")
    with Browser(app) as anonymous, Browser(app) as researcher:
        sign_in(researcher, london, "researcher")
        pages = {path: (anonymous.get(path).text, researcher.get(path).text) for path in paths}
    link = '" download>'  # every download link on these pages
    for path, (theirs, signed_in) in pages.items():
        assert link in signed_in, path
        assert link not in theirs, path
        assert "Sign in to download" in theirs, path


# Found in review: the snapshots page offered an anonymous visitor "Take a snapshot", which
# signing in alone may do.
def test_an_anonymous_visitor_is_offered_no_snapshot_to_take(
        app: FastAPI, london: Database) -> None:
    with Browser(app) as anonymous, Browser(app) as researcher:
        sign_in(researcher, london, "researcher")
        theirs = parse_html(anonymous.get("/snapshots").text)
        ours = parse_html(researcher.get("/snapshots").text)
    assert ours.find("form", action="/snapshots") is not None
    assert theirs.find("form", action="/snapshots") is None
    assert "Sign in to take a snapshot" in theirs.text()


def test_an_anonymous_visitor_reads_the_collaboration_page_and_the_discussion(
    app: FastAPI, samples: dict[str, str],
) -> None:
    # A role review: with public read the collaboration page sent anonymous visitors to sign
    # in, and the API's collaboration and comments answered 401, while the project page
    # showed them the same discussion.
    with Browser(app) as anonymous:
        page = anonymous.get("/collaboration", follow_redirects=False)
        assert page.status_code == 200, page.headers.get("location")
        # Reading, not acting: nothing offers to set a suggestion aside.
        assert "/collaboration/dismiss" not in page.text
        assert ok(anonymous.get("/api/v1/collaboration"))["groups"] is not None
        discussion = ok(anonymous.get(f"/api/v1/projects/{COMMITTED}/comments"))
        assert discussion and not any(c["can_edit"] or c["can_remove"] for c in discussion)


def test_a_form_an_anonymous_reader_sends_asks_them_to_sign_in_not_again(app: FastAPI) -> None:
    # A role review: a reader who never signed in was told "You were signed out meanwhile".
    with Browser(app, headers={"accept": "text/html"}) as anonymous:
        anonymous.csrf = page_csrf(anonymous)
        typed = "A question from a resident."
        answer = anonymous.post(f"/projects/{COMMITTED}/comments", data={"body": typed},
                                headers={"Referer": f"http://testserver/projects/{COMMITTED}"},
                                follow_redirects=False)
    assert answer.status_code == 401
    said = parse_html(answer.text).by_id("not-sent").text()
    assert "not signed in" in said and "meanwhile" not in said
    assert typed in answer.text


def test_an_htmx_form_an_anonymous_reader_sends_says_not_signed_in(app: FastAPI) -> None:
    # Noticed in a review: under htmx the same reader was told "you are signed out".
    with Browser(app, headers={"accept": "text/html"}) as anonymous:
        anonymous.csrf = page_csrf(anonymous)
        answer = anonymous.post(f"/projects/{COMMITTED}/comments", data={"body": "A question"},
                                headers={"HX-Request": "true",
                                         "Referer": f"http://testserver/projects/{COMMITTED}"},
                                follow_redirects=False)
    assert answer.status_code == 401
    said = answer.json()["detail"]
    assert "not signed in" in said and "signed out" not in said
