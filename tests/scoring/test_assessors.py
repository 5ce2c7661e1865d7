"""Several assessors per criterion: the median scores, the spread, and robustness over both."""

from __future__ import annotations

import random
from unittest.mock import patch

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import robustness
from scoring.assessors import (
    aggregate_levels,
    cell_medians,
    disputes,
    newest_per_assessor,
    spread,
)
from scoring.criteria import Criterion
from scoring.ranking import ordered_with_structure
from scoring.robustness import order_robustness
from tests.scoring.test_order_robustness import portfolio
from tests.scoring.test_robustness import CRITERIA, PROFILE

LEVELS = st.integers(min_value=1, max_value=5)
CELL = st.lists(LEVELS, min_size=1, max_size=6)


def long_table(cells: dict[tuple[str, str], list[int]]) -> pd.DataFrame:
    return pd.DataFrame([(slug, key, level) for (slug, key), levels in cells.items()
                         for level in levels], columns=["slug", "criterion", "level"])


@settings(deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b", "c"]),
                                 st.sampled_from(["reach", "fit"])), CELL, min_size=1))
def test_the_level_that_scores_is_the_median_within_the_spread(
    cells: dict[tuple[str, str], list[int]],
) -> None:
    table = long_table(cells)
    levels = aggregate_levels(table)
    shuffled = aggregate_levels(table.sample(frac=1.0, random_state=1))
    summary = spread(table).set_index(["slug", "criterion"])
    for (slug, key), given_levels in cells.items():
        assert levels.at[slug, key] == float(np.median(given_levels))
        assert shuffled.at[slug, key] == levels.at[slug, key]
        low, high = summary.loc[(slug, key), ["low", "high"]]
        assert low == min(given_levels) and high == max(given_levels)
        assert low <= levels.at[slug, key] <= high
        assert summary.loc[(slug, key), "assessors"] == len(given_levels)


ASSESSMENT_ROW = st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 3), LEVELS)


@settings(deadline=None)
@given(st.lists(ASSESSMENT_ROW, min_size=1, max_size=60), st.randoms())
def test_medians_of_integer_cells_are_aggregate_levels_of_the_newest_per_assessor(
    rows: list[tuple[int, int, int, int]], shuffle: random.Random,
) -> None:
    records = list(range(len(rows)))
    shuffle.shuffle(records)
    project, criterion, assessor, level = (np.array(c) for c in zip(*rows, strict=True))
    record = np.array(records)
    newest = newest_per_assessor(record, project, criterion, assessor)
    # The reference: the highest record per (project, criterion, assessor), as SQL's max(id).
    table = pd.DataFrame({"record": record, "p": project, "c": criterion, "a": assessor,
                          "level": level})
    expected_rows = table.loc[table.groupby(["p", "c", "a"])["record"].idxmax()]
    assert sorted(record[newest]) == sorted(expected_rows["record"])
    cells_p, cells_c, median, shared = cell_medians(project[newest], criterion[newest],
                                                    level[newest])
    expected = aggregate_levels(pd.DataFrame({
        "slug": expected_rows["p"].astype(str), "criterion": expected_rows["c"].astype(str),
        "level": expected_rows["level"]}))
    assert len(median) == expected.notna().sum().sum()
    for p, c, m in zip(cells_p, cells_c, median, strict=True):
        assert expected.at[str(p), str(c)] == m
    counts = expected_rows.groupby(["p", "c"])["a"].transform("count")
    by_record = dict(zip(expected_rows["record"], counts > 1, strict=True))
    assert [by_record[r] for r in record[newest]] == shared.tolist()


@settings(deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["reach"])),
                       LEVELS, min_size=1))
def test_with_one_assessor_the_level_is_that_assessors(cells: dict[tuple[str, str], int]) -> None:
    table = long_table({k: [v] for k, v in cells.items()})
    levels = aggregate_levels(table)
    for (slug, key), level in cells.items():
        assert levels.at[slug, key] == float(level)


