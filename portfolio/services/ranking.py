"""Stored rankings: computed once per weight profile and portfolio revision, then read by pages."""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from types import EllipsisType
from typing import Any, TypeVarTuple, cast
from weakref import ref

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import JSON, Connection, Select, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.jobs import submit_ranking
from portfolio.models import (
    Dataset,
    Organisation,
    Project,
    RankingRow,
    RankingRun,
    table_of,
    utcnow,
)
from portfolio.revision import changed_since
from portfolio.services import agreements
from portfolio.services.common import (
    LIKE_ESCAPE,
    consistent_read,
    current_revision,
    escape_like,
    project_by_slug,
    ranked_revision,
)
from portfolio.services.frames import (
    PortfolioFrames,
    StoredProfile,
    load_portfolio,
    load_profile,
    with_projects_read_again,
)
from portfolio.services.overdue import end_dates, is_overdue
from portfolio.services.overrides import expire_due_once_a_day
from scoring import collector
from scoring.criteria import DIMENSIONS
from scoring.engine import METHOD_VERSION, Ranking, rank_portfolio

# The backlog's views are re-exported for the pages (web does not import scoring).
from scoring.ranking import CANDIDATES, VIEWS
from scoring.ranking import COMMITTED as COMMITTED
from scoring.ranking import VIEW_OF_STATUS as VIEW_OF_STATUS
from scoring.rounding import (
    SCORE_DECIMALS,
    largest_remainder,
    round_each,
    round_parts,
    round_total,
    shown_score,
)
from scoring.weights import InvalidWeights, normalise_weights
from scoring.whatif import WhatIfBase, build_base, page_table, rank_with

DEFAULT_SAMPLES = 1000
DEFAULT_TOP_K = 10
ROBUSTNESS_SEED = 20261128
# Rows per short write transaction when a run is stored or removed (a few ms on SQLite),
# the first batch's; later ones are sized to hold the write lock about STORE_HOLD_SECONDS.
STORE_BATCH = 500
STORE_HOLD_SECONDS = 0.01
# A run whose rows stop arriving this long was left by a process that died while storing it.
ABANDONED_AFTER = 30.0
# Places of the score and its contributions as stored (and exported); shown at SCORE_DECIMALS.
STORED_DECIMALS = 6


@dataclass(frozen=True)
class RunInfo:
    """Which stored run a page reads, and what it was computed from."""

    id: int
    profile: str
    profile_version: int
    revision: int
    method_version: str
    samples: int
    top_k: int
    seconds: float
    behind: int = 0  # revisions the portfolio has moved on since this run (0: current)
    # A run carried forward reads the rows of the run it was carried from (`rows_id`).
    rows_of: int | None = None

    @property
    def rows_id(self) -> int:
        """Return the run whose stored rows are this run's rows."""
        return self.id if self.rows_of is None else self.rows_of


