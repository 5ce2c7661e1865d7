"""Weight profiles: named weights set directly or derived from AHP comparisons, with history."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import WeightKind, WeightMethod
from portfolio.errors import Conflict, Invalid, NotFound
from portfolio.models import (
    Criterion,
    ProfileRevision,
    ProfileWeight,
    User,
    WeightProfile,
    utcnow,
)
from portfolio.schemas import refuse_flag
from portfolio.services.common import add_new, one_at_a_time, record, rows_changed
from portfolio.services.merge import require_known_version
from portfolio.text import control_problem
from scoring.criteria import DIMENSIONS
from scoring.weights import (
    AHPResult,
    InvalidAHPMatrix,
    InvalidGroupAHP,
    InvalidWeights,
    ahp_weights,
    group_ahp,
    normalise_weights,
    shares_of_dimension,
)


def _weights(session: Session, profile_id: int) -> dict[str, dict[str, float]]:
    """Return a profile's weights by kind and key."""
    out: dict[str, dict[str, float]] = {"dimension": {}, "criterion": {}}
    rows = cast(list[tuple[str, str, float]], session.execute(
        select(col(ProfileWeight.kind), col(ProfileWeight.key), col(ProfileWeight.weight))
        .where(col(ProfileWeight.profile_id) == profile_id)
    ).all())
    for kind, key, weight in rows:
        out[kind][key] = weight
    return out


def _profile_row(session: Session, name: str) -> WeightProfile:
    """Return a profile by name or raise NotFound."""
    row = session.execute(
        select(WeightProfile).where(col(WeightProfile.name) == name)).scalars().first()
    if row is None:
        raise NotFound("weight profile", name)
    return row


def profile_public(session: Session, row: WeightProfile) -> dict[str, Any]:
    """Return the public shape of a profile with its weights."""
    return {
        "name": row.name, "description": row.description, "method": row.method,
        "version": row.version, "consistency_ratio": row.consistency_ratio,
        "inconsistent": row.consistency_ratio is not None and row.consistency_ratio >= 0.1,
        "ahp_matrix": row.ahp_matrix, "weights": _weights(session, int(row.id or 0)),
        "retired": row.retired_at is not None,
    }


def list_profiles(*, session: Session, include_retired: bool = True) -> list[dict[str, Any]]:
    """List the weight profiles with their weights (retired ones too unless asked not to)."""
    query = select(WeightProfile).order_by(col(WeightProfile.id))
    if not include_retired:
        query = query.where(col(WeightProfile.retired_at).is_(None))
    rows: list[WeightProfile] = list(session.execute(query).scalars())
    return [profile_public(session, row) for row in rows]


def get_profile(*, session: Session, name: str) -> dict[str, Any]:
    """Return one weight profile."""
    return profile_public(session, _profile_row(session, name))


def profile_history(*, session: Session, name: str) -> list[dict[str, Any]]:
    """Return a profile's past versions, newest first."""
    row = _profile_row(session, name)
    revisions = cast(list[tuple[ProfileRevision, str | None]], session.execute(
        select(ProfileRevision, col(User.name))
        .outerjoin(User, col(User.id) == col(ProfileRevision.changed_by_id))
        .where(col(ProfileRevision.profile_id) == row.id)
        .order_by(col(ProfileRevision.version).desc())
    ).all())
    # Who made a version by name, as reviews and comments name people; "System" for no one.
    out: list[dict[str, Any]] = [{"version": r.version, "weights": r.weights, "method": r.method,
            "ahp_matrix": r.ahp_matrix, "consistency_ratio": r.consistency_ratio,
            "changed_by": who or "System",
            "changed_at": r.changed_at.isoformat() if r.changed_at else None}
           for r, who in revisions]
    dimension_of = criterion_dimensions(session)
    for newer, older in zip(out, [*out[1:], None], strict=True):
        newer["changes"] = weight_changes(older["weights"] if older else None, newer["weights"],
                                          dimension_of)
    return out


