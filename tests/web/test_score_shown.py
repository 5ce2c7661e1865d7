"""Every page shows a score by DESIGN's one rule: round(score * 100) / 100, at 2 decimals.

Found in review: the plan page took Python's round(score, 2) and the over-time page printf's
'%.2f', so a score of 64.175 showed as 64.17 there and 64.18 in the ranking, the API and the
snapshot comparison.
"""

from __future__ import annotations

import pytest

from web.pages_common import templates

SHOWN = [(64.175, "64.18"), (2.675, "2.68"), (0.125, "0.12"), (72.75, "72.75"), (None, "—")]


@pytest.mark.parametrize(("score", "shown"), SHOWN)
def test_the_score_filter_follows_design(score: float | None, shown: str) -> None:
    assert templates.env.filters["score"](score) == shown


@pytest.mark.parametrize("template", ["_project_over_time.html", "plan.html"])
def test_the_pages_that_show_a_score_use_the_filter(template: str) -> None:
    source = templates.env.loader.get_source(templates.env, template)[0]  # type: ignore[union-attr]
    assert "|score" in source
    assert "format(p.score)" not in source and "format(r.score)" not in source


def test_the_plan_and_the_review_queue_keep_the_score_as_stored() -> None:
    # Rounded once, where it is shown: a score rounded before it reaches the page is rounded
    # twice, by two rules.
    import inspect

    from portfolio.services import reviews, scenarios

    for module in (scenarios, reviews):
        source = inspect.getsource(module)
        assert "round(float(value), 2)" not in source and "round(composite, 2)" not in source


def test_no_page_prints_a_score_with_printf() -> None:
    # Found in review: the board pack printed its candidates' scores at 1 decimal ('%.1f'), and
    # the dashboard, the Why? panel and a snapshot's page at 2 by printf, which shows 64.175 as
    # 64.17 where the backlog shows 64.18.
    import re

    loader = templates.env.loader
    assert loader is not None
    printed = re.compile(r"format\(\w+\.score\)")
    # A similarity (0 to 1) is not a score of the ranking: its own places are its own.
    offenders = [name for name in loader.list_templates() if name != "project_similar.html"
                 and printed.search(loader.get_source(templates.env, name)[0])]
    assert offenders == []

