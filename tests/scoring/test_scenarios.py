"""Why candidates are left out of a plan, who makes a request infeasible, plans compared."""

from __future__ import annotations

import pandas as pd

from scoring.plan import plan_portfolio
from scoring.scenarios import (
    LEFT_OUT_REASONS,
    PlanSummary,
    compare_plans,
    forced_conflicts,
    left_out,
    required_closure,
)


def portfolio() -> tuple[pd.DataFrame, pd.DataFrame]:
    projects = pd.DataFrame([
        # slug, value, cost, effort, mandatory, status
        ("must", 10.0, 100_000, 2.0, True, "proposed"),
        ("great", 50.0, 100_000, 2.0, False, "proposed"),
        ("good", 30.0, 300_000, 2.0, False, "proposed"),
        ("after-good", 40.0, 50_000, 1.0, False, "idea"),
        ("huge", 90.0, 5_000_000, 2.0, False, "proposed"),
        ("slow", 60.0, 10_000, 500.0, False, "proposed"),
        ("blank", float("nan"), 10_000, 1.0, False, "idea"),
        ("meh", 5.0, 200_000, 1.0, False, "proposed"),
        ("done", 20.0, 1_000, 1.0, False, "in_progress"),
    ], columns=["slug", "value", "cost_gbp", "effort_pm", "mandatory", "status"])
    dependencies = pd.DataFrame([("after-good", "good"), ("great", "done")],
                                columns=["project", "depends_on"])
    return projects, dependencies


def reasons(**kwargs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    projects, dependencies = portfolio()
    budget, capacity = kwargs.pop("budget", 400_000), kwargs.pop("capacity", 20.0)
    plan = plan_portfolio(projects, dependencies, budget, capacity, **kwargs)
    found = left_out(projects, dependencies, plan.selected, budget=budget, capacity=capacity,
                     **kwargs)
    return {item.slug: item.reason for item in found}


def test_each_left_out_candidate_gets_the_first_reason_that_holds() -> None:
    found = reasons(force_out=["great"])
    assert found["great"] == "forced_out"
    assert found["huge"] == "over_budget"
    assert found["slow"] == "over_capacity"
    assert set(found.values()) <= set(LEFT_OUT_REASONS)
    assert "must" not in found and "done" not in found


def test_a_project_whose_prerequisite_is_out_says_so_and_names_it() -> None:
    projects, dependencies = portfolio()
    found = left_out(projects, dependencies, ["must", "great"], budget=400_000, capacity=20,
                     force_out=["good"])
    after = next(item for item in found if item.slug == "after-good")
    assert after.reason == "prerequisite_out" and after.prerequisites == ("good",)


def test_an_unscored_project_has_no_value_and_one_over_what_is_left_lower_value_per_pound(
) -> None:
    projects, dependencies = portfolio()
    found = {i.slug: i for i in left_out(projects, dependencies, ["must", "great", "good"],
                                         budget=600_000, capacity=20)}
    assert found["blank"].reason == "no_value"
    assert found["meh"].reason == "lower_value_per_pound"
    assert "points per £1m" in found["meh"].detail and "leaves £100,000" in found["meh"].detail


def test_when_the_capacity_is_used_up_the_reason_is_value_per_person_month() -> None:
    projects, dependencies = portfolio()
    found = {i.slug: i for i in left_out(projects, dependencies, ["must", "great", "good"],
                                         budget=2_000_000, capacity=6.5)}
    assert found["meh"].reason == "lower_value_per_person_month"
    assert "points per person-month" in found["meh"].detail


def test_a_project_that_fits_what_is_left_was_not_reached_by_the_solver() -> None:
    projects, dependencies = portfolio()
    found = {i.slug: i for i in left_out(projects, dependencies, ["must", "great"],
                                         budget=2_000_000, capacity=20)}
    assert found["meh"].reason == "within_gap"


def test_what_every_plan_must_take_names_the_projects_and_their_cost() -> None:
    projects, dependencies = portfolio()
    must = required_closure(projects, dependencies, force_in=["after-good"])
    assert [(r.slug, r.because) for r in must] == [
        ("good", "prerequisite of after-good"), ("must", "mandatory"),
        ("after-good", "forced in")]
    assert sum(r.cost_gbp for r in must) == 450_000


def test_forcing_in_a_project_that_waits_on_one_forced_out_is_named() -> None:
    _projects, dependencies = portfolio()
    assert forced_conflicts(dependencies, ["after-good"], ["good"]) == [("after-good", "good")]
    assert forced_conflicts(dependencies, ["great"], ["good"]) == []


def test_plans_compared_say_what_each_adds_and_drops_against_the_first() -> None:
    a = PlanSummary("A", frozenset({"x", "y"}), 10.0, 100.0, 2.0)
    b = PlanSummary("B", frozenset({"y", "z"}), 12.0, 150.0, 3.0)
    first, second = compare_plans([a, b])
    assert first.adds == () and first.only_here == ("x",)
    assert second.adds == ("z",) and second.drops == ("x",)
    assert second.objective_change == 2.0 and second.cost_change == 50.0
