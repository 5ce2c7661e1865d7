"""Background work on a PostgreSQL job queue (procrastinate), run by `portfolio worker`.

With PostgreSQL and PORTFOLIO_JOBS=queue (the default outside development), a web process
queues these jobs instead of doing the work in its own threads; any worker on any machine
runs them, and every web process reads what they stored:

- `portfolio.rank` (RANK_TASK): the ranking of a profile at a revision, stored as a ranking
  run. Queued once per profile and revision however many web processes ask (a queueing lock,
  and a look at the jobs already queued or running).
- `portfolio.harvest` (HARVEST_TASK): a confirmed catalogue harvest, as the user who asked.
- `portfolio.import` (IMPORT_TASK): a spreadsheet import. The web process keeps the uploaded
  file in `import_upload` and answers with the import's history entry (the API with 202);
  the worker imports it as the user who uploaded it and deletes the file in the import's own
  transaction, so a worker started again never imports it twice.
- `portfolio.solve` (SOLVE_TASK): a saved scenario's solve, queued once per version of the
  scenario and revision, its solution kept in `scenario_solution` for the pages and API.

A job whose worker died (no heartbeat for PORTFOLIO_WORKER_STALLED_SECONDS) is started again by
another worker; a job that fails PORTFOLIO_JOB_ATTEMPTS times is marked failed, its error kept
for admins (the jobs page), and pages keep showing the last good ranking (an import's history
entry and a scenario's page say it failed; only admins see why). SQLite, and development, keep the
in-process executor: no worker is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from procrastinate.types import JSONValue
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.errors import DomainError, NotAllowed, NotFound, WorkerStopped
from portfolio.models import JobOutcome, RankingRun, utcnow
from portfolio.settings import Settings

if TYPE_CHECKING:
    from portfolio.db import Database

LOG = logging.getLogger(__name__)
QUEUE = "portfolio"
RANK_TASK = "portfolio.rank"
HARVEST_TASK = "portfolio.harvest"
IMPORT_TASK = "portfolio.import"
SOLVE_TASK = "portfolio.solve"
# Any one of the processes starting at once creates procrastinate's schema; the others wait.
SCHEMA_LOCK = 82_061_903
POLL_SECONDS = 0.2
# A job that ended between "already queued" and the look for it is queued again this often.
DEFER_TRIES = 3
# A queueing lock's job in these states has run: its outcome answers a caller who lost a race.
FINISHED = ("succeeded", "failed")
# A test holds a job at its start while this file exists (set only by the tests' environment).
HOLD_FILE_VARIABLE = "PORTFOLIO_TEST_JOB_HOLD_FILE"


class JobFailed(DomainError):
    """A queued job gave up after its last attempt."""

    status_code = 503


class QueueBusy(DomainError):
    """A job could not be queued, nor the one holding its queueing lock found."""

    status_code = 503
    retry_after = 5
    heading = "Background work is busy"


class NoWorker(DomainError):
    """A queued job waited past its time with no worker taking it."""

    status_code = 503
    retry_after = 30
    heading = "The ranking is being worked out"


def conninfo(database_url: str) -> str:
    """Return psycopg's connection string for a SQLAlchemy database URL."""
    url = make_url(database_url)
    parts = {"host": url.host or "127.0.0.1", "port": url.port or 5432,
             "dbname": url.database, "user": url.username, "password": url.password}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


def ensure_schema(settings: Settings) -> bool:
    """Create procrastinate's tables in the database unless they exist; tell whether it did."""
    if settings.is_sqlite:
        return False
    schema = SchemaManager.get_schema()
    with psycopg.connect(conninfo(settings.database_url)) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        found = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found and found[0] is not None:
            return False
        connection.execute(schema)
    LOG.info("created the job queue's schema (procrastinate)")
    return True


