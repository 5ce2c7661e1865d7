"""Background work on the PostgreSQL job queue (rankings, harvests, imports, solves): queued
once, retried, failed in the open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import select, update

from portfolio import jobs
from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.models import ImportUpload, JobOutcome, Project, User
from portfolio.services import accounts, import_runs, imports, ranking, scenarios
from portfolio.services.common import portfolio_revision
from portfolio.settings import Settings
from tests.catalogue_server import replay_portal
from tests.oidc_provider import free_port
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
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


# Imports and scenario solves on the queue: the web process keeps the file or asks for the
# solve, a `portfolio worker` process does the work.

BAD_ROWS = (b"slug,title,owner,theme,status,cost_gbp\n"
            b"queued-fine,Fine,E09000002,housing,idea,100\n"
            b"queued-bad-theme,Broken,E09000002,gardening,idea,100\n"
            b"queued-bad-cost,Broken too,E09000002,housing,idea,lots\n")


def project_slugs(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.execute(select(Project.slug)).scalars())


def uploads_kept(db: Database) -> int:
    with db.read() as session:
        return len(session.execute(select(ImportUpload.run_id)).all())


def test_an_import_through_the_api_is_queued_and_a_worker_writes_its_rows(
        settings: Settings, london: Database, processes: Processes) -> None:
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    with Browser(create_app(queued(settings))) as client:
        posted = client.post("/api/v1/import/projects", headers=auth,
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
        assert posted.status_code == 202, posted.text
        location = posted.headers["location"]
        assert location == f"/api/v1/imports/{posted.json()['import_id']}"
        assert client.get(location, headers=auth).json()["status"] == "queued"
        assert "example-cost-of-living-dashboard" not in project_slugs(london)

        processes.start("worker")
        until(lambda: client.get(location, headers=auth).json()["status"] != "queued",
              "the worker did not import the file")
        done = client.get(location, headers=auth).json()
    assert done["status"] == "imported", done
    assert done["report"]["created"] == ["example-cost-of-living-dashboard",
                                         "example-warm-homes-targeting"]
    assert {"example-cost-of-living-dashboard", "example-warm-homes-targeting"} <= \
        project_slugs(london)
    assert uploads_kept(london) == 0  # the file goes with the import's own transaction
    with london.read() as session:
        outcome = session.execute(select(JobOutcome)).scalars().one()
    assert (outcome.task, outcome.succeeded) == (jobs.IMPORT_TASK, True)


def test_a_queued_import_with_bad_rows_writes_nothing_and_lists_every_bad_row(
        settings: Settings, london: Database, processes: Processes) -> None:
    before = project_slugs(london)
    with Browser(create_app(queued(settings)), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        posted = client.post("/import", files={"file": ("bad.csv", BAD_ROWS, "text/csv")},
                             follow_redirects=False)
        assert posted.status_code == 303, posted.text
        page = posted.headers["location"]
        assert "The import is queued: a worker imports it" in client.get(page).text

        processes.start("worker")
        until(lambda: "is queued" not in client.get(page).text,
              "the worker did not import the file")
        shown = parse_html(client.get(page).text)
    assert "refused" in shown.text()
    problems = [[c.text() for c in r.find_all("td")][:2]
                for r in shown.find(class_="import-errors").find("tbody").find_all("tr")]
    assert problems == [["3", "theme"], ["4", "cost_gbp"]]
    assert project_slugs(london) == before
    assert uploads_kept(london) == 0


def import_failing_on_the_worker(client: Browser, settings: Settings, auth: dict[str, str],
                                 monkeypatch: pytest.MonkeyPatch, error: str) -> Any:
    """Queue the template's import through the API, then let a worker fail on it every time."""
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(error)

    posted = client.post("/api/v1/import/projects", headers=auth,
                         files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
    assert posted.status_code == 202, posted.text
    monkeypatch.setattr(import_runs, "run_import", broken)
    jobs.run_worker(settings, wait=False)
    return posted


def test_an_import_job_failing_three_times_is_marked_failed_and_its_file_goes(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}

    with Browser(create_app(settings)) as client:
        posted = import_failing_on_the_worker(client, settings, auth, monkeypatch,
                                              "the disk is full")
        done = client.get(posted.headers["location"], headers=auth).json()
        sign_in(client, london, "admin")
        assert "the disk is full" in client.get("/admin/jobs").text
    # In words: an exception's class name told a lead nothing (found in review).
    assert done["status"] == "failed" and "an unexpected fault" in done["failure"]
    assert "RuntimeError" not in done["failure"]
    with london.read() as session:
        outcomes = session.execute(select(JobOutcome).order_by(JobOutcome.attempt)
                                   ).scalars().all()
    assert [(o.attempt, o.gave_up) for o in outcomes] == [(1, False), (2, False), (3, True)]
    assert uploads_kept(london) == 0


def solve_jobs(settings: Settings) -> list[tuple[str, str | None]]:
    with psycopg.connect(jobs.conninfo(settings.database_url)) as conn:
        return conn.execute("SELECT status, queueing_lock FROM procrastinate_jobs "
                            "WHERE task_name = %s", (jobs.SOLVE_TASK,)).fetchall()


def as_json(value: object) -> object:
    """Return a value as the API sends it, without the solver's time (not part of a plan)."""
    plain = json.loads(json.dumps(value))
    plain["plan"].pop("solve_seconds")
    return plain


def test_a_scenario_solve_is_queued_once_and_its_kept_solution_is_the_in_process_one(
        settings: Settings, london: Database, processes: Processes) -> None:
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Queued plan", "budget": 2_000_000, "capacity": 60})
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    url = f"/api/v1/scenarios/{saved['id']}/plan"
    # Two web processes ask for the same solve: one job.
    with Browser(create_app(queued(settings))) as one, \
            Browser(create_app(queued(settings)), headers={"accept": "text/html"}) as two:
        first, second = one.get(url, headers=auth), two.get(url, headers=auth)
        assert (first.status_code, second.status_code) == (202, 202), first.text
        assert first.json()["job"] == second.json()["job"]
        assert first.headers["Retry-After"]
        sign_in(two, london, "admin")
        assert "is queued: a worker solves it" in two.get(f"/plan?scenario={saved['id']}").text
        assert len(solve_jobs(settings)) == 1

        processes.start("worker")
        until(lambda: one.get(url, headers=auth).status_code == 200,
              "the worker did not solve the scenario")
        kept = one.get(url, headers=auth).json()
        page = two.get(f"/plan?scenario={saved['id']}").text
    assert "projects chosen" in page and "is queued" not in page
    assert [status for status, _lock in solve_jobs(settings)] == ["succeeded"]
    in_process = scenarios.solve_scenario(london, scenario_id=saved["id"])
    kept["plan"].pop("solve_seconds")
    assert kept == as_json(in_process)


def test_a_poll_that_missed_a_solution_stored_meanwhile_queues_no_second_solve(
        settings: Settings, london: Database) -> None:
    # CI found two solves of one scenario: a poll read no kept solution, the worker then
    # stored it and its job succeeded, and the poll found no job waiting or running under
    # the lock, so it queued another.
    settings = queued(settings)
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Raced plan", "budget": 2_000_000, "capacity": 60})
    ranking.ensure_ranking(london)  # the solve reads the ranking of this revision
    jobs.ensure_schema(settings)
    london.queue = jobs.JobQueue(london)
    revision = portfolio_revision(london)
    job, _ = london.queue.solve(saved["id"], saved["version"], revision)
    scenarios.store_solution(london, scenario_id=saved["id"])  # the worker, meanwhile
    with psycopg.connect(jobs.conninfo(settings.database_url), autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = %s", (job,))
    assert london.queue.solve(saved["id"], saved["version"], revision) == (job, False)
    assert [status for status, _lock in solve_jobs(settings)] == ["succeeded"]
    assert scenarios.solution(london, scenario_id=saved["id"]).solved is not None


def test_queued_roadmaps_are_compared_once_a_worker_has_solved_them(
        settings: Settings, london: Database) -> None:
    settings = queued(settings)
    with london.write() as session:
        ids = [scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": name, "kind": "roadmap", "budget": budget, "horizon": 8})["id"]
            for name, budget in (("Lean", 1_000_000), ("Generous", 2_000_000))]
    compare = f"/plan/compare?scenario={ids[0]}&scenario={ids[1]}"
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        assert "is queued: a worker solves it" in client.get(
            f"/plan/roadmap?scenario={ids[0]}").text
        waiting = client.get(compare)
        assert waiting.status_code == 200 and "is queued" in waiting.text
        api = client.get(f"/api/v1/scenarios/compare?scenario={ids[0]}&scenario={ids[1]}",
                         headers={"accept": "application/json"})
        assert api.status_code == 503 and api.headers["Retry-After"]
        assert len(solve_jobs(settings)) == 2  # each roadmap once, however often asked
        jobs.run_worker(settings, wait=False)
        assert "projects start over 8 quarters" in client.get(
            f"/plan/roadmap?scenario={ids[0]}").text
        compared = client.get(compare)
    assert compared.status_code == 200 and "is queued" not in compared.text
    assert "Generous" in compared.text


def test_a_solve_failing_three_times_is_shown_failed_and_not_queued_again(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Doomed plan", "budget": 1_000_000, "capacity": 30})

    def broken(db, *, scenario_id):  # type: ignore[no-untyped-def]
        raise RuntimeError("the solver crashed")

    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        assert "is queued" in client.get(f"/plan?scenario={saved['id']}").text
        monkeypatch.setattr(scenarios, "solve_scenario", broken)
        jobs.run_worker(settings, wait=False)
        page = client.get(f"/plan?scenario={saved['id']}").text
        assert "failed on every attempt" in page and "the solver crashed" not in page
        assert "the solver crashed" in client.get("/admin/jobs").text
    assert [status for status, _lock in solve_jobs(settings)] == ["failed"]


# Found in review: who the worker imports as, and what a failure tells someone who is not
# an admin.

def test_an_uploader_demoted_before_the_worker_runs_is_refused_and_nothing_is_written(
        settings: Settings, london: Database) -> None:
    settings = queued(settings)
    before = project_slugs(london)
    auth = {"Authorization": f"Bearer {token_for(london, 'lead', 'E09000002')}"}
    with Browser(create_app(settings)) as client:
        posted = client.post("/api/v1/import/projects", headers=auth,
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
        assert posted.status_code == 202, posted.text
        with london.write() as session:
            session.execute(update(User).where(User.role == Role.LEAD)
                            .values(role=Role.RESEARCHER))
        jobs.run_worker(settings, wait=False)
        admin = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
        done = client.get(posted.headers["location"], headers=admin).json()
    assert done["status"] == "failed", done
    assert project_slugs(london) == before
    assert uploads_kept(london) == 0


def test_a_lead_reads_their_queued_import_but_not_another_users(
        settings: Settings, london: Database) -> None:
    lead = {"Authorization": f"Bearer {token_for(london, 'lead', 'E09000002')}"}
    other = {"Authorization": f"Bearer {token_for(london, 'lead', 'E09000002')}"}
    with Browser(create_app(queued(settings))) as client:
        posted = client.post("/api/v1/import/projects", headers=lead,
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
        assert posted.status_code == 202, posted.text
        location = posted.headers["location"]
        assert client.get(location, headers=lead).json()["status"] == "queued"
        refused = client.get(location, headers=other)
        missing = client.get("/api/v1/imports/999999", headers=lead)
        wrong = client.get("/api/v1/imports/abc", headers=lead)
    assert refused.status_code == 404 and "the disk" not in refused.text
    assert missing.status_code == 404 and missing.json()["detail"]
    assert wrong.status_code == 422 and wrong.json()["detail"]


def test_a_failed_import_job_tells_its_lead_what_failed_but_not_the_error_itself(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    lead = {"Authorization": f"Bearer {token_for(london, 'lead', 'E09000002')}"}

    with Browser(create_app(settings)) as client:
        posted = import_failing_on_the_worker(client, settings, lead, monkeypatch,
                                              "connection to 10.0.0.7 refused by secret-host")
        done = client.get(posted.headers["location"], headers=lead).json()
    # In words: an exception's class name told a lead nothing (found in review).
    assert done["status"] == "failed" and "an unexpected fault" in done["failure"]
    assert "RuntimeError" not in done["failure"]
    assert "secret-host" not in done["failure"]


def test_a_failed_solve_shows_readers_that_it_failed_but_only_admins_why(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Doomed plan", "budget": 1_000_000, "capacity": 30})

    def broken(db, *, scenario_id):  # type: ignore[no-untyped-def]
        raise RuntimeError("connection to 10.0.0.7 refused by secret-host")

    reader = {"Authorization": f"Bearer {token_for(london, 'researcher')}"}
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "researcher")
        assert "is queued" in client.get(f"/plan?scenario={saved['id']}").text
        monkeypatch.setattr(scenarios, "solve_scenario", broken)
        jobs.run_worker(settings, wait=False)
        page = client.get(f"/plan?scenario={saved['id']}").text
        api = client.get(f"/api/v1/scenarios/{saved['id']}/plan",
                         headers=reader | {"accept": "application/json"})
    assert "failed" in page and "secret-host" not in page
    assert api.status_code == 503 and "secret-host" not in api.text


def test_a_roadmap_with_deadlines_is_solved_by_a_worker(
        settings: Settings, london: Database) -> None:
    settings = queued(settings)
    with london.write() as session:
        saved = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Dated", "kind": "roadmap", "budget": 1_500_000, "horizon": 8,
            "deadlines": {"bd-ctr-scheme-review": str(date.today() + timedelta(days=730))}})
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        assert "is queued" in client.get(f"/plan/roadmap?scenario={saved['id']}").text
        jobs.run_worker(settings, wait=False)
        page = client.get(f"/plan/roadmap?scenario={saved['id']}")
    assert page.status_code == 200 and "projects start over 8 quarters" in page.text


def test_an_import_retried_after_a_failed_attempt_reports_no_stale_failure(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    real, attempts = import_runs.run_import, []

    def flaky(db, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) == 1:
            # As an import does when the database drops it: the entry says it failed.
            import_runs.fail(db, kwargs["run_id"], "the import failed and nothing was written")
            raise RuntimeError("the connection dropped")
        return real(db, **kwargs)

    with Browser(create_app(settings)) as client:
        posted = client.post("/api/v1/import/projects", headers=auth,
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
        assert posted.status_code == 202
        monkeypatch.setattr(import_runs, "run_import", flaky)
        jobs.run_worker(settings, wait=False)
        done = client.get(posted.headers["location"], headers=auth).json()
        sign_in(client, london, "admin")
        page = client.get(f"/imports/{posted.json()['import_id']}",
                          headers={"accept": "text/html"}).text
    assert len(attempts) == 2
    assert done["status"] == "imported" and done["failure"] is None, done
    assert "nothing was written" not in page


def test_a_queued_dry_run_whose_report_could_not_be_kept_is_tried_again(
        settings: Settings, london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queued(settings)
    auth = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    real, calls = import_runs._best_effort, []

    def dropped_once(db, work):  # type: ignore[no-untyped-def]
        calls.append(1)
        # As when the database is briefly unreachable: the history write is skipped.
        return None if len(calls) == 1 else real(db, work)

    with Browser(create_app(settings)) as client:
        posted = client.post("/api/v1/import/projects", headers=auth, data={"dry_run": "true"},
                             files={"file": ("new.csv", imports.template_bytes(), "text/csv")})
        assert posted.status_code == 202
        monkeypatch.setattr(import_runs, "_best_effort", dropped_once)
        jobs.run_worker(settings, wait=False)
        done = client.get(posted.headers["location"], headers=auth).json()
    assert done["status"] == "checked", done
    assert uploads_kept(london) == 0
