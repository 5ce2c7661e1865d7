"""A filter given a value that names nothing says so beside the filter, never an empty list."""

from __future__ import annotations

import pytest

from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

# (page, filter, value, the filter's control, what the message says, what the list shows)
PAGES = [
    ("/", "theme", "nonsense", "theme", "There is no theme called 'nonsense'", "<tbody"),
    ("/", "organisation", "ZZZ", "organisation", "no organisation with the code 'ZZZ'",
     "<tbody"),
    ("/", "status", "bogus", "status", "There is no status called 'bogus'", "<tbody"),
    ("/backlog", "theme", "nonsense", "theme", "There is no theme called 'nonsense'",
     "<tbody"),
    ("/backlog", "organisation", "ZZZ", "organisation", "no organisation with the code 'ZZZ'",
     "<tbody"),
    ("/backlog", "status", "in_progress", "status",
     "There is no status in this view called 'in_progress'", "<tbody"),
    # A what-if weight that is no number, or outside 0 to 100, showed a bare error page.
    ("/backlog", "w_impact", "abc", "w_impact", "Enter a weight from 0 to 100", "<tbody"),
    ("/backlog", "w_readiness", "150", "w_readiness", "Enter a weight from 0 to 100",
     "<tbody"),
    ("/datasets", "publisher", "ZZZ", "ds-publisher", "no organisation with the code 'ZZZ'",
     "<tbody"),
    ("/datasets", "access", "bogus", "ds-access", "There is no access level called 'bogus'",
     "<tbody"),
    ("/datasets", "drl", "Z9", "ds-drl", "There is no readiness level called 'Z9'", "<tbody"),
    ("/collaboration", "theme", "nonsense", "c-theme", "There is no theme called 'nonsense'",
     None),
    ("/collaboration", "organisation", "ZZZ", "c-organisation",
     "no organisation with the code 'ZZZ'", None),
    ("/graph", "organisation", "ZZZ", "organisation", "no organisation with the code 'ZZZ'",
     None),
    ("/graph", "theme", "nonsense", "theme", "There is no theme called 'nonsense'", None),
    ("/graph", "kind", "planet", "kind", "There is no kind of node called 'planet'", None),
    ("/agreements", "party", "ZZZ", "ag-party", "no organisation with the code 'ZZZ'",
     "<tbody"),
    ("/agreements", "status", "bogus", "ag-status", "There is no standing called 'bogus'",
     "<tbody"),
]


@pytest.mark.parametrize(("page", "name", "value", "control", "says", "listed"), PAGES,
                         ids=[f"{p[0]}?{p[1]}" for p in PAGES])
def test_a_page_filter_naming_nothing_says_so_beside_it_and_lists_without_it(
    signed_in: SignedIn, page: str, name: str, value: str, control: str, says: str,
    listed: str | None,
) -> None:
    browser = signed_in("researcher", html=True)

    answer = browser.get(page, params={name: value})

    assert answer.status_code == 422, answer.text[:500]
    html = parse_html(answer.text)
    assert says in html.error_for(control)
    summary = html.find(class_="error-summary")
    assert summary is not None and says in summary.text()
    if listed:
        assert listed in answer.text  # the list without the filter, not an empty one


# (API path, filter, value, what the message says)
API = [
    ("/api/v1/projects", "organisation", "ZZZ", "no organisation with the code 'ZZZ'"),
    ("/api/v1/backlog", "organisation", "ZZZ", "no organisation with the code 'ZZZ'"),
    ("/api/v1/backlog", "status", "in_progress",
     "There is no status in this view called 'in_progress'"),
    ("/api/v1/graph", "organisation", "ZZZ", "no organisation with the code 'ZZZ'"),
    ("/api/v1/collaboration", "organisation", "ZZZ", "no organisation with the code 'ZZZ'"),
    ("/api/v1/agreements", "party", "ZZZ", "no organisation with the code 'ZZZ'"),
    ("/api/v1/datasets", "publisher", "ZZZ", "no organisation with the code 'ZZZ'"),
    # Found in review: answered 200 with an empty list.
    ("/api/v1/benefits", "organisation", "ZZZ", "no organisation with the code 'ZZZ'"),
]


@pytest.mark.parametrize(("path", "name", "value", "says"), API,
                         ids=[f"{a[0]}?{a[1]}" for a in API])
def test_an_api_filter_naming_nothing_is_refused_with_why(
    signed_in: SignedIn, path: str, name: str, value: str, says: str,
) -> None:
    browser = signed_in("researcher")

    answer = browser.get(path, params={name: value})

    assert answer.status_code == 422, answer.text[:500]
    assert says in answer.json()["errors"][name]


def test_a_known_organisation_filters_the_api_as_before(signed_in: SignedIn) -> None:
    browser = signed_in("researcher")

    answer = browser.get("/api/v1/projects", params={"organisation": "E09000007"})

    assert answer.status_code == 200
    assert answer.json() and {p["organisation"] for p in answer.json()} == {"E09000007"}


def test_a_backlog_profile_naming_nothing_is_said_beside_the_profile_over_the_first_ranking(
    signed_in: SignedIn,
) -> None:
    # It answered the "Not found" page: the backlog, its filters and tabs all gone.
    browser = signed_in("researcher", html=True)

    answer = browser.get("/backlog", params={"profile": "nonsense"})

    assert answer.status_code == 422, answer.text[:500]
    html = parse_html(answer.text)
    assert "There is no weight profile called 'nonsense'" in html.error_for("profile")
    assert "<tbody" in answer.text  # the first profile's ranking


@pytest.mark.parametrize(("page", "name", "value", "says"), [
    ("/backlog", "view", "bogus", "There is no view called 'bogus'"),
    ("/graph", "view", "bogus", "There is no view called 'bogus'"),
    ("/graph", "layout", "circle", "There is no layout called 'circle'"),
    ("/graph", "colour", "pink", "There is no colouring called 'pink'"),
], ids=["backlog view", "graph view", "graph layout", "graph colour"])
def test_a_view_naming_nothing_is_said_over_the_first_view(
    signed_in: SignedIn, page: str, name: str, value: str, says: str,
) -> None:
    # The backlog and graph answered the bare "Something is wrong with the request" page for
    # a view or layout naming nothing (and took an unknown colouring silently).
    browser = signed_in("researcher", html=True)

    answer = browser.get(page, params={name: value})

    assert answer.status_code == 422, answer.text[:300]
    summary = parse_html(answer.text).find(class_="error-summary")
    assert summary is not None and says in summary.text()
    assert "Something is wrong with the request" not in answer.text


def test_a_dashboard_profile_naming_nothing_is_said_over_the_first_profiles_dashboard(
    signed_in: SignedIn,
) -> None:
    # It answered the "Not found" page in place of the dashboard.
    browser = signed_in("researcher", html=True)

    answer = browser.get("/dashboard", params={"profile": "nonsense"})

    assert answer.status_code == 422, answer.text[:300]
    summary = parse_html(answer.text).find(class_="error-summary")
    assert summary is not None
    assert "There is no weight profile called 'nonsense'" in summary.text()
    assert "Portfolio at a glance" in answer.text
