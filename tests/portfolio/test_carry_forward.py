"""An edit the ranking cannot see is not ranked again: the stored run is carried forward."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import Project, RankingRow, RankingRun
from portfolio.revision import UNRANKED_PROJECT_FIELDS
from portfolio.services import projects as project_service
from portfolio.services import ranking
from portfolio.services.common import portfolio_revision
from portfolio.services.ranking import STORED_COLUMNS

SLUG = "bd-one-view-phase-2"


def stored_rows(db: Database, run_id: int) -> list[tuple[Any, ...]]:
    """Return a run's rows as stored, less the run's id, in the whole order."""
    columns = [getattr(RankingRow, name) for name in STORED_COLUMNS if name != "run_id"]
    with db.read() as session:
        return [tuple(r) for r in session.execute(
            select(*columns).where(RankingRow.run_id == run_id)
            .order_by(RankingRow.position)).all()]


def patch(db: Database, **fields: Any) -> None:
    """Change some of a project's fields through the service, as an edit does."""
    with db.write() as session:
        version = project_service.get_project(session=session, slug=SLUG)["version"]
        project_service.patch_project(session=session, actor=SYSTEM, slug=SLUG,
                                      data={"version": version, **fields})


def no_computing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make computing a ranking fail, so that a run found meanwhile was carried forward."""
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the ranking was computed again")

    monkeypatch.setattr(ranking, "compute", refuse)


def test_a_title_and_description_edit_carries_the_run_forward(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="One view of households, phase two",
          description="Joined-up data on households at risk")
    no_computing(monkeypatch)
    monkeypatch.setattr(ranking, "STORE_BATCH", 7)  # several batches, even here
    monkeypatch.setattr(ranking, "COPY_BATCH", 7)
    after = ranking.ensure_ranking(london)
    assert (after.revision, after.behind) == (portfolio_revision(london), 0)
    assert after.id != before.id and after.revision == before.revision + 1
    assert stored_rows(london, after.id) == stored_rows(london, before.id)
    with london.read() as session:
        runs = session.execute(select(RankingRun.id, RankingRun.complete,
                                      RankingRun.rows_stored).order_by(RankingRun.id)).all()
    assert [tuple(r) for r in runs] == [(before.id, True, len(stored_rows(london, before.id))),
                                        (after.id, True, len(stored_rows(london, after.id)))]


def test_an_edit_the_ranking_reads_is_ranked_again(london: Database) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="Renamed too", cost_gbp=10_000_000)
    after = ranking.ensure_ranking(london)
    assert after.revision == before.revision + 1
    assert stored_rows(london, after.id) != stored_rows(london, before.id)


def test_a_run_older_than_an_edit_the_ranking_reads_is_not_carried(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ranking.ensure_ranking(london)
    patch(london, cost_gbp=10_000_000)  # ranked: the first run no longer ranks the portfolio
    with london.read() as session:
        profile = ranking.load_profile(session, None)
        assert ranking._run_to_carry(session, profile, portfolio_revision(london)) is None
    second = ranking.ensure_ranking(london)
    patch(london, title="Only renamed")
    with london.read() as session:
        carried = ranking._run_to_carry(session, profile, portfolio_revision(london))
    assert carried is not None and carried.id == second.id != first.id


def test_the_ranking_reads_none_of_the_fields_it_carries_over(london: Database) -> None:
    # Every unranked field of every project changed at once, then the ranking computed afresh
    # (no run to carry): the same rows as before. A field the engine reads, listed by mistake,
    # fails here.
    before = ranking.ensure_ranking(london)
    ranked = stored_rows(london, before.id)
    changes = {"title": Project.title + " (renamed)", "description": "Described again",
               "start_date": date(2020, 1, 1), "end_date": date(2030, 12, 31),
               "mandatory_justification": "Another reason",
               "override_justification": "Asked again", "version": Project.version + 1,
               "updated_at": Project.updated_at + timedelta(days=1)}
    assert set(changes) == UNRANKED_PROJECT_FIELDS
    with london.write() as session:
        session.execute(update(Project).values(changes))
    with london.write() as session:
        session.execute(update(RankingRun).where(RankingRun.id == before.id)
                        .values(complete=False))  # nothing to carry: compute
    fresh = ranking.ensure_ranking(london)
    assert fresh.revision == before.revision + 1
    assert stored_rows(london, fresh.id) == ranked


def test_a_source_run_removed_while_copied_gives_way_to_computing(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="Renamed while a newer run replaces the old")
    monkeypatch.setattr(ranking, "STORE_BATCH", 7)
    monkeypatch.setattr(ranking, "COPY_BATCH", 7)
    pass_writers = ranking._let_writers_in
    removed: list[int] = []

    def remove_source(db: Database, held: float, freed: float) -> None:
        if not removed:
            removed.append(before.id)
            ranking._remove_run(db, before.id)  # a newer run's prune, between two batches
        pass_writers(db, held, freed)

    monkeypatch.setattr(ranking, "_let_writers_in", remove_source)
    after = ranking.ensure_ranking(london)
    assert removed and after.revision == portfolio_revision(london)
    with london.read() as session:
        left = session.execute(select(RankingRun.id, RankingRun.complete)).all()
    # The half-copied run was removed and the ranking computed: one whole run, nothing else.
    assert [tuple(r) for r in left] == [(after.id, True)]
    assert len(stored_rows(london, after.id)) > 7


def test_a_source_run_being_removed_is_not_carried_even_with_its_rows_all_there(
        london: Database) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="Renamed as the old run starts to go")
    with london.read() as session:
        profile = ranking.load_profile(session, None)
        source = ranking._run_to_carry(session, profile, portfolio_revision(london))
    assert source is not None and source.id == before.id
    with london.write() as session:  # the first step of removing a run: hidden, rows still in
        session.execute(update(RankingRun).where(RankingRun.id == before.id)
                        .values(complete=False))
    assert ranking._carry_forward(london, profile, portfolio_revision(london), source) is None
    with london.read() as session:
        assert session.execute(select(RankingRun.id)).scalars().all() == [before.id]


def test_a_full_edit_that_changes_only_the_title_carries_the_run_forward(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # A full edit (the API's PUT, the edit form) sends every field; those unchanged are not
    # written, so the ranking does not see the edit (found in review).
    from portfolio.models import Organisation
    from portfolio.services.common import project_by_slug, ranked_revision

    before = ranking.ensure_ranking(london)
    with london.write() as session:
        project = project_by_slug(session, SLUG)
        owner = session.get(Organisation, project.owner_id)
        assert owner is not None
        data = project_service._input_of(project, owner.code) | {"title": "Renamed in full"}
        project_service.update_project(session=session, actor=SYSTEM, slug=SLUG,
                                       data=data | {"version": project.version})
    with london.read() as session:
        assert ranked_revision(session) == before.revision
    no_computing(monkeypatch)
    after = ranking.ensure_ranking(london)
    assert after.revision == before.revision + 1
    assert stored_rows(london, after.id) == stored_rows(london, before.id)
