"""A backlog page knows how many projects match and where the page before it starts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


SLIDER_MOVES = [{"impact": 0.0, "feasibility": 100.0, "readiness": 0.0},
                {"impact": 61.0, "feasibility": 25.0, "readiness": 14.0},
                {"impact": 10.0, "feasibility": 0.0, "readiness": 90.0}]


@pytest.mark.parametrize("view", ["candidates", "committed", None])
def test_a_whatif_page_shows_what_a_full_reranking_gives(london: Database,
                                                          view: str | None) -> None:
    for weights in SLIDER_MOVES:
        page = ranking.backlog_page(london, view=view, limit=1000, dimension_weights=weights)
        full = ranking.adhoc_rows(london, view=view, samples=0, dimension_weights=weights)
        assert page["rows"] == full and page["total"] == len(full)


def test_a_filtered_whatif_page_keeps_the_full_reranking_s_order(london: Database) -> None:
    weights = SLIDER_MOVES[1]
    full = ranking.adhoc_rows(london, samples=0, dimension_weights=weights)
    for filters in ({"theme": "housing"}, {"q": "DATA"}, {"status": "in_progress"},
                    {"organisation": full[0]["organisation"]}):
        page = ranking.backlog_page(london, view=None, limit=1000, dimension_weights=weights,
                                    **filters)
        key, wanted = next(iter(filters.items()))
        kept = [r for r in full if (wanted.lower() in r["title"].lower()
                                    or wanted.lower() in r["slug"] if key == "q"
                                    else r[key] == wanted)]
        assert page["rows"] == kept and page["total"] == len(kept) > 0


@pytest.mark.parametrize("view", ["candidates", "committed", None])
def test_a_whole_view_s_extent_is_what_counting_its_rows_gives(london: Database,
                                                               view: str | None) -> None:
    run = ranking.ensure_ranking(london)
    with london.read() as session:
        rows = ranking.backlog(session, run, view=view, limit=None)
        ranks = [r["view_position" if view else "position"] for r in rows]
        for after in (0, 1, 3, 4, 10, len(ranks) - 1, len(ranks), len(ranks) + 7):
            earlier = [k for k in ranks if k <= after][::-1]
            counted = {"total": len(ranks), "previous_after": (
                earlier[3] if len(earlier) > 3 else 0) if after > 0 else None}
            assert ranking.backlog_extent(session, run, view=view, after=after,
                                          limit=3) == counted


KEYS = ("residents_benefit", "reach", "cost", "skills")
part = st.floats(0, 40, allow_nan=False)


@st.composite
def stored_rows(draw: st.DrawFn) -> dict:
    """Draw a stored row's composite and contributions (some criteria missing, any order)."""
    keys = draw(st.permutations(KEYS))[: draw(st.integers(0, len(KEYS)))]
    parts = {k: draw(part) for k in keys}
    total = draw(st.one_of(st.none(), st.just(sum(parts.values())), part))
    row = {k: None for k in ranking.BACKLOG_COLUMNS} | {
        "composite": total, "contributions": parts, "blocked_by": [], "unblocks": [],
        "blocked_by_other_view": [],
        # Figures rounded for display: any float, or one next to a half at its places.
        **{name: draw(figure(places)) for name, places in ranking.ROUNDED_FIGURES}}
    return row


def figure(places: int) -> st.SearchStrategy[float | None]:
    """Draw a stored figure: missing, any float, or a few ulps from a half at these places."""
    near_half = st.builds(lambda units, ulps: float(np.nextafter(
        (units + 0.5) / 10**places, np.inf if ulps > 0 else -np.inf)) if ulps else
        (units + 0.5) / 10**places, st.integers(-10**6, 10**6), st.integers(-1, 1))
    return st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False), near_half)


@given(st.lists(stored_rows(), max_size=12))
def test_rows_rounded_together_show_what_each_rounded_alone_shows(rows: list[dict]) -> None:
    assert ranking.api_rows(rows) == [ranking.api_row(row) for row in rows]


@given(st.lists(stored_rows(), max_size=12))
def test_a_stored_page_s_rows_show_what_the_api_shows_of_them(rows: list[dict]) -> None:
    shown = [{k: tuple(v) if isinstance(v, list) else v for k, v in ranking.api_row(row).items()
              if k in ranking.PAGE_FIELDS} for row in rows]
    # Read by place, as the page's query gives them (PAGE_COLUMNS).
    assert ranking.page_rows([tuple(row[c] for c in ranking.PAGE_COLUMNS) for row in rows]) == shown


@pytest.mark.parametrize("view", ["candidates", "committed"])
def test_sliders_at_the_profile_s_own_weights_show_the_stored_ranking(london: Database,
                                                                      view: str) -> None:
    stored = ranking.backlog_page(london, view=view, limit=1000)
    own = {"impact": 50.0, "feasibility": 30.0, "readiness": 20.0}  # CDO default's
    whatif = ranking.backlog_page(london, view=view, limit=1000, dimension_weights=own)
    sampled = ("p_top_k", "rank_interval", "fragile")  # robustness: the stored run's alone
    # A stored page holds only what it shows (ranking.PAGE_FIELDS): the contributions (its why
    # loads from its own URL) are compared with the stored run's as the API gives them.
    # A stored page's rows hold tuples where a re-ranked page's hold lists (ranking.page_rows).
    assert all(list(r) == list(ranking.PAGE_FIELDS) for r in stored["rows"])
    assert [{k: r[k] for k in ranking.PAGE_FIELDS if k not in sampled}
            for r in whatif["rows"]] == [
        {k: list(v) if isinstance(v, tuple) else v for k, v in r.items() if k not in sampled}
        for r in stored["rows"]]
    assert whatif["total"] == stored["total"] > 0
    _run, api = ranking.ranked_rows(london, view=view)
    assert [r["contributions"] for r in whatif["rows"]] == [r["contributions"] for r in api]


def test_a_filtered_stored_page_holds_exactly_the_matching_rows_in_order(
    london: Database,
) -> None:
    everything = ranking.backlog_page(london, view=None, limit=1000)["rows"]
    for filters in ({"theme": "housing"}, {"q": "DATA"}, {"status": "in_progress"},
                    {"organisation": everything[0]["organisation"]},
                    {"theme": "housing", "q": "a"}):
        page = ranking.backlog_page(london, view=None, limit=1000, **filters)
        kept = [r for r in everything
                if all((wanted.lower() in r["title"].lower() or wanted.lower() in r["slug"])
                       if key == "q" else r[key] == wanted for key, wanted in filters.items())]
        assert page["rows"] == kept and page["total"] == len(kept) > 0
        second = ranking.backlog_page(london, view=None, limit=2, after=kept[1]["order"],
                                      **filters)
        assert second["rows"] == kept[2:4] and second["previous_after"] == 0


def test_each_view_keeps_its_own_size_once_pages_of_both_were_shown(london: Database) -> None:
    # Unseen pages take a view's size from the run's first page of that view, per worker.
    first = {view: ranking.backlog_page(london, view=view, limit=5)["total"]
             for view in ("candidates", "committed", None)}
    later = {view: ranking.backlog_page(london, view=view, limit=5, after=2)["total"]
             for view in ("candidates", "committed", None)}
    everything = {view: len(ranking.backlog_page(london, view=view, limit=1000)["rows"])
                  for view in ("candidates", "committed", None)}
    assert first == later == everything
    assert len(set(everything.values())) == 3
