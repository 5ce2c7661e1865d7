"""Server-drawn SVG charts: they need no script, print well and work without JavaScript."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

WIDTH, HEIGHT, PAD = 640, 420, 48


def readiness_colour(readiness: float | None) -> str:
    """Return a colour from red (not ready) through amber to green (ready); grey when unknown."""
    if readiness is None:
        return "#8a8f98"
    stops = [(0.0, (180, 35, 24)), (0.5, (191, 120, 0)), (1.0, (30, 120, 60))]
    r = min(max(readiness / 100.0, 0.0), 1.0)
    for (x0, c0), (x1, c1) in zip(stops, stops[1:], strict=False):
        if r <= x1:
            t = (r - x0) / (x1 - x0)
            rgb = [round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#1e783c"


def bubble_matrix(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Place projects on impact (y) against feasibility (x), area proportional to cost."""
    largest = max((p["cost_gbp"] or 0 for p in points), default=0) or 1
    bubbles = []
    for p in points:
        radius = 4 + 16 * math.sqrt((p["cost_gbp"] or 0) / largest)
        bubbles.append({
            "slug": p["slug"], "title": p["title"],
            "x": PAD + (WIDTH - 2 * PAD) * (p["feasibility"] / 100.0),
            "y": HEIGHT - PAD - (HEIGHT - 2 * PAD) * (p["impact"] / 100.0),
            "r": round(radius, 1), "fill": readiness_colour(p["readiness"]),
            "label": f"{p['title']}: impact {p['impact']:.0f}, feasibility "
                     f"{p['feasibility']:.0f}, cost GBP {p['cost_gbp']:,}, readiness "
                     + ("unknown" if p["readiness"] is None else f"{p['readiness']:.0f}"),
        })
    # Largest first so small bubbles stay clickable on top.
    bubbles.sort(key=lambda b: -b["r"])
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "bubbles": bubbles,
            "ticks": [0, 25, 50, 75, 100]}


def line_chart(points: list[tuple[float, float]]) -> dict[str, Any]:
    """Scale (x, y) points into an SVG polyline with axis maxima."""
    xs = [x for x, _ in points] or [1.0]
    ys = [y for _, y in points] or [1.0]
    x_max, y_max = max(xs) or 1.0, max(ys) or 1.0
    scaled = [(PAD + (WIDTH - 2 * PAD) * x / x_max, HEIGHT - PAD - (HEIGHT - 2 * PAD) * y / y_max)
              for x, y in points]
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "x_max": x_max, "y_max": y_max,
            "polyline": " ".join(f"{x:.1f},{y:.1f}" for x, y in scaled),
            "dots": [{"x": sx, "y": sy, "budget": x, "value": y}
                     for (sx, sy), (x, y) in zip(scaled, points, strict=True)]}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round axis values spanning [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    return [float(v) for v in np.arange(start, high + step * 0.5, step)]


def _pounds(x: float) -> str:
    """Write an amount of money briefly for an axis: £0, £500k, £1.5m."""
    if x >= 1e6:
        return f"£{x / 1e6:,.1f}m".replace(".0m", "m")
    if x >= 1e3:
        return f"£{x / 1e3:,.0f}k"
    return f"£{x:,.0f}"


def budget_curve(points: list[tuple[float, float]], chosen: float) -> dict[str, Any]:
    """Scale the value-against-budget curve with round axis values and a marker at the budget."""
    xs = [x for x, _ in points] + [chosen]
    ys = [y for _, y in points] or [0.0]
    x_ticks = nice_ticks(0.0, max(xs) or 1.0)
    y_ticks = nice_ticks(0.0, max(ys) or 1.0)
    x_max, y_max = max(x_ticks[-1], max(xs)) or 1.0, max(y_ticks[-1], max(ys)) or 1.0

    def sx(x: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * x / x_max

    def sy(y: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * y / y_max

    at_budget = max((y for x, y in points if x <= chosen), default=0.0)
    return {
        "width": WIDTH, "height": HEIGHT, "pad": PAD, "x_max": x_max, "y_max": y_max,
        "polyline": " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points),
        "dots": [{"x": sx(x), "y": sy(y), "budget": x, "value": y} for x, y in points],
        "x_ticks": [{"at": sx(t), "label": _pounds(t)} for t in x_ticks if t <= x_max],
        "y_ticks": [{"at": sy(t), "label": f"{t:,.0f}"} for t in y_ticks if t <= y_max],
        "marker": {"x": sx(chosen), "label": f"chosen budget {_pounds(chosen)}",
                   "value": at_budget},
    }
