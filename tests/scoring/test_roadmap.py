"""Tests for scoring.roadmap: exact multi-quarter plans against brute force, limits, bad input."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.plan import plan_portfolio
from scoring.roadmap import (
    InvalidRoadmapRequest,
    check_limits,
    plan_roadmap,
    project_duration,
    quarter_index,
    quarter_label,
    quarter_start,
    run_roadmap_in_subprocess,
)
from tests.scoring.test_graph import deps_frame

ORGS = ["A", "B", "C"]
STATUSES = ["idea", "proposed", "approved", "paused"] * 3 + ["in_progress", "delivered",
                                                              "rejected"]


def table(rows: list[tuple], **columns: list) -> pd.DataFrame:
    """Build candidates from (slug, value, cost_gbp, effort_pm, owner, duration) rows."""
    frame = pd.DataFrame(rows, columns=["slug", "value", "cost_gbp", "effort_pm", "owner",
                                        "duration"])
    frame["status"] = columns.pop("status", ["idea"] * len(frame))
    frame["mandatory"] = columns.pop("mandatory", [False] * len(frame))
    for name, values in columns.items():
        frame[name] = values
    return frame


@st.composite
def instances(draw: st.DrawFn, n_min: int = 1, n_max: int = 8) -> dict:
    """Draw a small roadmap instance: owners, durations, prerequisites, a mandatory deadline."""
    n = draw(st.integers(n_min, n_max))
    horizon = draw(st.integers(1, 4))
    slugs = [f"s{i}" for i in range(n)]
    status = [draw(st.sampled_from(STATUSES)) for _ in range(n)]
    duration = [draw(st.integers(1, max(1, horizon))) for _ in range(n)]
    mandatory = [draw(st.integers(0, 7)) == 0 and s not in ("in_progress", "delivered",
                                                            "rejected") for s in status]
    cand = pd.DataFrame({
        "slug": slugs,
        "value": [float(draw(st.integers(0, 30))) for _ in range(n)],
        "cost_gbp": [draw(st.integers(0, 12)) * 1000.0 for _ in range(n)],
        "effort_pm": [float(draw(st.integers(0, 12))) for _ in range(n)],
        "owner": [draw(st.sampled_from(ORGS)) for _ in range(n)],
        "status": status, "mandatory": mandatory, "duration": duration,
        "start": [draw(st.integers(-2, 1)) for _ in range(n)],
        "deadline": [float(draw(st.integers(0, horizon - 1))) if m and draw(st.booleans())
                     else math.nan for m in mandatory],
    })
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n))
    deps = deps_frame(sorted({(slugs[max(i, j)], slugs[min(i, j)]) for i, j in pairs if i != j}))
    budget = [draw(st.integers(0, 16)) * 1000.0 for _ in range(horizon)]
    capacity = {org: [float(draw(st.integers(0, 14))) for _ in range(horizon)]
                for org in draw(st.lists(st.sampled_from(ORGS), max_size=2, unique=True))}
    return {"cand": cand, "deps": deps, "horizon": horizon, "budget": budget,
            "capacity": capacity}


def brute_force(inst: dict) -> float | None:
    """Return the best value over every assignment of start quarters, or None if none is valid."""
    cand, h = inst["cand"], inst["horizon"]
    rows = cand.to_dict("records")
    pos = {r["slug"]: i for i, r in enumerate(rows)}
    prereqs: dict[str, list[str]] = {r["slug"]: [] for r in rows}
    for p, q in inst["deps"].itertuples(index=False, name=None):
        prereqs[p].append(q)
    budget = np.array(inst["budget"], dtype=float)
    caps = {o: np.array(c, dtype=float) for o, c in inst["capacity"].items()}
    money = np.zeros(h)
    use = {o: np.zeros(h) for o in ORGS}

    def charge(r: dict, start: int, sign: float) -> None:
        d = r["duration"]
        for q in range(max(start, 0), min(start + d, h)):
            money[q] += sign * r["cost_gbp"] / d
            use[r["owner"]][q] += sign * r["effort_pm"] / d

    for r in rows:
        if r["status"] == "in_progress":
            charge(r, r["start"], 1.0)
    active = [r for r in rows if r["status"] in ("idea", "proposed", "approved", "paused")]
    # Dependencies point from a higher index to a lower one, so index order is topological.
    active.sort(key=lambda r: pos[r["slug"]])
    required = {r["slug"] for r in active if r["mandatory"]}
    for r in reversed(active):
        if r["slug"] in required:
            required.update(q for q in prereqs[r["slug"]] if rows[pos[q]]["status"] in
                            ("idea", "proposed", "approved", "paused"))
    start_of: dict[str, int | None] = {}
    best: list[float | None] = [None]

    def within_limits() -> bool:
        if (money > budget + 1e-6).any():
            return False
        return all((use[o] <= caps[o] + 1e-6).all() for o in caps)

    def may_start(r: dict, t: int) -> bool:
        for q in prereqs[r["slug"]]:
            other = rows[pos[q]]
            if other["status"] == "rejected":
                return False
            if other["status"] == "in_progress" and t < other["start"] + other["duration"]:
                return False
            if q in start_of:
                s = start_of[q]
                if s is None or t < s + other["duration"]:
                    return False
        return True

    def visit(i: int, total: float) -> None:
        if i == len(active):
            if best[0] is None or total > best[0]:
                best[0] = total
            return
        r = active[i]
        if r["slug"] not in required:
            start_of[r["slug"]] = None
            visit(i + 1, total)
        last = h - r["duration"]
        if r["mandatory"] and not math.isnan(r["deadline"]):
            last = min(last, int(r["deadline"]))
        for t in range(0, last + 1):
            if not may_start(r, t):
                continue
            start_of[r["slug"]] = t
            charge(r, t, 1.0)
            if within_limits():
                visit(i + 1, total + r["value"])
            charge(r, t, -1.0)
        start_of.pop(r["slug"], None)

    if within_limits():
        visit(0, 0.0)
    return best[0]


def solve(inst: dict, **kwargs) -> object:
    return plan_roadmap(inst["cand"], inst["deps"], horizon=inst["horizon"],
                        budget=inst["budget"], capacity=inst["capacity"], **kwargs)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_roadmap_equals_brute_force_on_small_cases(inst: dict) -> None:
    result = solve(inst)
    best = brute_force(inst)
    if best is None:
        assert result.status == "infeasible"
        assert result.infeasible_reason
        assert result.starts == ()
        return
    assert result.status == "optimal"
    assert result.gap == 0.0
    assert result.objective == pytest.approx(best, abs=1e-6)


def test_ten_candidates_four_quarters_equal_brute_force() -> None:
    rows = [(f"p{i}", float(v), c * 1000.0, float(e), o, d) for i, (v, c, e, o, d) in enumerate([
        (20, 8, 6, "A", 2), (18, 6, 9, "A", 1), (15, 5, 3, "B", 1), (14, 9, 6, "B", 3),
        (12, 4, 4, "A", 1), (10, 3, 8, "C", 2), (9, 7, 2, "C", 1), (7, 2, 5, "B", 2),
        (5, 1, 1, "A", 1), (4, 6, 3, "C", 1)])]
    cand = table(rows, mandatory=[False] * 6 + [True] + [False] * 3,
                 deadline=[math.nan] * 6 + [1.0] + [math.nan] * 3)
    deps = deps_frame([("p3", "p2"), ("p5", "p0"), ("p7", "p4"), ("p9", "p6")])
    inst = {"cand": cand, "deps": deps, "horizon": 4, "budget": [10000.0] * 4,
            "capacity": {"A": [8.0, 8.0, 6.0, 6.0], "B": [6.0] * 4}}
    result = solve(inst)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(brute_force(inst))
    starts = {s.slug: s.start for s in result.starts}
    assert starts["p6"] <= 1  # the mandatory project starts by its deadline
    for project, prerequisite in deps.itertuples(index=False, name=None):
        if project in starts:
            assert starts[project] >= starts[prerequisite] + int(
                cand.set_index("slug").loc[prerequisite, "duration"])


@settings(max_examples=80, deadline=None)
@given(instances(n_max=14), st.floats(0, 0.5))
def test_roadmap_never_spends_over_a_quarters_budget_or_a_capacity(inst: dict,
                                                                   rate: float) -> None:
    result = solve(inst, discount_rate=rate)
    if result.status == "infeasible":
        return
    check_limits(result)
    h = inst["horizon"]
    for q in range(h):
        assert result.budget_used[q] <= inst["budget"][q] + 1e-6
        for org, caps in inst["capacity"].items():
            assert result.capacity_used.get(org, (0.0,) * h)[q] <= caps[q] + 1e-6


@settings(max_examples=60, deadline=None)
@given(instances(n_max=10), st.integers(0, 200))
def test_one_quarter_without_organisation_capacity_equals_the_single_period_plan(
        inst: dict, capacity: int) -> None:
    # In one quarter a prerequisite still to do cannot finish before its dependant starts, where
    # the single-period plan takes both together: prerequisites here are done or rejected.
    cand = inst["cand"].assign(duration=1, deadline=math.nan,
                               status=inst["cand"]["status"].replace("in_progress", "delivered"))
    settled = set(cand.loc[cand["status"].isin(["delivered", "rejected"]), "slug"])
    deps = inst["deps"][inst["deps"]["depends_on"].isin(settled)]
    budget = inst["budget"][0]
    roadmap = plan_roadmap(cand, deps, horizon=1, budget=budget, total_capacity=float(capacity))
    plan = plan_portfolio(cand, deps, budget, float(capacity), mip_rel_gap=0.0)
    assert roadmap.status == plan.status
    if plan.status == "optimal":
        assert roadmap.objective == pytest.approx(plan.objective, abs=1e-6)
        assert roadmap.budget_used[0] <= budget + 1e-6


def test_a_discount_starts_the_more_valuable_project_first() -> None:
    cand = table([("big", 30.0, 10000.0, 3.0, "A", 1), ("small", 10.0, 10000.0, 3.0, "A", 1)])
    result = plan_roadmap(cand, None, horizon=2, budget=10000.0, discount_rate=0.2)
    assert [(s.slug, s.start) for s in result.starts] == [("big", 0), ("small", 1)]
    assert result.objective == pytest.approx(30 + 10 * 1.2 ** -0.25)
    assert result.value == 40


def test_cost_and_effort_are_spread_evenly_over_the_duration() -> None:
    cand = table([("long", 10.0, 9000.0, 12.0, "A", 3)])
    result = plan_roadmap(cand, None, horizon=3, budget=3000.0, capacity={"A": 4.0})
    assert result.budget_used == (3000.0, 3000.0, 3000.0)
    assert result.capacity_used["A"] == (4.0, 4.0, 4.0)


def test_an_organisation_without_a_stated_capacity_is_unconstrained() -> None:
    cand = table([("a", 10.0, 0.0, 50.0, "A", 1), ("b", 10.0, 0.0, 50.0, "B", 1)])
    result = plan_roadmap(cand, None, horizon=1, budget=0.0, capacity={"A": 10.0})
    assert [s.slug for s in result.starts] == ["b"]


def test_projects_in_progress_are_fixed_and_use_the_budget() -> None:
    cand = table([("running", 50.0, 8000.0, 4.0, "A", 2), ("new", 10.0, 6000.0, 1.0, "A", 1)],
                 status=["in_progress", "idea"], start=[-1, 0])
    result = plan_roadmap(cand, None, horizon=2, budget=8000.0)
    assert [(s.slug, s.start) for s in result.committed] == [("running", -1)]
    assert [(s.slug, s.start) for s in result.starts] == [("new", 1)]  # q0 holds 4,000 already
    assert result.budget_used == (4000.0, 6000.0)


def test_a_prerequisite_in_progress_must_end_first() -> None:
    cand = table([("base", 0.0, 0.0, 0.0, "A", 3), ("next", 10.0, 0.0, 0.0, "A", 1)],
                 status=["in_progress", "idea"], start=[0, 0])
    deps = deps_frame([("next", "base")])
    result = plan_roadmap(cand, deps, horizon=4, budget=0.0)
    assert [(s.slug, s.start) for s in result.starts] == [("next", 3)]


def test_committed_work_over_the_budget_names_the_quarter_and_constraint() -> None:
    cand = table([("running", 0.0, 20000.0, 0.0, "A", 2)], status=["in_progress"], start=[0])
    result = plan_roadmap(cand, None, horizon=3, budget=[10000.0, 5000.0, 10000.0],
                          quarters=["2027 Q1", "2027 Q2", "2027 Q3"])
    assert result.status == "infeasible"
    assert (result.infeasible_quarter, result.infeasible_constraint) == (1, "budget")
    assert "2027 Q2" in result.infeasible_reason


def test_a_mandatory_project_that_cannot_fit_by_its_deadline_names_the_quarter() -> None:
    cand = table([("other", 0.0, 0.0, 9.0, "B", 1), ("must", 5.0, 0.0, 9.0, "B", 1)],
                 status=["in_progress", "idea"], mandatory=[False, True], start=[0, 0],
                 deadline=[math.nan, 0.0])
    result = plan_roadmap(cand, None, horizon=2, budget=0.0, capacity={"B": 12.0},
                          quarters=["2027 Q1", "2027 Q2"])
    assert result.status == "infeasible"
    assert result.infeasible_quarter == 0
    assert result.infeasible_constraint == "capacity of B"
    assert "2027 Q1" in result.infeasible_reason and "capacity of B" in result.infeasible_reason


def test_a_deadline_the_prerequisites_cannot_meet_is_named() -> None:
    cand = table([("first", 0.0, 0.0, 0.0, "A", 2), ("must", 5.0, 0.0, 0.0, "A", 1)],
                 mandatory=[False, True], deadline=[math.nan, 1.0])
    result = plan_roadmap(cand, deps_frame([("must", "first")]), horizon=4, budget=0.0,
                          quarters=["2027 Q1", "2027 Q2", "2027 Q3", "2027 Q4"])
    assert result.status == "infeasible"
    assert result.infeasible_constraint == "deadline"
    assert "must" in result.infeasible_reason and "2027 Q3" in result.infeasible_reason


def test_an_optional_project_longer_than_the_horizon_is_listed_not_scheduled() -> None:
    cand = table([("long", 10.0, 0.0, 0.0, "A", 5), ("short", 1.0, 0.0, 0.0, "A", 1)])
    result = plan_roadmap(cand, None, horizon=4, budget=0.0)
    assert [s.slug for s in result.starts] == ["short"]
    assert result.unschedulable[0][0] == "long" and "longer than the horizon" in \
        result.unschedulable[0][1]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"horizon": 0}, "horizon"),
    ({"horizon": 41}, "horizon"),
    ({"capacity": {"A": -1.0}}, "capacity"),
    ({"total_capacity": -5.0}, "capacity"),
    ({"budget": -1.0}, "budget"),
    ({"discount_rate": 1.5}, "discount_rate"),
])
def test_bad_limits_are_refused_naming_the_field(kwargs: dict, field: str) -> None:
    cand = table([("a", 1.0, 0.0, 0.0, "A", 1)])
    args = {"horizon": 4, "budget": 0.0} | kwargs
    with pytest.raises(InvalidRoadmapRequest) as caught:
        plan_roadmap(cand, None, **args)
    assert caught.value.field == field


def test_a_mandatory_deadline_before_the_first_quarter_is_refused() -> None:
    cand = table([("a", 1.0, 0.0, 0.0, "A", 1)], mandatory=[True], deadline=[-1.0])
    with pytest.raises(InvalidRoadmapRequest) as caught:
        plan_roadmap(cand, None, horizon=4, budget=0.0)
    assert caught.value.field == "deadline"


def test_a_mandatory_project_longer_than_the_horizon_is_refused() -> None:
    cand = table([("a", 1.0, 0.0, 0.0, "A", 6)], mandatory=[True])
    with pytest.raises(InvalidRoadmapRequest) as caught:
        plan_roadmap(cand, None, horizon=4, budget=0.0)
    assert caught.value.field == "horizon"
    assert "a lasts 6 quarters" in str(caught.value)


def test_the_subprocess_runner_gives_the_same_roadmap() -> None:
    cand = table([("a", 5.0, 1000.0, 2.0, "A", 2), ("b", 4.0, 1000.0, 2.0, "B", 1)])
    here = plan_roadmap(cand, None, horizon=3, budget=600.0)
    there = run_roadmap_in_subprocess(cand, None, horizon=3, budget=600.0,
                                      wall_clock_seconds=120.0)
    assert there.starts == here.starts and there.objective == here.objective


def test_the_subprocess_runner_refuses_bad_input_before_starting() -> None:
    cand = table([("a", 5.0, 1000.0, 2.0, "A", 2)])
    with pytest.raises(InvalidRoadmapRequest):
        run_roadmap_in_subprocess(cand, None, horizon=0, budget=1.0, wall_clock_seconds=1.0)


@pytest.mark.parametrize(("start", "end", "effort", "quarters"), [
    (date(2027, 1, 10), date(2027, 3, 31), 100.0, 1),
    (date(2027, 2, 1), date(2027, 4, 1), 0.0, 2),
    (date(2026, 11, 1), date(2028, 1, 31), 0.0, 6),
    (None, date(2028, 1, 31), 9.0, 1),
    (None, None, 9.5, 2),
    (None, None, 0.0, 1),
    (None, None, math.nan, 1),
])
def test_duration_from_dates_else_from_effort(start, end, effort, quarters) -> None:
    assert project_duration(start, end, effort) == quarters


def test_quarters_are_calendar_quarters() -> None:
    first = quarter_start(date(2026, 12, 2))
    assert first == date(2026, 10, 1)
    assert quarter_label(first, 0) == "2026 Q4" and quarter_label(first, 1) == "2027 Q1"
    assert quarter_index(date(2027, 7, 1), first) == 3
    assert quarter_index(date(2026, 5, 1), first) == -2