def _nullable(value: Any) -> Any:
    """Return None for NaN so the database stores NULL."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def portfolio_frames(db: Database, session: Session) -> PortfolioFrames:
    """Return the portfolio as read in this session, kept per revision by this process.

    The biggest read there is (4 s at 100,000 projects): the background re-ranking reads it
    once, then the graph and the what-if sliders reuse it until the next write.
    """
    # The day is in the key: an agreement's standing, and so readiness, follows the date.
    key = ("portfolio frames", current_revision(session), date.today())
    found = db.run_memo.get(key)
    if found is None:
        found = db.run_memo.put_latest(key, _frames_now(db, session, key))
    return found


def _frames_now(db: Database, session: Session, key: tuple[str, int, date]) -> PortfolioFrames:
    """Return the frames this process kept from an earlier revision, patched, or read them all.

    Patched when every write since changed only named projects' own fields or assessments (the
    change log, portfolio/revision.py): an edit at 100,000 projects then reads that project's
    rows, not 2 s of tables.
    """
    kept = db.run_memo.latest(key[0])
    if kept is not None:
        (_kind, kept_revision, kept_day), frames = kept
        if kept_day == key[2] and kept_revision < key[1]:
            changed = changed_since(session, kept_revision, key[1])
            if changed is not None:
                patched = with_projects_read_again(frames, session, changed)
                if patched is not None:
                    return patched
    return load_portfolio(session)


def compute(db: Database, session: Session, profile: StoredProfile, *, samples: int,
            top_k: int) -> Ranking:
    """Compute a ranking of the portfolio as read in this session."""
    frames = portfolio_frames(db, session)
    return rank_portfolio(
        frames.projects, frames.criteria, frames.levels, frames.links, frames.dependencies,
        frames.datasets, profile.weights, top_k=top_k, samples=samples, seed=ROBUSTNESS_SEED,
        assessments=frames.assessments,
    )


def _run_info(run: RankingRun | None, profile: StoredProfile) -> RunInfo | None:
    """Return what a page needs to know of a stored run, or None."""
    if run is None:
        return None
    assert run.id is not None  # a stored run
    return RunInfo(run.id, profile.name, run.profile_version, run.revision, run.method_version,
                   run.samples, run.top_k, run.seconds, rows_of=run.rows_run_id)


def _find_run(session: Session, profile: StoredProfile, revision: int) -> RunInfo | None:
    """Return the stored run for this profile version and revision, if any."""
    run = session.execute(
        select(RankingRun).where(
            col(RankingRun.profile_id) == profile.id,
            col(RankingRun.profile_version) == profile.version,
            col(RankingRun.revision) == revision,
            col(RankingRun.method_version) == METHOD_VERSION,
            col(RankingRun.complete).is_(True),
        )
    ).scalars().first()
    return _run_info(run, profile)


def _latest_run(session: Session, profile: StoredProfile) -> RunInfo | None:
    """Return the newest stored run of a profile, whatever its revision."""
    run = session.execute(
        select(RankingRun).where(col(RankingRun.profile_id) == profile.id,
                                 col(RankingRun.method_version) == METHOD_VERSION,
                                 col(RankingRun.complete).is_(True))
        .order_by(col(RankingRun.revision).desc())
    ).scalars().first()
    return _run_info(run, profile)


def ensure_ranking(db: Database, profile_name: str | None = None, *,
                   wait_seconds: float | None = None, seen: int | None = None,
                   revision: int | None = None) -> RunInfo:
    """Return the current stored run for a profile, computing and storing it when stale.

    The computation runs in a background thread of this worker, one per profile. A caller
    with wait_seconds waits that long, then reads the previous run (its `behind` says by how
    many revisions) so that pages stay fast while a large portfolio is re-ranked after edits.
    A reader whose own last write made revision `seen` waits only when the previous run
    predates it: others' edits never hold up its pages. A caller that has just read the
    revision passes it: the run kept for it then costs no query.
    """
    if revision is not None:
        kept = db.memo.get(("ranking run", profile_name, revision))
        if kept is not None:
            return kept
    # An override past its expiry day is cleared, and a signed agreement past its expiry day
    # recorded as expired; either moves the revision (a sweep once a day per process).
    expire_due_once_a_day(db)
    agreements.expire_due_once_a_day(db)
    with db.read() as session:
        revision = current_revision(session)
        # A run found for the current revision stays current until the revision moves.
        cached = db.memo.get(("ranking run", profile_name, revision))
        if cached is not None:
            return cached
        profile = load_profile(session, profile_name)
        found = _find_run(session, profile, revision)
        if found is not None:
            return db.memo.put(("ranking run", profile_name, revision), found)
        stale = _latest_run(session, profile) if wait_seconds is not None else None
    if stale is not None and seen is not None and stale.revision >= seen:
        wait_seconds = 0.0
    while True:
        job = submit_ranking(db, profile, profile_name, revision,
                             lambda: _compute_and_store(db, profile_name))
        try:
            run = job.result(timeout=wait_seconds if stale is not None else None)
        except FutureTimeout:
            assert stale is not None
            return replace(stale, behind=revision - stale.revision)
        except Exception:
            if stale is None:
                raise
            # Logged by the background job; a page can still show the previous ranking.
            return replace(stale, behind=revision - stale.revision)
        # A job started before this caller's revision gives an older run: go again.
        if run.revision >= revision:
            return run


def _compute_and_store(db: Database, profile_name: str | None) -> RunInfo:
    """Compute the ranking for the current revision and store it (once across workers)."""
    with collector.paused():
        return _rank_and_store(db, profile_name)


def _rank_and_store(db: Database, profile_name: str | None) -> RunInfo:
    """Compute and store the current revision's run, unless one is stored (_compute_and_store).

    When no write since a stored run changed what the ranking reads, that run's rows are
    carried forward to the current revision instead (`_carry_forward`).
    """
    with db.read() as session:
        profile, revision, found = _stored_now(session, profile_name)
        if found is not None:
            return found
        source = _run_to_carry(session, profile, revision)
    if source is not None:
        carried = _carry_forward(db, profile, revision, source)
        if carried is not None:
            return carried
    with db.read() as session:
        profile, revision, found = _stored_now(session, profile_name)
        if found is not None:
            return found
        started = time.perf_counter()
        ranking = compute(db, session, profile, samples=DEFAULT_SAMPLES, top_k=DEFAULT_TOP_K)
        samples = ranking.samples
        projects = portfolio_frames(db, session).projects  # the read compute has just made
        project_ids = dict(zip(projects["slug"].tolist(), projects["id"].tolist(), strict=True))
    seconds = time.perf_counter() - started
    run_id = _claim_run(db, profile, revision, seconds, samples)
    if run_id is None:
        # Another worker stored the same run first, or is storing it: read theirs.
        found = _await_run(db, profile, revision)
        if found is not None:
            return found
        run_id = _claim_run(db, profile, revision, seconds, samples)
        if run_id is None:
            raise RuntimeError(f"the ranking of revision {revision} could not be stored")
    _store_rows(db, run_id, ranking, project_ids)
    return _finish_run(db, profile, run_id, revision, seconds, samples)


def _stored_now(session: Session, profile_name: str | None,
                ) -> tuple[StoredProfile, int, RunInfo | None]:
    """Return the profile, the current revision and its stored run if any, read as one."""
    consistent_read(session)
    profile = load_profile(session, profile_name)
    revision = current_revision(session)
    return profile, revision, _find_run(session, profile, revision)


def _finish_run(db: Database, profile: StoredProfile, run_id: int, revision: int,
                seconds: float, samples: int, rows_of: int | None = None) -> RunInfo:
    """Mark a stored run complete, remove the runs it replaces and return it."""
    with db.write() as session:
        completed = session.execute(update(RankingRun).where(
            col(RankingRun.id) == run_id, col(RankingRun.rows_stored) != REMOVING)
            .values(complete=True, seconds=seconds))
        if completed.rowcount == 0:  # type: ignore[attr-defined]
            raise RuntimeError(f"ranking run {run_id} was removed while it was stored")
    # After the run is handed over: a page waiting for it need not wait for the removal of the
    # runs it replaces (85,000 rows in short batches, 1-1.5 s on SQLite at 100,000 projects).
    # One job per run stored: a request made while another prune finishes is never dropped.
    db.background.submit(("prune runs", profile.id, run_id),
                         lambda: _prune_settled(db, profile.id))
    if not db.is_sqlite and rows_of is None:
        # Until autovacuum gets to them, PostgreSQL plans the fresh rows (a carried run adds
        # none) without statistics and sorts every row of the run for the first page;
        # measured: 49 ms, 3 ms after ANALYZE.
        # Only the columns pages filter, join and order on: the JSON columns were half of its
        # 0.25 s at 100,000 projects, and no plan depends on them.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE ranking_row (run_id, project_id, backlog_view, "
                                       "view_position, position)")
            connection.commit()
    return RunInfo(run_id, profile.name, profile.version, revision, METHOD_VERSION,
                   samples, DEFAULT_TOP_K, seconds, rows_of=rows_of)


def _run_to_carry(session: Session, profile: StoredProfile, revision: int) -> RunInfo | None:
    """Return the newest stored run that ranks the portfolio as it is at this revision.

    A run of revision r does when no write from r on changed what the ranking reads: r is at
    least the ranked revision (DESIGN.md, "When the ranking is computed again").
    """
    run = session.execute(
        select(RankingRun).where(
            col(RankingRun.profile_id) == profile.id,
            col(RankingRun.profile_version) == profile.version,
            col(RankingRun.method_version) == METHOD_VERSION,
            col(RankingRun.complete).is_(True),
            col(RankingRun.revision) >= ranked_revision(session),
            col(RankingRun.revision) < revision,
        ).order_by(col(RankingRun.revision).desc())
    ).scalars().first()
    return _run_info(run, profile)


def _carry_forward(db: Database, profile: StoredProfile, revision: int,
                   source: RunInfo) -> RunInfo | None:
    """Make a run of this revision that reads a stored run's rows; None when the source went.

    No row is written: the new run names the run whose rows it reads, in the transaction
    that finds that run whole, and a run another names is never removed (`_remove_run`).
    """
    started = time.perf_counter()
    try:
        run_id = _claim_run(db, profile, revision, 0.0, source.samples, rows_of=source.rows_id)
    except RowsGone:
        return None  # the rows' run is being removed (a newer run replaced it): compute
    if run_id is None:
        # Another worker stores this revision's run (computed or carried): read theirs.
        return _await_run(db, profile, revision)
    return _finish_run(db, profile, run_id, revision, time.perf_counter() - started,
                       source.samples, rows_of=source.rows_id)


# A run's rows_stored while it is being removed: its storer finds it gone.
REMOVING = -1


class RowsGone(Exception):
    """The run a carried run would read the rows of is being removed."""


def _lock_run(session: Session, run_id: int, *, share: bool = False) -> bool | None:
    """Lock a run's row to the end of the transaction; return whether it is complete.

    PostgreSQL locks the row (SELECT ... FOR SHARE / FOR UPDATE); SQLite's writer already
    holds the database's one write lock (BEGIN IMMEDIATE), so its dialect adds nothing.
    """
    return session.execute(select(col(RankingRun.complete)).where(
        col(RankingRun.id) == run_id).with_for_update(read=share)).scalar()


def _first_batch(db: Database) -> int:
    """Return how many rows a run's first batch stores."""
    return STORE_BATCH if db.is_sqlite else COPY_BATCH


def _next_batch(db: Database, size: int, held: float) -> int:
    """Return the next batch's size (SQLite: to hold the lock about STORE_HOLD_SECONDS)."""
    if not db.is_sqlite:
        return size
    return max(50, min(10 * STORE_BATCH, int(size * STORE_HOLD_SECONDS / max(held, 1e-4))))


def _note_progress(session: Session, run_id: int, stored: int) -> None:
    """Record a run's rows stored so far, in the batch's transaction."""
    # computed_at moves on with each batch: when it stops, the storer has died.
    progress = session.execute(update(RankingRun).where(
        col(RankingRun.id) == run_id, col(RankingRun.rows_stored) != REMOVING)
        .values(rows_stored=stored, computed_at=utcnow()))
    if progress.rowcount == 0:  # type: ignore[attr-defined]
        # Judged abandoned and removed by another worker: this batch rolls back.
        raise RuntimeError(f"ranking run {run_id} was removed while it was stored")


def _claim_run(db: Database, profile: StoredProfile, revision: int,
               seconds: float, samples: int = DEFAULT_SAMPLES,
               rows_of: int | None = None) -> int | None:
    """Insert an incomplete run for this revision and return its id; None when one exists.

    A run carried forward (`rows_of`) is inserted only while the run it names is whole
    (else RowsGone), under a lock that a removal of that run waits for.
    """
    try:
        with db.write() as session:
            if rows_of is not None and not _lock_run(session, rows_of, share=True):
                raise RowsGone
            run = RankingRun(profile_id=profile.id, profile_version=profile.version,
                             revision=revision, method_version=METHOD_VERSION,
                             samples=samples, top_k=DEFAULT_TOP_K, seconds=seconds,
                             complete=False, rows_run_id=rows_of)
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        return None


