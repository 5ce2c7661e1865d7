"""The board pack as a PDF: the same templates and SVG charts, printed by WeasyPrint."""

from __future__ import annotations

from typing import Any

import web.pages_common  # noqa: F401  (registers the label filters the templates use)
from web.templating import templates
from web.timeline import capacity_chart, lines_over_time, timeline


def board_pack_html(data: dict[str, Any]) -> str:
    """Render the board pack's HTML, charts included, with no links to the live site."""
    plan = data["roadmap"]
    labels = [s["label"] for s in data["over_time"]["snapshots"]]
    status_chart = (lines_over_time(data["over_time"]["status"], labels)
                    if labels else None)
    return templates.env.get_template("board_pack.html").render(
        request=None, pack=data, roadmap=plan, tl=timeline(plan), cap=capacity_chart(plan),
        status_chart=status_chart)


def board_pack_pdf(data: dict[str, Any]) -> bytes:
    """Return the board pack as PDF bytes: the same data and date give the same bytes."""
    from weasyprint import HTML  # imported when used: it loads Pango

    return HTML(string=board_pack_html(data)).write_pdf()
