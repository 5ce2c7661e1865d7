"""An edit the ranking cannot see is not ranked again: the stored run is carried forward."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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


def rows_read(db: Database, run: ranking.RunInfo) -> list[tuple[Any, ...]]:
    """Return the rows a run's readers read: its own, or those of the run it names."""
    return stored_rows(db, run.rows_id)


def runs(db: Database) -> list[tuple[Any, ...]]:
    """Return every stored run: id, complete, rows stored, the run whose rows it reads."""
    with db.read() as session:
        return [tuple(r) for r in session.execute(
            select(RankingRun.id, RankingRun.complete, RankingRun.rows_stored,
                   RankingRun.rows_run_id).order_by(RankingRun.id)).all()]


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
    after = ranking.ensure_ranking(london)
    assert (after.revision, after.behind) == (portfolio_revision(london), 0)
    assert after.id != before.id and after.revision == before.revision + 1
    # No row is written: the carried run reads the rows of the run it was carried from.
    assert after.rows_id == before.id and stored_rows(london, after.id) == []
    assert rows_read(london, after) == rows_read(london, before) != []
    assert runs(london) == [(before.id, True, len(rows_read(london, before)), None),
                            (after.id, True, 0, before.id)]
    page = ranking.backlog_page(london, view=None, limit=500)
    assert page["run_id"] == after.id and len(page["rows"]) == len(rows_read(london, before))
    assert "One view of households, phase two" in {r["title"] for r in page["rows"]}


