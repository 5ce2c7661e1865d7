"""A form refused shows what is wrong: the page again, with a summary that takes focus.

For each role, every plain form (not htmx) that posts somewhere on every page is sent as the
page would send it, empty, then with its empty fields filled in as a user would. An answer
of 400, 409 or 422 must be the page again with an error summary (`.error-summary`, or for a
clash `.notice.conflict`, which app.js focuses), not a dead end that drops what was typed.
A 303 or 200 is fine here; a 403 is test_pages_offer_only_allowed's to find, a 404 a thing an
earlier send removed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import parse_html
from tests.web.test_pages_offer_only_allowed import (
    ROLES,
    UNSAFE,
    Control,
    html_pages,
    offered,
    send,
)
from web.app import create_app

REFUSED = {400, 409, 422}


@pytest.fixture
def backend() -> str:
    """SQLite only: this checks the pages' answers, the web layer's work."""
    return "sqlite"


def says_why(text: str) -> bool:
    """Whether a page carries an error summary that takes focus, naming at least one problem
    (a clash with someone else's change is summed up in a conflict notice)."""
    page = parse_html(text)
    summary = page.find(class_="error-summary") or page.find(class_="conflict")
    return (summary is not None and summary.get("tabindex") == "-1"
            and bool(summary.text().strip()))


@pytest.mark.parametrize("role", list(ROLES))
def test_a_refused_form_comes_back_with_a_summary_of_what_is_wrong(
        role: str, settings: Settings, london: Database) -> None:
    app = create_app(settings)
    with Browser(app, headers={"accept": "text/html"}, raise_server_exceptions=False) as client:
        sign_in(client, london, role, ROLES[role])
        forms: dict[str, Control] = {}
        for page, text in html_pages(client):
            for control in offered(page, text):
                if control.method == "POST" and not control.headers:  # a plain form
                    forms.setdefault(urlsplit(control.action).path, control)
        assert len(forms) > 5, f"the crawl found too few forms: {sorted(forms)}"
        dead_ends = []
        for path, control in sorted(forms.items()):
            if path in UNSAFE:
                continue
            for typed in (False, True):
                answer = send(client, control, typed=typed)
                if answer.status_code in REFUSED and not says_why(answer.text):
                    dead_ends.append(f"{control.page}: {path} {'typed' if typed else 'empty'} "
                                     f"-> {answer.status_code} with no error summary")
    assert not dead_ends, "\n".join(dead_ends)
