"""Fix-the-plumbing recommendations: which data improvement raises the portfolio's value most.

Readiness follows DESIGN.md: a required ``uses`` link scores ``min(drl, fit, agreement)`` and a
project's readiness is the minimum over its required links. Each recommendation changes one
thing and recomputes the readiness of the projects it touches:

- ``dataset_level``: the dataset's DRL rises one level (C4 -> C3 -> C2 -> C1 -> B2 -> B1) on
  every link to it;
- ``agreement``: the data-sharing agreement of one (project, dataset) link becomes signed; a
  link that rests on an agreement record (its ``agreement_code``) is never alone: signing or
  renewing that record makes every link resting on it signed at once, one recommendation
  whose target is the agreement's code;
- ``fitness``: one (project, dataset) link becomes fit for the task.

``gain = sum over touched projects p of readiness_weight(p) * (readiness'(p) - readiness(p))``,
in composite points, where ``readiness_weight`` is how many composite points one unit of
readiness is worth for p. A project is *improved* when its readiness rises and *unblocked* when
it becomes 1.0 (every required link ready). Only required ``uses`` links count; a project and
dataset linked more than once are treated as one link whose factors are the worst of each.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scoring.graph import INACTIVE
from scoring.graph.arrays import isin
from scoring.readiness import AGREEMENT_SCORES, DRL_SCORES, FIT_SCORES

KINDS: tuple[str, ...] = ("dataset_level", "agreement", "fitness")
DRL_LADDER: tuple[str, ...] = tuple(sorted(DRL_SCORES, key=DRL_SCORES.__getitem__))
COLUMNS: tuple[str, ...] = (
    "kind",
    "target",
    "dataset",
    "project",
    "current",
    "proposed",
    "description",
    "gain",
    "projects_improved",
    "projects_unblocked",
)
# Readiness scores are sums of a few decimals: compare with a tolerance, never exactly.
_EPS = 1e-9


def _scores(labels: pd.Series, scores: Mapping[str, float], what: str) -> np.ndarray:
    values = labels.map(dict(scores)).to_numpy(dtype=np.float64, na_value=np.nan)
    unknown = np.isnan(values)
    if unknown.any():
        bad = sorted({repr(v) for v in labels[unknown]})
        raise ValueError(
            f"unknown {what} value(s) {', '.join(bad)}; expected one of {list(scores)}"
        )
    return values


def _pairs(links: pd.DataFrame, projects: pd.DataFrame | None) -> pd.DataFrame:
    """Return one row per required (project, dataset) with its worst factors and their labels."""
    keep = links["required"].eq(True).to_numpy(dtype=bool, na_value=False).copy()
    if "relation" in links.columns:
        keep &= links["relation"].eq("uses").to_numpy(dtype=bool, na_value=False)
    lk = links.loc[keep, ["project", "dataset", "drl", "fit_for_task", "agreement"]]
    lk = lk.astype({"project": str, "dataset": str})
    lk["agreement_code"] = (links.loc[keep, "agreement_code"].astype(object)
                            if "agreement_code" in links.columns else None)
    lk["agreement_code"] = lk["agreement_code"].where(lk["agreement_code"].notna(), None)
    if projects is not None:
        status = projects["status"].astype(str)
        inactive = projects.loc[isin(status, INACTIVE), "slug"].astype(str)
        lk = lk[~isin(lk["project"], inactive)]
    lk = lk.assign(
        drl_s=_scores(lk["drl"], DRL_SCORES, "dataset readiness level"),
        fit_s=_scores(lk["fit_for_task"], FIT_SCORES, "fit_for_task"),
        agr_s=_scores(lk["agreement"], AGREEMENT_SCORES, "agreement"),
    )
    # Worst label per pair: sort by score then keep the first row of each factor.
    group = ["project", "dataset"]
    worst_drl = lk.sort_values("drl_s", kind="stable").drop_duplicates(group)
    worst_fit = lk.sort_values("fit_s", kind="stable").drop_duplicates(group)
    worst_agr = lk.sort_values("agr_s", kind="stable").drop_duplicates(group)
    pairs = (
        worst_drl[[*group, "drl", "drl_s"]]
        .merge(worst_fit[[*group, "fit_for_task", "fit_s"]], on=group)
        .merge(worst_agr[[*group, "agreement", "agr_s", "agreement_code"]], on=group)
        .sort_values(group, kind="stable")
        .reset_index(drop=True)
    )
    pairs["r"] = np.minimum.reduce([pairs["drl_s"], pairs["fit_s"], pairs["agr_s"]])

    # Readiness without this pair: the project's minimum, or its second smallest value when
    # this pair alone holds the minimum (inf when the project has no other required link).
    ranked = pairs.sort_values(["project", "r"], kind="stable")
    project = ranked["project"]
    first = ranked.groupby("project", sort=False)["r"].transform("min")
    at_min = ranked["r"].le(first + _EPS)
    ties = at_min.groupby(project, sort=False).transform("sum")
    nth = ranked.groupby("project", sort=False).cumcount()
    second = ranked["r"].where(nth.eq(1)).groupby(project, sort=False).transform("max")
    alone = at_min & ties.eq(1)
    # Column assignment aligns on the index, undoing the sort.
    pairs["readiness"] = first
    pairs["others"] = pd.Series(
        np.where(alone, second.fillna(np.inf), first), index=ranked.index, dtype=np.float64
    )
    return pairs


def _gains(pairs: pd.DataFrame, new_r: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    after = np.minimum(pairs["others"].to_numpy(), new_r)
    before = pairs["readiness"].to_numpy()
    return pd.DataFrame(
        {
            "gain": weight * (after - before),
            "improved": after > before + _EPS,
            "unblocked": (after >= 1.0 - _EPS) & (before < 1.0 - _EPS),
        },
        index=pairs.index,
    )


def _record_gains(pairs: pd.DataFrame, weight: np.ndarray,
                  titles: Mapping[str, str]) -> pd.DataFrame | None:
    """Return one recommendation per agreement record not in force: sign or renew it.

    For project p and record A: readiness after = min(min over p's pairs resting on A of
    min(drl, fit), min over p's other pairs of their readiness); the gain sums over p.
    """
    open_ = pairs["agreement_code"].notna() & (pairs["agr_s"] < 1.0 - _EPS)
    if not open_.any():
        return None
    data = pairs.assign(
        w=weight, group=pairs["agreement_code"].where(pairs["agreement_code"].notna(),
                                                      "\x00" + pairs["dataset"]),
        r_free=np.minimum(pairs["drl_s"], pairs["fit_s"]),
        r=np.minimum.reduce([pairs["drl_s"], pairs["fit_s"], pairs["agr_s"]]))
    per_group = data.groupby(["project", "group"], sort=True)["r"].min().reset_index()
    per_group = per_group.sort_values(["project", "r"], kind="stable")
    first = per_group.groupby("project", sort=False)["r"].transform("min")
    nth = per_group.groupby("project", sort=False).cumcount()
    lowest_group = per_group["group"].where(nth.eq(0)).groupby(
        per_group["project"], sort=False).transform("first")
    second = per_group["r"].where(nth.eq(1)).groupby(
        per_group["project"], sort=False).transform("max").fillna(np.inf)
    others = pd.Series(np.where(per_group["group"] == lowest_group, second, first),
                       index=per_group.index)
    per_group = per_group.assign(others=others, readiness=first)
    combos = (data[open_].groupby(["project", "agreement_code"], sort=True)
              .agg(r_free=("r_free", "min"), w=("w", "first"), current=("agreement", "first"))
              .reset_index()
              .merge(per_group.rename(columns={"group": "agreement_code"}),
                     on=["project", "agreement_code"]))
    after = np.minimum(combos["r_free"], combos["others"])
    before = combos["readiness"]
    combos = combos.assign(gain=combos["w"] * (after - before),
                           improved=after > before + _EPS,
                           unblocked=(after >= 1.0 - _EPS) & (before < 1.0 - _EPS))
    rows = []
    for code, grp in combos.groupby("agreement_code", sort=True):
        current = str(grp["current"].iloc[0])
        verb = "Renew" if current == "expired" else "Sign"
        name = titles.get(str(code), str(code))
        rows.append({
            "kind": "agreement", "target": str(code), "dataset": None, "project": None,
            "current": current, "proposed": "signed",
            "description": (f"{verb} the data-sharing agreement {name} (now {current}; "
                            f"{len(grp)} project{'s rest' if len(grp) != 1 else ' rests'} on it)"),
            "gain": float(grp["gain"].sum()),
            "projects_improved": sorted(grp.loc[grp["improved"], "project"]),
            "projects_unblocked": sorted(grp.loc[grp["unblocked"], "project"]),
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def plumbing_recommendations(
    links: pd.DataFrame,
    readiness_weight: pd.Series,
    projects: pd.DataFrame | None = None,
    *,
    include_zero_gain: bool = False,
    agreement_titles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rank single data improvements by gain = sum of weight(p) * readiness rise(p), in points.

    `links`: project, dataset, drl, fit_for_task, agreement, required (and optionally relation);
    `readiness_weight`: composite points per unit of readiness, indexed by project slug (missing
    projects weigh 0); `projects` (slug, status), when given, drops delivered and rejected
    projects. Returns columns ``COLUMNS``, best first; rows with no gain only when asked.
    """
    pairs = _pairs(links, projects)
    if pairs.empty:
        return pd.DataFrame({c: [] for c in COLUMNS}).astype({"gain": np.float64})
    weight_index = pd.Series(readiness_weight, dtype=np.float64)
    weight_index.index = weight_index.index.astype(str)
    weight = weight_index.reindex(pairs["project"]).fillna(0.0).to_numpy()
    level = pairs["drl"].astype(str).to_numpy(dtype=object)
    rank = {d: i for i, d in enumerate(DRL_LADDER)}
    nxt = np.asarray(
        [DRL_LADDER[min(rank[d] + 1, len(DRL_LADDER) - 1)] for d in level], dtype=object
    )
    frames = []

    # Dataset level: the next DRL applies to every link to the dataset at once.
    raise_drl = level != DRL_LADDER[-1]
    if raise_drl.any():
        sub = pairs[raise_drl]
        new_drl = np.asarray([DRL_SCORES[d] for d in nxt[raise_drl]])
        new_r = np.minimum.reduce([new_drl, sub["fit_s"].to_numpy(), sub["agr_s"].to_numpy()])
        g = _gains(sub, new_r, weight[raise_drl]).assign(
            dataset=sub["dataset"].to_numpy(),
            project=sub["project"].to_numpy(),
            current=level[raise_drl],
            proposed=nxt[raise_drl],
        )
        per = g.groupby("dataset", sort=True).agg(
            gain=("gain", "sum"), current=("current", "first"), proposed=("proposed", "first")
        )
        improved = g[g["improved"]].groupby("dataset")["project"].agg(sorted)
        unblocked = g[g["unblocked"]].groupby("dataset")["project"].agg(sorted)
        frames.append(
            pd.DataFrame(
                {
                    "kind": "dataset_level",
                    "target": per.index.to_numpy(),
                    "dataset": per.index.to_numpy(),
                    "project": None,
                    "current": per["current"].to_numpy(),
                    "proposed": per["proposed"].to_numpy(),
                    "description": [
                        f"Raise {d} from {c} to {p}"
                        for d, c, p in zip(per.index, per["current"], per["proposed"], strict=True)
                    ],
                    "gain": per["gain"].to_numpy(),
                    "projects_improved": [improved.get(d, []) for d in per.index],
                    "projects_unblocked": [unblocked.get(d, []) for d in per.index],
                }
            )
        )

    recorded = pairs["agreement_code"].notna().to_numpy()
    by_record = _record_gains(pairs, weight, agreement_titles or {})
    if by_record is not None:
        frames.append(by_record)

    # Agreement and fitness: one (project, dataset) link at a time.
    for kind, factor, other, label, proposed in (
        ("agreement", "agr_s", "fit_s", "agreement", "signed"),
        ("fitness", "fit_s", "agr_s", "fit_for_task", "fit"),
    ):
        mask = (pairs[factor] < 1.0 - _EPS).to_numpy().copy()
        if kind == "agreement":
            mask &= ~recorded
        if not mask.any():
            continue
        sub = pairs[mask]
        new_r = np.minimum(sub["drl_s"].to_numpy(), sub[other].to_numpy())
        g = _gains(sub, new_r, weight[mask])
        proj, ds, cur = sub["project"].tolist(), sub["dataset"].tolist(), sub[label].tolist()
        if kind == "agreement":
            text = [
                f"Sign the data-sharing agreement for {p} to use {d} (now {c})"
                for p, d, c in zip(proj, ds, cur, strict=True)
            ]
        else:
            text = [
                f"Make {d} fit for {p} (now {c})" for p, d, c in zip(proj, ds, cur, strict=True)
            ]
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "target": [f"{p}/{d}" for p, d in zip(proj, ds, strict=True)],
                    "dataset": ds,
                    "project": proj,
                    "current": cur,
                    "proposed": proposed,
                    "description": text,
                    "gain": g["gain"].to_numpy(),
                    "projects_improved": [
                        [p] if i else [] for p, i in zip(proj, g["improved"], strict=True)
                    ],
                    "projects_unblocked": [
                        [p] if u else [] for p, u in zip(proj, g["unblocked"], strict=True)
                    ],
                }
            )
        )

    if not frames:
        return pd.DataFrame({c: [] for c in COLUMNS}).astype({"gain": np.float64})
    out = pd.concat(frames, ignore_index=True)
    # Tiny float residues (e.g. 0.6 - 0.6) must not rank as gains.
    out["gain"] = np.where(np.abs(out["gain"]) < _EPS, 0.0, out["gain"])
    if not include_zero_gain:
        out = out[out["gain"] > 0]
    out = out.assign(
        _unblocked=out["projects_unblocked"].map(len),
        _kind=out["kind"].map({k: i for i, k in enumerate(KINDS)}),
    )
    out = out.sort_values(
        ["gain", "_unblocked", "_kind", "target"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    return out.drop(columns=["_unblocked", "_kind"]).reset_index(drop=True)[list(COLUMNS)]


__all__ = ["COLUMNS", "DRL_LADDER", "KINDS", "plumbing_recommendations"]
