"""GraphML: the graph of projects, datasets and organisations."""

from __future__ import annotations

from typing import BinaryIO

from portfolio.services.snapshots import (
    SnapshotContent,
)


def write_graphml(content: SnapshotContent, out: BinaryIO) -> None:
    """Write the snapshot's graph of projects, datasets and organisations as GraphML."""
    import pandas as pd

    from scoring.graph import build_graph
    from scoring.graph import write_graphml as write_graph

    frames: dict[str, pd.DataFrame] = {}
    for data in content.tables():
        if data.spec.name in ("criteria", "weights", "assessments"):
            continue
        frames[data.spec.name] = pd.DataFrame(list(data.rows), columns=data.columns)
    projects = frames["projects"].rename(columns={"organisation": "owner", "score": "value"})
    projects = projects[["slug", "title", "status", "value", "mandatory", "cost_gbp",
                         "effort_pm", "theme", "owner", "readiness", "rank"]]
    graph = build_graph(projects, frames["datasets"], organisations=frames["organisations"],
                        dependencies=frames["dependencies"], links=frames["links"],
                        partners=frames["partners"])
    write_graph(graph, out)
