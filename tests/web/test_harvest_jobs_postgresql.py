"""Harvests queued on the job queue belong to whoever asked: their own job, their own outcome."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from portfolio import jobs
from portfolio.db import Database
from portfolio.settings import Settings
from tests.catalogue_server import replay_portal
from tests.web.auth import Browser, sign_in
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The job queue lives in PostgreSQL."""
    return "postgresql"


@pytest.fixture
def queued(settings: Settings) -> Settings:
    return settings.model_copy(update={"jobs": "queue"})


def job_of(answer) -> int:  # type: ignore[no-untyped-def]
    """Return the job a harvest's redirect names."""
    assert answer.status_code == 303, answer.text[:300]
    return int(parse_qs(urlsplit(answer.headers["location"]).query)["job"][0])


def test_two_users_harvesting_one_portal_each_get_their_own_job(
        queued: Settings, london: Database) -> None:
    app = create_app(queued)
    with replay_portal() as portal, Browser(app) as first, Browser(app) as second:
        sign_in(first, london, "cdo")
        sign_in(second, london, "cdo")
        mine = job_of(first.post("/catalogue/harvest", data={
            "url": f"{portal}/ckan", "publisher": "GLA"}, follow_redirects=False))
        theirs = job_of(second.post("/catalogue/harvest", data={
            "url": f"{portal}/ckan", "publisher": "E09000001"}, follow_redirects=False))
    assert mine != theirs


def test_another_users_harvest_outcome_is_not_found_but_an_admin_reads_it(
        queued: Settings, london: Database) -> None:
    app = create_app(queued)
    with replay_portal() as portal, Browser(app) as owner, Browser(app) as other, \
            Browser(app) as admin:
        sign_in(owner, london, "cdo")
        sign_in(other, london, "cdo")
        sign_in(admin, london, "admin")
        posted = owner.post("/catalogue/harvest", data={"url": f"{portal}/ckan",
                                                        "publisher": "GLA"},
                            follow_redirects=False)
        job = job_of(posted)
        assert other.get(f"/catalogue/harvest?job={job}").status_code == 404
        jobs.run_worker(queued, wait=False)
        assert owner.get(posted.headers["location"]).status_code == 200
        refused = other.get(f"/catalogue/harvest?job={job}")
        assert refused.status_code == 404 and "dataset(s) added" not in refused.text
        assert "2 dataset(s) added" in admin.get(f"/catalogue/harvest?job={job}").text
        assert owner.get(f"/catalogue/harvest?job={job + 1000}").status_code == 404