def weight_changes(before: dict[str, Any] | None, after: dict[str, Any],
                   dimension_of: dict[str, str]) -> list[dict[str, Any]]:
    """List the weights that differ between two versions, criteria as shares of their dimension."""
    changes = []
    for kind in ("dimension", "criterion"):
        old, new = (before or {}).get(kind, {}), after.get(kind, {})
        if kind == "criterion":
            old, new = shares_of_dimension(old, dimension_of), shares_of_dimension(new,
                                                                                  dimension_of)
        for key in sorted(set(old) | set(new)):
            was, now = old.get(key), new.get(key)
            if was is None or now is None or abs(was - now) > 5e-5:
                changes.append({"kind": kind, "key": key, "before": was, "after": now})
    return changes


# A profile's name is its address, one path segment (/profiles/{name}); these segments are the
# profiles' own pages there (web/pages_profiles.py), or ones a browser rewrites ("." and "..").
UNREACHABLE_NAMES = frozenset({"compare", "from-sliders", "ahp", ".", ".."})


def _name_problem(name: str) -> str | None:
    """Say why a new profile's name could not be its address, or return None."""
    if "/" in name:
        return "a profile name cannot contain “/”"
    if name in UNREACHABLE_NAMES:
        return (f"a profile cannot be named “{name}”: that address is taken by the profile "
                "pages themselves; choose another name")
    return None


def _checked(mapping: Any, field: str, expected: set[str]) -> dict[str, float]:
    """Validate and normalise one group of weights."""
    if not isinstance(mapping, dict):
        raise Invalid({field: "must be an object of weights"})
    unknown = set(mapping) - expected
    missing = expected - set(mapping)
    if unknown:
        raise Invalid({field: f"unknown key(s): {', '.join(sorted(unknown))}"})
    if missing:
        raise Invalid({field: f"missing weight(s) for: {', '.join(sorted(missing))}"})
    try:
        return normalise_weights({k: float(v) for k, v in mapping.items()})
    except (InvalidWeights, TypeError, ValueError) as exc:
        raise Invalid({field: str(exc)}) from None


def _stale(session: Session, row: WeightProfile, version: int) -> Conflict:
    """Return the refusal of weights set from an older version, naming the weights changed since."""
    current = profile_public(session, row)
    then = session.execute(select(col(ProfileRevision.weights)).where(
        col(ProfileRevision.profile_id) == row.id, col(ProfileRevision.version) == version)
    ).scalar()
    changes = weight_changes(then, current["weights"], criterion_dimensions(session))
    return Conflict(
        f"weight profile {row.name!r} was changed by someone else since you opened it (now "
        f"version {row.version}, you edited version {version})",
        current=current, changed={f"{c['kind']}:{c['key']}": c for c in changes})


