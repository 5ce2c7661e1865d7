"""A page offers only what its user may do: no form or htmx control it serves is refused as
not allowed when that user sends it.

For each role, every HTML page is fetched once, every form posting somewhere and every element
with hx-post/hx-put/hx-delete is gathered, and each distinct (method, action) is sent as the
page would send it: a form with its own fields and the CSRF token it carries, an htmx control
with the X-CSRF-Token header the page's `hx-headers` gives htmx. A 403 is an offered control
that is refused; anything else (422, 409, 303, 200...) is fine here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.factories import make_organisation
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import Element, parse_html
from tests.web.test_permissions import FRAMEWORK_PUBLIC, HEAVY, fill, routes
from web.app import create_app

ROLES = {"admin": None, "cdo": None, "lead": "E09000002", "researcher": None}
# Actions not replayed, each with why.
UNSAFE = {
    "/logout": "signing out ends the session the rest of the crawl uses",
    "/account/sessions/end": "ending all sessions ends the crawl's own session too",
}
# GET routes that are not pages: files, downloads, health probes and sign-in hand-offs.
NOT_PAGES = re.compile(r"^/static/|download|export|\.csv$|\.xlsx$|\.pdf$|/healthz$|/readyz$|"
                       r"^/login|^/logout$|/unsubscribe$|^/pick/")
HTMX_VERBS = ("post", "put", "delete")
# Beyond test_permissions' SAMPLES (the lead's own project bd-one-view-phase-2): pages of things
# the lead's organisation owns, is a partner or party in, and does not touch at all, since what a
# page offers differs between them. {code} names a dataset, or an agreement under /agreements.
VARIANTS: list[dict[str, str]] = [
    {},
    {"slug": "bd-one-view", "code": "bd-council-tax-accounts",  # delivered, Barking's own
     "agreement": "bd-childrens-social-care-vru"},  # Barking is a party
    {"slug": "newham-property-licensing-enforcement"},  # Barking is a partner
    {"slug": "camden-residents-index-refresh",  # Camden's: Barking is not involved
     "code": "english-indices-of-deprivation-2019", "agreement": "london-street-works-dsa"},
]


@pytest.fixture
def backend() -> str:
    """SQLite only: this checks what pages offer against the web layer's rules."""
    return "sqlite"


@dataclass
class Control:
    """One thing a page offers to send: where, how, with which fields and headers."""

    page: str
    method: str
    action: str
    data: list[tuple[str, str]] = field(default_factory=list)
    typed: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def filled(path: str, variant: dict[str, str]) -> str:
    """A route's path with a variant's parameters, then test_permissions' SAMPLES."""
    names = dict(variant)
    if "agreement" in names and "agreement" in path:
        names["code"] = names["agreement"]
    return fill(re.sub(r"\{(\w+)(?::\w+)?\}",
                       lambda m: names.get(m.group(1), m.group(0)), path))


def page_paths() -> list[str]:
    """Each distinct HTML page route, filled with each variant's parameters."""
    seen: dict[str, None] = {}
    for route in routes():
        if "GET" not in route.methods or route.path.startswith("/api/"):
            continue
        if route.path in FRAMEWORK_PUBLIC | HEAVY or NOT_PAGES.search(route.path):
            continue
        for variant in VARIANTS:
            seen.setdefault(filled(route.path, variant))
    return list(seen)


def html_pages(client: Browser) -> Iterator[tuple[str, str]]:
    """Each page of `page_paths` this client is shown as HTML: (its path, its text)."""
    for page in page_paths():
        answer = client.get(page, follow_redirects=False)
        if answer.status_code == 200 and "text/html" in answer.headers.get("content-type", ""):
            yield page, answer.text


# What a user would type into an empty field, by its type: a second try after a 422, so a
# refusal checked after the input is not hidden behind "this field is required".
TYPED = {"email": "crawl@example.london", "url": "https://example.org/crawl",
         "number": "1", "date": "2030-01-01", "month": "2030-01",
         "password": "crawl-password-0123456789"}