def make_queue(settings: Settings) -> procrastinate.App:
    """Return the job queue's app with this project's tasks on it."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(settings.database_url)))
    retry = procrastinate.RetryStrategy(max_attempts=max(0, settings.job_attempts - 1))

    @app.task(name=RANK_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def rank(context: procrastinate.JobContext, profile: str | None, profile_id: int,
             revision: int) -> None:
        """Compute and store the ranking of a profile at the current revision."""
        from portfolio.services import ranking

        db = _worker_database(settings)
        _hold_for_tests(settings)

        def work() -> None:
            # As the in-process executor does; a ranking's success needs no record.
            ranking._compute_and_store(db, profile)  # noqa: SLF001

        _recorded(db, context, settings.job_attempts, work)

    @app.task(name=HARVEST_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def harvest_catalogue(context: procrastinate.JobContext, user_id: int, url: str,
                          publisher: str, confirm: list[str]) -> None:
        """Harvest a portal's catalogue as the user who asked, all or nothing."""
        from portfolio.services import accounts
        from portfolio.services.harvest import Limits, harvest

        db = _worker_database(settings)

        def work() -> str:
            with db.connect() as connection:
                actor = accounts.actor_by_id(connection=connection, user_id=user_id)
            if actor is None:
                raise NotAllowed("the user who asked for this harvest can no longer sign in")
            plan = harvest(db, actor=actor, url=url, default_publisher=publisher,
                           dry_run=False, confirmed=set(confirm), limits=Limits.of(settings))
            return f"{len(plan.add)} dataset(s) added and {len(plan.update)} updated"

        _recorded(db, context, settings.job_attempts, work)

    @app.task(name=IMPORT_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def import_file(context: procrastinate.JobContext, run_id: int) -> None:
        """Import a file kept in the database, as the user who uploaded it."""
        from portfolio.services import import_runs

        db = _worker_database(settings)
        _hold_for_tests(settings)
        _recorded(db, context, settings.job_attempts,
                  lambda: import_runs.run_queued_import(db, run_id=run_id),
                  on_give_up=lambda error: import_runs.give_up(db, run_id=run_id, error=error))

    @app.task(name=SOLVE_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def solve(context: procrastinate.JobContext, scenario_id: int, version: int,
              revision: int) -> None:
        """Solve a saved scenario at the current revision and keep its solution."""
        from portfolio.services import scenarios

        db = _worker_database(settings)
        _hold_for_tests(settings)

        def work() -> None:
            # Like a ranking's, a solve's success needs no record: pages read the solution.
            scenarios.store_solution(db, scenario_id=scenario_id)

        _recorded(db, context, settings.job_attempts, work)

    return app


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def _worker_database(settings: Settings) -> Database:
    """Return the worker process's one Database (its engine and kept values)."""
    from portfolio.db import Database

    with _DATABASES_LOCK:
        found = _DATABASES.get(settings.database_url)
        if found is None:
            found = _DATABASES[settings.database_url] = Database(settings)
        return found


def _hold_for_tests(settings: Settings) -> None:
    """Wait while the tests' hold file exists, so a test can stop a worker mid-job."""
    hold = os.environ.get(HOLD_FILE_VARIABLE)
    if settings.environment != "test" or not hold:
        return
    Path(hold + ".started").touch()
    while Path(hold).exists():
        time.sleep(POLL_SECONDS)


def _recorded(db: Database, context: procrastinate.JobContext, attempts: int,
              work: Callable[[], str | None],
              on_give_up: Callable[[Exception], None] | None = None) -> None:
    """Run a job's work; record a failed attempt (and whether it was the last), or a summary."""
    job = context.job
    attempt = job.attempts + 1
    try:
        summary = work()
    except Exception as error:
        gave_up = attempt >= attempts
        text = _in_words(error)
        _record(db, job, attempt=attempt, gave_up=gave_up, error=text)
        if gave_up and on_give_up is not None:
            on_give_up(error)
        raise
    if summary is not None:
        _record(db, job, attempt=attempt, succeeded=True, summary=summary)


def _in_words(error: Exception) -> str:
    """Say why an attempt failed as its page shows it: words, never an exception's class."""
    if isinstance(error, DomainError):
        return error.message
    # The class and traceback are in the worker's log (procrastinate logs every failure).
    detail = str(error).strip()
    return f"an unexpected fault stopped it: {detail}" if detail else \
        "an unexpected fault stopped it (the worker's log says which)"


def _record(db: Database, job: Any, **outcome: Any) -> None:
    """Write one outcome of a job's attempt, best effort (the job's own error matters more)."""
    for text in ("error", "summary"):
        if text in outcome:
            outcome[text] = outcome[text][:2000]
    try:
        with db.write() as session:
            session.execute(insert(JobOutcome).values(
                job_id=job.id, task=job.task_name, lock=job.queueing_lock or "", at=utcnow(),
                **outcome))
    except Exception:  # noqa: BLE001
        LOG.exception("could not record the outcome of job %s", job.id)


@dataclass
class QueuedRanking:
    """A ranking queued for a revision: its result is the stored run, once one is complete."""

    queue: JobQueue
    profile: Any  # StoredProfile
    revision: int
    job_id: int | None
    failed: bool = False

    def result(self, timeout: float | None = None) -> Any:
        """Wait for a complete run of this revision or later; raise when the job gave up."""
        from portfolio.services import ranking

        if self.failed:
            raise JobFailed(f"the ranking of revision {self.revision} failed; the last good "
                            "ranking is shown")
        limit = timeout if timeout is not None else self.queue.settings.ranking_job_wait_seconds
        deadline = time.monotonic() + limit
        while True:
            with self.queue.db.read() as session:
                found = ranking._latest_run(session, self.profile)  # noqa: SLF001
            if found is not None and found.revision >= self.revision:
                return found
            if self.job_id is not None and self.queue.status(self.job_id) == "failed":
                self.queue.remember_failed(self.profile.id, self.revision)
                raise JobFailed(f"the ranking of revision {self.revision} failed; the last "
                                "good ranking is shown")
            if time.monotonic() >= deadline:
                if timeout is not None:
                    raise FutureTimeout()
                # The hint is the operator's: users are told only to come back shortly.
                LOG.warning("the ranking of profile %s at revision %s waited %s s with no "
                            "worker finishing it: is `portfolio worker` running?",
                            self.profile.id, self.revision, limit)
                raise NoWorker("the new ranking is being worked out, but the background "
                               "workers have not answered yet")
            time.sleep(POLL_SECONDS)


class JobQueue:
    """What a web process asks of the job queue: queue a ranking once, and read job states."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.settings = db.settings
        self._app: procrastinate.App | None = None
        self._failed: set[tuple[int, int]] = set()
        self._asked: dict[tuple[int, int], int | None] = {}
        self._lock = threading.Lock()

    @property
    def app(self) -> procrastinate.App:
        """Return the queue's app, opened on first use (the web process starts without it)."""
        with self._lock:
            if self._app is None:
                ensure_schema(self.settings)
                self._app = make_queue(self.settings)
                self._app.open()
            return self._app

    def close(self) -> None:
        """Close the queue's connections."""
        if self._app is not None:
            self._app.close()

    def harvest_asker(self, job_id: int) -> int | None:
        """Return the user who asked for a harvest job, or None when there is no such job."""
        self.app  # noqa: B018 - opened first: it creates the queue's tables in a new database
        with psycopg.connect(conninfo(self.settings.database_url), autocommit=True) as conn:
            row = conn.execute("SELECT args->>'user_id' FROM procrastinate_jobs "
                               "WHERE id = %s AND task_name = %s",
                               (job_id, HARVEST_TASK)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def status(self, job_id: int) -> str | None:
        """Return a job's status (todo, doing, succeeded, failed...), or None when gone."""
        with psycopg.connect(conninfo(self.settings.database_url), autocommit=True) as conn:
            row = conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s",
                               (job_id,)).fetchone()
        return None if row is None else str(row[0])

    def health(self) -> dict[str, Any]:
        """Say how many jobs wait for a worker and for how long the oldest has (for /readyz)."""
        if self._app is None:
            return {"waiting": 0, "oldest_waiting_seconds": 0.0}
        with psycopg.connect(conninfo(self.settings.database_url), autocommit=True) as conn:
            # A waiting job's age: since it was queued, or last put back to wait.
            waiting, oldest = conn.execute(
                "SELECT count(*), coalesce(extract(epoch FROM now() - min(e.at)), 0) "
                "FROM procrastinate_jobs j LEFT JOIN LATERAL (SELECT max(at) AS at "
                "FROM procrastinate_events WHERE job_id = j.id AND type IN "
                "('deferred', 'deferred_for_retry', 'retried')) e ON true "
                "WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
            ).fetchone() or (0, 0)
        return {"waiting": int(waiting), "oldest_waiting_seconds": round(float(oldest), 1)}

    def remember_failed(self, profile_id: int, revision: int) -> None:
        """Keep that a revision's ranking gave up: pages show the last good one, not ask again."""
        with self._lock:
            self._failed.add((profile_id, revision))

    def rank(self, profile: Any, profile_name: str | None, revision: int) -> QueuedRanking:
        """Queue the ranking of a profile at a revision, unless it is queued or running."""
        key = (profile.id, revision)
        with self._lock:
            if key in self._failed:
                return QueuedRanking(self, profile, revision, None, failed=True)
            asked = self._asked.get(key, -1)
        if asked == -1:
            asked = self._queue_once(profile, profile_name, revision)
            with self._lock:
                self._asked = {k: v for k, v in self._asked.items() if k[1] >= revision}
                self._asked[key] = asked
        return QueuedRanking(self, profile, revision, asked)

    def _queue_once(self, profile: Any, profile_name: str | None, revision: int) -> int | None:
        """Defer the job, or find the one another process queued; return its id."""
        lock = f"rank:{profile.id}:{revision}"
        running = self._job_with_lock(lock)
        if running is not None:
            return running
        try:
            return self.app.configure_task(
                RANK_TASK, queueing_lock=lock, lock=f"rank:{profile.id}",
            ).defer(profile=profile_name, profile_id=profile.id, revision=revision)
        except AlreadyEnqueued:
            return self._job_with_lock(lock)

    def harvest(self, actor: Actor, *, url: str, publisher: str, confirm: list[str]) -> int:
        """Queue a harvest of a portal as an actor (once while the same one is queued);
        return its job."""
        require(actor, Capability.HARVEST_CATALOGUE)
        # The whole request names the lock: another user's harvest of the portal, or this
        # user's with another publisher or other confirmations, is a job of its own. The
        # address is there for admins reading the jobs page, cut to the outcome's column.
        asked = json.dumps([actor.id, url, publisher, sorted(confirm)], ensure_ascii=False)
        digest = hashlib.sha256(asked.encode()).hexdigest()[:16]
        lock = f"harvest:{actor.id}:{digest}:{url}"[:255]
        for _ in range(DEFER_TRIES):
            try:
                return self.app.configure_task(HARVEST_TASK, queueing_lock=lock).defer(
                    user_id=actor.id, url=url, publisher=publisher,
                    confirm=cast(list[JSONValue], sorted(confirm)))
            except AlreadyEnqueued:
                found = self._job_with_lock(lock)
            if found is not None:
                return found
            # The harvest holding the lock finished between the two queries: it was an
            # earlier one (this user's confirmations may differ), so queue this one now.
        raise QueueBusy("the harvest could not be queued: the same one keeps starting and "
                        "ending; try again in a minute")

    def import_file(self, run_id: int) -> int:
        """Queue the import of a file kept for an import run; return its job."""
        lock = f"import:{run_id}"
        try:
            return self.app.configure_task(IMPORT_TASK, queueing_lock=lock).defer(run_id=run_id)
        except AlreadyEnqueued:
            # Its job may have finished between the two queries: the run is imported then.
            found = self._job_with_lock(lock, *FINISHED)
        if found is None:
            raise QueueBusy("the import could not be queued; try again")
        return found

    def solve(self, scenario_id: int, version: int, revision: int) -> tuple[int, bool]:
        """Queue the solve of a scenario's version at a revision once; return the job and
        whether it gave up (it is not queued again: a page would loop on it)."""
        lock = f"solve:{scenario_id}:{version}:{revision}"
        app = self.app  # opened first: it creates the queue's tables in a new database
        with psycopg.connect(conninfo(self.settings.database_url), autocommit=True) as conn:
            # A job that succeeded counts too: its solution was kept after the caller looked
            # for it, and the caller's next look finds it (the lock names the version and
            # revision the solution is kept under).
            found = conn.execute(
                "SELECT id, status FROM procrastinate_jobs WHERE queueing_lock = %s "
                "AND status IN ('todo', 'doing', 'failed', 'succeeded') ORDER BY id DESC "
                "LIMIT 1", (lock,)).fetchone()
        if found is not None:
            return int(found[0]), found[1] == "failed"
        try:
            return app.configure_task(SOLVE_TASK, queueing_lock=lock).defer(
                scenario_id=scenario_id, version=version, revision=revision), False
        except AlreadyEnqueued:
            # Another process queued it, and it may have finished since: its outcome stands.
            queued = self._newest_job(lock, *FINISHED)
        if queued is None:
            raise QueueBusy("the scenario's solve could not be queued; try again")
        return queued[0], queued[1] == "failed"

    def _job_with_lock(self, lock: str, *also: str) -> int | None:
        """Return the newest job queued or running (or also in these states) under a lock."""
        found = self._newest_job(lock, *also)
        return None if found is None else found[0]

    def _newest_job(self, lock: str, *also: str) -> tuple[int, str] | None:
        """Return the id and status of the newest job under a lock: queued, running or `also`."""
        wanted = ["todo", "doing", *also]
        with psycopg.connect(conninfo(self.settings.database_url), autocommit=True) as conn:
            row = conn.execute(
                "SELECT id, status FROM procrastinate_jobs WHERE queueing_lock = %s AND "
                "status = ANY(%s) ORDER BY id DESC LIMIT 1", (lock, wanted)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))


def submit_ranking(db: Database, profile: Any, profile_name: str | None, revision: int,
                   work: Any) -> Any:
    """Start a ranking: on the job queue when this process uses one, else in a thread here."""
    if db.queue is None:
        return db.background.submit(("ranking", profile.id), work)
    return db.queue.rank(profile, profile_name, revision)


async def _retry_stalled(app: procrastinate.App, settings: Settings) -> None:
    """Start again the jobs of workers that stopped sending heartbeats (they died)."""
    while True:
        try:
            await _handle_stalled(app, settings)
        except Exception:  # noqa: BLE001 - another worker retried it first, or the database blinked
            LOG.warning("could not look for stalled jobs this time", exc_info=True)
        await asyncio.sleep(settings.worker_heartbeat_seconds)


async def _handle_stalled(app: procrastinate.App, settings: Settings) -> None:
    """Start again each job whose worker died, or mark it failed after its last attempt."""
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.worker_stalled_seconds)
    for job in stalled:
        # A job that kills its worker (a file too big for memory, say) would kill every
        # worker that takes it: it gets as many attempts as any other job, then fails.
        attempt = job.attempts + 1
        if attempt < settings.job_attempts:
            LOG.warning("job %s stalled (its worker died): starting it again", job.id)
            await app.job_manager.retry_job(job)
            await asyncio.to_thread(_record, _worker_database(settings), job, attempt=attempt,
                                    gave_up=False, error="the worker stopped while running it "
                                    "(killed, or out of memory); it is started again")
            continue
        LOG.error("job %s stalled on its last attempt (%s): marking it failed", job.id, attempt)
        await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED,
                                         delete_job=False)
        await asyncio.to_thread(_gave_up_stalled, settings, job, attempt)