def set_weights(
    *, session: Session, actor: Actor, name: str, dimension_weights: dict[str, Any],
    criterion_weights: dict[str, Any], description: str | None = None,
    ahp_matrix: dict[str, Any] | None = None, consistency_ratio: float | None = None,
    create: bool = False, version: int | None = None,
) -> dict[str, Any]:
    """Store new weights for a profile (creating it if asked), keeping the old ones in history.

    Given the `version` the weights were set from, a profile changed since is refused (409).
    """
    require(actor, Capability.MANAGE_PROFILES)
    criteria: set[str] = set(session.execute(select(col(Criterion.key))).scalars())
    if ahp_matrix:
        # Weights come from the judgements: the matrices' weights replace those sent for them.
        derived = ahp_profile(ahp_matrix, _criteria_by_dimension(session))
        dimension_weights = derived["weights"].get("dimension") or dimension_weights
        criterion_weights = {**(criterion_weights if isinstance(criterion_weights, dict)
                                else {}), **derived["weights"]["criterion"]}
        ahp_matrix, consistency_ratio = derived["matrix"], derived["consistency_ratio"]
    dimensions = _checked(dimension_weights, "dimension_weights", set(DIMENSIONS))
    by_criterion = _checked(criterion_weights, "criterion_weights", criteria)
    existing = session.execute(
        select(WeightProfile).where(col(WeightProfile.name) == name)).scalars().first()
    if existing is None and not create:
        raise NotFound("weight profile", name)
    taken = {"name": f"a weight profile named {name!r} already exists"}
    if existing is not None and create:
        raise Invalid(taken)
    if not name.strip() or len(name) > 120:
        raise Invalid({"name": "must be 1 to 120 characters"})
    if problem := control_problem(name) or (_name_problem(name) if create else None):
        raise Invalid({"name": problem})
    if problem := control_problem(description or "", multiline=True):
        raise Invalid({"description": problem})
    if existing is not None and version is not None and version != existing.version:
        # A version it never had is refused in words (past the bigint range it was a 500).
        require_known_version(version, existing.version, f"weight profile {name!r}")
        raise _stale(session, existing, version)
    row = existing or WeightProfile(name=name, version=0)
    before = profile_public(session, row) if existing else None
    if existing is not None:
        # Compare-and-set: a save committed since this one read the profile wins, not this one.
        taken = existing.version
        result = session.execute(update(WeightProfile).where(
            col(WeightProfile.id) == existing.id, col(WeightProfile.version) == taken
        ).values(version=taken + 1))
        session.refresh(existing)
        if rows_changed(result) != 1:
            raise _stale(session, existing, version if version is not None else taken)
    else:
        row.version = 1
    row.method = (WeightMethod.AHP if ahp_matrix else WeightMethod.DIRECT).value
    row.ahp_matrix = ahp_matrix
    row.consistency_ratio = consistency_ratio
    row.updated_at = utcnow()
    if description is not None:
        row.description = description
    add_new(session, row, taken=taken)
    session.execute(delete(ProfileWeight).where(col(ProfileWeight.profile_id) == row.id))
    for kind, mapping in ((WeightKind.DIMENSION, dimensions), (WeightKind.CRITERION, by_criterion)):
        for key, weight in mapping.items():
            session.add(ProfileWeight(profile_id=int(row.id or 0), kind=kind.value, key=key,
                                      weight=weight))
    weights = {"dimension": dimensions, "criterion": by_criterion}
    session.add(ProfileRevision(profile_id=int(row.id or 0), version=row.version, weights=weights,
                                method=row.method, ahp_matrix=ahp_matrix,
                                consistency_ratio=consistency_ratio, changed_by_id=actor.id))
    session.flush()
    after = profile_public(session, row)
    record(session, actor, action="update" if existing else "create", entity="weight_profile",
           entity_id=row.id, before=before, after=after)
    return after


def retire_profile(*, session: Session, actor: Actor, name: str,
                   retired: bool = True) -> dict[str, Any]:
    """Retire a profile (it leaves the profile switchers, its history stays) or bring it back."""
    require(actor, Capability.MANAGE_PROFILES)
    # "Another is in use" reads rows no lock covers: two retirements at once take turns.
    one_at_a_time(session, "retiring a weight profile")
    row = _profile_row(session, name)
    before = profile_public(session, row)
    if retired and row.retired_at is None:
        others = session.execute(select(col(WeightProfile.id)).where(
            col(WeightProfile.retired_at).is_(None), col(WeightProfile.id) != row.id)).first()
        if others is None:
            raise Invalid({"name": "the last profile in use cannot be retired"})
        row.retired_at = utcnow()
    elif not retired:
        row.retired_at = None
    session.add(row)
    session.flush()
    after = profile_public(session, row)
    record(session, actor, action="retire" if retired else "restore", entity="weight_profile",
           entity_id=row.id, before=before, after=after)
    return after


def criterion_dimensions(session: Session) -> dict[str, str]:
    """Return each criterion's dimension by its key."""
    return dict(cast(list[tuple[str, str]], session.execute(
        select(col(Criterion.key), col(Criterion.dimension))).all()))


