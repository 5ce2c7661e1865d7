"""Data readiness of links and projects, checked by hand against DESIGN.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.readiness import (
    AGREEMENT_SCORES,
    DRL_SCORES,
    FIT_SCORES,
    link_readiness,
    project_readiness,
    readiness_level,
)


def links(*rows: tuple) -> pd.DataFrame:
    """Build a links table from (project, dataset, drl, fit, agreement, required) rows."""
    columns = ["project", "dataset", "drl", "fit_for_task", "agreement", "required"]
    return pd.DataFrame(list(rows), columns=columns)


def test_factor_tables_match_design() -> None:
    assert DRL_SCORES == {"C4": 0.0, "C3": 0.2, "C2": 0.4, "C1": 0.6, "B2": 0.8, "B1": 1.0}
    assert FIT_SCORES == {"unfit": 0.0, "unknown": 0.4, "partial": 0.7, "fit": 1.0}
    assert AGREEMENT_SCORES == {
        "not_needed": 1.0,
        "signed": 1.0,
        "drafting": 0.5,
        "none": 0.2,
        "expired": 0.1,
    }


def test_link_readiness_is_the_minimum_of_its_three_factors() -> None:
    out = link_readiness(
        pd.Series(["B1", "B2", "C1", "B1"]),
        pd.Series(["fit", "fit", "partial", "fit"]),
        pd.Series(["signed", "not_needed", "signed", "expired"]),
    )
    np.testing.assert_allclose(out, [1.0, 0.8, 0.6, 0.1])


def test_link_readiness_refuses_an_unknown_label() -> None:
    with pytest.raises(ValueError, match="unknown fit_for_task value.*'maybe'"):
        link_readiness(pd.Series(["B1"]), pd.Series(["maybe"]), pd.Series(["signed"]))


def test_project_readiness_is_the_weakest_required_link_and_names_it() -> None:
    table = links(
        ("alpha", "census", "B1", "fit", "signed", True),
        ("alpha", "claims", "B2", "partial", "signed", True),  # 0.7: the weakest
        ("alpha", "rough", "C4", "unfit", "none", False),  # not required: ignored
        ("beta", "census", "B1", "fit", "not_needed", True),
    )
    out = project_readiness(table)
    assert out.loc["alpha", "readiness"] == pytest.approx(0.7)
    assert out.loc["alpha", "bottleneck_dataset"] == "claims"
    assert out.loc["beta", "readiness"] == 1.0


def test_project_without_required_links_is_absent_not_perfectly_ready() -> None:
    table = links(
        ("alpha", "census", "B1", "fit", "signed", True),
        ("gamma", "rough", "C4", "unfit", "none", False),
    )
    out = project_readiness(table)
    assert "gamma" not in out.index
    assert list(out.columns) == ["readiness", "bottleneck_dataset"]


def test_missing_required_flag_does_not_count_as_required() -> None:
    table = links(("alpha", "census", "C4", "fit", "signed", None))
    assert project_readiness(table).empty


def test_produces_links_are_ignored_when_relation_is_given() -> None:
    table = links(
        ("alpha", "census", "B1", "fit", "signed", True),
        ("alpha", "output", "C4", "unfit", "none", True),
    ).assign(relation=["uses", "produces"])
    assert project_readiness(table).loc["alpha", "readiness"] == 1.0


def test_tied_bottleneck_goes_to_the_smallest_dataset_id() -> None:
    table = links(
        ("alpha", 9, "C2", "fit", "signed", True),
        ("alpha", 3, "B1", "fit", "drafting", False),
        ("alpha", 4, "B1", "unknown", "signed", True),
    )
    out = project_readiness(table)
    assert out.loc["alpha", "readiness"] == pytest.approx(0.4)
    assert out.loc["alpha", "bottleneck_dataset"] == 4


def test_project_readiness_refuses_missing_columns() -> None:
    with pytest.raises(ValueError, match="lack column"):
        project_readiness(pd.DataFrame({"project": ["a"]}))


def test_readiness_level_maps_zero_and_one_onto_the_scale_ends() -> None:
    np.testing.assert_allclose(readiness_level(np.array([0.0, 0.5, 1.0])), [1.0, 3.0, 5.0])
