"""Links the pages draw from route names lead to pages, not to the API's JSON."""

from __future__ import annotations

import re

from tests.web.conftest import SignedIn


def test_the_headers_collaboration_link_opens_the_collaboration_page(
        signed_in: SignedIn) -> None:
    browser = signed_in("researcher", html=True)
    header = browser.get("/backlog").text
    link = re.search(r'<a href="([^"]+)"[^>]*>Collaboration</a>', header)
    assert link is not None and link.group(1) == "/collaboration"
    page = browser.get(link.group(1))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_the_collaboration_filters_and_a_dismissal_stay_on_the_page(
        signed_in: SignedIn) -> None:
    page = signed_in("admin", html=True).get("/collaboration").text
    form = re.search(r'<form method="get" action="([^"]+)"[^>]*hx-get="([^"]+)"', page)
    assert form is not None and form.groups() == ("/collaboration", "/collaboration")