def form_fields(form: Element, *, typed: bool = False) -> list[tuple[str, str]]:
    """The name/value pairs a browser sends for a form (its first named submit button too);
    typed, with the empty fields filled in as a user would."""
    pairs: list[tuple[str, str]] = []
    submitter = False
    for element in form.iter():
        name = element.get("name")
        if not name or element.get("disabled") is not None:
            continue
        if element.tag == "input":
            kind = (element.get("type") or "text").lower()
            if kind in {"checkbox", "radio"}:
                if element.get("checked") is not None:
                    pairs.append((name, element.get("value") or "on"))
            elif kind in {"submit", "image"}:
                if not submitter:
                    submitter = True
                    pairs.append((name, element.get("value") or ""))
            elif kind not in {"file", "reset", "button"}:
                value = element.get("value") or ""
                if typed and not value and kind != "hidden":
                    value = element.get("min") or TYPED.get(kind, "Crawl test")
                pairs.append((name, value))
        elif element.tag == "textarea":
            pairs.append((name, element.node.text or ("Crawl test" if typed else "")))
        elif element.tag == "select":
            options = element.find_all("option")
            chosen = [o for o in options if o.get("selected") is not None] or options[:1]
            values = [o.get("value", o.text()) or "" for o in chosen]
            if typed and values in ([], [""]):
                values = [v for o in options if (v := o.get("value", o.text()) or "")][:1]
            pairs.extend((name, value) for value in values)
        elif element.tag == "button" and (element.get("type") or "submit") == "submit":
            if not submitter and not element.get("formaction"):
                submitter = True
                pairs.append((name, element.get("value") or ""))
    return pairs


def file_fields(form: Element | None) -> list[str]:
    """The names of a form's file inputs."""
    return [] if form is None else [
        e.get("name") or "" for e in form.find_all("input", type="file") if e.get("name")]


def enclosing_form(element: Element) -> Element | None:
    at: Element | None = element
    while at is not None and at.tag != "form":
        at = at.parent
    return at


def htmx_csrf(document: Element, element: Element) -> str | None:
    """The X-CSRF-Token htmx sends: the nearest hx-headers (the page's <body>)."""
    at: Element | None = element
    while at is not None:
        if at.get("hx-headers"):
            token = json.loads(at.get("hx-headers") or "{}").get("X-CSRF-Token")
            if token:
                return str(token)
        at = at.parent
    body = document.find("body")
    headers = json.loads(body.get("hx-headers") or "{}") if body else {}
    return headers.get("X-CSRF-Token")


def htmx_values(document: Element, element: Element, *,
                typed: bool = False) -> list[tuple[str, str]]:
    """What htmx sends with a non-GET request: the enclosing form, hx-include, hx-vals."""
    pairs: list[tuple[str, str]] = []
    form = enclosing_form(element)
    if form is not None:
        pairs.extend(form_fields(form, typed=typed))
    elif element.get("name"):
        pairs.append((element.get("name") or "", element.get("value") or ""))
    for selector in (element.get("hx-include") or "").split(","):
        selector = selector.strip()
        if selector.startswith("#"):
            included = document.find(id=selector[1:])
            if included is not None and included.get("name"):
                value = (included.node.text or "" if included.tag == "textarea"
                         else included.get("value") or "")
                pairs.append((included.get("name") or "", value))
    if element.get("hx-vals"):
        pairs.extend((k, str(v)) for k, v in json.loads(element.get("hx-vals") or "{}").items())
    return pairs


def offered(page: str, text: str) -> Iterator[Control]:
    """Every form posting and every hx-post/put/delete control on a page."""
    document = parse_html(text)
    for form in document.find_all("form"):
        if (form.get("method") or "get").lower() == "post":
            action = urljoin(page, form.get("action") or page)
            yield Control(page, "POST", action, form_fields(form),
                          form_fields(form, typed=True), file_fields(form))
        for button in form.find_all():
            if button.get("formaction") and (button.get("formmethod") or "").lower() == "post":
                yield Control(page, "POST", urljoin(page, button.get("formaction") or ""),
                              form_fields(form), form_fields(form, typed=True),
                              file_fields(form))
    for element in document.iter():
        for verb in HTMX_VERBS:
            url = element.get(f"hx-{verb}")
            if url is None:
                continue
            token = htmx_csrf(document, element)
            yield Control(page, verb.upper(), urljoin(page, url or page),
                          htmx_values(document, element),
                          htmx_values(document, element, typed=True),
                          file_fields(enclosing_form(element)),
                          {"X-CSRF-Token": token} if token else {})