def _gave_up_stalled(settings: Settings, job: Any, attempt: int) -> None:
    """Record that a job's workers died on every attempt; an import then gives up its file."""
    db = _worker_database(settings)
    times = "once" if attempt == 1 else f"{attempt} times"
    error = WorkerStopped(f"the worker stopped while running it {times} (killed, or out of "
                          "memory); it is not started again")
    _record(db, job, attempt=attempt, gave_up=True, error=str(error))
    if job.task_name == IMPORT_TASK:
        from portfolio.services import import_runs

        import_runs.give_up(db, run_id=int(job.task_kwargs["run_id"]), error=error)


def run_to_end(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to its end; in a thread of its own if this one already runs a loop.

    A caller inside async code (or a library that keeps a loop on this thread, such as a
    browser driver) would make asyncio.run refuse.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work())
        return
    failures: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=target, name="job-worker")
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def run_worker(settings: Settings, *, concurrency: int = 1, wait: bool = True) -> None:
    """Run jobs until stopped (or, without wait, until the queue is empty)."""
    ensure_schema(settings)
    app = make_queue(settings)

    async def work() -> None:
        async with app.open_async():
            retrying = asyncio.create_task(_retry_stalled(app, settings))
            try:
                await app.run_worker_async(
                    queues=[QUEUE], concurrency=concurrency, wait=wait,
                    update_heartbeat_interval=settings.worker_heartbeat_seconds,
                    stalled_worker_timeout=settings.worker_stalled_seconds,
                    fetch_job_polling_interval=1.0)
            finally:
                retrying.cancel()

    try:
        run_to_end(work)
    finally:
        with _DATABASES_LOCK:
            used = _DATABASES.pop(settings.database_url, None)
        if used is not None:
            used.dispose()


