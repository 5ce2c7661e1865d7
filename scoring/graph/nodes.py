"""Statuses, node ids and edge kinds of the portfolio graph, and the dependency-cycle error."""

from __future__ import annotations

STATUSES: tuple[str, ...] = (
    "idea",
    "proposed",
    "approved",
    "in_progress",
    "delivered",
    "paused",
    "rejected",
)
DELIVERED = "delivered"
REJECTED = "rejected"
INACTIVE: frozenset[str] = frozenset({DELIVERED, REJECTED})
READY_DRL = "B1"

PROJECT = "project:"
DATASET = "dataset:"
ORG = "org:"

EDGE_KINDS: tuple[str, ...] = ("depends_on", "uses", "produces", "partners_in", "publishes")


class DependencyCycleError(ValueError):
    """Signal that project dependencies form a cycle; ``cycle`` is ``[a, b, ..., a]``."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependencies form a cycle: " + " -> ".join(cycle))


def project_id(slug: str) -> str:
    """Return the graph node id of a project."""
    return PROJECT + str(slug)


def dataset_id(code: str) -> str:
    """Return the graph node id of a dataset."""
    return DATASET + str(code)


def org_id(code: str) -> str:
    """Return the graph node id of an organisation."""
    return ORG + str(code)
