"""What the Profiles pages need: weights from a form, the AHP grid, two profiles compared."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.services import profiles
from portfolio.services.ranking import ranked_rows
from scoring.compare import compare_rankings
from scoring.criteria import DIMENSIONS
from scoring.ranking import CANDIDATES
from scoring.weights import shares_of_dimension, weight_problems

GROUPS = ("dimensions", *DIMENSIONS)
MAX_ASSESSORS = 6
MOVERS_SHOWN = 15


def weights_from_form(form: Mapping[str, str], criteria: dict[str, list[dict[str, str]]]
                      ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Read direct weights from a form (fields dim:KEY and crit:KEY); name each bad field."""
    dims = {d: form.get(f"dim:{d}", "").strip() for d in DIMENSIONS}
    crits = {c["key"]: form.get(f"crit:{c['key']}", "").strip()
             for group in criteria.values() for c in group}
    errors = {f"dim:{k}": v for k, v in weight_problems(
        {k: v if v != "" else "blank" for k, v in dims.items()}).items()}
    errors |= {f"crit:{k}": v for k, v in weight_problems(
        {k: v if v != "" else "blank" for k, v in crits.items()}).items()}
    errors = {k: ("is needed: give 0 to leave it out" if "'blank'" in v else v)
              for k, v in errors.items()}
    return dims, crits, errors


def criterion_shares(profile: dict[str, Any],
                     criteria: dict[str, list[dict[str, str]]]) -> dict[str, float]:
    """Return each criterion's share of its dimension (0-1): w_c / sum of its dimension's w."""
    weights = profile["weights"]["criterion"]
    dimension_of = {c["key"]: d for d, group in criteria.items() for c in group}
    return shares_of_dimension({k: weights.get(k, 0.0) for k in dimension_of}, dimension_of)


