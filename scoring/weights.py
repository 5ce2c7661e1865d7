"""Weight profiles, weight normalisation and AHP pairwise-comparison weights."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from scoring.criteria import DIMENSIONS, Criterion, criterion_keys

# Saaty's random consistency indices for n = 1..10.
RANDOM_INDEX: tuple[float, ...] = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49)
CONSISTENCY_LIMIT = 0.1
# a_ij * a_ji may differ from 1 by this much: 1/3 typed as 0.333 (product 0.999) is reciprocal.
RECIPROCAL_TOLERANCE = 0.01
SCALE_TOLERANCE = 1e-6
# Weights are relative, so no scale needs more; larger ones overflow the sum to infinity.
MAX_WEIGHT = 1_000_000.0
# Saaty's scale runs from 1/9 to 9; values between its points (5/3, 2.5) are fine judgements.
SCALE_RANGE: tuple[float, float] = (1.0 / 9.0, 9.0)
SAATY_SCALE: tuple[float, ...] = tuple(
    sorted({float(v) for v in range(1, 10)} | {1.0 / v for v in range(2, 10)})
)


class InvalidWeights(ValueError):
    """Weights that cannot be normalised: negative, non-finite, or all zero."""


def _checked_weights(mapping: Mapping[str, float], what: str) -> dict[str, float]:
    checked: dict[str, float] = {}
    for key, raw in mapping.items():
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise InvalidWeights(f"{what} weight for {key!r} is not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise InvalidWeights(f"{what} weight for {key!r} is not finite: {value!r}")
        if value < 0:
            raise InvalidWeights(f"{what} weight for {key!r} is negative: {value!r}")
        if value > MAX_WEIGHT:
            raise InvalidWeights(f"{what} weight for {key!r} is over {MAX_WEIGHT:,.0f}: "
                                 f"{value!r} (weights are relative: scale them down)")
        checked[key] = value
    return checked


def weight_problems(mapping: Mapping[str, object]) -> dict[str, str]:
    """Name each weight that cannot be used: not a number, not finite, negative, too big, all 0.

    Used where every weight has its own field, so each message can stand beside its field.
    """
    problems: dict[str, str] = {}
    total = 0.0
    for key, raw in mapping.items():
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems[key] = f"Enter a number, such as 0.3 (you entered {str(raw)!r})."
            continue
        if not math.isfinite(value):
            problems[key] = f"Enter an ordinary number, such as 0.3 (you entered {str(raw)!r})."
        elif value < 0:
            problems[key] = "Enter a weight of 0 or more: 0 leaves it out."
        elif value > MAX_WEIGHT:
            problems[key] = (f"Enter a weight of at most {MAX_WEIGHT:,.0f}: weights are "
                             "relative, so scale them all down.")
        else:
            total += value
    if not problems and mapping and total <= 0:
        problems.update({key: "the weights sum to zero: at least one must be positive"
                         for key in mapping})
    return problems


def normalise_weights(mapping: Mapping[str, float]) -> dict[str, float]:
    """Scale non-negative finite weights to sum to 1: w_i / sum(w)."""
    checked = _checked_weights(mapping, "the")
    total = sum(checked.values())
    if total <= 0:
        raise InvalidWeights(
            "weights are all zero (or empty): at least one weight must be positive"
        )
    normalised = {key: value / total for key, value in checked.items()}
    if not any(value > 0 for value in normalised.values()):
        # Tiny weights can underflow to zero once divided by their sum.
        raise InvalidWeights("weights are all zero after normalisation: scale them up")
    return normalised


@dataclass(frozen=True)
class WeightProfile:
    """Name a set of dimension weights and criterion weights (relative, any positive scale)."""

    name: str
    dimension_weights: Mapping[str, float]
    criterion_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        dims = _checked_weights(self.dimension_weights, "dimension")
        unknown = sorted(set(dims) - set(DIMENSIONS))
        if unknown:
            raise InvalidWeights(f"profile {self.name!r}: unknown dimension(s) {unknown}")
        absent = [d for d in DIMENSIONS if d not in dims]
        if absent:
            raise InvalidWeights(f"profile {self.name!r}: no weight for dimension(s) {absent}")
        if sum(dims.values()) <= 0:
            raise InvalidWeights(f"profile {self.name!r}: dimension weights are all zero")
        crits = _checked_weights(self.criterion_weights, "criterion")
        # Read-only views keep the frozen dataclass honest about its mappings.
        object.__setattr__(self, "dimension_weights", MappingProxyType(dims))
        object.__setattr__(self, "criterion_weights", MappingProxyType(crits))


def weight_arrays(
    criteria: Sequence[Criterion], profile: WeightProfile
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return criterion weights (m,), dimension weights (k,) and membership (m, k) as arrays."""
    keys = criterion_keys(criteria)
    unweighted = [k for k in keys if k not in profile.criterion_weights]
    if unweighted:
        raise InvalidWeights(
            f"profile {profile.name!r}: no weight for criterion(s) {', '.join(unweighted)}"
        )
    w = np.array([profile.criterion_weights[k] for k in keys], dtype=np.float64)
    dim_w = np.array([profile.dimension_weights[d] for d in DIMENSIONS], dtype=np.float64)
    member = np.array([[c.dimension == d for d in DIMENSIONS] for c in criteria], dtype=bool)
    member = member.reshape(len(keys), len(DIMENSIONS))
    return w, dim_w, member


