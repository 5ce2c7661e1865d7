"""Collaboration clusters: organisations that share projects or datasets."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from scoring.graph.arrays import isin
from scoring.graph.checks import project_statuses
from scoring.graph.nodes import REJECTED


@dataclass(frozen=True)
class CollaborationCluster:
    """Hold a group of collaborating organisations with the projects and datasets they share."""

    organisations: tuple[str, ...]
    projects: tuple[str, ...]
    datasets: tuple[str, ...]

    @property
    def size(self) -> int:
        """Return the number of organisations."""
        return len(self.organisations)


def _pairs(df: pd.DataFrame, on: str) -> pd.DataFrame:
    """Return distinct organisation pairs (a < b) sharing a value of column `on`."""
    merged = df.merge(df, on=on, suffixes=("_a", "_b"))
    merged = merged[merged["org_a"] < merged["org_b"]]
    return merged[["org_a", "org_b", on]].drop_duplicates()


def collaboration_clusters(
    partners: pd.DataFrame,
    projects: pd.DataFrame,
    links: pd.DataFrame | None = None,
    datasets: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    split_above: int = 12,
    resolution: float = 1.0,
    min_size: int = 2,
) -> list[CollaborationCluster]:
    """Group organisations that work together, largest first.

    Two organisations are tied when both own or partner in one project (rejected projects
    excluded), or when one is involved in a project using a dataset the other publishes; a tie
    weighs the number of shared projects and datasets. Connected groups larger than
    `split_above` are split by Louvain communities (seeded, so results repeat). A cluster's
    projects involve two or more of its organisations; its datasets are used or published by
    two or more of them.
    """
    status = project_statuses(projects)
    live = set(status.index[status.ne(REJECTED)])
    involved = [
        pd.DataFrame(
            {
                "org": partners["organisation"].astype(str),
                "project": partners["project"].astype(str),
            }
        )
    ]
    if "owner" in projects.columns:
        owned = projects[projects["owner"].notna()]
        involved.append(
            pd.DataFrame({"org": owned["owner"].astype(str), "project": owned["slug"].astype(str)})
        )
    org_project = pd.concat(involved, ignore_index=True).drop_duplicates()
    org_project = org_project[isin(org_project["project"], live)]

    org_dataset = pd.DataFrame({"org": [], "dataset": []}, dtype=object)
    if links is not None and len(links):
        uses = links
        if "relation" in uses.columns:
            uses = uses[uses["relation"].eq("uses")]
        uses = pd.DataFrame(
            {"project": uses["project"].astype(str), "dataset": uses["dataset"].astype(str)}
        )
        users = org_project.merge(uses, on="project")[["org", "dataset"]]
        parts = [users.assign(publisher=False)]
        if datasets is not None and "publisher" in datasets.columns:
            pub = datasets[datasets["publisher"].notna()]
            parts.append(
                pd.DataFrame(
                    {
                        "org": pub["publisher"].astype(str),
                        "dataset": pub["code"].astype(str),
                        "publisher": True,
                    }
                )
            )
        tagged = pd.concat(parts, ignore_index=True).drop_duplicates()
        users_t = tagged[~tagged["publisher"]][["org", "dataset"]].drop_duplicates()
        pubs_t = tagged[tagged["publisher"]][["org", "dataset"]]
        ties = users_t.merge(pubs_t, on="dataset", suffixes=("_a", "_b"))
        ties = ties[ties["org_a"] != ties["org_b"]]
        swap = ties["org_a"] > ties["org_b"]
        a = np.where(swap, ties["org_b"], ties["org_a"])
        b = np.where(swap, ties["org_a"], ties["org_b"])
        dataset_ties = pd.DataFrame({"org_a": a, "org_b": b, "dataset": ties["dataset"]})
        org_dataset = tagged[["org", "dataset"]].drop_duplicates()
    else:
        dataset_ties = pd.DataFrame({"org_a": [], "org_b": [], "dataset": []}, dtype=object)

    project_ties = _pairs(org_project, "project")
    weights = pd.concat(
        [
            project_ties[["org_a", "org_b"]],
            dataset_ties.drop_duplicates()[["org_a", "org_b"]],
        ],
        ignore_index=True,
    ).value_counts()
    g = nx.Graph()
    g.add_nodes_from(sorted(set(org_project["org"])))
    g.add_weighted_edges_from((a, b, int(w)) for (a, b), w in weights.sort_index().items())

    groups: list[set[str]] = []
    for comp in sorted(nx.connected_components(g), key=lambda c: sorted(c)[0]):
        if len(comp) < min_size:
            continue
        if len(comp) > split_above:
            sub = g.subgraph(sorted(comp))
            groups.extend(
                nx.community.louvain_communities(
                    sub, weight="weight", resolution=resolution, seed=seed
                )
            )
        else:
            groups.append(set(comp))
    groups = [grp for grp in groups if len(grp) >= min_size]
    if not groups:
        return []

    member = pd.Series(
        {o: i for i, grp in enumerate(groups) for o in grp}, name="cluster", dtype=np.int64
    )

    def shared(table: pd.DataFrame, col: str) -> pd.Series:
        t = table.assign(cluster=table["org"].map(member)).dropna(subset=["cluster"])
        t = t.astype({"cluster": np.int64})
        counts = t.groupby(["cluster", col])["org"].nunique()
        counts = counts[counts >= 2].reset_index()
        return counts.groupby("cluster")[col].agg(lambda s: tuple(sorted(s)))

    shared_projects = shared(org_project, "project")
    shared_datasets = shared(org_dataset, "dataset")
    clusters = [
        CollaborationCluster(
            organisations=tuple(sorted(grp)),
            projects=shared_projects.get(i, ()),
            datasets=shared_datasets.get(i, ()),
        )
        for i, grp in enumerate(groups)
    ]
    return sorted(clusters, key=lambda c: (-c.size, -len(c.projects), c.organisations))
