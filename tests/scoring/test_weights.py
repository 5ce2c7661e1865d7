"""Weight normalisation, profiles and AHP weights with their consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.criteria import Criterion
from scoring.weights import (
    InvalidAHPMatrix,
    InvalidGroupAHP,
    InvalidWeights,
    WeightProfile,
    ahp_weights,
    effective_weights,
    group_ahp,
    normalise_weights,
    shares_of_dimension,
    weight_problems,
)

CLASSIC_3 = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
# Expected figures come from a pure-Python power iteration (no numpy), run separately:
# weights 0.565009 0.117504 0.262201 0.055285, lambda_max 4.116982, CI 0.038994, CR 0.043327.
EXAMPLE_4 = [
    [1, 5, 3, 7],
    [1 / 5, 1, 1 / 3, 3],
    [1 / 3, 3, 1, 5],
    [1 / 7, 1 / 3, 1 / 5, 1],
]


def test_normalise_weights_scales_to_sum_one() -> None:
    assert normalise_weights({"a": 1, "b": 3}) == {"a": 0.25, "b": 0.75}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": -1.0, "b": 2.0}, "'a' is negative"),
        ({"a": math.nan}, "'a' is not finite"),
        ({"a": math.inf}, "'a' is not finite"),
        ({"a": 0.0, "b": 0.0}, "all zero"),
        ({}, "all zero"),
        ({"a": "heavy"}, "'a' is not a number"),
    ],
)
def test_normalise_weights_refuses_bad_weights(weights: dict, message: str) -> None:
    with pytest.raises(InvalidWeights, match=message):
        normalise_weights(weights)


def test_invalid_weights_is_a_value_error() -> None:
    assert issubclass(InvalidWeights, ValueError)
    assert issubclass(InvalidAHPMatrix, ValueError)


def test_profile_refuses_a_negative_criterion_weight() -> None:
    with pytest.raises(InvalidWeights, match="criterion weight for 'x' is negative"):
        WeightProfile("p", {"impact": 1, "feasibility": 1, "readiness": 1}, {"x": -2})


def test_profile_refuses_all_zero_dimension_weights() -> None:
    with pytest.raises(InvalidWeights, match="dimension weights are all zero"):
        WeightProfile("p", {"impact": 0, "feasibility": 0, "readiness": 0})


def test_profile_refuses_a_missing_or_unknown_dimension() -> None:
    with pytest.raises(InvalidWeights, match="no weight for dimension"):
        WeightProfile("p", {"impact": 1, "feasibility": 1})
    with pytest.raises(InvalidWeights, match="unknown dimension"):
        WeightProfile("p", {"impact": 1, "feasibility": 1, "readiness": 1, "value": 1})


def test_profile_mappings_are_read_only() -> None:
    profile = WeightProfile("p", {"impact": 1, "feasibility": 1, "readiness": 1}, {"x": 1})
    with pytest.raises(TypeError):
        profile.criterion_weights["x"] = 5  # type: ignore[index]


def test_effective_weights_multiply_dimension_and_criterion_shares() -> None:
    criteria = [
        Criterion("a", "impact"),
        Criterion("b", "impact"),
        Criterion("c", "feasibility"),
        Criterion("d", "readiness"),
    ]
    profile = WeightProfile(
        "p", {"impact": 2, "feasibility": 1, "readiness": 1}, {"a": 1, "b": 3, "c": 5, "d": 0}
    )
    e = effective_weights(criteria, profile)
    # readiness's only criterion weighs 0, so readiness drops out: impact 2/3, feasibility 1/3.
    assert e.to_dict() == pytest.approx({"a": 1 / 6, "b": 1 / 2, "c": 1 / 3, "d": 0.0})


def test_effective_weights_refuse_a_profile_where_nothing_weighs() -> None:
    criteria = [Criterion("a", "impact")]
    profile = WeightProfile("p", {"impact": 1, "feasibility": 0, "readiness": 0}, {"a": 0})
    with pytest.raises(InvalidWeights, match="no criterion carries any weight"):
        effective_weights(criteria, profile)


def test_ahp_classic_three_by_three_example() -> None:
    result = ahp_weights(CLASSIC_3)
    np.testing.assert_array_equal(np.round(result.weights, 3), [0.637, 0.258, 0.105])
    assert round(result.lambda_max, 3) == 3.039
    assert round(result.consistency_index, 3) == 0.019
    assert round(result.consistency_ratio, 3) == 0.033
    assert not result.inconsistent


def test_ahp_four_by_four_example() -> None:
    result = ahp_weights(EXAMPLE_4)
    np.testing.assert_array_equal(np.round(result.weights, 3), [0.565, 0.118, 0.262, 0.055])
    assert round(result.lambda_max, 3) == 4.117
    assert round(result.consistency_index, 3) == 0.039
    assert round(result.consistency_ratio, 3) == 0.043
    assert not result.inconsistent


def test_ahp_flags_circular_judgements_as_inconsistent() -> None:
    # a beats b, b beats c, c beats a: strongly intransitive.
    result = ahp_weights([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    assert result.consistency_ratio >= 0.1
    assert result.inconsistent


@pytest.mark.parametrize("matrix", [[[1.0]], [[1, 7], [1 / 7, 1]]])
def test_ahp_consistency_ratio_is_zero_for_one_or_two_items(matrix: list) -> None:
    result = ahp_weights(matrix)
    assert result.consistency_ratio == 0.0 and not result.inconsistent
    assert result.weights.sum() == pytest.approx(1.0)


def test_ahp_weights_pair_with_labels() -> None:
    mapping = ahp_weights([[1, 3], [1 / 3, 1]]).as_mapping(["impact", "feasibility"])
    assert mapping == pytest.approx({"impact": 0.75, "feasibility": 0.25})


# Ratios of members of a divisibility chain such as 1 | 2 | 6 stay on Saaty's 1-9 scale.
chains = (
    st.lists(st.sampled_from([1, 2, 3]), min_size=0, max_size=3)
    .map(lambda steps: [int(np.prod(steps[:i])) for i in range(len(steps) + 1)])
    .filter(lambda chain: chain[-1] <= 9)
)


@settings(max_examples=75, deadline=None)
@given(chain=chains, data=st.data())
def test_ahp_recovers_the_weights_of_a_consistent_matrix(chain: list[int], data) -> None:
    n = data.draw(st.integers(1, 8), label="n")
    w = np.array(data.draw(st.lists(st.sampled_from(chain), min_size=n, max_size=n)), float)
    result = ahp_weights(w[:, None] / w[None, :])
    np.testing.assert_allclose(result.weights, w / w.sum(), atol=1e-9)
    assert result.consistency_ratio == pytest.approx(0.0, abs=1e-9)
    assert not result.inconsistent


@settings(max_examples=50, deadline=None)
@given(w=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=10))
def test_ahp_off_scale_consistent_matrix_is_exact(w: list) -> None:
    weights = np.array(w)
    result = ahp_weights(weights[:, None] / weights[None, :])
    np.testing.assert_allclose(result.weights, weights / weights.sum(), atol=1e-9)
    assert result.consistency_ratio == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 2, 3], [0.5, 1, 2]], "square"),
        ([], "square"),
        ([[1, -3], [-1 / 3, 1]], "not positive"),
        ([[1, 0], [0, 1]], "not positive"),
        ([[2, 3], [1 / 3, 1]], r"diagonal entry \(0, 0\) = 2 is not 1"),
        ([[1, 3], [1 / 2, 1]], r"not reciprocal: a\[0,1\] \* a\[1,0\]"),
        ([[1, 3], [0.32, 1]], r"not reciprocal: a\[0,1\] \* a\[1,0\]"),
        ([[1, math.nan], [math.nan, 1]], "non-finite"),
        (np.ones((11, 11)), "tabulated only up to 10"),
    ],
)
def test_ahp_refuses_an_invalid_matrix(matrix, message: str) -> None:
    with pytest.raises(InvalidAHPMatrix, match=message):
        ahp_weights(matrix)


def test_ahp_accepts_reciprocals_within_tolerance() -> None:
    result = ahp_weights([[1, 3], [0.3333333333, 1]])
    assert result.weights[0] == pytest.approx(0.75)


@pytest.mark.parametrize("matrix", [[[1, 5 / 3], [3 / 5, 1]], [[1, 2.5], [0.4, 1]],
                                    [[1, 3], [0.333, 1]]])
def test_ahp_accepts_judgements_between_scale_points_and_typed_reciprocals(matrix) -> None:
    result = ahp_weights(matrix)
    assert result.weights.sum() == pytest.approx(1.0)
    assert result.off_scale == ()


def test_ahp_lists_entries_outside_one_ninth_to_nine_as_off_scale() -> None:
    result = ahp_weights([[1, 10, 2], [1 / 10, 1, 1 / 12], [1 / 2, 12, 1]])
    assert result.off_scale == ((0, 1), (1, 2))


def test_ahp_refusal_names_the_cell() -> None:
    with pytest.raises(InvalidAHPMatrix) as caught:
        ahp_weights([[1, 3, 1], [1 / 3, 1, 2], [1, 2, 1]])
    assert caught.value.cell == (1, 2)


def test_group_ahp_is_the_geometric_mean_of_the_assessors_matrices() -> None:
    ana = [[1, 3, 5], [1 / 3, 1, 2], [1 / 5, 1 / 2, 1]]
    ben = [[1, 1, 1 / 5], [1, 1, 1 / 3], [5, 3, 1]]
    result = group_ahp([ana, ben])
    expected = np.sqrt(np.array(ana) * np.array(ben))
    np.testing.assert_allclose(result.matrix, expected)
    np.testing.assert_allclose(result.matrix * result.matrix.T, 1.0)
    np.testing.assert_allclose(result.group.weights, ahp_weights(expected).weights)
    assert [r.consistency_ratio for r in result.assessors] == pytest.approx(
        [ahp_weights(ana).consistency_ratio, ahp_weights(ben).consistency_ratio])


def test_group_ahp_of_one_assessor_is_that_assessor() -> None:
    result = group_ahp([CLASSIC_3])
    np.testing.assert_allclose(result.group.weights, ahp_weights(CLASSIC_3).weights)


def test_group_ahp_names_the_assessor_whose_matrix_is_invalid() -> None:
    with pytest.raises(InvalidGroupAHP) as caught:
        group_ahp([CLASSIC_3, [[1, 2, 2], [2, 1, 1], [0.5, 1, 1]]])
    assert caught.value.assessor == 1 and caught.value.cell == (0, 1)


def test_weight_problems_name_each_weight_that_cannot_be_used() -> None:
    problems = weight_problems({"a": "x", "b": "inf", "c": -1, "d": 2})
    assert set(problems) == {"a", "b", "c"}
    # In plain words, each saying what to enter (found in review: "must not be negative").
    assert problems == {"a": "Enter a number, such as 0.3 (you entered 'x').",
                        "b": "Enter an ordinary number, such as 0.3 (you entered 'inf').",
                        "c": "Enter a weight of 0 or more: 0 leaves it out."}
    assert weight_problems({"a": 0, "b": 0.0}) == {
        "a": "the weights sum to zero: at least one must be positive",
        "b": "the weights sum to zero: at least one must be positive"}
    assert weight_problems({"a": 0, "b": 1}) == {}


DIMENSION_OF = {"a": "impact", "b": "impact", "c": "feasibility", "d": "readiness"}


@given(st.dictionaries(st.sampled_from(sorted(DIMENSION_OF)),
                       st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e6)),
                       min_size=4, max_size=4),
       st.floats(min_value=1e-3, max_value=1e3))
def test_shares_of_dimension_sum_to_one_and_ignore_how_weights_were_normalised(
        weights: dict[str, float], scale: float) -> None:
    shares = shares_of_dimension(weights, DIMENSION_OF)
    for dimension in set(DIMENSION_OF.values()):
        members = [k for k, d in DIMENSION_OF.items() if d == dimension]
        total = sum(shares[k] for k in members)
        assert total == pytest.approx(1.0) or all(weights[k] == 0 for k in members)
    scaled = shares_of_dimension({k: w * scale for k, w in weights.items()}, DIMENSION_OF)
    assert all(scaled[k] == pytest.approx(shares[k], abs=1e-9) for k in weights)