def shares_of_dimension(criterion_weights: Mapping[str, float],
                        dimension_of: Mapping[str, str]) -> dict[str, float]:
    """Return each criterion's weight as its share of its dimension's total (0 if that is 0)."""
    # Stored weights may be normalised over all criteria or within each dimension: the engine
    # reads only these shares, so two versions are compared in them.
    totals: dict[str, float] = {}
    for key, weight in criterion_weights.items():
        group = dimension_of.get(key, key)
        totals[group] = totals.get(group, 0.0) + weight
    return {key: weight / total if (total := totals[dimension_of.get(key, key)]) > 0 else 0.0
            for key, weight in criterion_weights.items()}


def effective_weights(criteria: Sequence[Criterion], profile: WeightProfile) -> pd.Series:
    """Return each criterion's share of the whole score, e_c = W_d' * w_c', summing to 1.

    W_d' and w_c' are the profile weights normalised over all criteria; a dimension whose
    criteria all weigh zero carries no weight, so its dimension weight goes to the others.
    """
    w, dim_w, member = weight_arrays(criteria, profile)
    per_dim = w @ member  # total criterion weight per dimension
    dim_live = np.where(per_dim > 0, dim_w, 0.0)
    if dim_live.sum() <= 0:
        raise InvalidWeights(f"profile {profile.name!r}: no criterion carries any weight")
    share = np.divide(dim_live, per_dim, out=np.zeros_like(dim_live), where=per_dim > 0)
    e = w * (member @ share) / dim_live.sum()
    return pd.Series(e, index=pd.Index(criterion_keys(criteria)), name="weight")


@dataclass(frozen=True)
class AHPResult:
    """Hold AHP priority weights, the consistency of the judgements and any off-scale cells."""

    weights: np.ndarray
    lambda_max: float
    consistency_index: float
    consistency_ratio: float
    inconsistent: bool
    off_scale: tuple[tuple[int, int], ...] = ()

    def as_mapping(self, labels: Sequence[str]) -> dict[str, float]:
        """Pair the weights with labels, in matrix order."""
        if len(labels) != len(self.weights):
            raise ValueError(f"{len(labels)} labels for {len(self.weights)} weights")
        return {label: float(w) for label, w in zip(labels, self.weights, strict=True)}


@dataclass(frozen=True)
class GroupAHPResult:
    """Hold several assessors' AHP results and the group's, from their geometric-mean matrix."""

    matrix: np.ndarray
    group: AHPResult
    assessors: tuple[AHPResult, ...]


