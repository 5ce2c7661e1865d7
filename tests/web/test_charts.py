"""Server-drawn charts: round axis values."""

from __future__ import annotations

from web.charts import budget_curve, nice_ticks


def test_axis_values_are_round_and_span_the_range() -> None:
    assert nice_ticks(0, 1_000_000) == [0, 500_000, 1_000_000]
    assert nice_ticks(0, 73.4) == [0, 20, 40, 60, 80]


def test_the_budget_curve_marks_the_chosen_budget() -> None:
    chart = budget_curve([(0.0, 0.0), (500_000.0, 40.0), (1_000_000.0, 60.0)], 750_000)
    assert chart["marker"]["label"] == "chosen budget £750k"
    assert chart["marker"]["value"] == 40.0
    assert [t["label"] for t in chart["x_ticks"]][-1] == "£1m"
