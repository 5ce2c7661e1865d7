"""A comparison of two snapshots as one CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from portfolio.services.snapshots.diff import changed_view
from portfolio.text import neutralise

DIFF_COLUMNS = ["change", "slug", "title", "organisation", "organisation_name", "field",
                "before", "after", "causes"]


# A backlog view as a move between views names it.
VIEW_WORDS = {"candidates": "the candidates", "committed": "committed work"}


def _change(m: dict[str, Any]) -> str:
    """Say how a project moved: out of or into the ranking, to another view, or in it."""
    if m["rank_to"] is None and m["rank_from"] is not None:
        return "left the ranking"
    if m["rank_from"] is None and m["rank_to"] is not None:
        return "entered the ranking"
    if changed_view(m):
        return (f"left {VIEW_WORDS.get(m['view_from'], m['view_from'])} for "
                f"{VIEW_WORDS.get(m['view_to'], m['view_to'])}")
    return "rank moved" if m["rank_change"] else "score changed"


def diff_rows(diff: dict[str, Any]) -> Iterator[list[Any]]:
    """Yield a snapshot comparison as rows: moves, additions, removals, then field changes."""
    for m in diff["rank_moves"]:
        change, causes = _change(m), ";".join(m["causes"])
        yield [change, m["slug"], m["title"], m["organisation"], m["organisation_name"], "rank",
               m["rank_from"], m["rank_to"], causes]
        if changed_view(m):
            # Its ranks are places in two views: the views say what they are places in.
            yield [change, m["slug"], m["title"], m["organisation"], m["organisation_name"],
                   "view", m["view_from"], m["view_to"], causes]
    for kind, items in (("added", diff["projects"]["added"]),
                        ("removed", diff["projects"]["removed"])):
        for p in items:
            yield [kind, p["slug"], p["title"], p["organisation"], p["organisation_name"],
                   "rank", None if kind == "added" else p["rank"],
                   p["rank"] if kind == "added" else None, ""]
    for c in diff["projects"]["changed"]:
        for name, values in c["fields"].items():
            yield ["field changed", c["slug"], c["title"], c["organisation"],
                   c["organisation_name"], name, values["from"], values["to"], ""]


def diff_csv(diff: dict[str, Any]) -> bytes:
    """Return a snapshot comparison as UTF-8 CSV, text cells neutralised for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DIFF_COLUMNS)
    for row in diff_rows(diff):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    """Return a cell as every CSV of the portfolio writes it: flags as true/false, text safe."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(value) if isinstance(value, str) and value else value
