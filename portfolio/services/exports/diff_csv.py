"""A comparison of two snapshots as one CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from portfolio.text import neutralise

DIFF_COLUMNS = ["change", "slug", "title", "organisation", "organisation_name", "field",
                "before", "after", "causes"]


def diff_rows(diff: dict[str, Any]) -> Iterator[list[Any]]:
    """Yield a snapshot comparison as rows: moves, additions, removals, then field changes."""
    for m in diff["rank_moves"]:
        if m["rank_to"] is None and m["rank_from"] is not None:
            change = "left the ranking"
        elif m["rank_from"] is None and m["rank_to"] is not None:
            change = "entered the ranking"
        else:
            change = "rank moved" if m["rank_change"] else "score changed"
        yield [change, m["slug"], m["title"], m["organisation"], m["organisation_name"], "rank",
               m["rank_from"], m["rank_to"], ";".join(m["causes"])]
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
