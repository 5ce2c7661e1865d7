"""The job queue's faults found in review: races at queueing, killed workers, bad settings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.manager import JobManager

from portfolio import jobs
from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import imports, scenarios
from portfolio.settings import Settings
from tests.oidc_provider import free_port
from tests.web.auth import Browser, sign_in, token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The job queue lives in PostgreSQL."""
    return "postgresql"


def queued(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"jobs": "queue", **changes})


def statuses(settings: Settings, task: str) -> list[str]:
    with psycopg.connect(jobs.conninfo(settings.database_url)) as conn:
        return [s for (s,) in conn.execute("SELECT status FROM procrastinate_jobs WHERE "
                                           "task_name = %s ORDER BY id", (task,)).fetchall()]


@pytest.fixture
def raced(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Make the next deferral lose a race: another process queues the same job first, and
    that job finishes between the refusal (AlreadyEnqueued) and the look for it."""
    original = JobManager.batch_defer_jobs
    finished: list[int] = []

    def losing(self: JobManager, jobs: list[Any], connection: Any = None) -> list[Any]:
        if finished:
            return original(self, jobs, connection)
        other = original(self, jobs, connection)[0]  # the other process's job
        finished.append(other.id)
        try:
            return original(self, jobs, connection)
        except AlreadyEnqueued:
            with psycopg.connect(jobs_conninfo(self), autocommit=True) as conn:
                conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' "
                             "WHERE id = %s", (other.id,))
            raise

    def jobs_conninfo(_manager: JobManager) -> str:
        return jobs.conninfo(settings.database_url)

    monkeypatch.setattr(JobManager, "batch_defer_jobs", losing)
    yield finished


def test_a_harvest_whose_twin_finished_meanwhile_is_queued_not_a_500(
        settings: Settings, london: Database, raced: list[int]) -> None:
    settings = queued(settings)
    with Browser(create_app(settings)) as client:
        sign_in(client, london, "cdo")
        posted = client.post("/catalogue/harvest", data={
            "url": "https://data.london.gov.uk/api/3", "publisher": "GLA"},
            follow_redirects=False)
    assert posted.status_code == 303, posted.text
    job = int(posted.headers["location"].rsplit("job=", 1)[1])
    assert job != raced[0]  # the finished one was the earlier harvest: this one is queued
    assert statuses(settings, jobs.HARVEST_TASK) == ["succeeded", "todo"]


def test_an_import_whose_job_finished_meanwhile_answers_not_a_500(
        settings: Settings, london: Database, raced: list[int]) -> None:
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    with Browser(create_app(queued(settings))) as client:
        posted = client.post("/api/v1/import/projects", headers=auth,
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
    assert posted.status_code == 202, posted.text
    assert statuses(queued(settings), jobs.IMPORT_TASK) == ["succeeded"]  # never queued twice


def test_a_solve_whose_job_finished_meanwhile_answers_not_a_500(
        settings: Settings, london: Database, raced: list[int]) -> None:
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Raced plan", "budget": 2_000_000, "capacity": 60})
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    with Browser(create_app(queued(settings))) as client:
        answer = client.get(f"/api/v1/scenarios/{saved['id']}/plan", headers=auth)
    assert answer.status_code in (200, 202), answer.text
    assert statuses(queued(settings), jobs.SOLVE_TASK) == ["succeeded"]


CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Failed|Exception)\b")


def test_a_queued_harvest_of_an_unreachable_portal_fails_in_words(
        settings: Settings, london: Database) -> None:
    settings = queued(settings)
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "cdo")
        posted = client.post("/catalogue/harvest", data={
            "url": f"http://127.0.0.1:{free_port()}/api/3", "publisher": "GLA"},
            follow_redirects=False)
        assert posted.status_code == 303, posted.text
        jobs.run_worker(settings, wait=False)
        page = client.get(posted.headers["location"])
    words = " ".join(page.text.split())
    assert "failed after 3 attempts" in words and "could not be reached" in words
    assert not CLASS_NAME.findall(words), CLASS_NAME.findall(words)


@pytest.mark.parametrize("path", ["/backlog", "/dashboard"])
def test_a_ranking_no_worker_takes_says_so_with_retry_after_and_blames_no_database(
        settings: Settings, london: Database, path: str,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = queued(settings, ranking_job_wait_seconds=0.5)
    jobs.ensure_schema(settings)  # as `portfolio db upgrade` does
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "cdo")
        page = client.get(path)
    assert page.status_code == 503, page.text[:500]
    assert page.headers["Retry-After"] == "30"
    words = " ".join(page.text.split())
    assert "database" not in words.lower()
    assert "portfolio worker" not in words
    assert "being worked out" in words and "try again" in words.lower()
    assert "portfolio worker" in caplog.text  # the operator's hint is in the log


PORTFOLIO = Path(sys.executable).parent / "portfolio"
DEADLINE_SECONDS = 120


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition (an event), failing at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {DEADLINE_SECONDS} s")
        time.sleep(0.1)


def test_an_import_that_kills_its_worker_every_time_is_given_up_not_retried_for_ever(
        settings: Settings, london: Database, tmp_path: Path) -> None:
    settings = queued(settings, job_attempts=2)
    hold = tmp_path / "hold"
    started = Path(f"{hold}.started")
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": settings.database_url,
           "PORTFOLIO_ENVIRONMENT": "test", "PORTFOLIO_SECRET_KEY": "queue-tests",
           "PORTFOLIO_JOBS": "queue", "PORTFOLIO_JOB_ATTEMPTS": "2",
           "PORTFOLIO_WORKER_STALLED_SECONDS": "2", "PORTFOLIO_WORKER_HEARTBEAT_SECONDS": "0.5",
           jobs.HOLD_FILE_VARIABLE: str(hold)}
    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        workers.append(subprocess.Popen([str(PORTFOLIO), "worker"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return workers[-1]

    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    try:
        with Browser(create_app(settings)) as client:
            posted = client.post("/api/v1/import/projects", headers=auth, files={
                "file": ("new.csv", imports.template_bytes(), "text/csv")})
            assert posted.status_code == 202, posted.text
            location = posted.headers["location"]
            hold.touch()
            for _ in range(settings.job_attempts):  # each attempt kills its worker
                killed = worker()
                until(started.exists, "a worker did not take the import")
                started.unlink()
                killed.send_signal(signal.SIGKILL)
                killed.wait(timeout=30)
            hold.unlink()  # a third attempt would now import the file: it must not happen
            worker()
            until(lambda: client.get(location, headers=auth).json()["status"] != "queued",
                  "the killed import was neither given up nor imported")
            done = client.get(location, headers=auth).json()
            sign_in(client, london, "admin")
            page = " ".join(client.get("/admin/jobs").text.split())
    finally:
        for process in workers:
            process.kill()
            process.wait(timeout=30)
    assert done["status"] == "failed", done
    assert statuses(settings, jobs.IMPORT_TASK) == ["failed"]
    assert "the worker stopped while running it 2 times" in page


@pytest.mark.parametrize("command", [["serve"], ["worker", "--no-wait"]])
def test_a_misspelt_jobs_setting_is_refused_at_start_naming_the_allowed_values(
        command: list[str]) -> None:
    env = {**os.environ, "PORTFOLIO_JOBS": "queu", "PORTFOLIO_ENVIRONMENT": "test",
           "PORTFOLIO_SECRET_KEY": "x",
           "PORTFOLIO_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/none"}
    ran = subprocess.run([str(PORTFOLIO), *command], env=env, capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    assert "PORTFOLIO_JOBS" in ran.stderr and "auto, queue or in-process" in ran.stderr
    assert "Traceback" not in ran.stderr
