"""Assemble one ranking of the portfolio: scores, readiness, order, unlock value, robustness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.composite import composite_scores
from scoring.criteria import (
    DIMENSIONS,
    Criterion,
    cost_band_level,
    effort_band_level,
    normalise_levels,
)
from scoring.graph import unlock_values
from scoring.methods import method_scores, opportunity_enablement
from scoring.ranking import OrderStructure, ordered_with_structure
from scoring.readiness import link_readiness, project_readiness
from scoring.robustness import order_robustness, order_samples
from scoring.weights import WeightProfile

# Bumped whenever a rule changes what a ranking holds; snapshots and stored runs record it.
METHOD_VERSION = "2026.12-3"


@dataclass(frozen=True)
class Ranking:
    """The ranked rows of the active portfolio and the per-criterion contributions."""

    rows: pd.DataFrame
    contributions: pd.DataFrame
    samples: int = 0  # weight samples behind the robustness figures (0: none)


def criterion_values(
    projects: pd.DataFrame, criteria: Sequence[Criterion], levels: pd.DataFrame,
    links: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return normalised values (projects x criteria, NaN missing) and per-project readiness."""
    slugs = pd.Index(projects["slug"], name="slug")
    raw = pd.DataFrame(index=slugs)
    for criterion in criteria:
        if criterion.source == "assessed":
            raw[criterion.key] = (levels[criterion.key].reindex(slugs)
                                  if criterion.key in levels else np.nan)
        elif criterion.source == "cost_band":
            raw[criterion.key] = np.asarray(cost_band_level(projects["cost_gbp"].to_numpy(float)))
        elif criterion.source == "effort_band":
            effort = projects["effort_pm"].to_numpy(float)
            raw[criterion.key] = np.asarray(effort_band_level(effort))
    uses = links[links["relation"].eq("uses")] if len(links) else links
    readiness = (project_readiness(uses) if len(uses)
                 else pd.DataFrame(columns=["readiness", "bottleneck_dataset"]))
    for criterion in criteria:
        if criterion.source == "derived":
            raw[criterion.key] = readiness["readiness"].reindex(slugs).to_numpy(dtype=float)
    values = normalise_levels(raw[[c.key for c in criteria]].astype(float), list(criteria))
    return values, readiness.reindex(slugs)


def readiness_weight(scores: pd.DataFrame, profile: WeightProfile) -> pd.Series:
    """Return composite points per unit of readiness: 100 * W_readiness / sum(W_present).

    Zero for a project without a composite (unscored or unweighted): no value rests on it.
    """
    weights = pd.Series({d: float(profile.dimension_weights.get(d, 0.0)) for d in DIMENSIONS})
    present = scores[list(DIMENSIONS)].notna()
    total = present.mul(weights, axis=1).sum(axis=1)
    share = np.where(present["readiness"] & (total > 0) & scores["composite"].notna(),
                     weights["readiness"] / total, 0.0)
    return pd.Series(100.0 * share, index=scores.index)


