"""A ranking run is stored in short batches: edits go in between, readers see complete runs."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import RankingRow, RankingRun
from portfolio.services import projects as project_service
from portfolio.services import ranking
from portfolio.services.common import portfolio_revision
from portfolio.services.frames import load_profile

EFFORTS = itertools.count(1)


def edit_title(db: Database, slug: str, title: str) -> None:
    """Edit a project's title and effort through the service, from its current version.

    The effort is new each time: a title alone is carried forward, never ranked again.
    """
    with db.write() as session:
        current = project_service.get_project(session=session, slug=slug)
        project_service.update_project(session=session, actor=SYSTEM, slug=slug, data={
            "owner": current["organisation"], "theme": current["theme"],
            "status": current["status"], "title": title, "version": current["version"],
            "effort_pm": next(EFFORTS)})


def first_slug(db: Database) -> str:
    with db.read() as session:
        return project_service.list_projects(session=session)[0]["slug"]


def test_an_edit_goes_in_between_batches_and_readers_see_only_complete_runs(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = ranking.ensure_ranking(london)
    slug = first_slug(london)
    edit_title(london, slug, "Made stale")
    stale_revision = portfolio_revision(london)
    monkeypatch.setattr(ranking, "STORE_BATCH", 5)
    monkeypatch.setattr(ranking, "COPY_BATCH", 5)
    seen: list[tuple] = []
    pass_writers = ranking._let_writers_in

    def between_batches(db: Database, held: float, freed: float) -> None:
        if not seen:
            # One batch is in and the lock is free: an edit commits at once (no 5 s wait,
            # no "database is locked"), and no reader is handed the half-stored run.
            with db.read() as session:
                profile = load_profile(session, None)
                half = session.execute(select(RankingRun).where(
                    RankingRun.revision == stale_revision)).scalars().one()
                seen.append((half.complete, half.rows_stored,
                             ranking._find_run(session, profile, stale_revision),
                             ranking._latest_run(session, profile)))
            edit_title(db, slug, "Edited during the store")
        pass_writers(db, held, freed)

    monkeypatch.setattr(ranking, "_let_writers_in", between_batches)
    stored = ranking._compute_and_store(london, None)
    complete, rows_stored, found, latest = seen[0]
    assert (complete, rows_stored, found) == (False, 5, None)
    assert latest is not None and latest.id == previous.id
    assert stored.revision == stale_revision
    assert portfolio_revision(london) == stale_revision + 1  # the edit went in meanwhile
    with london.read() as session:
        run = session.get(RankingRun, stored.id)
        rows = session.execute(select(func.count()).where(RankingRow.run_id == stored.id)
                               ).scalar_one()
    assert run.complete and rows == run.rows_stored > 5


def test_a_run_left_half_stored_by_a_dead_process_is_replaced(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    revision = portfolio_revision(london)
    with london.read() as session:
        profile = load_profile(session, None)
    dead = ranking._claim_run(london, profile, revision, 1.0, ranking.DEFAULT_SAMPLES)
    assert dead is not None
    monkeypatch.setattr(ranking, "ABANDONED_AFTER", 0.0)
    run = ranking.ensure_ranking(london)
    assert run.revision == revision
    with london.read() as session:
        runs = session.execute(select(RankingRun).where(RankingRun.revision == revision)
                               ).scalars().all()
        rows = session.execute(select(func.count()).where(RankingRow.run_id == run.id)
                               ).scalar_one()
    # The dead process's run (never complete, no rows) made way for a whole one.
    assert [(r.id, r.complete, r.rows_stored) for r in runs] == [(run.id, True, rows)]
    assert rows > 0


def test_old_runs_are_removed_in_batches_keeping_the_previous_one(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "STORE_BATCH", 7)
    monkeypatch.setattr(ranking, "COPY_BATCH", 7)
    slug = first_slug(london)
    ids = []
    for n in range(3):
        ids.append(ranking.ensure_ranking(london).id)
        edit_title(london, slug, f"Edit {n}")
    ids.append(ranking.ensure_ranking(london).id)
    london.background.wait()  # runs are removed after the new one is handed over
    with london.read() as session:
        left = session.execute(select(RankingRun.id).order_by(RankingRun.id)).scalars().all()
        orphans = session.execute(select(func.count()).where(
            RankingRow.run_id.not_in(left))).scalar_one()
    assert left == ids[-2:] and orphans == 0


def test_a_run_a_dead_process_left_for_an_older_revision_is_removed_by_the_next_store(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    ranking.ensure_ranking(london)
    slug = first_slug(london)
    edit_title(london, slug, "Stale again")
    with london.read() as session:
        profile = load_profile(session, None)
    dead = ranking._claim_run(london, profile, portfolio_revision(london), 1.0)
    edit_title(london, slug, "And again")
    monkeypatch.setattr(ranking, "ABANDONED_AFTER", 0.0)
    newest = ranking.ensure_ranking(london)
    london.background.wait()
    with london.read() as session:
        left = session.execute(select(RankingRun.id, RankingRun.complete)
                               .order_by(RankingRun.id)).all()
    assert dead not in [run_id for run_id, _complete in left]
    assert all(complete for _run_id, complete in left) and left[-1][0] == newest.id


def test_a_page_waiting_for_a_run_does_not_wait_for_the_runs_it_replaces(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    slug = first_slug(london)
    for n in range(2):
        ranking.ensure_ranking(london)
        edit_title(london, slug, f"Edit {n}")
    london.background.wait()
    removing, release = threading.Event(), threading.Event()
    remove = ranking._remove_run

    def held_removal(db: Database, run_id: int) -> None:
        removing.set()
        assert release.wait(30)
        remove(db, run_id)

    monkeypatch.setattr(ranking, "_remove_run", held_removal)
    newest = ranking.ensure_ranking(london)  # returns while the oldest run is being removed
    assert removing.wait(30) and newest.revision == portfolio_revision(london)
    release.set()
    london.background.wait()
    with london.read() as session:
        left = session.execute(select(RankingRun.id).order_by(RankingRun.id)).scalars().all()
    assert len(left) == 2 and left[-1] == newest.id
