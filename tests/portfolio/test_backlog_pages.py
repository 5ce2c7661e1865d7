"""A backlog page knows how many projects match and where the page before it starts."""

from __future__ import annotations

import pytest

from portfolio.db import Database
from portfolio.services import ranking


@pytest.fixture(autouse=True)
def fewer_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank with fewer robustness samples: these tests are about pages, not robustness."""
    monkeypatch.setattr(ranking, "DEFAULT_SAMPLES", 60)


@pytest.mark.parametrize("whatif", [None, {"impact": 50.0, "feasibility": 30.0,
                                           "readiness": 20.0}])
def test_the_third_page_counts_every_match_and_goes_back_to_the_second(
    london: Database, whatif: dict | None,
) -> None:
    pages = [ranking.backlog_page(london, view="candidates", limit=10, dimension_weights=whatif)]
    while pages[-1]["next_after"] and len(pages) < 3:
        pages.append(ranking.backlog_page(london, view="candidates", limit=10,
                                          after=pages[-1]["next_after"],
                                          dimension_weights=whatif))
    assert len(pages) == 3
    everything = ranking.backlog_page(london, view="candidates", limit=1000,
                                      dimension_weights=whatif)
    assert {p["total"] for p in pages} == {len(everything["rows"])}
    assert pages[0]["previous_after"] is None and pages[1]["previous_after"] == 0
    # The third page's "previous" is where the second page started.
    assert pages[2]["previous_after"] == pages[0]["next_after"]
    back = ranking.backlog_page(london, view="candidates", limit=10,
                                after=pages[2]["previous_after"], dimension_weights=whatif)
    assert [r["slug"] for r in back["rows"]] == [r["slug"] for r in pages[1]["rows"]]


def test_a_filtered_page_counts_only_its_matches(london: Database) -> None:
    page = ranking.backlog_page(london, view="candidates", theme="housing", limit=5)
    everything = ranking.backlog_page(london, view="candidates", theme="housing", limit=1000)
    assert page["total"] == len(everything["rows"]) > 0
