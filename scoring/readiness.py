"""Data readiness of project-dataset links and of projects (DESIGN.md, "Data readiness")."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

DRL_SCORES: Mapping[str, float] = {
    "C4": 0.0,
    "C3": 0.2,
    "C2": 0.4,
    "C1": 0.6,
    "B2": 0.8,
    "B1": 1.0,
}
FIT_SCORES: Mapping[str, float] = {
    "unfit": 0.0,
    "unknown": 0.4,
    "partial": 0.7,
    "fit": 1.0,
}
AGREEMENT_SCORES: Mapping[str, float] = {
    "not_needed": 1.0,
    "signed": 1.0,
    "drafting": 0.5,
    "none": 0.2,
    "expired": 0.1,
}

LINK_COLUMNS: tuple[str, ...] = (
    "project",
    "dataset",
    "drl",
    "fit_for_task",
    "agreement",
    "required",
)


def _factor(labels: pd.Series, scores: Mapping[str, float], what: str) -> np.ndarray:
    # Each distinct label is looked up once: a map over 100,000 Arrow-backed strings cost more.
    codes, distinct = pd.factorize(labels, use_na_sentinel=True)
    # Code -1 (a missing label) takes the last entry: NaN, as an unknown label does.
    table = np.array([scores.get(v, np.nan) if isinstance(v, str) else np.nan
                      for v in distinct] + [np.nan], dtype=np.float64)
    factor = table[codes]
    unknown = np.isnan(factor)
    if unknown.any():
        bad = sorted({repr(v) for v in labels[unknown]})
        raise ValueError(
            f"unknown {what} value(s) {', '.join(bad)}; expected one of {list(scores)}"
        )
    return factor


def link_readiness(drl: pd.Series, fit_for_task: pd.Series, agreement: pd.Series) -> pd.Series:
    """Score each link as min(DRL score, fitness score, agreement score), on [0, 1]."""
    drl = pd.Series(drl)
    index = drl.index
    # Positional on purpose: the three columns come from the same links table.
    factors = (
        _factor(drl, DRL_SCORES, "dataset readiness level"),
        _factor(pd.Series(fit_for_task).set_axis(index), FIT_SCORES, "fit_for_task"),
        _factor(pd.Series(agreement).set_axis(index), AGREEMENT_SCORES, "agreement"),
    )
    return pd.Series(np.minimum.reduce(factors), index=index, name="readiness")


def project_readiness(links: pd.DataFrame) -> pd.DataFrame:
    """Score each project's data readiness as the minimum link readiness over its required uses.

    Returns a frame indexed by project with `readiness` on [0, 1] and `bottleneck_dataset`, the
    required dataset that sets it (ties go to the smallest dataset id). Links with `required`
    false or missing are ignored, as are `produces` links when a `relation` column is present;
    a project with no required use is absent, and the caller treats its readiness as missing.
    """
    missing = [c for c in LINK_COLUMNS if c not in links.columns]
    if missing:
        raise ValueError(f"links lack column(s): {', '.join(missing)}")
    # eq(True) rather than astype(bool): a missing flag must not count as required.
    keep = links["required"].eq(True)
    if "relation" in links.columns:
        keep &= links["relation"].eq("uses")
    used = links.loc[keep, ["project", "dataset", "drl", "fit_for_task", "agreement"]]
    readiness = link_readiness(used["drl"], used["fit_for_task"], used["agreement"])
    weakest = (
        pd.DataFrame(
            {
                "project": used["project"].to_numpy(),
                "readiness": readiness.to_numpy(),
                "bottleneck_dataset": used["dataset"].to_numpy(),
            }
        )
        .sort_values(["project", "readiness", "bottleneck_dataset"], kind="stable")
        .drop_duplicates("project", keep="first")
        .set_index("project")
    )
    return weakest[["readiness", "bottleneck_dataset"]]


def readiness_level(readiness: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    """Map readiness r on [0, 1] onto the 1..5 criterion scale as 1 + 4r (continuous)."""
    return 1.0 + 4.0 * readiness
