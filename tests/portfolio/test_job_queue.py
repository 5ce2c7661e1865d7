"""Background rankings on the PostgreSQL job queue: queued once, retried, failed in the open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import select, update

from portfolio import jobs
from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.models import JobOutcome, Project, User
from portfolio.services import accounts, ranking
from portfolio.settings import Settings
from tests.catalogue_server import replay_portal
from tests.oidc_provider import free_port
from tests.web.auth import Browser, sign_in
from web.app import create_app

PORTFOLIO = Path(sys.executable).parent / "portfolio"
DEADLINE_SECONDS = 180


@pytest.fixture
def backend() -> str:
    """The job queue lives in PostgreSQL."""
    return "postgresql"


def queued(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"jobs": "queue", **changes})


def move_revision(db: Database, slug: str = "bd-one-view-phase-2") -> None:
    """Edit a project, which moves the portfolio revision."""
    with db.write() as session:
        session.execute(update(Project).where(Project.slug == slug)
                        .values(title=Project.title + " (edited)"))


PG = "postgresql+psycopg://postgres@127.0.0.1:5432/portfolio"


@pytest.mark.parametrize("url,environment,chosen,expected", [
    ("sqlite:///var/portfolio.db", "production", "auto", False),  # SQLite: always in-process
    ("sqlite:///var/portfolio.db", "development", "queue", False),
    (PG, "development", "auto", False),  # make run, tests: no worker needed
    (PG, "production", "auto", True),
    (PG, "production", "in-process", False),
    (PG, "test", "queue", True),
])
def test_which_processes_use_the_job_queue(url: str, environment: str, chosen: str,
                                           expected: bool) -> None:
    settings = Settings(database_url=url, environment=environment, jobs=chosen,
                        secret_key="x")
    assert settings.uses_job_queue is expected


def test_a_job_failing_three_times_is_marked_failed_and_pages_keep_the_last_ranking(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    good = ranking.ensure_ranking(london)
    move_revision(london)
    settings = queued(settings)
    jobs.ensure_schema(settings)
    london.queue = jobs.JobQueue(london)

    def broken(db, profile):  # type: ignore[no-untyped-def]
        raise RuntimeError("the solver ran out of memory")

    monkeypatch.setattr(ranking, "_compute_and_store", broken)
    shown = ranking.ensure_ranking(london, wait_seconds=0.0)
    assert (shown.id, shown.behind) == (good.id, 1)
    assert london.queue.health()["waiting"] == 1  # /readyz says a job waits for a worker
    jobs.run_worker(settings, wait=False)

    with london.read() as session:
        outcomes = session.execute(select(JobOutcome).order_by(JobOutcome.attempt)
                                   ).scalars().all()
    assert [(o.attempt, o.gave_up) for o in outcomes] == [(1, False), (2, False), (3, True)]
    assert "ran out of memory" in outcomes[-1].error
    # The page falls back to the last good ranking, and does not queue the revision again.
    again = ranking.ensure_ranking(london, wait_seconds=5.0)
    assert (again.id, again.behind) == (good.id, 1)
    with psycopg.connect(jobs.conninfo(settings.database_url)) as conn:
        statuses = conn.execute("SELECT status FROM procrastinate_jobs").fetchall()
    assert statuses == [("failed",)]
    with Browser(create_app(settings)) as client:
        sign_in(client, london, "admin")
        page = client.get("/admin/jobs")
        assert page.status_code == 200 and "ran out of memory" in page.text
        assert "failed" in page.text
        sign_in(client, london, "cdo")
        assert client.get("/admin/jobs").status_code == 403


def test_a_harvest_runs_on_the_queue_and_its_page_says_how_it_went(
        settings: Settings, london: Database) -> None:
    settings = queued(settings)
    with replay_portal() as portal, Browser(create_app(settings)) as client:
        sign_in(client, london, "cdo")
        posted = client.post("/catalogue/harvest", data={"url": f"{portal}/ckan",
                                                         "publisher": "GLA"},
                             follow_redirects=False)
        assert posted.status_code == 303 and "job=" in posted.headers["location"]
        assert "is queued" in client.get(posted.headers["location"]).text
        jobs.run_worker(settings, wait=False)
        done = client.get(posted.headers["location"])
        assert "2 dataset(s) added and 0 updated" in done.text, done.text


class Processes:
    """The app's processes a test starts, stopped at its end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen([str(PORTFOLIO), *args], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started.append(process)
        return process

    def serve(self) -> str:
        port = free_port()
        process = self.start("serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        until(lambda: process.poll() is None and _answers(f"{base}/healthz"),
              f"portfolio serve on port {port} did not start")
        return base

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for a condition (an event), failing at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {DEADLINE_SECONDS} s")
        time.sleep(0.1)