def rank_portfolio(
    projects: pd.DataFrame,
    criteria: Sequence[Criterion],
    levels: pd.DataFrame,
    links: pd.DataFrame,
    dependencies: pd.DataFrame,
    datasets: pd.DataFrame,
    profile: WeightProfile,
    *,
    top_k: int = 10,
    samples: int = 1000,
    seed: int = 0,
    assessments: pd.DataFrame | None = None,
) -> Ranking:
    """Score, order and explain the active projects under one weight profile.

    `levels` are the levels that score (the assessors' median, `scoring.assessors`); with
    `assessments` (every assessor's level) the robustness samples disputed levels too.
    """
    values, readiness = criterion_values(projects, criteria, levels, links)
    composite = composite_scores(values, list(criteria), profile)
    scores = composite.scores.rename(columns={"status": "score_status"})
    slugs = pd.Index(projects["slug"])
    override = pd.Series(projects["priority_override"].to_numpy(dtype=float), index=slugs)
    priority = override.where(override.notna(), scores["composite"])
    table = projects.assign(value=scores["composite"].to_numpy())
    order, structure, _ = ordered_with_structure(
        table, dependencies, priority=priority,
        mandatory=pd.Series(projects["mandatory"].to_numpy(), slugs))
    links_ready = links.assign(
        ready=(link_readiness(links["drl"], links["fit_for_task"], links["agreement"])
               .to_numpy() >= 1.0 - 1e-9) if len(links) else pd.Series(dtype=bool),
    )
    unlock = unlock_values(table, dependencies, links_ready, datasets).unlock
    ordered = order.set_index("slug")
    # Every frame below is indexed by slug, like `projects` or like the structure's nodes: one
    # lookup of each ordered project's row in both lets them be taken by position, where a join
    # or reindex per frame hashed 100,000 slugs each time (0.4 s of a ranking at 100,000).
    # The order names each project by its slug as text (so do unlock_values' keys).
    at = pd.Index(projects["slug"].astype(str)).get_indexer(ordered.index)
    nodes = pd.Index(structure.slugs)
    node = nodes.get_indexer(ordered.index)
    at_node = np.empty(len(node), dtype=np.int64)
    at_node[node] = at
    robust = _robustness(values, criteria, profile, structure,
                         override.to_numpy(dtype=float)[at_node],
                         top_k, samples, seed, assessments)
    methods = method_figures(projects, levels, scores, ordered["unblocks"])
    rows = pd.concat([ordered, _taken(scores, slugs, at, ordered.index),
                      _taken(robust, nodes, node, ordered.index),
                      _taken(methods, slugs, at, ordered.index)], axis=1)
    # unlock_values keys the projects first, in the order of the rows it was given.
    rows["unlock_value"] = unlock.to_numpy()[:len(slugs)][at]
    rows["bottleneck_dataset"] = _taken(readiness["bottleneck_dataset"], slugs, at, rows.index)
    rows["override"] = override.notna().to_numpy()[at]
    rows = rows.reset_index().sort_values("position")
    # After reset_index each row's label is its place in `ordered`, so the sort moved `at` too.
    contributions = _taken(composite.contributions, slugs, at[rows.index.to_numpy()],
                           rows["slug"])
    used = order_samples(samples, len(structure.slugs)) if len(structure.slugs) else 0
    return Ranking(rows=rows, contributions=contributions, samples=max(used, 0))


def _taken(found: pd.DataFrame | pd.Series, like: pd.Index, at: np.ndarray,
           index: pd.Index | pd.Series) -> pd.DataFrame | pd.Series:
    """Return the rows of `found` for `index`: by the positions `at` in `like` when `found` is
    indexed like it (as it always is here), else by label.
    """
    if found.index.equals(like) and len(at) and at.min() >= 0:
        return found.take(at).set_axis(index)
    return found.reindex(index)


def _robustness(values: pd.DataFrame, criteria: Sequence[Criterion], profile: WeightProfile,
                structure: OrderStructure, override: np.ndarray, top_k: int, samples: int,
                seed: int, assessments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the robustness of each project's rank in its view (empty when not asked)."""
    columns = ["p_top_k", "rank_p05", "rank_p95", "fragile"]
    n = len(structure.slugs)
    if samples <= 0 or n == 0:
        return pd.DataFrame(index=pd.Index(structure.slugs), columns=columns, dtype=float)
    result = order_robustness(values.reindex(structure.slugs), list(criteria), profile,
                              structure, override, top_k=top_k,
                              samples=order_samples(samples, n), seed=seed,
                              assessments=assessments)
    return result[columns]


def method_figures(projects: pd.DataFrame, levels: pd.DataFrame, scores: pd.DataFrame,
                   unblocks: pd.Series) -> pd.DataFrame:
    """Return RICE and WSJF where their inputs exist (`unblocks`: what each slug unblocks)."""
    slugs = pd.Index(projects["slug"])
    unblocked = unblocks.map(len).reindex(slugs).fillna(0)
    inputs = pd.DataFrame({
        "reach_people": projects["reach_people"].to_numpy(dtype=float),
        "residents_benefit": (levels["residents_benefit"].reindex(slugs).to_numpy(dtype=float)
                              if "residents_benefit" in levels else np.nan),
        "confidence_pct": projects["confidence_pct"].to_numpy(dtype=float),
        "effort_pm": projects["effort_pm"].to_numpy(dtype=float),
        "impact": scores["impact"].reindex(slugs).to_numpy(dtype=float),
        "time_criticality": projects["time_criticality"].to_numpy(dtype=float),
        "opportunity_enablement": opportunity_enablement(unblocked).to_numpy(dtype=float),
    }, index=slugs)
    return method_scores(inputs)
