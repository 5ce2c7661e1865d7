"""The backlog's ranked table, written in Python: what each row says, escaped and linked."""

from __future__ import annotations

from typing import Any

from lxml import html as lxml_html
from starlette.requests import Request

from portfolio.settings import Settings
from scoring.criteria import DIMENSIONS
from web.app import create_app
from web.backlog_table import ranking_table

APP = create_app(Settings(database_url="sqlite:///:memory:", environment="test",
                          secret_key="x" * 32))
REQUEST = Request({"type": "http", "app": APP, "path": "/backlog", "query_string": b"",
                   "headers": [], "router": APP.router})


def row(**changes: Any) -> dict[str, Any]:
    """Return a page row as the backlog service gives it."""
    return {
        "rank": 3, "view": "candidates", "slug": "tom-and-jerry", "title": "Tom & Jerry <b>",
        "organisation_name": "Barking & Dagenham", "score": 61.25,
        "dimensions": {d: 50.0 + i for i, d in enumerate(DIMENSIONS)},
        "score_status": "scored", "mandatory": False, "effective_mandatory": False,
        "override": False, "blocked_by": [], "blocked_by_other_view": [],
        "rank_interval": [2, 9], "p_top_k": 0.875, "fragile": False, "overdue": False,
        **changes}


def table(rows: list[dict[str, Any]], *, whatif: bool = False,
          profile: str | None = "Mayor's <plan>") -> Any:
    """Render rows and parse the table."""
    drawn = ranking_table(REQUEST, rows, whatif=whatif, profile=profile, view="candidates",
                          why_panel=lambda: lambda r: f"<p>why {r['rank']}</p>")
    return lxml_html.fragment_fromstring(str(drawn))


def test_a_row_says_its_rank_title_organisation_figures_and_robustness() -> None:
    cells = table([row()]).xpath("//tbody/tr[@data-slug='tom-and-jerry']/td")
    texts = [cell.text_content().strip() for cell in cells]
    assert texts[:4] == ["3", "Tom & Jerry <b>", "Barking & Dagenham", "61.25"]
    assert texts[4:4 + len(DIMENSIONS)] == [f"{50 + i}" for i in range(len(DIMENSIONS))]
    assert texts[4 + len(DIMENSIONS)] == "none"
    assert " ".join(texts[5 + len(DIMENSIONS)].split()) == "stable top-10 88%, ranks 2–9"
    assert cells[1].xpath("a/@href") == ["/projects/tom-and-jerry"]


def test_text_is_escaped_and_the_why_link_carries_the_profile_quoted() -> None:
    drawn = table([row(blocked_by=["a"], blocked_by_other_view=["x<y", "z&w"])])
    assert not drawn.xpath("//b")  # the title's markup is text, not an element
    why = drawn.xpath("//a[@class='why-toggle']")[0]
    assert why.get("href") == "/projects/tom-and-jerry/why?profile=Mayor%27s%20%3Cplan%3E"
    assert why.get("hx-get") == why.get("href")
    waits = drawn.xpath("//span[@class='meta'][@title]")[0]
    assert waits.get("title") == "x<y, z&w" and waits.text == "waits on committed work"


def test_missing_figures_show_a_dash_and_badges_say_why() -> None:
    cells = table([row(score=None, dimensions={d: None for d in DIMENSIONS},
                       score_status="unweighted", override=True, rank_interval=None,
                       mandatory=False, effective_mandatory=True)]).xpath("//tbody/tr[1]/td")
    assert [c.text_content().strip() for c in cells[3:4 + len(DIMENSIONS)]] == \
        ["—"] * (1 + len(DIMENSIONS))
    badges = [b.text for b in cells[1].xpath("span[contains(@class, 'badge')]")]
    assert badges == ["blocks mandatory", "override", "not weighted"]
    assert cells[5 + len(DIMENSIONS)].text_content().strip() == "—"


def test_a_whatif_row_carries_its_why_and_a_stored_row_loads_it() -> None:
    header = len(table([row()]).xpath("//thead//th"))
    for whatif, why in ((True, "why 3"), (False, "Loading why it ranks here…")):
        drawn = table([row()], whatif=whatif)
        panel = drawn.xpath("//tr[@id='why-1']/td")[0]
        assert panel.get("colspan") == str(header)
        assert panel.text_content().strip() == why
        assert (drawn.xpath("//a[@class='why-toggle']/@hx-get") == []) is whatif


def test_quotes_stay_inside_attributes_and_a_profile_is_never_read_as_a_slug() -> None:
    drawn = table([row(slug='say-"hi"', blocked_by=["a"], blocked_by_other_view=['a "b" c'])],
                  profile='odd "__slug__" name')
    tr = drawn.xpath("//tbody/tr")[0]
    assert tr.get("data-slug") == 'say-"hi"'
    assert drawn.xpath("//span[@class='meta'][@title]")[0].get("title") == 'a "b" c'
    why = drawn.xpath("//a[@class='why-toggle']")[0]
    assert why.get("href") == ("/projects/say-%22hi%22/why"
                               "?profile=odd%20%22__slug__%22%20name")
    assert why.get("hx-get") == why.get("href")