def _await_run(db: Database, profile: StoredProfile, revision: int) -> RunInfo | None:
    """Wait for another worker's run of this revision; None if it was abandoned (removed).

    A run whose rows stop arriving for ABANDONED_AFTER seconds belonged to a process that
    died while storing it: it is removed so that this worker can store its own.
    """
    progress, since = -1, time.monotonic()
    while True:
        with db.read() as session:
            run = session.execute(select(RankingRun).where(
                col(RankingRun.profile_id) == profile.id,
                col(RankingRun.profile_version) == profile.version,
                col(RankingRun.revision) == revision,
                col(RankingRun.method_version) == METHOD_VERSION)).scalars().first()
        if run is None:
            return None
        if run.complete:
            return _run_info(run, profile)
        if run.rows_stored != progress:
            progress, since = run.rows_stored, time.monotonic()
        elif time.monotonic() - since > ABANDONED_AFTER:
            _remove_run(db, run.id, stalled_at=progress)
            return None
        time.sleep(0.2)


def _store_rows(db: Database, run_id: int, ranking: Ranking,
                project_ids: dict[str, int]) -> None:
    """Insert the ranked rows of a run in short transactions, so edits never wait long.

    On SQLite each batch is sized to hold the one write lock about STORE_HOLD_SECONDS, then
    the lock is left free while edits wait for it (`_let_writers_in`). On PostgreSQL, which
    locks rows, batches of COPY_BATCH rows go in by COPY. Each batch is encoded as the driver's
    own tuples before the lock is taken, in the pause after the batch before it.
    """
    rows = _encoded_rows(run_id, ranking, project_ids)
    size, start = _first_batch(db), 0
    batch = rows.tuples(start, start + size)
    while batch:
        with db.write() as session:
            connection = session.connection()  # waits for the write lock: not the time held
            began = time.perf_counter()
            _insert_rows(connection, batch)
            _note_progress(session, run_id, start + len(batch))
        freed = time.perf_counter()
        held = freed - began
        start += len(batch)
        size = _next_batch(db, size, held)
        # The next batch is encoded in the pause left to edits: it takes no lock.
        batch = rows.tuples(start, start + size)
        _let_writers_in(db, held, freed)


# Rows per COPY on PostgreSQL: each batch also records progress (rows_stored, computed_at).
COPY_BATCH = 20_000
STORED_COLUMNS = tuple(c.name for c in table_of(RankingRow).columns)