def job_outcome(db: Database, actor: Actor, job_id: int) -> dict[str, Any] | None:
    """Return the last recorded outcome of a harvest job (None while queued or running).

    Only its asker's (or an admin's, who watches jobs): another user's is not found, as one
    that does not exist.
    """
    require(actor, Capability.HARVEST_CATALOGUE)
    asker = db.queue.harvest_asker(job_id) if db.queue is not None else None
    if asker is None or (asker != actor.id and not can(actor, Capability.WATCH_JOBS)):
        raise NotFound("harvest job", job_id)
    with db.read() as session:
        found: JobOutcome | None = session.execute(
            # A harvest's only: any other job's error is for admins (recent_failures).
            select(JobOutcome).where(col(JobOutcome.job_id) == job_id,
                                     col(JobOutcome.task) == HARVEST_TASK)
            .order_by(col(JobOutcome.id).desc()).limit(1)).scalars().first()
    if found is None:
        return None
    return {"succeeded": found.succeeded, "gave_up": found.gave_up, "attempt": found.attempt,
            "error": found.error, "summary": found.summary}


def recent_failures(db: Database, actor: Actor, limit: int = 50,
                    *, gave_up_only: bool = False) -> list[dict[str, Any]]:
    """Return the latest job outcomes (or only jobs that gave up), newest first (admins only)."""
    require(actor, Capability.WATCH_JOBS)
    query = select(JobOutcome).order_by(col(JobOutcome.at).desc(), col(JobOutcome.id).desc())
    if gave_up_only:
        query = query.where(col(JobOutcome.gave_up).is_(True))
    with db.read() as session:
        rows: list[JobOutcome] = list(session.execute(query.limit(limit)).scalars())
    return [{"task": r.task, "lock": r.lock, "attempt": r.attempt, "gave_up": r.gave_up,
             "succeeded": r.succeeded, "summary": r.summary, "error": r.error, "at": r.at}
            for r in rows]


def ranking_runs(db: Database) -> list[tuple[int, int]]:
    """Return (profile, revision) of every complete ranking run: for tests and checks."""
    with db.read() as session:
        return cast(list[tuple[int, int]], [tuple(r) for r in session.execute(
            select(col(RankingRun.profile_id), col(RankingRun.revision))
            .where(col(RankingRun.complete).is_(True))).all()])