def form_weights(profile: dict[str, Any],
                 criteria: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Return a profile's weights as form values, in percent of their group."""
    out = {f"dim:{k}": _figure(v * 100) for k, v in profile["weights"]["dimension"].items()}
    out |= {f"crit:{k}": _figure(v * 100) for k, v in criterion_shares(profile, criteria).items()}
    return out


def _figure(value: float) -> str:
    """Write a number briefly: 2 decimals at most, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def parse_judgement(text: str) -> float:
    """Read a judgement typed as 3, 0.333, 1/3, 5/3 or 1/1.5 (blank is 1, equal importance)."""
    text = text.strip()
    if not text:
        return 1.0
    if "/" in text:
        above, below = (float(part) for part in text.split("/", 1))
        if below == 0:
            raise ValueError(text)
        value = above / below
    else:
        value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _labels(group: str, criteria: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    """Return a group's items (key and name) in matrix order."""
    if group == "dimensions":
        return [{"key": d, "name": d.capitalize()} for d in DIMENSIONS]
    return criteria[group]


def grid_start(profile: dict[str, Any], criteria: dict[str, list[dict[str, str]]]
               ) -> dict[str, str]:
    """Fill the grid from the profile: its stored judgements, or the ratios of its weights."""
    values: dict[str, str] = {"assessors": "1", "a0:name": ""}
    stored = profile.get("ahp_matrix") or {}
    assessors = max([len(stored.get(g, {}).get("assessors") or [None]) for g in GROUPS] + [1])
    values["assessors"] = str(min(assessors, MAX_ASSESSORS))
    for group in GROUPS:
        items = _labels(group, criteria)
        keys = [item["key"] for item in items]
        entry = stored.get(group) or {}
        matrices = ([a["matrix"] for a in entry["assessors"]] if entry.get("assessors")
                    else [entry["matrix"]] if entry.get("matrix") else [])
        names = [a.get("name", "") for a in entry.get("assessors") or []]
        labels = entry.get("labels") or keys
        for k, matrix in enumerate(matrices[:MAX_ASSESSORS]):
            if k < len(names):
                values[f"a{k}:name"] = names[k]
            where = {key: labels.index(key) for key in keys if key in labels}
            for i, j in _pairs(len(keys)):
                if keys[i] in where and keys[j] in where:
                    values[f"a{k}:{group}:{i}:{j}"] = _judgement(
                        matrix[where[keys[i]]][where[keys[j]]])
        if matrices:
            continue
        kind = "dimension" if group == "dimensions" else "criterion"
        weights = [profile["weights"][kind].get(key, 0.0) for key in keys]
        for i, j in _pairs(len(keys)):
            ratio = weights[i] / weights[j] if weights[i] > 0 and weights[j] > 0 else 1.0
            values[f"a0:{group}:{i}:{j}"] = _judgement(ratio)
    return values


def _judgement(value: float) -> str:
    """Write a judgement as typed: under 1 as a fraction (1/9), so it reads back exactly."""
    # 1/9 written "0.11" reads back below Saaty's scale, a warning about nothing typed.
    return f"1/{_figure(1 / value)}" if 0 < value < 1 else _figure(value)


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def ahp_grid(form: Mapping[str, str], criteria: dict[str, list[dict[str, str]]]
             ) -> dict[str, Any]:
    """Read the grid's judgements, derive each group's weights and CR, and the profile's.

    Cell fields are named a{assessor}:{group}:{i}:{j} (upper triangle, i < j); the lower
    triangle is the reciprocal. Errors are keyed by the field they concern.
    """
    try:
        count = max(1, min(int(form.get("assessors", "1") or 1), MAX_ASSESSORS))
    except ValueError:
        count = 1
    errors: dict[str, str] = {}
    judgements: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    for group in GROUPS:
        items = _labels(group, criteria)
        keys = [item["key"] for item in items]
        groups[group] = {"items": items, "size": len(keys)}
        if len(keys) < 2:
            continue
        matrices = []
        for k in range(count):
            matrix = [[1.0] * len(keys) for _ in keys]
            for i, j in _pairs(len(keys)):
                name = f"a{k}:{group}:{i}:{j}"
                try:
                    value = parse_judgement(form.get(name, ""))
                except (ValueError, ZeroDivisionError):
                    errors[name] = (f"{items[i]['name']} against {items[j]['name']}: write a "
                                    "number such as 3, 1/3 or 0.333")
                    continue
                if value <= 0:
                    errors[name] = (f"{items[i]['name']} against {items[j]['name']}: must be "
                                    "more than 0 (1/9 to 9)")
                    continue
                matrix[i][j], matrix[j][i] = value, 1.0 / value
            matrices.append(matrix)
        if count == 1:
            judgements[group] = {"labels": keys, "matrix": matrices[0]}
        else:
            judgements[group] = {"labels": keys, "assessors": [
                {"name": form.get(f"a{k}:name", "").strip() or f"Assessor {k + 1}",
                 "matrix": m} for k, m in enumerate(matrices)]}
    result: dict[str, Any] = {"groups": groups, "errors": errors, "assessors": count,
                              "judgements": judgements, "weights": None,
                              "consistency_ratio": None}
    if errors:
        return result
    keys_by_dimension = {d: [c["key"] for c in criteria[d]] for d in DIMENSIONS}
    try:
        derived = profiles.ahp_profile(judgements, keys_by_dimension)
    except Invalid as exc:
        result["errors"] = exc.errors
        return result
    for group, entry in derived["matrix"].items():
        groups[group]["result"] = entry
    # A dimension with a single criterion needs no matrix: that criterion carries it all.
    for d in DIMENSIONS:
        if len(keys_by_dimension[d]) == 1:
            derived["weights"]["criterion"][keys_by_dimension[d][0]] = 1.0
    result["weights"] = derived["weights"]
    result["consistency_ratio"] = derived["consistency_ratio"]
    return result


def save_ahp(*, session: Session, actor: Actor, name: str, form: Mapping[str, str],
             criteria: dict[str, list[dict[str, str]]],
             version: int | None = None) -> dict[str, Any]:
    """Save the grid's judgements as the profile's next version (method ahp), from `version`."""
    grid = ahp_grid(form, criteria)
    if grid["errors"]:
        raise Invalid(grid["errors"])
    weights = grid["weights"]
    return profiles.set_weights(session=session, actor=actor, name=name,
                                dimension_weights=weights["dimension"],
                                criterion_weights=weights["criterion"],
                                ahp_matrix=grid["judgements"], version=version)


def compare_profiles(db: Database, *, a: str, b: str) -> dict[str, Any]:
    """Compare the candidates' ranks two profiles give: rank changes, biggest moves, correlation.

    The candidates view (what is decided on) only: a rank is a place within one view, so the
    committed view's ranks are another ranking, not to be mixed in.
    """
    if a == b:
        raise Invalid({"b": "choose two different profiles"})
    _run_a, rows_a = ranked_rows(db, profile=a, view=CANDIDATES)
    _run_b, rows_b = ranked_rows(db, profile=b, view=CANDIDATES)
    titles = {r["slug"]: r["title"] for r in rows_a + rows_b}
    comparison = compare_rankings(pd.Series({r["slug"]: r["rank"] for r in rows_a}, dtype=float),
                                  pd.Series({r["slug"]: r["rank"] for r in rows_b}, dtype=float))
    table = [{"slug": row["slug"], "title": titles.get(row["slug"], row["slug"]),
              "rank_a": int(row["rank_a"]), "rank_b": int(row["rank_b"]),
              "change": int(row["change"])}
             for row in comparison.table.to_dict("records")]
    return {
        "a": a, "b": b, "spearman": comparison.spearman, "kendall": comparison.kendall,
        "movers": [row for row in table if row["change"] != 0][:MOVERS_SHOWN],
        "rows": sorted(table, key=lambda row: row["rank_a"]),
        "moved": sum(1 for row in table if row["change"] != 0),
        "only_a": list(comparison.only_a), "only_b": list(comparison.only_b),
    }
