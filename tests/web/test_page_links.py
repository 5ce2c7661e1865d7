"""Where the pages lead: every link and form to a page (not the API's JSON, never a refusal),
and a form sent signed out or with an old token loses nothing typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web import test_pages_offer_only_allowed as crawl
from tests.web.auth import Browser, sign_in
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from tests.web.test_pages_offer_only_allowed import form_fields
from web.app import create_app


def test_the_headers_collaboration_link_opens_the_collaboration_page(
        signed_in: SignedIn) -> None:
    browser = signed_in("researcher", html=True)
    header = browser.get("/backlog").text
    link = re.search(r'<a href="([^"]+)"[^>]*>Collaboration</a>', header)
    assert link is not None and link.group(1) == "/collaboration"
    page = browser.get(link.group(1))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_the_collaboration_filters_stay_on_the_page(
        signed_in: SignedIn) -> None:
    page = signed_in("admin", html=True).get("/collaboration").text
    form = re.search(r'<form method="get" action="([^"]+)"[^>]*hx-get="([^"]+)"', page)
    assert form is not None and form.groups() == ("/collaboration", "/collaboration")


@pytest.fixture
def backend() -> str:
    """SQLite only: these check the links pages draw, the web layer's work."""
    return "sqlite"


ROLES = {**crawl.ROLES, "anonymous": None}  # anonymous: not signed in, with public read on
# Links that end the crawl's own session, or hand it to another site.
LEAVE = re.compile(r"^/logout$|^/login/|/unsubscribe")


def linked(page: str, text: str) -> Iterator[tuple[str, str]]:
    """Every same-site link on a page: (its URL, what it leads to).

    An htmx hx-get loads a "fragment"; a plain link, or a form that gets (with its fields as
    they stand), leads to a "page" unless its `type` says it is "data" (the graph's JSON link
    does)."""
    document = parse_html(text)
    for form in document.find_all("form"):
        if (form.get("method") or "get").lower() == "get":
            action = urljoin(page, form.get("action") or page)
            yield f"{urlsplit(action).path}?{urlencode(form_fields(form))}", "page"
    for element in document.iter():
        for attribute, fragment in (("href", False), ("hx-get", True)):
            url = element.get(attribute)
            if url is None or (attribute == "href" and element.tag != "a"):
                continue
            target = urljoin("http://testserver" + page, url)
            parts = urlsplit(target)
            if parts.netloc != "testserver" or parts.scheme not in {"http", "https"}:
                continue
            kind = ("fragment" if fragment else
                    "page" if element.get("type") in (None, "text/html") else "data")
            yield parts.path + (f"?{parts.query}" if parts.query else ""), kind


@pytest.mark.parametrize("role", list(ROLES))
def test_every_link_a_page_offers_opens_for_its_user(
        role: str, settings: Settings, london: Database) -> None:
    # A link is an offer too: it must not lead its user to a refusal, a missing page or a fault,
    # and a link to a page must lead to a page (or a download), not to JSON.
    app = create_app(settings.model_copy(update={"public_read": role == "anonymous"}))
    with Browser(app, headers={"accept": "text/html"}, raise_server_exceptions=False) as client:
        if role != "anonymous":
            sign_in(client, london, role, ROLES[role])
        links: dict[tuple[str, str], str] = {}  # (URL, what it leads to): the page linking it
        for page, text in crawl.html_pages(client):
            for url, kind in linked(page, text):
                links.setdefault((url.split("#")[0], kind), page)
        assert len(links) > 50, f"the crawl found too few links: {sorted(links)}"
        broken = []
        for (url, kind), source in sorted(links.items()):
            path = urlsplit(url).path
            if LEAVE.search(path) or path.startswith("/static/"):
                continue
            answer = client.get(url, headers={"HX-Request": "true"} if kind == "fragment" else {},
                                follow_redirects=False)
            answered = answer.headers.get("content-type", "")
            download = "attachment" in answer.headers.get("content-disposition", "")
            if answer.status_code in {403, 404} or answer.status_code >= 500:
                broken.append(f"{source} links {role} to {url}: {answer.status_code}")
            elif answer.headers.get("location", "").startswith("/login"):
                broken.append(f"{source} links {role} to {url}, which asks them to sign in")
            elif (kind == "page" and not download
                  and answer.status_code == 200 and "text/html" not in answered):
                broken.append(f"{source} links {role} to {url}: {answered}, not a page")
    assert not broken, "\n".join(broken)