def _criteria_by_dimension(session: Session) -> dict[str, list[str]]:
    """Return each dimension's criteria keys in their display order."""
    out: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    rows = cast(list[tuple[str, str]], session.execute(
        select(col(Criterion.key), col(Criterion.dimension)).order_by(col(Criterion.position),
                                                                      col(Criterion.id))
    ).all())
    for key, dimension in rows:
        out[dimension].append(key)
    return out


def criteria_by_dimension(*, session: Session) -> dict[str, list[dict[str, str]]]:
    """Return each dimension's criteria (key and name) for the AHP grids."""
    out: dict[str, list[dict[str, str]]] = {d: [] for d in DIMENSIONS}
    rows = cast(list[tuple[str, str, str]], session.execute(
        select(col(Criterion.key), col(Criterion.name), col(Criterion.dimension))
        .order_by(col(Criterion.position), col(Criterion.id))
    ).all())
    for key, name, dimension in rows:
        out[dimension].append({"key": key, "name": name})
    return out


def _cell_errors(field: str, exc: InvalidAHPMatrix) -> dict[str, str]:
    """Name the cell (0-based, as in the JSON) or the assessor an AHP refusal concerns."""
    if isinstance(exc, InvalidGroupAHP):
        field = f"{field}.assessors[{exc.assessor}].matrix"
    if exc.cell is not None:
        field = f"{field}[{exc.cell[0]}][{exc.cell[1]}]"
    return {field: str(exc)}


def _group_public(labels: list[str], result: AHPResult) -> dict[str, Any]:
    """Return one AHP result's weights and consistency by label."""
    return {
        "weights": {label: float(w) for label, w in zip(labels, result.weights, strict=True)},
        "lambda_max": float(result.lambda_max),
        "consistency_index": float(result.consistency_index),
        "consistency_ratio": float(result.consistency_ratio),
        "inconsistent": bool(result.inconsistent),
        "warnings": [f"{labels[i]} against {labels[j]}: the judgement is outside Saaty's "
                     "scale (1/9 to 9)" for i, j in result.off_scale],
    }


def _flagged_judgements(field: str, matrix: Any,
                        assessors: list[dict[str, Any]] | None) -> dict[str, str]:
    """Name each judgement that is no number (true or false NumPy would read as 1 or 0)."""
    # A profile's matrices reach the service as JSON (their shape is the service's to check),
    # so the body's model cannot refuse a flag in them as it does in POST /ahp's.
    grids = ([(field, matrix)] if matrix is not None else
             [(f"{field}.assessors[{k}].matrix", a.get("matrix"))
              for k, a in enumerate(assessors or []) if isinstance(a, dict)])
    flagged: dict[str, str] = {}
    for name, grid in grids:
        for i, row in enumerate(grid if isinstance(grid, list) else []):
            for j, value in enumerate(row if isinstance(row, list) else []):
                try:
                    refuse_flag(value)
                except ValueError as exc:
                    flagged[f"{name}[{i}][{j}]"] = str(exc)
                else:
                    # Text such as "3" NumPy would read, and the profile keep as text.
                    if not isinstance(value, int | float):
                        shown = orjson.dumps(value).decode()[:40]
                        flagged[f"{name}[{i}][{j}]"] = (
                            f"Enter a number, such as 3 or 0.333 (you entered {shown}).")
    return flagged


