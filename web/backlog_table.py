"""The backlog's ranked table, written in Python: its rows are the page's largest part.

A Jinja template spent about 22 microseconds a row (50 rows, 1.1 ms: a fifth of a page nobody
had opened yet), most of it escaping each of twenty values through Markup. These functions
write the same HTML with f-strings in about a fifth of that (measured). The why panel of a what-if
row stays a template macro (`_why.html`), shared with the project page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from jinja2.utils import url_quote
from markupsafe import Markup
from starlette.requests import Request

from portfolio.enums import DIMENSIONS
from web.templating import path_for

# The columns: rank, project, organisation, score, one per dimension, blocked by, robustness,
# why. A why panel opens under its row across all of them.
COLUMNS = 7 + len(DIMENSIONS)
SLUG = "__slug__"
STATUS_BADGES = {
    "unweighted": ("Its impact is assessed only on criteria this profile weighs at zero, so it "
                   "has no score under this profile", "not weighted"),
    "unscored": ("No impact assessment at all, so no score", "unscored"),
}


def ranking_table(request: Request, rows: Sequence[Mapping[str, Any]], *, whatif: bool,
                  profile: str | None, view: str | None,
                  why_panel: Callable[[], Callable[[Any], str]]) -> Markup:
    """Return the ranked rows as a table; a what-if row carries its why panel inline.

    `why_panel()` gives the function that draws a row's panel, asked for only when a what-if
    table needs it (a stored row's panel loads from its own URL).
    """
    # Each route's path once for the page, escaped, a slug put in per row: a slug quoted for a
    # path holds nothing HTML escapes, so escaping the path with it in gives the same.
    project_path = escape(path_for(request, "project", slug=SLUG))
    why_path = escape(path_for(request, "project_why", slug=SLUG))
    # Put after the slug is: a profile's name may hold anything, "__slug__" too.
    profile_query = escape("?profile=" + url_quote(profile or ""))
    panel = why_panel() if whatif else None
    body = "".join(
        _row(row, number, project_path, (why_path, profile_query), whatif,
             panel(row) if panel is not None else None)
        for number, row in enumerate(rows, 1))
    return Markup(f'<table class="backlog">\n  <thead><tr>\n    {_head(view)}\n  </tr></thead>\n'
                  f'  <tbody>{body}\n  </tbody>\n</table>')


def _head(view: str | None) -> str:
    """Return the header cells."""
    dimensions = "".join(f'<th scope="col" class="num">{d.capitalize()}</th>'
                         for d in DIMENSIONS)
    return (f'<th scope="col" title="Place among the {escape(view or "active projects")}">Rank'
            '</th><th scope="col">Project</th><th scope="col">Organisation</th>'
            f'<th scope="col" class="num">Score</th>{dimensions}'
            '<th scope="col">Blocked by</th><th scope="col">Robustness</th>'
            '<th scope="col">Why</th>')


def _row(r: Mapping[str, Any], number: int, project_path: str, why: tuple[str, str],
         whatif: bool, panel: str | None) -> str:
    """Return one project's row and the hidden row its why panel opens in."""
    slug = quote(r["slug"], safe="")  # as path_for puts a parameter in a path
    title = escape(r["title"])
    why_path, profile_query = why
    why_url = why_path.replace(SLUG, slug) + profile_query
    loads = ("" if whatif else f' hx-get="{why_url}" hx-trigger="click once" '
             f'hx-target="#why-{number} .why" hx-push-url="false"')
    shown = panel if panel is not None else '<p class="meta">Loading why it ranks here…</p>'
    return (
        f'\n    <tr data-slug="{escape(r["slug"])}">'
        f'\n      <td class="num">{r["rank"]}</td>'
        f'\n      <td><a href="{project_path.replace(SLUG, slug)}">{title}</a>'
        f'{_badges(r)}</td>'
        f'\n      <td>{escape(r["organisation_name"])}</td>'
        f'\n      <td class="num">{_figure(r["score"], "%.2f")}</td>'
        f'\n      {_dimension_cells(r["dimensions"])}'
        f'\n      <td>{_blocked_by(r)}</td>'
        f'\n      <td>{_robustness(r)}</td>'
        f'\n      <td><a class="why-toggle" href="{why_url}" role="button" aria-expanded="false" '
        f'aria-controls="why-{number}"{loads}>Why?<span class="visually-hidden"> {title}</span>'
        '</a></td>\n    </tr>'
        f'\n    <tr class="why-row" id="why-{number}" hidden>'
        f'\n      <td colspan="{COLUMNS}"><div class="why">{shown}</div></td>\n    </tr>')


def _figure(value: float | None, form: str) -> str:
    """Return a figure as shown, or a dash where there is none."""
    return "—" if value is None else form % value


def _dimension_cells(dimensions: Mapping[str, float | None]) -> str:
    """Return a cell per dimension, in the order of the header."""
    return "".join(f'<td class="num">{_figure(dimensions[d], "%.0f")}</td>' for d in DIMENSIONS)


def _badges(r: Mapping[str, Any]) -> str:
    """Return the badges beside a project's title: mandatory, override, overdue, scoring."""
    badges = []
    if r["effective_mandatory"]:
        badges.append('<span class="badge badge-mandatory" title="Mandatory (statutory)">'
                      'mandatory</span>' if r["mandatory"] else
                      '<span class="badge badge-mandatory" title="Blocks mandatory work">'
                      'blocks mandatory</span>')
    if r["override"]:
        badges.append('<span class="badge" title="A manual priority override is in force">'
                      'override</span>')
    if r["overdue"]:
        badges.append('<span class="badge badge-warn" title="In progress past its planned end '
                      'date">overdue</span>')
    status = r["score_status"]
    if status in STATUS_BADGES:
        note, label = STATUS_BADGES[status]
        badges.append(f'<span class="badge badge-muted" title="{note}">{label}</span>')
    elif status != "scored":
        badges.append(f'<span class="badge badge-muted">{escape(status)}</span>')
    return "".join(f"\n        {badge}" for badge in badges)


def _blocked_by(r: Mapping[str, Any]) -> str:
    """Return how many projects a row waits on, and whether any is in the other view."""
    blockers = r["blocked_by"]
    if not blockers:
        return '<span class="meta">none</span>'
    count = f"{len(blockers)} project{'' if len(blockers) == 1 else 's'}"
    other = r["blocked_by_other_view"]
    if not other:
        return count
    waits = "waits on committed work" if r["view"] == "candidates" else "waits on a candidate"
    return f'{count}<br><span class="meta" title="{escape(", ".join(other))}">{waits}</span>'


def _robustness(r: Mapping[str, Any]) -> str:
    """Return where the rank shown falls under uncertain weights, and whether it is fragile."""
    interval = r["rank_interval"]
    if not interval:
        return '<span class="meta">—</span>'
    badge = ('<span class="badge badge-warn" title="Rank moves a lot under uncertain weights">'
             'fragile</span>' if r["fragile"] else '<span class="badge badge-good">stable</span>')
    return (f'{badge}\n        <span class="meta">top-10 {"%.0f" % (r["p_top_k"] * 100)}%, '
            f'ranks {interval[0]}–{interval[1]}</span>')
