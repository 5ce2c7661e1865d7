"""Harvesting datasets from CKAN and DCAT portals served by a local replay server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import func, select

from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import ReadinessLevel, Role
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import Dataset
from portfolio.services.harvest import (
    HarvestFailed,
    Limits,
    PortalDataset,
    harvest,
    suggested_level,
)
from portfolio.settings import Settings
from tests.catalogue_server import Replay, replay_portal

TODAY = date(2026, 12, 2)
SMALL_PAGES = Limits(page_size=2, timeout_seconds=2.0)


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    with replay_portal() as url:
        yield url


@pytest.fixture
def backend() -> str:
    """Harvest logic is the same on both databases; the write path is checked on both below."""
    return "sqlite"


def run(db: Database, url: str, *, dry_run: bool = False, limits: Limits = SMALL_PAGES,
        confirmed: set[str] | None = None, publisher: str = "GLA") -> dict:
    return harvest(db, actor=SYSTEM, url=url, default_publisher=publisher, dry_run=dry_run,
                   confirmed=confirmed, limits=limits, today=TODAY).summary()


def dataset_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(Dataset)).scalar_one()


def test_a_dry_run_pages_through_ckan_and_writes_nothing(london: Database, portal: str) -> None:
    before = dataset_count(london)
    plan = run(london, f"{portal}/ckan", dry_run=True)
    assert plan["counts"] == {"add": 2, "update": 0, "confirm": 1, "leave": 0}
    assert [a["title"] for a in plan["add"]] == ["Fuel poverty estimates by LSOA",
                                                 "London Datastore ward profiles"]
    # The deprivation indices are registered already under that title: a person confirms.
    assert plan["confirm"][0]["matches"] == "english-indices-of-deprivation-2019"
    assert plan["written"] is False and dataset_count(london) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_harvest_adds_then_recognises_what_it_added(london: Database, portal: str) -> None:
    before = dataset_count(london)
    plan = run(london, f"{portal}/ckan")
    assert plan["written"] and dataset_count(london) == before + 2
    with london.read() as session:
        fuel = session.execute(select(Dataset).where(
            Dataset.source_identifier == "9a1f")).scalars().one()
    assert (fuel.drl, fuel.formats, fuel.access) == ("C1", "csv, xlsx", "open")
    assert fuel.source_modified == date(2026, 6, 1)
    again = run(london, f"{portal}/ckan")
    assert again["counts"] == {"add": 0, "update": 0, "confirm": 1, "leave": 2}
    assert dataset_count(london) == before + 2


def test_a_confirmed_title_match_updates_without_touching_the_assessed_level(
    london: Database, portal: str,
) -> None:
    with london.read() as session:
        level = session.execute(select(Dataset.drl).where(
            Dataset.code == "english-indices-of-deprivation-2019")).scalar_one()
    plan = run(london, f"{portal}/ckan", confirmed={"9a21"})
    updated = {u["code"]: u for u in plan["update"]}
    assert updated["english-indices-of-deprivation-2019"]["matched_by"] == "title"
    with london.read() as session:
        row = session.execute(select(Dataset).where(
            Dataset.code == "english-indices-of-deprivation-2019")).scalars().one()
    assert row.source_identifier == "9a21" and row.drl == level


def test_datapress_pages_by_offset(london: Database, portal: str) -> None:
    url = f"{portal}/datapress/api/3/action/current_package_list_with_resources"
    plan = run(london, url, dry_run=True)
    assert plan["counts"]["add"] + plan["counts"]["confirm"] == 3


def test_dcat_entries_map_formats_frequency_publisher_and_a_suggested_level(
    london: Database, portal: str,
) -> None:
    plan = run(london, f"{portal}/dcat/data.json", dry_run=True)
    added = {a["title"]: a for a in plan["add"]}
    requests = added["311 Service Requests"]
    assert (requests["formats"], requests["update_frequency"], requests["drl"]) == (
        "csv, json", "daily", "C1")
    trees = added["Annual report on street trees"]
    assert trees["drl"] == "C2"  # a PDF only
    assert trees["publisher"] == "GLA"  # an unknown publisher falls back to the default
    assert added["Bus stop locations"]["publisher"] == "TFL"


def test_the_suggested_level_rule() -> None:
    def entry(formats: tuple[str, ...], modified: date | None, url: str = "x") -> PortalDataset:
        return PortalDataset(identifier="i", title="t", formats=formats, modified=modified,
                             url=url)
    assert suggested_level(entry(("csv",), date(2025, 1, 1)), today=TODAY) == ReadinessLevel.C1
    assert suggested_level(entry(("csv",), date(2020, 1, 1)), today=TODAY) == ReadinessLevel.C2
    assert suggested_level(entry(("pdf",), date(2026, 1, 1)), today=TODAY) == ReadinessLevel.C2
    assert suggested_level(entry((), None, url=""), today=TODAY) == ReadinessLevel.C3


def test_a_server_error_mid_way_is_retried(london: Database, portal: str) -> None:
    Replay.calls.clear()
    plan = run(london, f"{portal}/flaky", dry_run=True)
    assert plan["counts"]["add"] == 2
    assert Replay.calls["/flaky/api/3/action/package_search?rows=2&start=2"] == 2


@pytest.mark.parametrize(("path", "limits", "says"), [
    ("/down", SMALL_PAGES, "answered 500 (tried 3 times)"),
    ("/slow", Limits(timeout_seconds=0.2), "no answer within 0.2 s"),
    ("/html", SMALL_PAGES, "a web page, not JSON"),
    ("/malformed", SMALL_PAGES, "malformed JSON"),
    ("/loop", SMALL_PAGES, "redirects in a loop"),
    ("/huge/api/3/action/current_package_list_with_resources",
     Limits(max_response_bytes=100_000), "more than 0 MB"),
    ("/dupes/data.json", SMALL_PAGES, "more than once"),
    ("/big", Limits(max_datasets=500), "more than 500 datasets"),
    # Review: each of these was a TypeError, ValueError or (PostgreSQL) DataError: a 500.
    ("/odd/null-package", SMALL_PAGES, "a CKAN package is not an object"),
    ("/odd/count-in-words", SMALL_PAGES, "count"),
    ("/odd/long-id", SMALL_PAGES, "longer than 300"),
])
def test_a_portal_that_cannot_be_read_writes_nothing(
    london: Database, portal: str, path: str, limits: Limits, says: str,
) -> None:
    before = dataset_count(london)
    with pytest.raises(HarvestFailed) as failed:
        run(london, portal + path, limits=limits)
    assert says in str(failed.value)
    assert dataset_count(london) == before


@pytest.mark.parametrize(("path", "title"), [
    ("/odd/resources-number", "Resources as a number"),
    ("/odd/distribution-number/data.json", "Distribution as a number"),
])
def test_a_package_s_files_in_the_wrong_shape_are_taken_as_none(
    london: Database, portal: str, path: str, title: str,
) -> None:
    # Review: resources or a distribution given as a number raised TypeError (a 500).
    plan = run(london, portal + path, dry_run=True)
    assert [(a["title"], a["formats"]) for a in plan["add"]] == [(title, "")]


def test_an_address_that_is_not_a_web_address_is_refused(london: Database) -> None:
    with pytest.raises(Invalid) as refused:
        run(london, "file:///etc/passwd")
    assert "http" in refused.value.errors["url"]


@pytest.mark.parametrize("role", [Role.LEAD, Role.RESEARCHER])
def test_only_the_cdo_and_admins_harvest(london: Database, portal: str, role: Role) -> None:
    with pytest.raises(NotAllowed) as refused:
        harvest(london, actor=Actor(id=None, role=role, organisation_id=1), url=portal,
                default_publisher="GLA", dry_run=True)
    assert "the CDO or an admin may" in str(refused.value)


def test_a_ten_thousand_dataset_catalogue_is_read_in_pages(london: Database, portal: str) -> None:
    plan = run(london, f"{portal}/big", dry_run=True, limits=Limits())
    assert plan["counts"]["add"] == 10_000
    assert len({a["code"] for a in plan["add"]}) == 10_000


def test_the_command_line_harvests_and_reports_a_failure_without_a_traceback(
    london: Database, settings: Settings, portal: str, tmp_path: Path,
) -> None:
    def portfolio(*args: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"PORTFOLIO_DATABASE_URL": settings.database_url}
        return subprocess.run([sys.executable, "-c", "from portfolio.cli import main; main()",
                               *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    shown = portfolio("catalogue", "harvest", f"{portal}/dcat/data.json", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "would add 3" in shown.stdout
    before = dataset_count(london)
    failed = portfolio("catalogue", "harvest", f"{portal}/html")
    assert failed.returncode == 2
    assert "a web page, not JSON" in " ".join(failed.stderr.split())
    assert failed.stderr.startswith("error:") and "Traceback" not in failed.stderr
    assert dataset_count(london) == before


@pytest.fixture
def browser_of(settings: Settings, london: Database):  # type: ignore[no-untyped-def]
    from tests.web.auth import Browser, sign_in
    from web.app import create_app

    opened = []

    def open_as(role: str, organisation: str | None = None) -> Browser:
        client = Browser(create_app(settings))
        client.__enter__()
        opened.append(client)
        sign_in(client, london, role, organisation)
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


def test_the_harvest_page_previews_then_harvests_what_the_cdo_confirmed(
    browser_of, london: Database, portal: str,  # type: ignore[no-untyped-def]
) -> None:
    cdo = browser_of("cdo")
    assert "Harvest datasets from an open-data portal" in cdo.get("/datasets").text
    preview = cdo.get("/catalogue/harvest", params={"url": f"{portal}/ckan", "publisher": "GLA"})
    assert preview.status_code == 200
    assert "2 to add, 0 to update, 1 title match to confirm" in preview.text
    before = dataset_count(london)
    done = cdo.post("/catalogue/harvest", data={"url": f"{portal}/ckan", "publisher": "GLA",
                                                "confirm": ["9a21"]}, follow_redirects=False)
    assert done.status_code == 303
    shown = cdo.get(done.headers["location"])
    assert "Harvested: 2 dataset(s) added and 1 updated." in shown.text
    assert dataset_count(london) == before + 2


def test_a_portal_failure_shows_beside_the_address_field(
    browser_of, portal: str,  # type: ignore[no-untyped-def]
) -> None:
    page = browser_of("admin").get("/catalogue/harvest", params={"url": f"{portal}/html"})
    assert page.status_code == 422
    assert 'id="hv-url-error"' in page.text and "a web page, not JSON" in page.text
    assert "There is a problem" in page.text


def test_the_harvest_page_shows_no_other_job_s_outcome(
    browser_of, london: Database,  # type: ignore[no-untyped-def]
) -> None:
    # Review: ?job= named any queued job, so the CDO read an import's error that only admins
    # may (/admin/jobs).
    from portfolio.jobs import HARVEST_TASK
    from portfolio.models import JobOutcome

    with london.write() as session:
        session.add(JobOutcome(job_id=4242, task="portfolio.import", lock="import:7", attempt=3,
                               gave_up=True, error="row 12 'Secret pilot' refused"))
        session.add(JobOutcome(job_id=4243, task=HARVEST_TASK, lock="harvest:x", attempt=3,
                               gave_up=True, error="the portal answered 404"))
    cdo = browser_of("cdo")
    assert cdo.get("/admin/jobs").status_code == 403
    assert "Secret pilot" not in cdo.get("/catalogue/harvest", params={"job": 4242}).text
    # Nor a harvest job not theirs (here, no queued job at all): as if absent.
    other = cdo.get("/catalogue/harvest", params={"job": 4243})
    assert other.status_code == 404 and "the portal answered 404" not in other.text


@pytest.mark.parametrize(("role", "organisation"), [("lead", "E09000002"), ("researcher", None)])
def test_leads_and_researchers_are_not_offered_the_harvest(
    browser_of, role: str, organisation: str | None,  # type: ignore[no-untyped-def]
) -> None:
    client = browser_of(role, organisation)
    assert "/catalogue/harvest" not in client.get("/datasets").text
    assert client.get("/catalogue/harvest").status_code == 403


def test_the_api_harvests_with_a_token_and_answers_422_for_a_broken_portal(
    settings: Settings, london: Database, portal: str,
) -> None:
    from fastapi.testclient import TestClient

    from tests.web.auth import token_for
    from web.app import create_app

    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings)) as client:
        preview = client.post("/api/v1/catalogue/harvest", headers=headers,
                              json={"url": f"{portal}/dcat/data.json"})
        assert preview.status_code == 200
        assert preview.json()["counts"]["add"] == 3 and not preview.json()["written"]
        broken = client.post("/api/v1/catalogue/harvest", headers=headers,
                             json={"url": f"{portal}/malformed", "dry_run": False})
        assert broken.status_code == 422 and "malformed JSON" in broken.json()["detail"]


def test_in_production_a_portal_at_a_private_address_is_refused_before_it_is_read(
        london: Database, portal: str, settings: Settings) -> None:
    # Left open last session: a harvest read any address, the server's own network included.
    production = settings.model_copy(update={"environment": "production"})
    assert not production.harvest_reads_private_addresses
    assert settings.harvest_reads_private_addresses  # a test's machine reads its test portal
    before = dataset_count(london)
    with pytest.raises(HarvestFailed, match=r"127\.0\.0\.1, a private or local address"):
        run(london, f"{portal}/ckan", limits=Limits.of(production))
    assert dataset_count(london) == before
    on_premises = production.model_copy(update={"harvest_private_addresses": True})
    assert run(london, f"{portal}/ckan", limits=Limits.of(on_premises))["written"]


@pytest.mark.parametrize(("address", "refused"), [
    ("10.1.2.3", True), ("169.254.169.254", True), ("192.168.0.9", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("fd00::5", True), ("100.64.0.1", True),
    ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False)])
def test_every_address_a_portals_name_has_must_be_public(
        monkeypatch: pytest.MonkeyPatch, address: str, refused: bool) -> None:
    import socket

    from portfolio.services.harvest import public_address

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.35", 443)),
        (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "",
         (address, 443))])
    if refused:
        with pytest.raises(HarvestFailed, match="a private or local address"):
            public_address("portal.example.london", 443)
    else:
        assert public_address("portal.example.london", 443) == ["93.184.216.35", address]


def test_a_portal_is_connected_to_at_the_address_checked_not_at_its_name_resolved_again(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Left open last session: the name was resolved to check it, then again to connect, so a
    # name whose address changed in between (DNS rebinding) reached the server's own network.
    import socket

    import httpcore

    resolved: list[str] = []

    def rebinding(host: str, port: int, *_args: object, **_kwargs: object) -> list:
        resolved.append(host)
        # Public when asked once, private when asked again: a name that rebinds.
        address = "93.184.216.34" if len(resolved) % 2 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    dialled: list[str] = []

    def dial(_backend: object, host: str, port: int, *_args: object, **_kwargs: object) -> None:
        dialled.append(host)
        raise httpcore.ConnectError("the test machine reaches no public address")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", dial)
    before = dataset_count(london)
    # Each try resolves the name once: the first is dialled at its public address and fails
    # (no network here), the second finds it private and is refused.
    with pytest.raises(HarvestFailed, match="127.0.0.1, a private or local address"):
        run(london, "https://portal.example.london/api/3/action/package_search",
            limits=Limits(timeout_seconds=1.0, private_addresses=False))
    assert dialled == ["93.184.216.34"]
    assert resolved == ["portal.example.london"] * 2
    assert dataset_count(london) == before