@pytest.fixture
def processes(settings: Settings, london: Database, tmp_path: Path) -> Iterator[Processes]:
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": settings.database_url,
           "PORTFOLIO_ENVIRONMENT": "test", "PORTFOLIO_SECRET_KEY": "queue-tests",
           "PORTFOLIO_JOBS": "queue", "PORTFOLIO_RANKING_WAIT_SECONDS": "0",
           "PORTFOLIO_WORKER_STALLED_SECONDS": "2", "PORTFOLIO_WORKER_HEARTBEAT_SECONDS": "0.5",
           jobs.HOLD_FILE_VARIABLE: str(tmp_path / "hold")}
    found = Processes(env)
    try:
        yield found
    finally:
        found.stop()


def test_two_web_processes_and_a_killed_worker_make_exactly_one_run(
        settings: Settings, london: Database, processes: Processes, tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    upgraded = processes.start("db", "upgrade")
    assert upgraded.wait(timeout=120) == 0
    with london.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, data={
            "email": "queue@example.london", "name": "Queue", "role": "admin"})
    with london.write() as session:
        admin = session.execute(select(User.id).where(
            User.email == "queue@example.london")).scalar_one()
        token = accounts.create_token(session=session, actor=Actor(
            id=admin, role=Role.ADMIN, email="queue@example.london"), name="queue")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    one, two = processes.serve(), processes.serve()
    first_worker = processes.start("worker")

    # The first ranking: both web processes read the one run the worker stored.
    first = requests.get(f"{one}/api/v1/backlog?fresh=true&top=1", headers=auth, timeout=300)
    assert first.status_code == 200, first.text
    seen = requests.get(f"{two}/api/v1/backlog?top=1", headers=auth, timeout=60)
    assert seen.headers["X-Portfolio-Revision"] == first.headers["X-Portfolio-Revision"]
    assert len(jobs.ranking_runs(london)) == 1

    # An edit through one web process; both ask for the new ranking while the worker holds it.
    hold.touch()
    slug = first.json()[0]["slug"]
    project = requests.get(f"{one}/api/v1/projects/{slug}", headers=auth, timeout=30).json()
    edited = requests.patch(f"{one}/api/v1/projects/{slug}", headers=auth, timeout=30,
                            json={"title": project["title"] + " (edited)",
                                  "version": project["version"]})
    assert edited.status_code == 200, edited.text
    for base in (one, two, one, two):
        stale = requests.get(f"{base}/api/v1/backlog?top=1", headers=auth, timeout=60)
        assert stale.headers["X-Portfolio-Ranking-Behind"] == "1"
    until(lambda: Path(str(hold) + ".started").exists(), "the worker did not take the job")
    first_worker.send_signal(signal.SIGKILL)
    first_worker.wait(timeout=30)

    # Another worker finds the dead one's job and finishes it.
    hold.unlink()
    processes.start("worker")
    revisions = {}
    for base in (one, two):
        fresh = requests.get(f"{base}/api/v1/backlog?fresh=true&top=1", headers=auth,
                             timeout=300)
        assert fresh.status_code == 200, fresh.text
        revisions[base] = fresh.headers["X-Portfolio-Revision"]
    assert revisions[one] == revisions[two] != first.headers["X-Portfolio-Revision"]
    runs = jobs.ranking_runs(london)
    assert sorted(r for _p, r in runs) == sorted(
        {int(first.headers["X-Portfolio-Revision"]), int(revisions[one])})
    with psycopg.connect(jobs.conninfo(settings.database_url)) as conn:
        ranked = conn.execute("SELECT status, attempts FROM procrastinate_jobs "
                              "WHERE task_name = %s ORDER BY id", (jobs.RANK_TASK,)).fetchall()
    # One job per revision, however many web processes asked; the killed one ran again.
    assert [status for status, _a in ranked] == ["succeeded", "succeeded"]
    # The job the killed worker held was started once more than the one that ran through.
    assert ranked[1][1] == ranked[0][1] + 1