class InvalidAHPMatrix(ValueError):
    """A pairwise-comparison matrix that is not a valid AHP judgement matrix, naming the cell."""

    def __init__(self, message: str, cell: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.cell = cell


def reciprocal_matrix(matrix: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Check a judgement matrix and return it made exactly reciprocal: sqrt(a_ij / a_ji).

    Refuses (naming the 0-based cell) a matrix that is not square, not finite, not positive,
    whose diagonal is not 1, or where a_ij * a_ji is further than RECIPROCAL_TOLERANCE from 1.
    """
    a = np.array(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise InvalidAHPMatrix(f"matrix must be square and non-empty, got shape {a.shape}")
    n = a.shape[0]
    if n > len(RANDOM_INDEX):
        raise InvalidAHPMatrix(
            f"{n} items: the random index is tabulated only up to {len(RANDOM_INDEX)}; "
            "compare within dimensions instead"
        )
    if not np.all(np.isfinite(a)):
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise InvalidAHPMatrix(f"matrix has non-finite entries: ({i}, {j})", (int(i), int(j)))
    if np.any(a <= 0):
        i, j = np.argwhere(a <= 0)[0]
        raise InvalidAHPMatrix(f"entry ({i}, {j}) = {a[i, j]:g} is not positive", (int(i), int(j)))
    off_diag = np.flatnonzero(np.abs(np.diag(a) - 1.0) > RECIPROCAL_TOLERANCE)
    if off_diag.size:
        i = int(off_diag[0])
        raise InvalidAHPMatrix(f"diagonal entry ({i}, {i}) = {a[i, i]:g} is not 1", (i, i))
    product = a * a.T
    bad = np.argwhere(np.abs(product - 1.0) > RECIPROCAL_TOLERANCE)
    if bad.size:
        i, j = sorted(bad[0].tolist())
        raise InvalidAHPMatrix(
            f"not reciprocal: a[{i},{j}] * a[{j},{i}] = {a[i, j]:g} * {a[j, i]:g} "
            f"= {product[i, j]:g}, expected 1", (i, j)
        )
    # Typed reciprocals (0.333 for 1/3) are evened out so the matrix is exactly reciprocal.
    return np.sqrt(a / a.T)


def off_scale_cells(a: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Return the upper-triangle cells (i < j) outside Saaty's range [1/9, 9]."""
    low, high = SCALE_RANGE
    outside = (a < low * (1 - SCALE_TOLERANCE)) | (a > high * (1 + SCALE_TOLERANCE))
    return tuple((int(i), int(j)) for i, j in np.argwhere(np.triu(outside, k=1)))


def ahp_weights(matrix: np.ndarray | Sequence[Sequence[float]]) -> AHPResult:
    """Derive AHP weights from the principal eigenvector; CI = (lambda_max - n)/(n - 1), CR = CI/RI.

    Any positive reciprocal matrix is accepted (within RECIPROCAL_TOLERANCE), including
    judgements between Saaty's points such as 5/3; entries outside [1/9, 9] are listed in
    `off_scale` as a warning. Weights sum to 1; `inconsistent` is CR >= 0.1; CR is 0 for n <= 2.
    """
    a = reciprocal_matrix(matrix)
    n = a.shape[0]
    eigenvalues, eigenvectors = np.linalg.eig(a)
    # Perron-Frobenius: a positive matrix has one real eigenvalue of largest modulus.
    principal = int(np.argmax(eigenvalues.real))
    lambda_max = float(eigenvalues[principal].real)
    vector = eigenvectors[:, principal].real
    weights = vector / vector.sum()  # dividing by the sum also fixes the arbitrary sign
    weights.setflags(write=False)
    # lambda_max >= n in exact arithmetic; clip rounding noise so CI is never negative.
    ci = max(lambda_max - n, 0.0) / (n - 1) if n > 1 else 0.0
    ri = RANDOM_INDEX[n - 1]
    cr = ci / ri if ri > 0 else 0.0
    return AHPResult(
        weights=weights,
        lambda_max=lambda_max,
        consistency_index=ci,
        consistency_ratio=cr,
        inconsistent=cr >= CONSISTENCY_LIMIT,
        off_scale=off_scale_cells(a),
    )


class InvalidGroupAHP(InvalidAHPMatrix):
    """One assessor's matrix is invalid, or the assessors' matrices differ in size."""

    def __init__(self, message: str, assessor: int, cell: tuple[int, int] | None = None) -> None:
        super().__init__(message, cell)
        self.assessor = assessor


def group_ahp(matrices: Sequence[np.ndarray | Sequence[Sequence[float]]]) -> GroupAHPResult:
    """Combine assessors' judgements by the element-wise geometric mean, then derive weights.

    g_ij = (prod_k a_ij^(k))^(1/K): the mean of reciprocal matrices stays reciprocal (Aczel and
    Saaty, 1983). Each assessor's result is kept so their CR can be shown beside the group's.
    """
    if not matrices:
        raise InvalidGroupAHP("no assessors' matrices", assessor=0)
    checked: list[np.ndarray] = []
    results: list[AHPResult] = []
    for k, matrix in enumerate(matrices):
        try:
            results.append(ahp_weights(matrix))
            checked.append(reciprocal_matrix(matrix))
        except InvalidGroupAHP:
            raise
        except InvalidAHPMatrix as exc:
            raise InvalidGroupAHP(str(exc), assessor=k, cell=exc.cell) from None
        if checked[-1].shape != checked[0].shape:
            raise InvalidGroupAHP(
                f"assessor {k + 1}'s matrix is {checked[-1].shape[0]}x{checked[-1].shape[0]}, "
                f"the first is {checked[0].shape[0]}x{checked[0].shape[0]}", assessor=k)
    combined = np.exp(np.mean(np.log(np.stack(checked)), axis=0))
    combined.setflags(write=False)
    return GroupAHPResult(matrix=combined, group=ahp_weights(combined), assessors=tuple(results))
