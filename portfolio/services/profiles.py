"""Weight profiles: named weights set directly or derived from AHP comparisons, with history."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import WeightKind, WeightMethod
from portfolio.errors import Invalid, NotFound
from portfolio.models import (
    Criterion,
    ProfileRevision,
    ProfileWeight,
    WeightProfile,
    utcnow,
)
from portfolio.services.common import record
from portfolio.text import control_problem
from scoring.weights import InvalidAHPMatrix, InvalidWeights, ahp_weights, normalise_weights

DIMENSIONS = ("impact", "feasibility", "readiness")


def _weights(session: Session, profile_id: int) -> dict[str, dict[str, float]]:
    """Return a profile's weights by kind and key."""
    out: dict[str, dict[str, float]] = {"dimension": {}, "criterion": {}}
    for kind, key, weight in session.execute(
        select(ProfileWeight.kind, ProfileWeight.key, ProfileWeight.weight)
        .where(ProfileWeight.profile_id == profile_id)
    ).all():
        out[kind][key] = weight
    return out


def _profile_row(session: Session, name: str) -> WeightProfile:
    """Return a profile by name or raise NotFound."""
    row = session.execute(select(WeightProfile).where(WeightProfile.name == name)).scalars().first()
    if row is None:
        raise NotFound("weight profile", name)
    return row


def profile_public(session: Session, row: WeightProfile) -> dict[str, Any]:
    """Return the public shape of a profile with its weights."""
    return {
        "name": row.name, "description": row.description, "method": row.method,
        "version": row.version, "consistency_ratio": row.consistency_ratio,
        "inconsistent": row.consistency_ratio is not None and row.consistency_ratio >= 0.1,
        "ahp_matrix": row.ahp_matrix, "weights": _weights(session, row.id),
    }


def list_profiles(*, session: Session) -> list[dict[str, Any]]:
    """List the weight profiles with their weights."""
    rows = session.execute(select(WeightProfile).order_by(WeightProfile.id)).scalars().all()
    return [profile_public(session, row) for row in rows]


def get_profile(*, session: Session, name: str) -> dict[str, Any]:
    """Return one weight profile."""
    return profile_public(session, _profile_row(session, name))


def profile_history(*, session: Session, name: str) -> list[dict[str, Any]]:
    """Return a profile's past versions, newest first."""
    row = _profile_row(session, name)
    revisions = session.execute(
        select(ProfileRevision).where(ProfileRevision.profile_id == row.id)
        .order_by(ProfileRevision.version.desc())
    ).scalars().all()
    return [{"version": r.version, "weights": r.weights, "changed_by_id": r.changed_by_id,
             "changed_at": r.changed_at.isoformat() if r.changed_at else None}
            for r in revisions]


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


def set_weights(
    *, session: Session, actor: Actor, name: str, dimension_weights: dict[str, Any],
    criterion_weights: dict[str, Any], description: str | None = None,
    ahp_matrix: dict[str, Any] | None = None, consistency_ratio: float | None = None,
    create: bool = False,
) -> dict[str, Any]:
    """Store new weights for a profile (creating it if asked), keeping the old ones in history."""
    require(actor, Capability.MANAGE_PROFILES)
    criteria = set(session.execute(select(Criterion.key)).scalars().all())
    dimensions = _checked(dimension_weights, "dimension_weights", set(DIMENSIONS))
    by_criterion = _checked(criterion_weights, "criterion_weights", criteria)
    existing = session.execute(
        select(WeightProfile).where(WeightProfile.name == name)).scalars().first()
    if existing is None and not create:
        raise NotFound("weight profile", name)
    if existing is not None and create:
        raise Invalid({"name": f"a weight profile named {name!r} already exists"})
    if not name.strip() or len(name) > 120:
        raise Invalid({"name": "must be 1 to 120 characters"})
    if problem := control_problem(name):
        raise Invalid({"name": problem})
    if problem := control_problem(description or "", multiline=True):
        raise Invalid({"description": problem})
    row = existing or WeightProfile(name=name, version=0)
    before = profile_public(session, row) if existing else None
    row.version += 1
    row.method = (WeightMethod.AHP if ahp_matrix else WeightMethod.DIRECT).value
    row.ahp_matrix = ahp_matrix
    row.consistency_ratio = consistency_ratio
    row.updated_at = utcnow()
    if description is not None:
        row.description = description
    session.add(row)
    session.flush()
    session.execute(delete(ProfileWeight).where(ProfileWeight.profile_id == row.id))
    for kind, mapping in ((WeightKind.DIMENSION, dimensions), (WeightKind.CRITERION, by_criterion)):
        for key, weight in mapping.items():
            session.add(ProfileWeight(profile_id=row.id, kind=kind.value, key=key, weight=weight))
    weights = {"dimension": dimensions, "criterion": by_criterion}
    session.add(ProfileRevision(profile_id=row.id, version=row.version, weights=weights,
                                changed_by_id=actor.id))
    session.flush()
    after = profile_public(session, row)
    record(session, actor, action="update" if existing else "create", entity="weight_profile",
           entity_id=row.id, before=before, after=after)
    return after


def ahp_derive(labels: list[str], matrix: list[list[float]]) -> dict[str, Any]:
    """Derive weights from a pairwise comparison matrix (Saaty 1-9) with its consistency."""
    try:
        result = ahp_weights(np.asarray(matrix, dtype=float))
    except (InvalidAHPMatrix, ValueError) as exc:
        raise Invalid({"matrix": str(exc)}) from None
    if len(labels) != len(result.weights):
        raise Invalid({"labels": f"{len(labels)} labels for a {len(result.weights)}x"
                                 f"{len(result.weights)} matrix"})
    return {
        "weights": {label: float(w) for label, w in zip(labels, result.weights, strict=True)},
        "lambda_max": float(result.lambda_max),
        "consistency_index": float(result.consistency_index),
        "consistency_ratio": float(result.consistency_ratio),
        "inconsistent": bool(result.inconsistent),
    }