def test_a_run_carried_twice_reads_the_rows_of_the_run_computed(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    computed = ranking.ensure_ranking(london)
    no_computing(monkeypatch)
    carried = []
    for n in range(3):
        patch(london, title=f"Renamed {n}")
        carried.append(ranking.ensure_ranking(london))
        london.background.wait()  # the prune after each run
    assert {run.rows_id for run in carried} == {computed.id}
    # The newest two runs stay, and so does the run whose rows they read; the first carried
    # run, which nothing reads now, is gone.
    assert [run[0] for run in runs(london)] == [computed.id, carried[1].id, carried[2].id]
    monkeypatch.undo()
    patch(london, cost_gbp=10_000_000)  # ranked: computed again
    fresh = ranking.ensure_ranking(london)
    patch(london, title="Renamed once more")
    newest = ranking.ensure_ranking(london)
    london.background.wait()
    assert newest.rows_id == fresh.id
    # Nothing kept reads the first computed run's rows any more: it went with its carried runs.
    assert [run[0] for run in runs(london)] == [fresh.id, newest.id]


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


def test_a_run_named_by_a_carried_run_is_not_removed(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="Renamed while a newer run's prune looks at the old")
    no_computing(monkeypatch)
    claim = ranking._claim_run
    refused: list[bool] = []

    def claim_then_prune(*args: Any, **kwargs: Any) -> int | None:
        run_id = claim(*args, **kwargs)
        # A prune that comes after the carried run named its rows' run: it must leave it.
        refused.append(ranking._remove_run(london, before.id))
        return run_id

    monkeypatch.setattr(ranking, "_claim_run", claim_then_prune)
    after = ranking.ensure_ranking(london)
    assert refused == [False] and after.rows_id == before.id
    assert runs(london) == [(before.id, True, len(rows_read(london, before)), None),
                            (after.id, True, 0, before.id)]
    assert rows_read(london, after) == rows_read(london, before) != []


def test_a_run_removed_before_the_carried_run_named_it_gives_way_to_computing(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ranking.ensure_ranking(london)
    patch(london, title="Renamed just as a newer run replaces the old")
    claim = ranking._claim_run

    def prune_then_claim(*args: Any, **kwargs: Any) -> int | None:
        if kwargs.get("rows_of") is not None:
            assert ranking._remove_run(london, before.id)  # a prune just before the carry
        return claim(*args, **kwargs)

    monkeypatch.setattr(ranking, "_claim_run", prune_then_claim)
    after = ranking.ensure_ranking(london)
    assert after.revision == portfolio_revision(london) and after.rows_id == after.id
    # The carried run was given up and the ranking computed: one whole run, nothing else.
    assert runs(london) == [(after.id, True, len(stored_rows(london, after.id)), None)]
    assert stored_rows(london, after.id) != []


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
    assert rows_read(london, after) == rows_read(london, before)


def test_every_reader_of_a_carried_run_reads_the_rows_it_names(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Described again and back: the run carried forward reads the rows computed first, and
    # every figure read from a run's rows (dashboard, plan values, similar projects' values,
    # review queue, snapshot, a page's count) is the same as from the computed run.
    from portfolio.services import collaboration, dashboard, planning, reviews, snapshots

    def figures() -> list[Any]:
        run = ranking.ensure_ranking(london)
        board = dashboard.dashboard(london)
        with london.read() as session:
            plan = planning.run_figures(session, run).sort_index().to_csv()
            queue = reviews.review_queue(session=session, run_id=run.rows_id)["awaiting"]
            ids = list(session.execute(select(Project.id)).scalars())
        content, _run = snapshots.build_content(
            london, actor=SYSTEM, label="Same rows", at=datetime(2026, 12, 1, tzinfo=UTC),
            tables=("projects",))
        ranked = [{k: v for k, v in record.items() if k not in ("version", "updated_at")}
                  for record in content.records("projects")]
        extents = [ranking.backlog_page(london, view=view, q=q, limit=5, after=5)
                   for view in (None, "candidates") for q in (None, "data")]
        return [run.rows_id, board["value_by_theme"], board["matrix"], plan, queue,
                collaboration._values(london, ids), ranked,
                [(page["total"], page["previous_after"], [r["slug"] for r in page["rows"]])
                 for page in extents]]

    computed = figures()
    assert all(total > 0 for total, _before, _slugs in computed[-1])
    with london.read() as session:
        described = session.execute(select(Project.description).where(
            Project.slug == SLUG)).scalar_one()
    no_computing(monkeypatch)
    patch(london, description="Described again for a moment")
    patch(london, description=described)
    assert figures() == computed


def test_a_removal_waits_for_a_carried_run_being_claimed_and_then_keeps_its_rows(
        london: Database) -> None:
    import threading

    source = ranking.ensure_ranking(london)
    patch(london, title="Renamed as a prune starts")
    results: list[bool] = []
    with london.read() as session:
        profile = ranking.load_profile(session, None)
    with london.write() as session:  # a carried run's claim, not yet committed
        assert ranking._lock_run(session, source.id, share=True)
        session.add(RankingRun(profile_id=profile.id, profile_version=profile.version,
                               revision=source.revision + 1,
                               method_version=source.method_version, rows_run_id=source.id))
        session.flush()
        removal = threading.Thread(
            target=lambda: results.append(ranking._remove_run(london, source.id)))
        removal.start()
        removal.join(0.5)
        # The removal waits for the claim's lock (a row lock, or SQLite's one write lock).
        assert removal.is_alive() and results == []
    removal.join(30)
    assert results == [False]
    assert runs(london)[0] == (source.id, True, len(rows_read(london, source)), None)


def test_a_run_being_removed_cannot_be_finished_or_stored_into_again(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # A storer judged abandoned that comes back: before, its finish made the hidden run
    # complete while its rows were deleted, and a carried run could then name it (review).
    run = ranking.ensure_ranking(london)
    with london.read() as session:
        profile = ranking.load_profile(session, None)
    monkeypatch.setattr(ranking, "STORE_BATCH", 7)
    pass_writers = ranking._let_writers_in
    refused: list[str] = []

    def storer_returns(db: Database, held: float, freed: float) -> None:
        if not refused:
            with pytest.raises(RuntimeError, match="removed while it was stored") as error:
                ranking._finish_run(db, profile, run.id, run.revision, 0.0, run.samples)
            refused.append(str(error.value))
            with db.write() as session, pytest.raises(RuntimeError):
                ranking._note_progress(session, run.id, 1)
        pass_writers(db, held, freed)

    monkeypatch.setattr(ranking, "_let_writers_in", storer_returns)
    assert ranking._remove_run(london, run.id)
    assert refused and runs(london) == [] and stored_rows(london, run.id) == []


def test_a_run_that_moved_on_is_not_removed_as_abandoned(london: Database) -> None:
    run = ranking.ensure_ranking(london)
    assert not ranking._remove_run(london, run.id, stalled_at=0)  # complete: not stalled
    assert runs(london)[0][:2] == (run.id, True)
