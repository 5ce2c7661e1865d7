"""The API's answers name things by what clients use: codes, slugs, emails, never row ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.catalogue_server import replay_portal
from tests.web.auth import token_for
from web.app import create_app

PROJECT = "/api/v1/projects/connectivity-gap-mapping"
AGREEMENT = "/api/v1/agreements/london-street-works-dsa"
PROFILE = "/api/v1/profiles/CDO default"


@pytest.fixture
def backend() -> str:
    """What the API answers is built the same on either database: run it on SQLite."""
    return "sqlite"


@pytest.fixture
def client(settings: Settings, london: Database) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


def row_ids(value: Any, path: str = "") -> set[str]:
    """Return where a JSON value has a key naming a row by its database id (`*_id`)."""
    if isinstance(value, dict):
        return {f"{path}.{k}" for k in value if k.endswith("_id")} | {
            found for k, v in value.items() for found in row_ids(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {found for v in value for found in row_ids(v, f"{path}[]")}
    return set()


def test_a_project_names_who_set_its_override_not_their_id(client: TestClient) -> None:
    # GET showed `override_by_id`, a user's database id.
    assert client.get(PROJECT).json()["override_by"] is None
    assert client.put(f"{PROJECT}/override", json={
        "value": 80, "justification": "Statutory deadline", "was": None}).status_code == 200
    got = client.get(PROJECT).json()
    assert "override_by_id" not in got
    assert got["override_by"] == client.get(f"{PROJECT}/override").json()["by"] == "Test cdo"


def test_an_agreements_parties_carry_no_organisation_ids(client: TestClient) -> None:
    # Each party showed its `organisation_id` beside its organisation's code.
    one = client.get(AGREEMENT).json()
    assert row_ids(one) == set()
    assert {p["organisation"] for p in one["parties"]} == {"CADENT", "GLA", "TFL",
                                                          "THAMESWATER"}
    assert row_ids(client.get("/api/v1/agreements").json()) == set()


def test_a_profiles_history_names_who_made_each_version_not_their_id(
        client: TestClient) -> None:
    # Each version showed `changed_by_id`, a user's database id.
    profile = client.get(PROFILE).json()
    saved = client.put(PROFILE, json={
        "dimension_weights": {"impact": 1, "feasibility": 1, "readiness": 1},
        "criterion_weights": profile["weights"]["criterion"], "version": profile["version"]})
    assert saved.status_code == 200, saved.text
    history = client.get(f"{PROFILE}/history").json()
    assert row_ids(history) == set()
    assert [h["changed_by"] for h in history][:1] == ["Test cdo"]
    assert history[-1]["changed_by"] == "System"  # the seeded version


def test_a_harvest_names_datasets_and_publishers_by_code_not_id(client: TestClient) -> None:
    # Each dataset a harvest adds, updates, asks about or leaves showed its publisher's
    # `publisher_id`, and those already registered their own row `id` beside their code.
    with replay_portal() as address:
        portal = f"{address}/ckan"
        added = client.post("/api/v1/catalogue/harvest", json={"url": portal, "dry_run": False})
        assert added.status_code == 200, added.text
        again = client.post("/api/v1/catalogue/harvest", json={"url": portal})
    assert added.json()["add"] and again.json()["leave"]
    for answer in (added.json(), again.json()):
        assert row_ids(answer) == set()
        assert all("id" not in item and item["publisher"] for kind in ("add", "leave")
                   for item in answer[kind])


# What a client reads, with something in each list (an override, a comment, a snapshot).
READS = ["/api/v1/organisations", "/api/v1/projects", PROJECT, f"{PROJECT}/override",
         f"{PROJECT}/comments", f"{PROJECT}/progress", f"{PROJECT}/ig", f"{PROJECT}/similar",
         f"{PROJECT}/watch", "/api/v1/attachments/project/connectivity-gap-mapping",
         "/api/v1/datasets", "/api/v1/datasets/addressbase-premium-uprn",
         "/api/v1/datasets/addressbase-premium-uprn/readiness", "/api/v1/agreements",
         AGREEMENT, "/api/v1/backlog", "/api/v1/collaboration", "/api/v1/collaboration/dismissed",
         "/api/v1/benefits", "/api/v1/benefits/accuracy", "/api/v1/capacities",
         "/api/v1/profiles", PROFILE, f"{PROFILE}/history", "/api/v1/scenarios",
         "/api/v1/snapshots", "/api/v1/snapshots/1", "/api/v1/graph", "/api/v1/clusters",
         "/api/v1/plumbing", "/api/v1/notifications", "/api/v1/notifications/preferences"]


def test_no_read_names_a_row_by_its_database_id(client: TestClient) -> None:
    assert client.put(f"{PROJECT}/override", json={
        "value": 80, "justification": "Statutory deadline", "was": None}).status_code == 200
    assert client.post(f"{PROJECT}/comments", json={"body": "Seen"}).status_code == 201
    assert client.post("/api/v1/snapshots", json={"label": "Before"}).status_code == 201
    found = {}
    for address in READS:
        answer = client.get(address)
        assert answer.status_code == 200, (address, answer.text)
        found[address] = row_ids(answer.json())
    assert found == dict.fromkeys(READS, set())