def _insert_rows(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert row tuples (STORED_COLUMNS, JSON as text): COPY on PostgreSQL, else executemany."""
    names = ", ".join(STORED_COLUMNS)
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ranking_row ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" if connection.dialect.paramstyle == "qmark" else "%s"
                      for _ in STORED_COLUMNS)
    connection.exec_driver_sql(f"INSERT INTO ranking_row ({names}) VALUES ({marks})", rows)


@dataclass(frozen=True)
class EncodedRows:
    """A run's rows as compact columns, turned into the driver's tuples a batch at a time.

    Nothing is encoded per row until its batch is stored: every row's tuple at once held
    110 MB at 100,000 projects, every row's JSON text a further 60 MB.
    """

    # Numbers as arrays (NaN where NULL); name -> values.
    numbers: dict[str, np.ndarray]
    # Words as codes into their few distinct values (-1 for NULL); name -> (codes, values).
    words: dict[str, tuple[np.ndarray, list[str]]]
    # Lists of slugs, stored as JSON arrays; name -> each row's list.
    lists: dict[str, list[Any]]
    # Each row's contributions (rounded, NaN where missing) under their criterion keys.
    contributions: np.ndarray
    criteria: list[str]
    # Number columns whose NaN is NULL, and those of them stored as integers.
    nullable: frozenset[str]
    integers: frozenset[str]
    size: int

    def tuples(self, start: int = 0, stop: int | None = None) -> list[tuple[Any, ...]]:
        """Return rows start..stop as tuples in STORED_COLUMNS order, JSON as text."""
        stop = self.size if stop is None else min(stop, self.size)
        return list(zip(*(self._column(name, start, stop) for name in STORED_COLUMNS),
                        strict=True))

    def _column(self, name: str, start: int, stop: int) -> list[Any]:
        """Return one column's values of rows start..stop as the driver takes them."""
        if name == "contributions":
            return _contribution_texts(self.criteria, self.contributions[start:stop])
        if name in self.lists:
            return [orjson.dumps(list(v)).decode() for v in self.lists[name][start:stop]]
        if name in self.words:
            codes, values = self.words[name]
            return [None if c < 0 else values[c] for c in codes[start:stop].tolist()]
        values = self.numbers[name][start:stop].tolist()
        if name in self.integers:
            return [None if v != v else int(v) for v in values]
        if name in self.nullable:
            return [None if v != v else v for v in values]
        return values


def _encoded_rows(run_id: int, ranking: Ranking, project_ids: dict[str, int]) -> EncodedRows:
    """Return _rows_of's rows as EncodedRows (a test compares the two on random rankings).

    Built a column at a time: a dict per row cost 6 s of CPU at 100,000 projects.
    """
    table = ranking.rows
    n = len(table)
    slugs = table["slug"].tolist()

    def numbers(name: str) -> np.ndarray:
        return table[name].to_numpy(dtype=float, na_value=np.nan)

    def flags(name: str) -> np.ndarray:
        return table[name].eq(True).to_numpy(dtype=bool, na_value=False)

    def words(name: str) -> tuple[np.ndarray, list[str]]:
        codes, values = pd.factorize(table[name], use_na_sentinel=True)
        return codes, [str(v) for v in values]

    nullable = ("composite", *DIMENSIONS, "priority", "effective_priority", "p_top_k",
                "rice", "wsjf")
    unlock = numbers("unlock_value")
    found = ranking.contributions.reindex(slugs)
    return EncodedRows(
        numbers={
            "run_id": np.full(n, run_id, dtype=np.int64),
            "project_id": np.array([project_ids[slug] for slug in slugs], dtype=np.int64),
            "position": table["position"].to_numpy(dtype=np.int64),
            "view_position": table["view_position"].to_numpy(dtype=np.int64),
            **{name: numbers(name) for name in nullable},
            "coverage": numbers("coverage"),
            "effective_mandatory": table["effective_mandatory"].to_numpy(dtype=bool),
            "rank_p05": numbers("rank_p05"), "rank_p95": numbers("rank_p95"),
            "fragile": flags("fragile"),
            "unlock_value": np.where(np.isnan(unlock), 0.0, unlock),
        },
        words={"backlog_view": words("view"), "score_status": words("score_status"),
               "bottleneck_dataset": words("bottleneck_dataset")},
        lists={name: table[name].tolist()
               for name in ("blocked_by", "unblocks", "blocked_by_other_view")},
        # Stored at the exports' precision, adding up to the composite as exported there.
        contributions=largest_remainder(found.to_numpy(dtype=float),
                                        numbers("composite"), STORED_DECIMALS),
        criteria=[str(key) for key in found.columns],
        nullable=frozenset((*nullable, "rank_p05", "rank_p95")),
        integers=frozenset(("rank_p05", "rank_p95")), size=n,
    )


def _row_tuples(run_id: int, ranking: Ranking,
                project_ids: dict[str, int]) -> list[tuple[Any, ...]]:
    """Return every row of a run as tuples in STORED_COLUMNS order, JSON columns as text."""
    return _encoded_rows(run_id, ranking, project_ids).tuples()


JSON_COLUMNS = tuple(c.name for c in table_of(RankingRow).columns if isinstance(c.type, JSON))


def _let_writers_in(db: Database, held: float, freed: float) -> None:
    """Leave SQLite's write lock free between two batches for the writes waiting for it.

    `freed` is the perf_counter when the batch let the lock go, after holding it `held`
    seconds. SQLite's busy handler polls: without a pause the next batch would take the lock
    again before a waiting write's next try. The app's writes say that they wait
    (`Database.writers_waiting`), so the lock is left free until none does, for at most twice
    as long as the batch held it, and for MIN_PAUSE when none does. A writer outside the app
    (the sqlite3 shell, say) says nothing: while a run is stored it gets the lock only when one
    of its tries falls in a pause, so it may wait up to its busy timeout. Where waiting cannot
    be told, the pause is twice as long as the batch held the lock, as before. PostgreSQL
    locks rows, so edits never wait for a batch.
    """
    if not db.is_sqlite:
        return
    until = freed + 2 * held
    waiting = db.writers_waiting()
    if waiting is None:
        time.sleep(max(MIN_PAUSE, until - time.perf_counter()))
        return
    while waiting and time.perf_counter() < until:
        time.sleep(WAITING_POLL)
        waiting = db.writers_waiting()
    rest = freed + MIN_PAUSE - time.perf_counter()
    if rest > 0:
        time.sleep(rest)


# The least time SQLite's write lock is left free between two batches, and how often a pause
# looks again whether writes still wait.
MIN_PAUSE = 0.002
WAITING_POLL = 0.001


def _prune_settled(db: Database, profile_id: int) -> None:
    """Prune a profile's runs until the runs kept stay the same from one pass to the next."""
    kept: list[int] | None = None
    while (now := _prune_runs(db, profile_id)) != kept:
        kept = now


# Runs by id, each with the run whose rows it reads (None: its own).
RunsAndRows = list[tuple[int, int | None]]


def _prune_runs(db: Database, profile_id: int) -> list[int]:
    """Remove a profile's runs before the previous complete one, and abandoned ones, in batches.

    The previous run stays: a page handed it while the newest was stored may still read it.
    """
    with db.read() as session:
        consistent_read(session)  # what is kept and what is not, as of one moment
        kept = cast(RunsAndRows, session.execute(
            select(col(RankingRun.id), col(RankingRun.rows_run_id))
            .where(col(RankingRun.profile_id) == profile_id, col(RankingRun.complete).is_(True))
            .order_by(col(RankingRun.revision).desc(), col(RankingRun.id).desc()).limit(2)
        ).all())
        if not kept:
            return []
        keep = [run_id for run_id, _rows in kept]
        # The runs whose rows the kept runs read stay with them.
        held = {rows for _run, rows in kept if rows is not None}
        oldest_kept = min(keep)
        silent = utcnow() - timedelta(seconds=ABANDONED_AFTER)
        stale = cast(RunsAndRows, session.execute(select(
            col(RankingRun.id), col(RankingRun.rows_run_id)).where(
            col(RankingRun.profile_id) == profile_id,
            col(RankingRun.id).not_in([*keep, *held]),
            # An incomplete run may be another worker's, in progress, unless it is older than
            # what is kept or its rows stopped arriving (its process died).
            col(RankingRun.complete).is_(True) | (col(RankingRun.id) < oldest_kept)
            | (col(RankingRun.id) < max(keep)) & (col(RankingRun.computed_at) < silent))
        ).all())
    # Runs that read another's rows go first: the runs they named are then free to go.
    for run_id, _rows in sorted(stale, key=lambda run: run[1] is None):
        _remove_run(db, run_id)
    return keep


def _remove_run(db: Database, run_id: int, *, stalled_at: int | None = None) -> bool:
    """Delete a run: hidden from readers first, then its rows in short batches, then itself.

    A run whose rows another run reads stays, untouched (False). The check and the hide are
    one transaction holding the run's lock, which a carried run's claim takes too
    (`_claim_run`): a name made before is seen, and a claim after finds the run hidden. A
    hidden run is marked REMOVING, so that its storer can neither finish it nor add to it.
    With `stalled_at`, the run goes only if it is still incomplete with that many rows.
    """
    with db.write() as session:
        _lock_run(session, run_id)
        if session.execute(select(col(RankingRun.id)).where(
                col(RankingRun.rows_run_id) == run_id).limit(1)).first() is not None:
            return False
        if stalled_at is not None and session.execute(select(col(RankingRun.id)).where(
                col(RankingRun.id) == run_id, col(RankingRun.complete).is_(False),
                col(RankingRun.rows_stored) == stalled_at)).first() is None:
            return False  # it moved on (or finished) since it looked abandoned
        session.execute(update(RankingRun).where(col(RankingRun.id) == run_id)
                        .values(complete=False, rows_stored=REMOVING))
        last = session.execute(select(func.max(RankingRow.position))
                               .where(col(RankingRow.run_id) == run_id)).scalar() or 0
    for upper in range(STORE_BATCH, last + STORE_BATCH, STORE_BATCH):
        with db.write() as session:
            session.connection()  # waits for the write lock: not part of the time held
            began = time.perf_counter()
            session.execute(delete(RankingRow).where(col(RankingRow.run_id) == run_id,
                                                     col(RankingRow.position) <= upper))
        freed = time.perf_counter()
        _let_writers_in(db, freed - began, freed)
    with db.write() as session:
        session.execute(delete(RankingRun).where(col(RankingRun.id) == run_id))
        # A batch its storer committed while the rows above were deleted (ranking_row has no
        # foreign key to cascade from the run); any later batch finds its run gone.
        session.execute(delete(RankingRow).where(col(RankingRow.run_id) == run_id))
    return True


def _rows_of(run_id: int, ranking: Ranking, project_ids: dict[str, int]) -> list[dict[str, Any]]:
    """Return the ranked rows of a run as the table stores them."""
    contributions = _contributions_by_slug(ranking)
    rows = []
    for record in ranking.rows.to_dict("records"):
        slug = record["slug"]
        contrib = contributions.get(slug, {})
        rows.append({
            "run_id": run_id, "project_id": project_ids[slug], "position": int(record["position"]),
            "backlog_view": str(record["view"]), "view_position": int(record["view_position"]),
            "blocked_by_other_view": list(record["blocked_by_other_view"]),
            "composite": _nullable(record["composite"]),
            **{d: _nullable(record[d]) for d in DIMENSIONS},
            "coverage": float(record["coverage"]), "score_status": str(record["score_status"]),
            "priority": _nullable(record["priority"]),
            "effective_priority": _nullable(record["effective_priority"]),
            "effective_mandatory": bool(record["effective_mandatory"]),
            "p_top_k": _nullable(record["p_top_k"]),
            "rank_p05": _int_or_none(record["rank_p05"]),
            "rank_p95": _int_or_none(record["rank_p95"]),
            "fragile": bool(record["fragile"]) if not pd.isna(record["fragile"]) else False,
            "unlock_value": float(_nullable(record["unlock_value"]) or 0.0),
            "rice": _nullable(record["rice"]), "wsjf": _nullable(record["wsjf"]),
            "bottleneck_dataset": _nullable(record["bottleneck_dataset"]),
            "blocked_by": list(record["blocked_by"]), "unblocks": list(record["unblocks"]),
            "contributions": contrib,
        })
    return rows


def _contributions_by_slug(ranking: Ranking,
                           slugs: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Return projects' criterion contributions (all, or these), rounded, without the missing."""
    # One pass over a dict: a .loc lookup per project took 4 s at 100,000 projects.
    found = ranking.contributions if slugs is None else ranking.contributions.reindex(slugs)
    composite = ranking.rows.set_index("slug")["composite"].reindex(found.index)
    # Stored at the exports' precision, adding up to the composite as exported there.
    stored = largest_remainder(found.to_numpy(dtype=float), composite.to_numpy(dtype=float),
                               STORED_DECIMALS)
    table = pd.DataFrame(stored, index=found.index, columns=found.columns).to_dict("index")
    return {slug: {k: float(v) for k, v in row.items() if not math.isnan(v)}
            for slug, row in table.items()}


def _contribution_texts(criteria: list[str], stored: np.ndarray) -> list[str]:
    """Return each row's contributions (rounded; NaN where missing) as a JSON object's text."""
    # Straight from the rounded array: the dict per project through pandas took 0.45 s of the
    # 0.65 s spent encoding 100,000 projects' rows.
    if not np.isnan(stored).any():
        return [orjson.dumps(dict(zip(criteria, row, strict=True))).decode()
                for row in stored.tolist()]
    return [orjson.dumps({k: v for k, v in zip(criteria, row, strict=True) if v == v}).decode()
            for row in stored.tolist()]


def _int_or_none(value: Any) -> int | None:
    """Return an int, or None for a missing value."""
    return None if value is None or pd.isna(value) else int(value)


BACKLOG_COLUMNS = (
    "position", "view", "view_position", "blocked_by_other_view", "slug", "title",
    "organisation", "organisation_name", "theme", "status",
    "composite", *DIMENSIONS, "coverage", "score_status", "priority", "effective_priority",
    "effective_mandatory", "mandatory", "p_top_k", "rank_p05", "rank_p95", "fragile",
    "unlock_value", "rice", "wsjf", "bottleneck_dataset", "blocked_by", "unblocks",
    "contributions", "override", "end_date",
)
# What a stored backlog page reads of a row: what its table, summary and committed progress
# show (web/backlog_table.py), and no more. `PAGE_FIELDS` are those fields as `api_row` names
# and shows them.
PAGE_COLUMNS = (
    "position", "view", "view_position", "blocked_by_other_view", "slug", "title",
    "organisation", "organisation_name", "theme", "status", "composite", *DIMENSIONS,
    "score_status", "effective_mandatory", "mandatory", "p_top_k", "rank_p05", "rank_p95",
    "fragile", "blocked_by", "override", "end_date",
)
_COMPOSITE_AT = PAGE_COLUMNS.index("composite")
PAGE_FIELDS = (
    "rank", "view", "order", "slug", "title", "organisation", "organisation_name", "theme",
    "status", "score", "score_status", "dimensions", "mandatory", "effective_mandatory",
    "override", "p_top_k", "rank_interval", "fragile", "blocked_by", "blocked_by_other_view",
    "overdue",
)


def backlog(
    session: Session | Connection, run: RunInfo, *, view: str | None = None,
    organisation: str | None = None, theme: str | None = None, status: str | None = None,
    q: str | None = None, after: int = 0, limit: int | None = 50, slug: str | None = None,
) -> list[dict[str, Any]]:
    """Return ranked rows after a rank (keyset pagination), with optional filters.

    With a view, the rows are that view's in rank order (`after` is a rank in the view);
    without, every row in the whole order (`after` is a position in it).
    """
    values = _ranked_values(run, view=view, organisation=organisation, theme=theme,
                            status=status, q=q, after=after, limit=limit, slug=slug)
    # Core rows straight from the connection: the ORM's row loading doubled this page's cost.
    # Zipped with the result's own keys: dict(row._mapping) took 2.5 times as long.
    result = _reading(session).execute(_backlog_query(frozenset(values)), values)
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _ranked_values(run: RunInfo, *, view: str | None = None, organisation: str | None = None,
                   theme: str | None = None, status: str | None = None, q: str | None = None,
                   after: int = 0, limit: int | None = None,
                   slug: str | None = None) -> dict[str, Any]:
    """Return the values `_backlog_query` binds for a run's rows, filters and page."""
    values: dict[str, Any] = {"run_id": run.rows_id, "after": after, **_filter_values(
        organisation=organisation, theme=theme, status=status, q=q)}
    return values | {name: value for name, value in (("view", view), ("slug", slug),
                                                      ("limit", limit)) if value}


def _reading(reader: Session | Connection) -> Connection:
    """Return the connection a session reads through, or the connection itself."""
    return reader.connection() if isinstance(reader, Session) else reader


@lru_cache(maxsize=64)
def _backlog_query(given: frozenset[str],
                   columns: tuple[str, ...] = BACKLOG_COLUMNS) -> Select[*tuple[Any, ...]]:
    """Return the ranked-rows query taking these parameters (bound by name), built once."""
    # Built once per set of filters and columns: putting 33 columns, two joins and the
    # conditions together each time took half of a page's query time (0.5 ms).
    r = RankingRow
    # Labelled as BACKLOG_COLUMNS: rows are read by the names the query gives them.
    readable: dict[str, Any] = {
        "position": col(r.position), "view": col(r.backlog_view),
        "view_position": col(r.view_position),
        "blocked_by_other_view": col(r.blocked_by_other_view), "slug": col(Project.slug),
        "title": col(Project.title), "organisation": col(Organisation.code),
        "organisation_name": col(Organisation.name), "theme": col(Project.theme),
        "status": col(Project.status), "composite": col(r.composite),
        **{d: table_of(r).c[d] for d in DIMENSIONS}, "coverage": col(r.coverage),
        "score_status": col(r.score_status), "priority": col(r.priority),
        "effective_priority": col(r.effective_priority),
        "effective_mandatory": col(r.effective_mandatory), "mandatory": col(Project.mandatory),
        "p_top_k": col(r.p_top_k), "rank_p05": col(r.rank_p05), "rank_p95": col(r.rank_p95),
        "fragile": col(r.fragile), "unlock_value": col(r.unlock_value), "rice": col(r.rice),
        "wsjf": col(r.wsjf), "bottleneck_dataset": col(r.bottleneck_dataset),
        "blocked_by": col(r.blocked_by), "unblocks": col(r.unblocks),
        "contributions": col(r.contributions),
        "override": col(Project.priority_override).is_not(None),
        "end_date": col(Project.end_date),
    }
    query = (
        select(*(readable[name].label(name) for name in columns))
        .join(Project, col(Project.id) == col(r.project_id))
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .where(col(r.run_id) == bindparam("run_id"))
    )
    if "view" in given:
        query = query.where(col(r.backlog_view) == bindparam("view"),
                            col(r.view_position) > bindparam("after"))
    else:
        query = query.where(col(r.position) > bindparam("after"))
    query = _backlog_filters(query, given)
    if "slug" in given:
        query = query.where(col(Project.slug) == bindparam("slug"))
    query = query.order_by(col(r.view_position) if "view" in given else col(r.position))
    return query.limit(bindparam("limit")) if "limit" in given else query


_Ts = TypeVarTuple("_Ts")


def _filter_values(**filters: str | None) -> dict[str, str]:
    """Return the filters set (owner, theme, status, text) as `_backlog_filters` binds them."""
    return {name: f"%{escape_like(value)}%" if name == "q" else value
            for name, value in filters.items() if value}


def _backlog_filters(query: Select[*_Ts], given: Collection[str]) -> Select[*_Ts]:
    """Narrow a ranked-rows query by owner, theme, status and title or slug text, as given.

    Each value is bound by the filter's name (`_filter_values`).
    """
    if "organisation" in given:
        query = query.where(col(Organisation.code) == bindparam("organisation"))
    if "theme" in given:
        query = query.where(col(Project.theme) == bindparam("theme"))
    if "status" in given:
        query = query.where(col(Project.status) == bindparam("status"))
    if "q" in given:
        query = query.where(col(Project.title).ilike(bindparam("q"), escape=LIKE_ESCAPE)
                            | col(Project.slug).ilike(bindparam("q"), escape=LIKE_ESCAPE))
    return query


def backlog_extent(session: Session | Connection, run: RunInfo, *, view: str | None,
                   after: int, limit: int, total: int | None = None,
                   **filters: str | None) -> dict[str, Any]:
    """Return how many rows match the filters and where the page before this one starts.

    `total`, when the caller kept it from an earlier page of the same run, is not counted again.
    """
    r = RankingRow
    rank = col(r.view_position) if view else col(r.position)
    values = _filter_values(**filters)
    if not values:
        return _unfiltered_extent(session, run, view=view, after=after, limit=limit,
                                  total=total)
    base = (select(func.count()).select_from(r)
            .join(Project, col(Project.id) == col(r.project_id))
            .join(Organisation, col(Organisation.id) == col(Project.owner_id))
            .where(col(r.run_id) == run.rows_id))
    if view:
        base = base.where(col(r.backlog_view) == view)
    base = _backlog_filters(base, values)
    if total is None:
        total = _reading(session).execute(base, values).scalar_one()
    previous = None
    if after > 0:
        # The previous page is the `limit` matching rows up to `after`; it starts after the
        # row before them (or at the top).
        before = _reading(session).execute(
            base.with_only_columns(rank).where(rank <= after).order_by(rank.desc())
            .offset(limit).limit(1), values).scalar_one_or_none()
        previous = before or 0
    return {"total": total, "previous_after": previous}


def _unfiltered_extent(session: Session | Connection, run: RunInfo, *, view: str | None, after: int,
                       limit: int, total: int | None = None) -> dict[str, Any]:
    """Return a whole view's extent: its ranks run 1..m, so the last rank is the count.

    `total`, when the caller kept it from an earlier page of the same run, is not read again.
    """
    if total is None:
        # One index probe: counting a view's 65,000 rows of a 100,000-project run took 80 ms.
        r = RankingRow
        rank = col(r.view_position) if view else col(r.position)
        last = select(func.max(rank)).where(col(r.run_id) == run.rows_id)
        if view:
            last = last.where(col(r.backlog_view) == view)
        total = int(_reading(session).execute(last).scalar_one() or 0)
    # The page before is the `limit` ranks up to `after` (or to the last): it starts after
    # the rank `limit` places back, or at the top.
    previous = max(min(after, total) - limit, 0) if after > 0 else None
    return {"total": total, "previous_after": previous}


def api_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the public JSON shape of ranked rows (`api_row`), rounding them all at once."""
    composites = np.array([np.nan if row["composite"] is None else row["composite"]
                           for row in rows], dtype=np.float64)
    # One array call: a numpy call per row was a fifth of turning a page's rows.
    scores = [None if row["composite"] is None else score for row, score in zip(
        rows, round_total(composites, SCORE_DECIMALS).tolist(), strict=True)]
    figures = _rounded_figures(rows)
    today = date.today()
    return [api_row(row, parts, score=score, figures=shown, today=today)
            for row, parts, score, shown in zip(rows, _shown_contributions(rows), scores, figures,
                                                strict=True)]


# The figures a public row shows rounded, and to how many places.
ROUNDED_FIGURES = (("coverage", 3), *((d, 2) for d in DIMENSIONS), ("priority", 2),
                   ("effective_priority", 2), ("p_top_k", 3), ("unlock_value", 2), ("rice", 2),
                   ("wsjf", 2))


def _rounded_figures(rows: list[dict[str, Any]]) -> list[dict[str, float | None]]:
    """Return each row's `ROUNDED_FIGURES` as `_round` shows them, rounded as one array."""
    # Python's round on each figure of a page (550 calls) took half of turning its rows.
    names = [name for name, _ in ROUNDED_FIGURES]
    raw = [[row[name] for name in names] for row in rows]
    table = np.array(raw, dtype=np.float64).reshape(len(rows), len(names))
    places = np.array([p for _, p in ROUNDED_FIGURES])
    shown = table
    for p in set(places.tolist()):
        shown = np.where(places == p, round_each(table, p), shown)
    return [dict(zip(names, rounded, strict=True)) if None not in values else
            {n: None if v is None else r for n, v, r in zip(names, values, rounded, strict=True)}
            for values, rounded in zip(raw, shown.tolist(), strict=True)]


def _shown_contributions(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Return each row's contributions as `round_parts` shows them, one array call per shape."""
    # Rounding row by row cost a page of 50 rows more than its query; rows with the same
    # criteria (in the same order, which breaks ties) are rounded as one array instead.
    shapes: dict[tuple[str, ...], list[int]] = {}
    for i, row in enumerate(rows):
        shapes.setdefault(tuple(row["contributions"]), []).append(i)
    shown: list[dict[str, float]] = [{} for _ in rows]
    for keys, members in shapes.items():
        if not keys:
            continue
        parts = np.array([[rows[i]["contributions"][k] for k in keys] for i in members],
                         dtype=np.float64)
        totals = np.array([np.nan if rows[i]["composite"] is None else rows[i]["composite"]
                           for i in members], dtype=np.float64)
        for i, values in zip(members, largest_remainder(parts, totals, SCORE_DECIMALS).tolist(),
                             strict=True):
            shown[i] = dict(zip(keys, values, strict=True))
    return shown


def api_row(row: dict[str, Any], contributions: dict[str, float] | None = None, *,
            score: float | None | EllipsisType = ...,
            figures: dict[str, float | None] | None = None,
            today: date | None = None) -> dict[str, Any]:
    """Return the public JSON shape of a ranked row.

    `rank` is the place in its view (candidates or committed), the number pages show; the
    rank_interval and p_top_k describe that same rank. `order` is the place in the whole
    dependency-aware order across both views. `contributions`, `score` and `figures`, when
    given, are the row's as already rounded for display (`api_rows`). `overdue` is said as
    of `today` (the day it is read when not given).
    """
    interval = ([row["rank_p05"], row["rank_p95"]]
                if row["rank_p05"] is not None else None)
    if figures is None:
        figures = {name: _round(row[name], places) for name, places in ROUNDED_FIGURES}
    return {
        "rank": row["view_position"], "view": row["view"], "order": row["position"],
        "slug": row["slug"], "title": row["title"],
        "organisation": row["organisation"],
        "organisation_name": row.get("organisation_name") or row["organisation"],
        "theme": row["theme"], "status": row["status"],
        "score": shown_score(row["composite"]) if score is ... else score,
        "score_status": row["score_status"],
        "coverage": figures["coverage"],
        "dimensions": {d: figures[d] for d in DIMENSIONS},
        "priority": figures["priority"],
        "effective_priority": figures["effective_priority"],
        "mandatory": row["mandatory"], "effective_mandatory": row["effective_mandatory"],
        "override": row["override"],
        "contributions": (round_parts(row["contributions"], row["composite"], SCORE_DECIMALS)
                          if contributions is None else contributions),
        "p_top_k": figures["p_top_k"], "rank_interval": interval,
        "fragile": row["fragile"], "unlock_value": figures["unlock_value"],
        "rice": figures["rice"], "wsjf": figures["wsjf"],
        "bottleneck_dataset": row["bottleneck_dataset"],
        "blocked_by": row["blocked_by"], "unblocks": row["unblocks"],
        "blocked_by_other_view": row["blocked_by_other_view"],
        "overdue": is_overdue(row["status"], row["end_date"], today=today or date.today()),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    """Round a figure for display, keeping None."""
    return None if value is None else round(float(value), digits)


def _view(view: str | None) -> str | None:
    """Return a backlog view by name (None: both), refusing an unknown one."""
    if view in (None, "", "all"):
        return None
    if view not in VIEWS:
        raise Invalid({"view": f"must be one of {', '.join(VIEWS)} or all, got {view!r}"})
    return view


def ranked_rows(
    db: Database, *, profile: str | None = None, top: int | None = None,
    view: str | None = None,
    organisation: str | None = None, theme: str | None = None, status: str | None = None,
    q: str | None = None, wait_seconds: float | None = None,
) -> tuple[RunInfo, list[dict[str, Any]]]:
    """Return the ranking's public rows for a profile (the CLI's and the API's view).

    Without wait_seconds the rows are of the current revision, computed if need be. A view
    (candidates, committed) gives its rows in rank order; none (or "all") every row in the
    whole order.
    """
    if top is not None and top < 1:
        raise Invalid({"top": "must be at least 1"})
    view = _view(view)
    run = ensure_ranking(db, profile, wait_seconds=wait_seconds)
    with db.read() as session:
        rows = backlog(session, run, view=view, organisation=organisation, theme=theme,
                       status=status, q=q, limit=top)
    return run, [api_row(row) for row in rows]


# Rows per read when a whole ranking is written out a page at a time (`ranked_pages`).
RANKED_PAGE = 5_000


def ranked_pages(
    db: Database, *, profile: str | None = None, top: int | None = None,
    view: str | None = None, size: int = RANKED_PAGE,
) -> tuple[RunInfo, Iterator[list[dict[str, Any]]]]:
    """Return the current run and `ranked_rows`' rows of it, a page of `size` at a time.

    The CLI writes a whole ranking this way: all 85,000 rows of a 100,000-project portfolio as
    dicts, then as one JSON text, held 1.2 GB. The pages are read in one transaction, so they
    are one run's even if a newer run replaces it meanwhile.
    """
    if top is not None and top < 1:
        raise Invalid({"top": "must be at least 1"})
    view = _view(view)
    run = ensure_ranking(db, profile)

    def pages() -> Iterator[list[dict[str, Any]]]:
        after, left = 0, top
        with db.read() as session:
            consistent_read(session)
            while left is None or left > 0:
                limit = size if left is None else min(size, left)
                rows = backlog(session, run, view=view, after=after, limit=limit)
                if rows:
                    yield api_rows(rows)
                if len(rows) < limit:
                    return
                after = rows[-1]["view_position" if view else "position"]
                left = None if left is None else left - len(rows)

    return run, pages()


def explain(db: Database, slug: str, *, profile: str | None = None,
            seen: int | None = None) -> dict[str, Any]:
    """Return a project's ranked row under a profile (None when it is not ranked) and its run."""
    run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds, seen=seen)
    with db.read() as session:
        project = project_by_slug(session, slug)
        found = [api_row(r) for r in backlog(session, run, slug=slug, limit=1)]
        names = referenced_names(session, found)
    return {"profile": run.profile, "behind": run.behind, "status": project.status,
            "samples": run.samples, "names": names,
            "title": project.title, "slug": slug, "row": found[0] if found else None}


def referenced_names(session: Session, rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Return the titles of the projects and datasets ranked rows name by slug or code."""
    slugs = {s for r in rows for key in ("blocked_by", "unblocks", "blocked_by_other_view")
             for s in (r.get(key) or [])}
    codes = {r["bottleneck_dataset"] for r in rows if r.get("bottleneck_dataset")}
    # Both queries always run, so a page's query count does not depend on its rows.
    projects: dict[str, str] = dict(session.execute(
        select(col(Project.slug), col(Project.title)).where(col(Project.slug).in_(slugs))).all())
    datasets: dict[str, str] = dict(session.execute(
        select(col(Dataset.code), col(Dataset.title)).where(col(Dataset.code).in_(codes))).all())
    return {"projects": projects, "datasets": datasets}


def _adhoc_ranking(db: Database, profile: str | None, samples: int,
                   dimension_weights: dict[str, float] | None) -> tuple[Ranking, PortfolioFrames]:
    """Rank the portfolio under a profile, or what-if dimension weights, without storing it."""
    with db.read() as session:
        consistent_read(session)
        stored = load_profile(session, profile)
        frames = portfolio_frames(db, session)
    weights = stored.weights
    if dimension_weights is not None:
        weights = replace(weights, dimension_weights=_whatif_weights(dimension_weights))
    ranking = rank_portfolio(
        frames.projects, frames.criteria, frames.levels, frames.links, frames.dependencies,
        frames.datasets, weights, top_k=DEFAULT_TOP_K, samples=samples,
        seed=ROBUSTNESS_SEED, assessments=frames.assessments,
    )
    return ranking, frames


def _whatif_weights(dimension_weights: dict[str, float]) -> dict[str, float]:
    """Return what-if dimension weights normalised, refusing impossible ones."""
    try:
        return normalise_weights(dimension_weights)
    except InvalidWeights as exc:
        raise Invalid({"weights": str(exc)}) from None


def _whatif_base(db: Database, profile: str | None) -> tuple[WhatIfBase, PortfolioFrames]:
    """Return what slider moves under a profile share, kept with the portfolio it came from.

    Built on the first move (1.3 s at 100,000 projects), then each move re-scores
    only what the weights move. Served only with the very frames it was built from (kept per
    revision and day by `portfolio_frames`), so an edit, which brings new frames, rebuilds it.
    """
    # The collector's passes over the fresh objects were a third of the build's CPU (measured).
    with collector.paused():
        with db.read() as session:
            consistent_read(session)
            stored = load_profile(session, profile)
            frames = portfolio_frames(db, session)
        key = ("what-if base", stored.id, stored.version)
        kept = db.run_memo.get(key)
        # A weak reference: a base never keeps a previous revision's frames alive.
        if kept is not None and kept[0]() is frames and kept[1].profile == stored.weights:
            return kept[1], frames
        base = build_base(frames.projects, frames.criteria, frames.levels, frames.links,
                          frames.dependencies, frames.datasets, stored.weights)
    # One base per process, like the frames: the latest profile's.
    db.run_memo.put_latest(key, (ref(frames), base))
    return base, frames


def _adhoc_public_rows(db: Database, ranking: Ranking, frames: PortfolioFrames,
                       table: pd.DataFrame,
                       places: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Return the public rows of some of an unstored ranking's rows.

    `places` are their projects' rows in the frames' projects table, when the caller knows.
    """
    # Read for these rows alone: the frames are the portfolio's at a revision, and whether
    # work is overdue changes with the day, not with the revision.
    with db.read() as session:
        ends = end_dates(session, list(table["slug"]))
    if places is None:
        places = pd.Index(frames.projects["slug"]).get_indexer(table["slug"])
    # Only these projects' cells: a lookup per cell in the whole portfolio's table (indexed by
    # slug each time) cost a what-if page a tenth of a second at 100,000 projects.
    info = frames.projects.iloc[places][["title", "owner", "theme", "status", "mandatory"]]
    names = dict(zip(frames.organisations["code"], frames.organisations["name"], strict=True))
    contributions = _contributions_by_slug(ranking, list(table["slug"]))
    rows = []
    for record, project in zip(table.to_dict("records"), info.to_dict("records"), strict=True):
        slug = record["slug"]
        row = {k: _nullable(record.get(k)) for k in BACKLOG_COLUMNS}
        owner = project["owner"]
        row.update(
            slug=slug, title=project["title"], organisation=owner,
            organisation_name=names.get(owner, owner),
            theme=project["theme"], status=project["status"],
            mandatory=bool(project["mandatory"]), fragile=bool(record["fragile"])
            if not pd.isna(record["fragile"]) else False,
            rank_p05=_int_or_none(record["rank_p05"]), rank_p95=_int_or_none(record["rank_p95"]),
            blocked_by=list(record["blocked_by"]), unblocks=list(record["unblocks"]),
            blocked_by_other_view=list(record["blocked_by_other_view"]),
            view_position=int(record["view_position"]), position=int(record["position"]),
            contributions=contributions.get(slug, {}),
            override=bool(record["override"]), unlock_value=float(record["unlock_value"] or 0),
            end_date=ends.get(slug),
        )
        rows.append(api_row(row))
    return rows


def adhoc_rows(db: Database, *, profile: str | None = None, top: int | None = None,
               samples: int = DEFAULT_SAMPLES, view: str | None = None,
               dimension_weights: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Compute a ranking (other samples, or what-if dimension weights) without storing it."""
    view = _view(view)
    ranking, frames = _adhoc_ranking(db, profile, samples, dimension_weights)
    table = ranking.rows
    if view:
        table = table[table["view"] == view].sort_values("view_position")
    return _adhoc_public_rows(db, ranking, frames, table.head(top) if top else table)


def _whatif_page(db: Database, *, profile: str | None, dimension_weights: dict[str, float],
                 view: str | None, organisation: str | None, theme: str | None,
                 status: str | None, q: str | None, after: int,
                 limit: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return one page of a what-if ranking (and the next page's first row), and its extent."""
    weights = _whatif_weights(dimension_weights)
    base, frames = _whatif_base(db, profile)
    whatif = rank_with(base, weights)
    nodes = np.arange(len(base.nodes))
    if view:
        nodes = nodes[base.structure.committed == (view == COMMITTED)]
    ranks_of = whatif.view_position if view else whatif.position
    nodes = nodes[np.argsort(ranks_of[nodes])]
    ranks = ranks_of[nodes]
    keep = _whatif_matches(frames.projects, base.nodes[nodes], organisation=organisation,
                           theme=theme, status=status, q=q)
    matching = ranks[keep]
    earlier = matching[matching <= after][::-1]
    extent = {"total": int(keep.sum()),
              "previous_after": (int(earlier[limit]) if len(earlier) > limit else 0)
              if after > 0 else None}
    shown = nodes[keep & (ranks > after)][: limit + 1]
    page = page_table(whatif, shown)
    return _adhoc_public_rows(db, page, frames, page.rows, base.nodes[shown]), extent


def _whatif_matches(projects: pd.DataFrame, rows: np.ndarray, *, organisation: str | None,
                    theme: str | None, status: str | None, q: str | None) -> np.ndarray:
    """Return which of these projects (by row of the table) pass the backlog's filters."""
    keep = np.ones(len(rows), dtype=bool)
    for column, wanted in (("owner", organisation), ("theme", theme), ("status", status)):
        if wanted:
            keep &= projects[column].to_numpy(dtype=object)[rows] == wanted
    if q:
        needle = q.lower()
        titles = projects["title"].iloc[rows].str.lower().str.contains(needle, regex=False)
        slugs = projects["slug"].iloc[rows].str.contains(needle, regex=False)
        keep &= (titles.to_numpy(dtype=bool) | slugs.to_numpy(dtype=bool))
    return keep


def _stored_page(db: Database, run: RunInfo, *, after: int, limit: int,
                 **filters: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return one page of a stored run's rows (and the next page's first row), and its extent."""
    # A run's rows never change: how many match its filters is counted once per worker. The
    # filters read the projects as they are now, so a run that is behind (a rename since, say)
    # is counted afresh, as its rows are read afresh.
    counted = ("backlog total", run.id, *sorted(filters.items()))
    kept = db.page_memo.get(counted) if run.behind == 0 else None
    # One statement at a time, in no transaction: a run's rows never change once stored. A
    # filtered page's count may see an edit to a project that its rows did not (as PostgreSQL's
    # read committed always could); it is kept only for a run that is current.
    with db.connect() as connection:
        # Only what the page shows: its contributions (JSON, a fifth of a row's bytes) and the
        # figures only the API gives made reading and turning a page's rows twice as long.
        values = _ranked_values(run, after=after, limit=limit + 1, **filters)
        found = connection.execute(_backlog_query(frozenset(values), PAGE_COLUMNS),
                                   values).all()
        view = filters.pop("view", None)
        extent = backlog_extent(connection, run, view=view, after=after, limit=limit,
                                total=kept, **filters)
        if run.behind == 0:
            db.page_memo.put(counted, extent["total"])
    # A stored row's why loads from its own URL (project_why), so the page names nothing.
    extent["names"] = {"projects": {}, "datasets": {}}
    return page_rows(found), extent


def page_rows(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Return stored rows read as PAGE_COLUMNS (in that order) as `api_row` shows PAGE_FIELDS.

    Their lists are tuples, which the cyclic collector soon stops tracking: a page kept per
    worker held some 200 lists of names (most of them empty), and the pages kept set off its
    passes, each 1-2 ms, every few pages.
    """
    if not rows:
        return []
    composites = np.array([np.nan if row[_COMPOSITE_AT] is None else row[_COMPOSITE_AT]
                           for row in rows], dtype=np.float64)
    scores = round_total(composites, SCORE_DECIMALS).tolist()
    today = date.today()
    # Read by place rather than as a dict per row (a fifth of turning a page's rows); four
    # figures a row are rounded one by one (`_round`, as ROUNDED_FIGURES says): for so few,
    # building arrays for `round_each` took longer than rounding them.
    return [{
        "rank": view_position, "view": view, "order": position, "slug": slug, "title": title,
        "organisation": organisation, "organisation_name": organisation_name or organisation,
        "theme": theme, "status": status, "score": None if composite is None else score,
        "score_status": score_status,
        "dimensions": {d: _round(value, 2) for d, value in zip(DIMENSIONS, dimensions,
                                                                 strict=True)},
        "mandatory": mandatory, "effective_mandatory": effective_mandatory, "override": override,
        "p_top_k": _round(p_top_k, 3),
        "rank_interval": (rank_p05, rank_p95) if rank_p05 is not None else None,
        "fragile": fragile, "blocked_by": tuple(blocked_by),
        "blocked_by_other_view": tuple(other_view),
        "overdue": is_overdue(status, end_date, today=today),
    } for (position, view, view_position, other_view, slug, title, organisation,
           organisation_name, theme, status, composite, *dimensions, score_status,
           effective_mandatory, mandatory, p_top_k, rank_p05, rank_p95, fragile, blocked_by,
           override, end_date), score in zip(rows, scores, strict=True)]


def stored_page_is_quick(db: Database, *, profile: str | None, revision: int,
                         dimension_weights: dict[str, float] | None = None,
                         **filters: str | None) -> bool:
    """Tell whether a backlog page is one index range read of a run this worker holds.

    So: no what-if weights (a re-ranking), no filter (which may scan many rows to fill a
    page, and counts them), and the current revision's run already found (no wait for one).
    """
    narrowing = {name: value for name, value in filters.items() if name != "view"}
    return (dimension_weights is None and not _filter_values(**narrowing)
            and db.memo.get(("ranking run", profile, revision)) is not None)


def backlog_page(
    db: Database, *, profile: str | None = None, view: str | None = CANDIDATES,
    dimension_weights: dict[str, float] | None = None, organisation: str | None = None,
    theme: str | None = None, status: str | None = None, q: str | None = None,
    after: int = 0, limit: int = 50, seen: int | None = None, revision: int | None = None,
) -> dict[str, Any]:
    """Return one page of a backlog view: stored, or re-ranked with what-if dimension weights."""
    view = _view(view)
    profile_name: str | None
    run_id: int | None
    if dimension_weights is None:
        run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds,
                             seen=seen, revision=revision)
        def read() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            return _stored_page(db, run, view=view, organisation=organisation, theme=theme,
                                status=status, q=q, after=after, limit=limit)

        # Only the current run's pages are kept: a previous run is about to be replaced. Kept
        # for the day as well: which rows are overdue changes with it (`overdue.is_overdue`).
        rows, extent = (db.page_memo.get_or_compute(
            ("backlog page", run.id, date.today(), view, organisation, theme, status, q, after,
             limit), read)
            if run.behind == 0 else read())
        profile_name, whatif, behind, run_id = run.profile, False, run.behind, run.id
        samples = run.samples
    else:
        rows, extent = _whatif_page(db, profile=profile, dimension_weights=dimension_weights,
                            view=view, organisation=organisation, theme=theme, status=status, q=q,
                            after=after, limit=limit)
        profile_name, whatif, behind, run_id, samples = profile, True, 0, None, 0
    has_more = len(rows) > limit
    rows = rows[:limit]
    if "names" not in extent:
        with db.read() as session:
            extent["names"] = referenced_names(session, rows)
    return {"rows": rows, "profile": profile_name, "whatif": whatif,
            "behind": behind,
            "run_id": run_id, "view": view,
            "samples": samples, **extent,
            "next_after": rows[-1]["rank" if view else "order"] if has_more and rows else None}