def send(client: Browser, control: Control, *,  # type: ignore[no-untyped-def]
         typed: bool = False):
    """Send a control as the browser would: no header the page would not send; typed, with
    its empty fields filled in and a small text file in each file input."""
    fields = control.typed if typed else control.data
    held, client.csrf = client.csrf, None
    try:
        kwargs: dict = {"headers": {"HX-Request": "true", **control.headers}
                        if control.headers else {}, "follow_redirects": False}
        if control.method == "DELETE":
            query = urlencode(fields)
            url = control.action + (("&" if "?" in control.action else "?") + query
                                    if query else "")
            return client.request("DELETE", url, **kwargs)
        data: dict[str, list[str]] = {}
        for name, value in fields:
            data.setdefault(name, []).append(value)
        if typed and control.files:
            kwargs["files"] = {name: ("crawl.txt", b"crawl", "text/plain")
                               for name in control.files}
        return client.request(control.method, control.action, data=data, **kwargs)
    finally:
        client.csrf = held


def reason(answer) -> str:  # type: ignore[no-untyped-def]
    """The refusal's words: the JSON detail, or the page's error message."""
    if "json" in answer.headers.get("content-type", ""):
        return str(answer.json().get("detail"))
    page = parse_html(answer.text)
    message = page.find(class_="error") or page.find("main") or page
    return message.text()[:200]


@pytest.mark.parametrize("role", list(ROLES))
def test_no_page_offers_a_control_its_user_is_refused(
    role: str, settings: Settings, london: Database,
) -> None:
    app = create_app(settings)
    with Browser(app, headers={"accept": "text/html"}, raise_server_exceptions=False) as client:
        sign_in(client, london, role, ROLES[role])
        # Something behind /snapshots/1 and /account/tokens/1/revoke (SAMPLES' ids).
        assert client.post("/snapshots", data={"label": "crawl"},
                           follow_redirects=False).status_code == 303
        assert client.post("/account/tokens", data={"name": "crawl", "days": "7"},
                           follow_redirects=False).status_code == 303
        controls: dict[tuple[str, str], Control] = {}
        for page, text in html_pages(client):
            for control in offered(page, text):
                key = (control.method, urlsplit(control.action).path)
                controls.setdefault(key, control)
        assert len(controls) > 5, f"the crawl found too few controls: {sorted(controls)}"
        refused = []
        for (method, path), control in sorted(controls.items()):
            if path in UNSAFE:
                continue
            answer = send(client, control)
            if answer.status_code in {400, 422}:
                answer = send(client, control, typed=True)
            if answer.status_code == 403 or answer.status_code >= 500:
                refused.append(f"{control.page} offers {role} {method} {control.action}: "
                               f"{answer.status_code} {reason(answer)!r}")
            # A crawl signed out part-way would see every later control sent to sign in.
            assert not answer.headers.get("location", "").startswith("/login"), (
                f"{method} {control.action} ended {role}'s session: add it to UNSAFE")
        assert client.get("/account", follow_redirects=False).status_code == 200
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize(("role", "offered"), [("researcher", False), ("lead", True)])
def test_the_empty_dashboard_offers_registering_only_to_who_may(
    role: str, offered: bool, settings: Settings, db: Database,
) -> None:
    # Review: "Register the first project" led a researcher to a 403.
    from seeds.loader import load_reference

    with db.write() as session:
        load_reference(session)  # criteria and profiles: a portfolio with no project yet
        make_organisation(session, "E09000002", name="Barking and Dagenham")
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, db, role, ROLES[role])
        page = parse_html(client.get("/dashboard").text)
    assert "The portfolio is empty" in page.text()
    links = [a.get("href") for a in page.find("main").find_all("a")]
    assert ("/projects/new" in links) is offered
