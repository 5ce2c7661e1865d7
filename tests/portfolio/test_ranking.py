"""Stored rankings: computed once per profile and revision, dependency-aware, explained."""

from __future__ import annotations

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid, NotFound
from portfolio.services import planning
from portfolio.services import profiles as profile_service
from portfolio.services import projects as project_service
from portfolio.services.ranking import ensure_ranking, ranked_pages, ranked_rows
from tests.conftest import HeldRankings


def test_every_blocker_ranks_before_what_it_blocks(london: Database) -> None:
    _run, rows = ranked_rows(london)
    position = {row["slug"]: row["order"] for row in rows}
    assert sorted(position.values()) == list(range(1, len(rows) + 1))
    for row in rows:
        for blocker in row["blocked_by"]:
            assert position[blocker] < row["order"]
    for view in ("candidates", "committed"):
        ranks = [row["rank"] for row in rows if row["view"] == view]
        assert ranks == list(range(1, len(ranks) + 1))  # the rank in a view follows the order
    assert {"slug", "rank", "score", "contributions", "p_top_k", "rank_interval"} <= set(rows[0])


def test_delivered_and_rejected_projects_leave_the_order(london: Database) -> None:
    _run, rows = ranked_rows(london)
    assert not {row["status"] for row in rows} & {"delivered", "rejected"}


def test_contributions_add_up_to_the_score(london: Database) -> None:
    _run, rows = ranked_rows(london)
    for row in rows:
        if row["score"] is not None:
            assert sum(row["contributions"].values()) == pytest.approx(row["score"], abs=0.01)


def test_ranking_is_stored_once_and_recomputed_after_a_write(london: Database) -> None:
    first = ensure_ranking(london)
    assert ensure_ranking(london).id == first.id
    with london.write() as session:
        project_service.assess(session=session, actor=SYSTEM, slug="bd-one-view-phase-2",
                               data={"criterion": "reach", "level": 1, "rationale": "narrower"})
    second = ensure_ranking(london)
    assert second.revision > first.revision
    assert second.id != first.id


def test_unknown_profile_is_not_found(london: Database) -> None:
    with pytest.raises(NotFound):
        ranked_rows(london, profile="No such profile")


def test_plan_respects_budget_capacity_and_precedence(london: Database) -> None:
    result = planning.plan(london, budget=2_000_000, capacity=150)
    assert result["status"] == "optimal"
    assert result["budget_used"] <= 2_000_000
    assert result["capacity_used"] <= 150
    chosen = set(result["selected"])
    assert chosen == {slug for wave in result["waves"] for slug in wave}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"budget": -1, "capacity": 10}, "budget"),
    ({"budget": 10, "capacity": 10, "force_in": ["nope"]}, "nope"),
    ({"budget": 10**7, "capacity": 500, "force_in": ["bd-ctr-scheme-review"],
      "force_out": ["bd-ctr-scheme-review"]}, "both"),
])
def test_bad_plan_requests_are_refused_clearly(london: Database, kwargs: dict,
                                               fragment: str) -> None:
    with pytest.raises(Invalid) as caught:
        planning.plan(london, **kwargs)
    assert fragment in caught.value.message


def test_negative_or_all_zero_weights_are_refused_and_nothing_stored(london: Database) -> None:
    with london.read() as session:
        before = profile_service.get_profile(session=session, name="CDO default")
    dims = {"impact": -1, "feasibility": 1, "readiness": 1}
    with pytest.raises(Invalid), london.write() as session:
        profile_service.set_weights(session=session, actor=SYSTEM, name="CDO default",
                                    dimension_weights=dims,
                                    criterion_weights=before["weights"]["criterion"])
    zero = {k: 0 for k in before["weights"]["criterion"]}
    with pytest.raises(Invalid), london.write() as session:
        profile_service.set_weights(session=session, actor=SYSTEM, name="CDO default",
                                    dimension_weights=before["weights"]["dimension"],
                                    criterion_weights=zero)
    with london.read() as session:
        assert profile_service.get_profile(session=session, name="CDO default") == before


def test_changing_weights_keeps_history_and_bumps_the_version(london: Database) -> None:
    with london.read() as session:
        before = profile_service.get_profile(session=session, name="Net zero")
    dims = {"impact": 1, "feasibility": 1, "readiness": 2}
    with london.write() as session:
        after = profile_service.set_weights(session=session, actor=SYSTEM, name="Net zero",
                                            dimension_weights=dims,
                                            criterion_weights=before["weights"]["criterion"])
    assert after["version"] == before["version"] + 1
    assert after["weights"]["dimension"]["readiness"] == pytest.approx(0.5)
    with london.read() as session:
        history = profile_service.profile_history(session=session, name="Net zero")
    assert [h["version"] for h in history] == [after["version"], before["version"]]