def ahp_derive(labels: list[str], matrix: list[list[float]] | None = None,
               assessors: list[dict[str, Any]] | None = None,
               field: str = "matrix") -> dict[str, Any]:
    """Derive weights from one pairwise matrix, or from several assessors' (group AHP)."""
    if (matrix is None) == (not assessors):
        raise Invalid({field: "give either one matrix or the assessors' matrices"})
    if assessors and not (isinstance(assessors, list)
                          and all(isinstance(a, dict) for a in assessors)):
        raise Invalid({f"{field}.assessors": "must be a list of assessors, each with a name "
                                             "and a matrix"})
    if len(set(labels)) != len(labels):
        raise Invalid({"labels": "labels must be different from each other"})
    flagged = _flagged_judgements(field, matrix, assessors)
    if flagged:
        raise Invalid(flagged)
    try:
        if assessors:
            group = group_ahp([a["matrix"] for a in assessors])
            result, combined = group.group, group.matrix
        else:
            result, combined = ahp_weights(np.asarray(matrix, dtype=float)), None
    except InvalidAHPMatrix as exc:
        raise Invalid(_cell_errors(field, exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise Invalid({field: f"not a matrix of numbers: {exc}"}) from None
    if len(labels) != len(result.weights):
        raise Invalid({"labels": f"{len(labels)} labels for a {len(result.weights)}x"
                                 f"{len(result.weights)} matrix"})
    out = _group_public(labels, result)
    if assessors:
        assert combined is not None  # a group's combined matrix
        out["matrix"] = [[float(v) for v in row] for row in combined]
        out["assessors"] = [
            {"name": str(a.get("name") or f"Assessor {k + 1}"), **_group_public(labels, r)}
            for k, (a, r) in enumerate(zip(assessors, group.assessors, strict=True))]
        out["warnings"] = [f"{a['name']}: {w}" for a in out["assessors"] for w in a["warnings"]]
    return out


def ahp_profile(ahp_matrix: dict[str, Any],
                criteria: dict[str, list[str]]) -> dict[str, Any]:
    """Derive a profile's weights from its AHP matrices: one for the dimensions, one per dimension.

    Returns the weights, the matrices as stored (with each one's weights and CR) and the
    profile's CR, the largest of its matrices' (the profile is as consistent as its worst).
    """
    if not isinstance(ahp_matrix, dict):
        raise Invalid({"ahp_matrix": "must be an object of matrices by group"})
    unknown = set(ahp_matrix) - {"dimensions", *DIMENSIONS}
    if unknown:
        raise Invalid({"ahp_matrix": f"unknown group(s): {', '.join(sorted(unknown))}; use "
                                     "dimensions, impact, feasibility or readiness"})
    weights: dict[str, dict[str, float]] = {"criterion": {}}
    stored: dict[str, Any] = {}
    ratios = []
    for group, entry in ahp_matrix.items():
        field = f"ahp_matrix.{group}"
        if not isinstance(entry, dict):
            raise Invalid({field: "must be an object with labels and a matrix (or assessors)"})
        expected = list(DIMENSIONS) if group == "dimensions" else criteria.get(group, [])
        given = entry.get("labels") or expected
        if not isinstance(given, list) or sorted(map(str, given)) != sorted(expected):
            raise Invalid({f"{field}.labels": f"must be a list of exactly: {', '.join(expected)}"})
        labels = [str(x) for x in given]
        try:
            derived = ahp_derive(labels, entry.get("matrix"), entry.get("assessors"),
                                 field=f"{field}.matrix" if entry.get("matrix") is not None
                                 else field)
        except Invalid as exc:
            # The labels' refusal (as many as the matrix's rows) names this group's labels.
            raise Invalid({f"{field}.labels" if k == "labels" else k: v
                           for k, v in exc.errors.items()}) from None
        if group == "dimensions":
            weights["dimension"] = derived["weights"]
        else:
            weights["criterion"].update(derived["weights"])
        ratios.append(derived["consistency_ratio"])
        stored[group] = {"labels": labels, **derived}
        if entry.get("matrix") is not None:
            stored[group]["matrix"] = entry["matrix"]
        for given, public in zip(entry.get("assessors") or [], derived.get("assessors", []),
                                 strict=False):
            public["matrix"] = given["matrix"]
    return {"weights": weights, "matrix": stored,
            "consistency_ratio": max(ratios) if ratios else None}
