"""Geometry of the roadmap's timeline and capacity chart, drawn as SVG by the template."""

from __future__ import annotations

from datetime import date
from typing import Any

LABEL_W, ROW_H, BAR_H, HEAD_H, GROUP_H = 260, 18, 12, 28, 22
CELL_H = 30


def _quarter_width(horizon: int) -> float:
    """Return the width of one quarter so the chart stays about 1,000 pixels wide."""
    return max(36.0, min(110.0, 840.0 / max(horizon, 1)))


def _today_x(today: date, first: date, qw: float) -> float:
    """Return today's position inside the first quarter."""
    month0 = first.month
    end = date(first.year + (1 if month0 == 10 else 0), 1 if month0 == 10 else month0 + 3, 1)
    share = (today - first).days / max((end - first).days, 1)
    return LABEL_W + qw * min(max(share, 0.0), 1.0)


def timeline(roadmap: dict[str, Any], *, group: str = "organisation") -> dict[str, Any]:
    """Lay out committed and proposed projects as bars by quarter, grouped, with arrows."""
    horizon = roadmap["horizon"]
    qw = _quarter_width(horizon)
    key = "theme" if group == "theme" else "owner_name"
    items = [dict(s, kind="committed") for s in roadmap["committed"]] + [
        dict(s, kind="proposed") for s in roadmap["starts"]]
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(str(item[key] or "(none)"), []).append(item)
    y = HEAD_H
    rows: list[dict[str, Any]] = []
    headings: list[dict[str, Any]] = []
    where: dict[str, tuple[float, float, float]] = {}
    for name in sorted(groups):
        headings.append({"y": y + GROUP_H - 7, "label": name.replace("_", " ").capitalize()
                         if group == "theme" else name})
        y += GROUP_H
        for item in sorted(groups[name], key=lambda s: (s["kind"] != "committed",
                                                         s["start_index"], s["title"])):
            first_q = max(item["start_index"], 0)
            last_q = min(item["start_index"] + item["duration"] - 1, horizon - 1)
            x0 = LABEL_W + qw * first_q + 1
            x1 = LABEL_W + qw * (last_q + 1) - 1
            rows.append({
                **item, "y": y, "bar_y": y + (ROW_H - BAR_H) / 2, "x": x0,
                "w": max(x1 - x0, 2.0), "earlier": item["start_index"] < 0,
                "later": item["start_index"] + item["duration"] > horizon,
                "name": item["title"] if len(item["title"]) <= 38 else item["title"][:36] + "…",
                "label": (f"{item['title']} ({item['owner_name']}): "
                          f"{'committed' if item['kind'] == 'committed' else 'proposed'}, "
                          f"{item['start']} to {item['end']}"),
            })
            where[item["slug"]] = (x0, x1, y + ROW_H / 2)
            y += ROW_H
    arrows = []
    for project, prerequisite in roadmap["dependencies"]:
        if project in where and prerequisite in where:
            _, end_x, from_y = where[prerequisite]
            start_x, _, to_y = where[project]
            mid = max(end_x + 6, start_x - 6)
            arrows.append({"d": f"M{end_x:.1f},{from_y:.1f} H{mid:.1f} V{to_y:.1f} "
                                f"H{start_x - 2:.1f}"})
    height = y + 8
    today = date.fromisoformat(roadmap["today"])
    first = date.fromisoformat(roadmap["first_quarter"])
    return {
        "width": LABEL_W + qw * horizon + 10, "height": height, "qw": qw, "label_w": LABEL_W,
        "row_h": ROW_H, "bar_h": BAR_H, "head_h": HEAD_H,
        "quarters": [{"x": LABEL_W + qw * i, "label": q} for i, q in
                     enumerate(roadmap["quarters"])],
        "rows": rows, "headings": headings, "arrows": arrows,
        "today_x": _today_x(today, first, qw),
    }


def capacity_chart(roadmap: dict[str, Any]) -> dict[str, Any]:
    """Lay out each organisation's use against its capacity per quarter, overloads marked."""
    horizon = roadmap["horizon"]
    qw = _quarter_width(horizon)
    names = roadmap["organisation_names"]
    orgs = sorted(roadmap["capacity"], key=lambda o: names.get(o, o))
    rows = []
    y = HEAD_H
    for org in orgs:
        caps = roadmap["capacity"][org]
        used = roadmap["capacity_used"].get(org, [0.0] * horizon)
        cells = []
        for q in range(horizon):
            cap, use = caps[q], used[q]
            if cap is None:
                share, over = None, False
            else:
                share = use / cap if cap > 0 else (0.0 if use <= 1e-9 else 2.0)
                over = use > cap + 1e-6
            bar = 0.0 if share is None else min(share, 1.2) / 1.2 * (CELL_H - 6)
            cells.append({
                "x": LABEL_W + qw * q + 3, "w": qw - 6, "bar_h": bar,
                "bar_y": y + CELL_H - 3 - bar, "over": over, "share": share,
                "cap_y": y + CELL_H - 3 - (CELL_H - 6) / 1.2,
                "label": (f"{names.get(org, org)}, {roadmap['quarters'][q]}: {use:,.1f} "
                          + ("person-months, no stated capacity" if cap is None else
                             f"of {cap:,.1f} person-months" + (" (over)" if over else ""))),
            })
        rows.append({"org": org, "name": names.get(org, org), "y": y, "cells": cells,
                     "over": any(c["over"] for c in cells)})
        y += CELL_H + 4
    return {"width": LABEL_W + qw * horizon + 10, "height": y + 6, "rows": rows,
            "label_w": LABEL_W, "cell_h": CELL_H,
            "quarters": [{"x": LABEL_W + qw * i, "label": q} for i, q in
                         enumerate(roadmap["quarters"])]}


PALETTE = ("#1d70b8", "#00703c", "#d4351c", "#f47738", "#4c2c92", "#b58840", "#28a197",
           "#912b88", "#505a5f", "#85994b", "#6f72af", "#0b0c0c", "#f499be")
CHART_W, CHART_H, CHART_PAD = 640, 260, 44


def lines_over_time(series: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Scale series of values per snapshot into SVG polylines on one shared axis."""
    n = len(labels)
    top = max((v for s in series for v in s["values"]), default=0) or 1
    inner_w, inner_h = CHART_W - 2 * CHART_PAD, CHART_H - 2 * CHART_PAD

    def x(i: int) -> float:
        return CHART_PAD + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    out = []
    for k, s in enumerate(series):
        points = [(x(i), CHART_H - CHART_PAD - inner_h * v / top) for i, v in
                  enumerate(s["values"])]
        out.append({"key": s["key"], "colour": PALETTE[k % len(PALETTE)],
                    "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
                    "dots": [{"x": px, "y": py, "value": v, "label": labels[i]}
                             for i, ((px, py), v) in enumerate(zip(points, s["values"],
                                                                    strict=True))]})
    return {"width": CHART_W, "height": CHART_H, "pad": CHART_PAD, "top": top,
            "series": out, "ticks": [{"x": x(i), "label": labels[i]} for i in range(n)]}