def test_the_collaboration_filters_redraw_the_groups_in_place(signed_in: SignedIn) -> None:
    # The filter form's hx-get renders the groups block alone: it was a 500 (a macro the block
    # uses was imported only at the top of the page).
    # The CDO may dismiss a suggestion: each group carries the dismissal form's fields.
    answer = signed_in("cdo", html=True).get("/collaboration?theme=housing",
                                             headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "<html" not in answer.text and 'class="panel opportunity"' in answer.text
    assert "Dismiss this suggestion" in answer.text


@pytest.mark.parametrize(("action", "page"), [
    ("/account/tokens", "/account"), ("/admin/users/nobody@example.london", "/admin/users"),
    ("/projects/bd-one-view/status", "/projects/bd-one-view")])
def test_a_form_action_opened_by_get_goes_back_to_its_page_whatever_its_query(
        signed_in: SignedIn, action: str, page: str) -> None:
    # The page to go back to was a query parameter too (`_target`): any other name was a 500.
    browser = signed_in("admin", html=True)
    for query in ("", "?_target=nowhere", "?_target=home"):
        answer = browser.get(action + query, follow_redirects=False)
        assert answer.status_code == 303 and urlsplit(answer.headers["location"]).path == page


def signed_out_meanwhile(signed_in: SignedIn, london: Database) -> Browser:
    """A browser on a project page whose session another sign-out ended meanwhile."""
    from portfolio.models import UserSession

    browser = signed_in("lead", "E09000002", html=True)
    browser.get("/projects/bd-one-view-phase-2")  # the page, and its form's token, as loaded
    with london.write() as session:
        for row in session.query(UserSession).all():
            row.ended_at = row.created_at
            session.add(row)
    return browser


def test_a_form_sent_after_the_session_ended_keeps_what_was_typed_on_the_sign_in_page(
        signed_in: SignedIn, london: Database) -> None:
    # It was sent on to the sign-in page, what was typed gone.
    browser = signed_out_meanwhile(signed_in, london)
    typed = "Arrears fell by a fifth after the first letters went out."
    answer = browser.post("/projects/bd-one-view-phase-2/comments", data={"body": typed},
                          headers={"Referer": "http://testserver/projects/bd-one-view-phase-2"},
                          follow_redirects=False)
    assert answer.status_code == 401
    page = parse_html(answer.text)
    assert "signed out meanwhile" in page.by_id("not-sent").text()
    assert page.find("form", action="/login") is not None
    kept = [t.text() for t in page.find_all("textarea")]
    assert typed in kept
    assert page.find("input", name="next").get("value") == "/projects/bd-one-view-phase-2"


def test_an_htmx_save_after_the_session_ended_says_so_in_place(
        signed_in: SignedIn, london: Database) -> None:
    # htmx was told to go to the sign-in page, leaving the page with what was typed in it.
    browser = signed_out_meanwhile(signed_in, london)
    answer = browser.post("/projects/bd-one-view-phase-2/comments", data={"body": "Typed."},
                          headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.status_code == 401 and "HX-Redirect" not in answer.headers
    assert "signed out" in answer.json()["detail"]


def test_a_form_from_another_site_puts_none_of_its_words_on_the_sign_in_page(
        signed_in: SignedIn, london: Database) -> None:
    browser = signed_out_meanwhile(signed_in, london)
    answer = browser.post("/projects/bd-one-view-phase-2/comments",
                          data={"body": "Your password has expired: email it to us"},
                          headers={"Origin": "https://elsewhere.example"},
                          follow_redirects=False)
    assert answer.status_code == 401 and 'action="/login"' in answer.text
    assert "email it to us" not in answer.text
    assert parse_html(answer.text).find("input", name="next").get("value") == "/"


def test_a_form_from_before_signing_in_again_keeps_what_was_typed(
        signed_in: SignedIn, london: Database) -> None:
    # Signing in again (in another tab) gives the browser a new form token, so a page loaded
    # before sends an old one: it was "the form has expired", what was typed gone.
    browser = signed_in("lead", "E09000002", html=True)
    browser.csrf = None  # only the form's own (old) token is sent, as a browser sends it
    typed = "Arrears fell by a fifth after the first letters went out."
    answer = browser.post("/projects/bd-one-view-phase-2/comments",
                          data={"csrf_token": "a-token-from-before", "body": typed},
                          headers={"Referer": "http://testserver/projects/bd-one-view-phase-2"},
                          follow_redirects=False)
    assert answer.status_code == 403
    page = parse_html(answer.text)
    assert "expired" in page.find("main").text()
    assert typed in [t.text() for t in page.find_all("textarea")]
    back = page.find("a", href="/projects/bd-one-view-phase-2")
    assert back is not None