@settings(max_examples=30, deadline=None)
@given(st.lists(CELL, min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_drawn_levels_stay_between_the_lowest_and_highest(cells: list[list[int]],
                                                          seed: int) -> None:
    scale = [Criterion("reach", "impact")]
    table = long_table({(f"p{i}", "reach"): levels for i, levels in enumerate(cells)})
    found = disputes(table, [f"p{i}" for i in range(len(cells))], scale)
    disputed = {i for i, levels in enumerate(cells) if min(levels) != max(levels)}
    seen = {int(row) for _m, positions, _levels in found.groups for row in positions[:, 0]}
    assert seen == disputed
    for positions, drawn in found.draw(np.random.default_rng(seed)):
        for (row, _column), value in zip(positions, drawn, strict=True):
            levels = cells[row]
            assert (min(levels) - 1) / 4 <= value <= (max(levels) - 1) / 4


def agreeing(values: pd.DataFrame, copies: int) -> pd.DataFrame:
    """Return `copies` assessors who all give each present value (levels 1-5 as 0..1)."""
    rows = []
    for slug, row in values.iterrows():
        for key, value in row.items():
            if key != "data" and not np.isnan(value):
                rows += [(slug, key, 1 + 4 * value)] * copies
    return pd.DataFrame(rows, columns=["slug", "criterion", "level"])


def levels_of(values: pd.DataFrame) -> pd.DataFrame:
    """Snap values to the 1-5 scale's five levels, as assessed criteria are."""
    return (values * 4).round() / 4


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_assessors_who_agree_change_no_robustness_figure(seed: int, copies: int) -> None:
    projects, values, deps = portfolio(30, seed=seed)
    values = levels_of(values)
    _order, structure, _ = ordered_with_structure(projects, deps)
    override = projects.set_index("slug")["override"].reindex(structure.slugs).to_numpy()
    args = (values.reindex(structure.slugs), CRITERIA, PROFILE, structure, override)
    plain = order_robustness(*args, top_k=5, samples=80, seed=seed)
    same = order_robustness(*args, top_k=5, samples=80, seed=seed,
                            assessments=agreeing(values, copies))
    pd.testing.assert_frame_equal(plain, same)


def test_disagreeing_assessors_widen_the_interval_of_the_disputed_project() -> None:
    slugs = [f"p{i:02d}" for i in range(12)]
    values = pd.DataFrame({"benefit": np.linspace(0.1, 0.9, 12), "fit": 0.5, "cost": 0.5,
                           "effort": 0.5, "data": 0.5}, index=pd.Index(slugs, name="slug"))
    values = levels_of(values)
    projects = pd.DataFrame({"slug": slugs, "status": "proposed", "mandatory": False})
    deps = pd.DataFrame(columns=["project", "depends_on"])
    _order, structure, _ = ordered_with_structure(projects, deps)
    override = np.full(len(structure.slugs), np.nan)
    table = agreeing(values, 1)
    # Three assessors of p05's benefit: 1, 3 and 5 (median 3, as the single level was).
    table = table[~((table["slug"] == "p05") & (table["criterion"] == "benefit"))]
    values.loc["p05", "benefit"] = 0.5
    table = pd.concat([table, pd.DataFrame([("p05", "benefit", lv) for lv in (1, 3, 5)],
                                           columns=table.columns)])
    args = (values.reindex(structure.slugs), CRITERIA, PROFILE, structure, override)
    weights_only = order_robustness(*args, top_k=3, samples=400, seed=5)
    both = order_robustness(*args, top_k=3, samples=400, seed=5, assessments=table)
    width = (both["rank_p95"] - both["rank_p05"])["p05"]
    assert width > (weights_only["rank_p95"] - weights_only["rank_p05"])["p05"]
    again = order_robustness(*args, top_k=3, samples=400, seed=5, assessments=table)
    pd.testing.assert_frame_equal(both, again)  # deterministic for a seed


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4))
def test_threads_give_the_figures_of_one_pass_with_disputed_levels(seed: int,
                                                                   threads: int) -> None:
    projects, values, deps = portfolio(40, seed=seed)
    values = levels_of(values)
    _order, structure, _ = ordered_with_structure(projects, deps)
    override = projects.set_index("slug")["override"].reindex(structure.slugs).to_numpy()
    args = (values.reindex(structure.slugs), CRITERIA, PROFILE, structure, override)
    # Half the cells get a second assessor one level away: many disputed draws.
    table = agreeing(values, 1)
    other = table.sample(frac=0.5, random_state=seed)
    table = pd.concat([table, other.assign(level=np.clip(other["level"] + 1, 1, 5))])
    with patch.object(robustness, "PARALLEL_MIN_CELLS", 10**12):
        one_pass = order_robustness(*args, top_k=5, samples=120, seed=seed, assessments=table)
    with (patch.object(robustness, "PARALLEL_MIN_CELLS", 0),
          patch.object(robustness, "ROBUSTNESS_THREADS", threads),
          patch.object(robustness, "CHUNK_BYTES", 40 * 40 * 7)):  # chunks of 7 samples
        threaded = order_robustness(*args, top_k=5, samples=120, seed=seed, assessments=table)
    pd.testing.assert_frame_equal(one_pass, threaded)
    assert one_pass["rank_p95"].gt(one_pass["rank_p05"]).any()


def test_the_figures_do_not_depend_on_how_many_threads_the_machine_has() -> None:
    projects, values, deps = portfolio(300, seed=5)
    _order, structure, _ = ordered_with_structure(projects, deps)
    override = projects.set_index("slug")["override"].reindex(structure.slugs).to_numpy()
    args = (values.reindex(structure.slugs), CRITERIA, PROFILE, structure, override)
    found, chunks = [], []
    spans = robustness._sample_spans  # noqa: SLF001

    def recorded(samples: int, chunk: int, blocks: bool) -> list[tuple[int, int, bool]]:
        chunks.append(chunk)
        return spans(samples, chunk, blocks)

    for threads in (1, 2, 4):
        with (patch.object(robustness, "PARALLEL_MIN_CELLS", 0),
              patch.object(robustness, "ROBUSTNESS_THREADS", threads),
              patch.object(robustness, "_sample_spans", recorded),
              patch.object(robustness, "CHUNK_BYTES", 40 * 300 * 9)):  # chunks of 9 samples
            found.append(order_robustness(*args, top_k=10, samples=200, seed=5))
    # A float32 product's rounding depends on how many samples it takes at once (BLAS picks
    # its kernel by shape), so the chunks must be the same whatever the threads.
    assert chunks == [9, 9, 9]
    pd.testing.assert_frame_equal(found[0], found[1])
    pd.testing.assert_frame_equal(found[0], found[2])
