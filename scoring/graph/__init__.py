"""Portfolio graph: projects, datasets and organisations; cycles, blockers and unlock value.

Node ids are namespaced: ``project:<slug>``, ``dataset:<code>``, ``org:<code>``. Edges point
from the actor to the thing acted on: ``project -depends_on-> prerequisite project``,
``project -uses-> dataset``, ``project -produces-> dataset``, ``org -partners_in-> project``,
``org -publishes-> dataset``.

One concept per module: `nodes` (statuses, node ids, the cycle error), `arrays` (integer-index
helpers shared with ranking, plan and roadmap), `network` (building and writing the graph),
`checks` (cycles, layers, unused datasets, blocked projects), `unlock` (unlock value) and
`clusters` (collaboration clusters).
"""

from scoring.graph.checks import (
    blocked_projects,
    find_cycle_path,
    find_cycles,
    topological_layers,
    unused_datasets,
)
from scoring.graph.clusters import CollaborationCluster, collaboration_clusters
from scoring.graph.network import (
    build_graph,
    graph_to_node_link,
    write_graphml,
    write_graphml_items,
)
from scoring.graph.nodes import (
    DATASET,
    DELIVERED,
    EDGE_KINDS,
    INACTIVE,
    ORG,
    PROJECT,
    REJECTED,
    STATUSES,
    DependencyCycleError,
    dataset_id,
    org_id,
    project_id,
)
from scoring.graph.unlock import UnlockResult, unlock_values

__all__ = [
    "DATASET",
    "DELIVERED",
    "EDGE_KINDS",
    "INACTIVE",
    "ORG",
    "PROJECT",
    "REJECTED",
    "STATUSES",
    "CollaborationCluster",
    "DependencyCycleError",
    "UnlockResult",
    "blocked_projects",
    "build_graph",
    "collaboration_clusters",
    "dataset_id",
    "find_cycle_path",
    "find_cycles",
    "graph_to_node_link",
    "org_id",
    "project_id",
    "topological_layers",
    "unlock_values",
    "unused_datasets",
    "write_graphml",
    "write_graphml_items",
]