def test_pages_read_the_previous_run_while_the_new_one_is_computed_in_the_background(
    london: Database, rankings: HeldRankings,
) -> None:
    first = ensure_ranking(london)
    with london.write() as session:
        project_service.assess(session=session, actor=SYSTEM, slug="bd-one-view-phase-2",
                               data={"criterion": "reach", "level": 2, "rationale": "x"})
    rankings.hold()
    stale = ensure_ranking(london, wait_seconds=0.05)
    assert (stale.id, stale.behind) == (first.id, 1)
    rankings.release()
    fresh = ensure_ranking(london)
    assert fresh.revision == first.revision + 1 and fresh.behind == 0
    assert ensure_ranking(london, wait_seconds=0).id == fresh.id


def test_the_first_ranking_is_awaited_even_by_a_caller_that_would_not_wait(
    london: Database,
) -> None:
    run = ensure_ranking(london, wait_seconds=0)
    assert run.behind == 0 and run.revision >= 1


def test_the_portfolio_is_read_once_per_revision_and_again_after_a_write(
    london: Database,
) -> None:
    from portfolio.services.ranking import portfolio_frames

    with london.read() as session:
        first = portfolio_frames(london, session)
    with london.read() as session:
        assert portfolio_frames(london, session) is first
    with london.write() as session:
        project_service.assess(session=session, actor=SYSTEM, slug="bd-one-view-phase-2",
                               data={"criterion": "reach", "level": 2, "rationale": "x"})
    with london.read() as session:
        again = portfolio_frames(london, session)
    assert again is not first
    # The seed's assessor and the system's: the level that scores is their median.
    seeded = first.levels.at["bd-one-view-phase-2", "reach"]
    assert again.levels.at["bd-one-view-phase-2", "reach"] == (seeded + 2) / 2


@pytest.mark.parametrize("view", [None, "candidates", "committed"])
@pytest.mark.parametrize("top", [None, 23])
def test_a_ranking_read_a_page_at_a_time_is_the_whole_ranking(
    london: Database, view: str | None, top: int | None,
) -> None:
    run, whole = ranked_rows(london, top=top, view=view)
    paged_run, pages = ranked_pages(london, top=top, view=view, size=7)
    read = list(pages)
    assert paged_run == run and all(len(page) <= 7 for page in read)
    assert [row for page in read for row in page] == whole


def test_the_collector_is_paused_while_the_what_if_base_and_the_graph_are_built(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Their builds make hundreds of thousands of objects at scale (scoring.collector)."""
    import gc

    from portfolio.services import network
    from portfolio.services import ranking as ranking_service

    seen: dict[str, bool] = {}

    def watched(name: str, build):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            seen[name] = gc.isenabled()
            return build(*args, **kwargs)
        return call

    monkeypatch.setattr(ranking_service, "build_base",
                        watched("what-if base", ranking_service.build_base))
    monkeypatch.setattr(network, "_graph_of", watched("graph", network._graph_of))
    ranking_service._whatif_base(london, None)
    network.portfolio_graph(london)
    assert seen == {"what-if base": False, "graph": False}
    assert gc.isenabled()


def test_a_page_is_read_on_the_event_loop_only_when_it_is_a_range_read_of_a_run_held(
    london: Database,
) -> None:
    """Anything that may compute, wait for a ranking or scan many rows goes to a thread."""
    from portfolio.services.common import portfolio_revision
    from portfolio.services.ranking import stored_page_is_quick

    revision = portfolio_revision(london)
    name = ensure_ranking(london).profile
    assert not stored_page_is_quick(london, profile=name, revision=revision)  # not yet held
    ensure_ranking(london, name, revision=revision)
    assert stored_page_is_quick(london, profile=name, revision=revision)
    assert stored_page_is_quick(london, profile=name, revision=revision, view="committed")
    for narrowing in ({"theme": "housing"}, {"organisation": "gla"}, {"status": "idea"},
                      {"q": "data"}):
        assert not stored_page_is_quick(london, profile=name, revision=revision, **narrowing)
    assert not stored_page_is_quick(london, profile=name, revision=revision,
                                    dimension_weights={"impact": 0.7})
    with london.write() as session:
        project_service.assess(session=session, actor=SYSTEM, slug="bd-one-view-phase-2",
                               data={"criterion": "reach", "level": 2, "rationale": "x"})
    # The new revision's run is not held yet: its page may wait for the re-ranking.
    assert not stored_page_is_quick(london, profile=name, revision=portfolio_revision(london))
